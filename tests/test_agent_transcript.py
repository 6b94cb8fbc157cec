"""A long agent run reads like a conversation in every view, at a cost that grows with its length.

A real ``create_agent`` with two tools (stock ``ChatOpenAI`` over HTTP to the embedded server)
runs N model turns in one cell: each of the first N - 1 turns calls one tool (get_weather and
get_time in turn), the last answers. LangChain hands callbacks the whole history at every graph
node, so a reader that prints what it is given shows N² messages. Checked on the kernel's
IOPub traffic (what the browser receives), the saved twin, text mode and ``%lc_runs``:

* what node inputs and outputs stand for (what is shown, plus what every clip marker says
  was cut) grows linearly with N (5, 10 and 20 turns), as do the bytes sent and the twin;
* nothing shows a message's Python repr (``additional_kwargs=``, ``response_metadata=``) or
  a secret one of the tools returned;
* the twin reads as the conversation, in order: the question, each tool call, each tool's
  result, the answer; ``%lc_runs --json`` keeps each node's whole value (earlier messages
  unfolded).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from board_replay import replay, stands_for, ticks
from harness import KernelSession

from lc_callbacks_nb.server import Reply, ToolCall

SECRET = "sk-proj-Zq81bVx02LmT9kWcYy3s"
TURNS = (5, 10, 20)
TOOLS = ("get_weather", "get_time")
RESULTS = {"get_weather": "sunny in {city}", "get_time": "noon in {city}"}


def question(n: int) -> str:
    return f"Plan {n} stops, please."


def tool_of(i: int) -> str:
    return TOOLS[i % 2]


def script(n: int) -> list[Any]:
    calls = [Reply(tool_calls=[ToolCall(tool_of(i), {"city": f"City {i}"})]) for i in range(n - 1)]
    return [*calls, f"Here is the plan for **{n} stops**."]


SERVER_OPTIONS = {"script": {question(n): script(n) for n in TURNS}}
SETUP = f'''
import json
from langchain.agents import create_agent
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {{city}}" + ("; api_key={SECRET}" if city == "City 2" else "")


@tool
def get_time(city: str) -> str:
    """Local time in a city."""
    return f"noon in {{city}}"


model = ChatOpenAI(base_url=BASE_URL, api_key="sk-local", model="gpt-4o-mini", max_retries=0)
agent = create_agent(model, tools=[get_weather, get_time])


async def ask(text):
    state = await agent.ainvoke({{"messages": [{{"role": "user", "content": text}}]}},
                                {{"recursion_limit": 200}})
    return state["messages"][-1].content
'''
AFTER_SETUP = ["%load_ext lc_callbacks_nb"]

REPRS = ("additional_kwargs", "response_metadata", "HumanMessage(", "AIMessage(", "ToolMessage(")
def io_traffic(messages: list[dict[str, Any]]) -> tuple[int, int]:
    """(bytes, characters they stand for) of chain/tool/retriever inputs and outputs in the
    board's live ticks: each start's ``inputs``, each end's ``outputs``."""
    sent = shown = 0
    for tick in ticks(messages):
        values = [m.get("inputs") for m in tick["s"] if m.get("kind") != "llm"]
        values += [u["outputs"] for u in tick["u"].values() if "outputs" in u]
        for value in values:
            if value not in (None, ""):
                sent += len(json.dumps(value, ensure_ascii=False).encode())
                shown += stands_for(value)
    return sent, shown


def final_twin(messages: list[dict[str, Any]]) -> dict[str, str]:
    """The board output's last text/plain and text/html (what a saved notebook keeps)."""
    twin: dict[str, str] = {}
    for msg in messages:
        if msg["msg_type"] in ("display_data", "update_display_data"):
            data = msg["content"].get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                twin = {"text/plain": data["text/plain"], "text/html": data["text/html"]}
    return twin


def traffic_text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(m["content"], ensure_ascii=False) for m in messages)


@pytest.fixture(scope="module")
def runs(k: KernelSession) -> dict[int, dict[str, Any]]:
    """Each agent run (5, 10, 20 turns) in a cell of its own, with its board's traffic."""
    out = {}
    for n in TURNS:
        start = len(k.iopub)
        result = k.run(f"answer = await ask({question(n)!r})\nprint(answer)")
        assert result.status == "ok", result.stderr
        assert f"{n} stops" in result.stdout, result.stdout
        messages = k.iopub[start:]
        (board,) = replay(messages)
        sent, shown = io_traffic(messages)
        twin = final_twin(messages)
        out[n] = {
            "board": board,
            "messages": messages,
            "sent": sent,
            "shown": shown,
            "twin": twin,
            "twin_bytes": sum(len(v.encode()) for v in twin.values()),
        }
    return out


def test_what_nodes_show_grows_linearly_with_turns(runs):
    figures = {n: (r["sent"], r["shown"], r["twin_bytes"]) for n, r in runs.items()}
    for name, i in (("bytes sent", 0), ("characters shown", 1), ("twin bytes", 2)):
        five, ten, twenty = (figures[n][i] for n in TURNS)
        # linear: doubling the turns about doubles the size (quadratic would quadruple it)
        assert ten / five < 2.5 and twenty / ten < 2.5, f"{name}: {figures}"
    # and every model turn is on the board: 2 nodes per turn plus the tools' runs
    board = runs[20]["board"]
    assert len(board.ordered("llm")) == 20
    assert sum(1 for r in board.ordered("tool")) == 19


def test_no_repr_and_no_secret_anywhere(runs):
    for n, run in runs.items():
        for where, text in (
            ("traffic", traffic_text(run["messages"])),
            ("twin text/plain", run["twin"]["text/plain"]),
            ("twin text/html", run["twin"]["text/html"]),
        ):
            for bad in REPRS:
                assert bad not in text, f"{n} turns, {where}: {bad}"
            assert SECRET[8:] not in text, f"{n} turns, {where}: the secret"
        assert "sk-proj-***" in run["twin"]["text/plain"]


def test_each_node_shows_what_it_added(runs):
    board = runs[10]["board"]
    nodes = [r for r in board.ordered(kind=None) if r.fields.get("name") in ("model", "tools")]
    models = [r for r in nodes if r["name"] == "model"]
    assert len(models) == 10
    for turn, node in enumerate(models):
        # the input: every earlier message, folded (2 per earlier turn and the question)
        (messages,) = [v for k, v in node["inputs"]["items"] if k == "messages"]
        assert messages["items"] == [{"t": "fold", "n": 2 * turn + 1, "at": [[0, 2 * turn]]}]
        # the output: the Command that adds this turn's ai message, and nothing else
        (command,) = node["outputs"]["items"]
        assert command["cls"] == "Command"
        ((key, update),) = command["items"]
        ((_, added),) = update["items"]
        (ai,) = added["items"]
        assert key == "update" and ai["role"] == "ai" and ai["i"] == 2 * turn + 1
        if turn < 9:
            assert ai["calls"] == [{"t": "call", "name": tool_of(turn),
                                    "args": f'{{"city": "City {turn}"}}'}]  # fmt: skip
        else:
            assert ai["text"] == "Here is the plan for **10 stops**." and "calls" not in ai
    tools = [r for r in nodes if r["name"] == "tools"]
    for turn, node in enumerate(tools):
        name = tool_of(turn)
        assert node["inputs"] == {"t": "list", "items": [
            {"t": "call", "name": name, "args": f'{{"city": "City {turn}"}}'}]}  # fmt: skip
        ((_, added),) = node["outputs"]["items"]
        (result,) = added["items"]
        assert (result["role"], result["name"]) == ("tool", name)
        assert result["text"].startswith(RESULTS[name].format(city=f"City {turn}"))


def test_the_twin_reads_as_the_conversation(runs):
    text = runs[10]["twin"]["text/plain"]
    expected = [f"human: {question(10)}"]
    for turn in range(9):
        name = tool_of(turn)
        expected.append(f'ai: → {name}({{"city": "City {turn}"}})')
        expected.append(f"tool {name}: " + RESULTS[name].format(city=f"City {turn}"))
    expected.append("ai: Here is the plan for **10 stops**.")
    lines = [line.strip() for line in text.splitlines()]
    at = 0
    for want in expected:
        found = [i for i, line in enumerate(lines[at:], at) if want in line]
        assert found, f"{want!r} not after line {at}:\n{text}"
        at = found[0] + 1
    # every message is written once, in full, however many nodes carried it
    assert sum(f"human: {question(10)}" in line for line in lines) == 1
    # the root's output: its input's question (above) and what its nodes added (below)
    assert "out: … 20 earlier messages (shown above and below)" in text
    html = runs[10]["twin"]["text/html"]
    assert "<script" not in html and " on" not in html.replace(" one", "")
    for want in ("human", "ai", "tool", "get_weather", "sunny in City 0"):
        assert want in html


def test_text_mode_and_lc_runs_read_the_same(k: KernelSession, runs):
    result = k.run(f"%%lc_stream --mode text\nanswer = await ask({question(5)!r})")
    assert result.status == "ok", result.stderr
    out = result.stdout
    assert "[tool:get_weather] → sunny in City 0" in out
    assert "[tool:get_weather] → sunny in City 2; api_key=sk-proj-***" in out
    for bad in REPRS:
        assert bad not in out
    assert SECRET[8:] not in out

    shown = k.run("%lc_runs")
    data = shown.of_type("execute_result")[-1]["content"]["data"]
    for mime in ("text/plain", "text/html"):
        for bad in REPRS:
            assert bad not in data[mime], (mime, bad)
        assert SECRET[8:] not in data[mime]
    plain = data["text/plain"]
    assert "in: human: Plan 5 stops, please." in plain
    assert 'ai: → get_time({"city": "City 1"})' in plain
    assert "tool get_weather: sunny in City 2; api_key=sk-proj-***" in plain

    rows = json.loads(k.run("rows = %lc_runs --json\nprint(json.dumps(rows))").stdout)
    models = [r for r in rows if r["name"] == "model"]
    assert len(models) == 5
    # --json keeps the whole value: the last model node's input, every message unfolded
    (messages,) = [v for key, v in models[-1]["inputs"]["items"] if key == "messages"]
    assert [m["role"] for m in messages["items"]] == ["human"] + ["ai", "tool"] * 4
    assert SECRET[8:] not in json.dumps(rows)
