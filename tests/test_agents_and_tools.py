"""Beyond single LLM calls: chains, agents, tools, retrievers and custom events, in a real kernel.

The reference is what LangChain itself reports. Beside ``LiveStreamHandler`` every run gets a
``Recorder``: a plain ``BaseCallbackHandler`` (``run_inline = True``, so it sees events in the
order they fire) that writes down (id, parent, kind, name, status) from every start, end and
error event, with LangChain's tracer rules: the name is ``name=`` or the serialized name,
runs tagged ``langsmith:hidden`` are skipped and their children hang from the nearest shown
ancestor. The panel side is rebuilt from the kernel's IOPub traffic (tests/board_replay.py
mirrors board.js), so what is compared is what a browser would draw.
"""

from __future__ import annotations

import json

import pytest
from board_replay import ReplayedBoard, replay
from harness import CellResult, KernelSession

from lc_callbacks_nb.server import Reply, ToolCall

WEATHER_Q = "What's the weather and time in Paris?"
CLOCK_Q = "What time is it in Atlantis?"
DATE_Q = "What's the date in Paris?"
TAGS_Q = "Explain <b>bold</b> tags."
TAGS_A = "Write <b>x</b>; <img src=x onerror=alert(1)> stays text."

SCRIPT = {
    WEATHER_Q: [
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"city": "Paris"}),
                ToolCall("get_time", {"city": "Paris"}),
            ]
        ),
        "It is sunny and noon in Paris.",
    ],
    CLOCK_Q: [
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"city": "Atlantis"}),
                ToolCall("get_time", {"city": "Atlantis"}),
            ]
        ),
        "Sunny, but the clock in Atlantis is broken.",
    ],
    DATE_Q: [Reply(tool_calls=[ToolCall("get_date", {"city": "Paris"})]), "No calendar, sorry."],
    TAGS_Q: TAGS_A,
}

SERVER_OPTIONS = {"script": SCRIPT}  # conftest's server
SETUP = r'''
import asyncio, json
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.callbacks.manager import adispatch_custom_event, AsyncCallbackManager
from langchain_core.documents import Document
from langchain_core.messages import ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import ToolException, tool
from langchain_openai import ChatOpenAI
from langchain.agents import create_agent
from langchain.agents.middleware import wrap_tool_call
from lc_callbacks_nb import LiveStreamHandler

HIDDEN = "langsmith:hidden"
INTERRUPTS = (KeyboardInterrupt, asyncio.CancelledError)


class Recorder(BaseCallbackHandler):
    """What LangChain reports, run by run, in start order."""

    run_inline = True

    def __init__(self):
        self.runs = {}     # run id -> row; dicts keep insertion (start) order
        self.hidden = {}   # hidden run id -> its nearest shown ancestor
        self.events = {}   # run id -> custom events, "name: data"

    def _start(self, kind, serialized, run_id, parent_run_id, tags, kw):
        parent = str(parent_run_id) if parent_run_id else None
        parent = self.hidden.get(parent, parent)
        serialized = serialized or {}
        name = kw.get("name") or serialized.get("name") or (serialized.get("id") or [kind])[-1]
        if HIDDEN in (tags or ()):
            self.hidden[str(run_id)] = parent
            return
        self.runs[str(run_id)] = {
            "id": str(run_id), "parent": parent, "kind": kind, "name": name, "status": "running"
        }

    def _end(self, run_id, error=None):
        row = self.runs.get(str(run_id))
        if row is None:
            return
        if error is None:
            row["status"] = "done"
        else:
            row["status"] = "interrupted" if isinstance(error, INTERRUPTS) else "error"
            first = (str(error).strip().splitlines() or [""])[0]
            row["error"] = f"{type(error).__name__}: {first}" if first else type(error).__name__

    def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, tags=None, **kw):
        self._start("chain", serialized, run_id, parent_run_id, tags, kw)

    def on_chat_model_start(self, serialized, msgs, *, run_id, parent_run_id=None, tags=None, **kw):
        self._start("llm", serialized, run_id, parent_run_id, tags, kw)

    def on_llm_start(self, serialized, prompts, *, run_id, parent_run_id=None, tags=None, **kw):
        self._start("llm", serialized, run_id, parent_run_id, tags, kw)

    def on_tool_start(self, serialized, input_str, *, run_id, parent_run_id=None, tags=None, **kw):
        self._start("tool", serialized, run_id, parent_run_id, tags, kw)

    def on_retriever_start(self, serialized, query, *, run_id, parent_run_id=None, tags=None, **kw):
        self._start("retriever", serialized, run_id, parent_run_id, tags, kw)

    def on_chain_end(self, outputs, *, run_id, **kw): self._end(run_id)
    def on_llm_end(self, response, *, run_id, **kw): self._end(run_id)
    def on_tool_end(self, output, *, run_id, **kw):
        # a tool that handled its own error ends "normally" with ToolMessage(status="error")
        failed = getattr(output, "status", None) == "error"
        self._end(run_id, error=RuntimeError() if failed else None)
    def on_retriever_end(self, documents, *, run_id, **kw): self._end(run_id)
    def on_chain_error(self, error, *, run_id, **kw): self._end(run_id, error)
    def on_llm_error(self, error, *, run_id, **kw): self._end(run_id, error)
    def on_tool_error(self, error, *, run_id, **kw): self._end(run_id, error)
    def on_retriever_error(self, error, *, run_id, **kw): self._end(run_id, error)

    def on_custom_event(self, name, data, *, run_id, **kw):
        self.events.setdefault(str(run_id), []).append(f"{name}: {data!r}")


async def traced(runnable, value, pick=None):
    """Run with our panel and the recorder side by side; print one JSON line of facts."""
    rec, live = Recorder(), LiveStreamHandler()
    out = {"result": None, "error": None}
    try:
        res = await runnable.ainvoke(value, config={"callbacks": [live, rec]})
        out["result"] = pick(res) if pick else res
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    out.update(runs=list(rec.runs.values()), events=rec.events, hidden=list(rec.hidden),
               internal_errors=live.internal_errors)
    print("@@" + json.dumps(out, default=repr))


def chat(**kw):
    return ChatOpenAI(base_url=BASE_URL, api_key="sk-test", model="gpt-4o-mini",
                      max_retries=0, **kw)


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


@tool
def get_time(city: str) -> str:
    """Local time in a city."""
    if city == "Atlantis":
        raise LookupError(f"no clock in {city}")
    return f"noon in {city}"


@tool
def get_date(city: str) -> str:
    """Today's date in a city."""
    raise ToolException(f"no calendar in {city}")


get_date.handle_tool_error = True  # the tool itself turns its ToolException into a ToolMessage


@wrap_tool_call
async def soften_errors(request, handler):
    """Middleware: a failing tool becomes an error ToolMessage the model can read."""
    try:
        return await handler(request)
    except Exception as exc:
        call = request.tool_call
        return ToolMessage(f"tool failed: {exc}", tool_call_id=call["id"], name=call["name"],
                           status="error")


def last_content(state):
    return state["messages"][-1].content


def tool_messages(state):
    return [(m.name, m.content, m.status) for m in state["messages"] if isinstance(m, ToolMessage)]
'''


def traced_cell(k: KernelSession, code: str) -> tuple[CellResult, dict, ReplayedBoard]:
    """Run a cell ending in ``await traced(...)``; return its report and its one board."""
    start = len(k.iopub)
    result = k.run(code)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("@@")]
    assert lines, f"no report printed:\n{result.stdout}\n{result.stderr}"
    report = json.loads(lines[-1][2:])
    assert report["internal_errors"] == [], report["internal_errors"]
    boards = replay(k.iopub[start:])
    assert len(boards) == 1, f"one board per cell, got {len(boards)}"
    assert boards[0].parent_msg_id == result.msg_id
    return result, report, boards[0]


KEYS = ("id", "parent", "kind", "name")


def shown(board: ReplayedBoard) -> list[dict]:
    """The tree the front-end draws, in the board's (start) order."""
    return [
        {**{key: run.fields.get(key) for key in KEYS}, "status": run.status}
        for run in board.ordered(kind=None)
    ]


def reported(report: dict) -> list[dict]:
    return [{key: row[key] for key in (*KEYS, "status")} for row in report["runs"]]


def by_name(board: ReplayedBoard, name: str) -> list:
    return [r for r in board.ordered(kind=None) if r.fields.get("name") == name]


def assert_same_tree(board: ReplayedBoard, report: dict) -> None:
    assert shown(board) == reported(report)
    # every parent is itself on the board (no dangling node), and comes before its child
    ids = [row["id"] for row in reported(report)]
    for row in reported(report):
        if row["parent"] is not None:
            assert row["parent"] in ids and ids.index(row["parent"]) < ids.index(row["id"])


# -- LCEL chain --------------------------------------------------------------------------
def test_lcel_chain_tree_matches_langchain_and_text_stays_text(k):
    _result, report, board = traced_cell(
        k,
        "prompt = ChatPromptTemplate.from_messages([('system', 'One line.'),"
        " ('human', 'Explain {topic} tags.')])\n"
        "await traced(prompt | chat(streaming=True) | StrOutputParser(), {'topic': '<b>bold</b>'})",
    )
    assert report["error"] is None and report["result"] == TAGS_A
    assert_same_tree(board, report)
    assert [(r["kind"], r["name"]) for r in reported(report)] == [
        ("chain", "RunnableSequence"),
        ("chain", "ChatPromptTemplate"),
        ("llm", "ChatOpenAI"),
        ("chain", "StrOutputParser"),
    ]
    seq, _prompt, llm, parser = board.ordered(kind=None)
    assert all(run.status == "done" for run in board.ordered(kind=None))
    # model text and inputs arrive as literal text: the view uses textContent, never HTML
    assert llm.text["text"] == TAGS_A
    assert llm["tokens"] > 1 and llm.deltas >= 1
    assert llm["inputs"] == TAGS_Q
    # a chain's input is a Value (live/values.py): the dict as key/value pairs, text untouched
    assert seq["inputs"] == {"t": "map", "items": [["topic", "<b>bold</b>"]]}
    assert parser["outputs"] == TAGS_A


# -- agent with two tools ----------------------------------------------------------------
def test_agent_two_parallel_tool_calls_then_answer(k):
    _result, report, board = traced_cell(
        k,
        "agent = create_agent(chat(), tools=[get_weather, get_time])\n"
        f"await traced(agent, {{'messages': [{{'role': 'user', 'content': {WEATHER_Q!r}}}]}},"
        " pick=last_content)",
    )
    assert report["error"] is None
    assert report["result"] == "It is sunny and noon in Paris."
    assert_same_tree(board, report)
    rows = reported(report)
    # one outer run; model turns and tool calls hang from it through LangGraph's node runs
    root = rows[0]
    assert root["parent"] is None and root["kind"] == "chain"
    assert [r["id"] for r in rows if r["parent"] is None] == [root["id"]]
    llms = board.ordered("llm")
    assert len(llms) == 2, "one model run per turn"
    tools = board.ordered("tool")
    assert sorted(t["name"] for t in tools) == ["get_time", "get_weather"]
    assert all(run.status == "done" for run in board.ordered(kind=None))
    # both tool calls start before either model turn 2: they ran in parallel, after turn 1
    order = [r.fields["order"] for r in board.ordered(kind=None)]
    assert order == sorted(order)
    assert llms[0]["order"] < min(t["order"] for t in tools) < max(t["order"] for t in tools)
    assert max(t["order"] for t in tools) < llms[1]["order"]
    # turn 1 asked for the tools (shown in the tool_args channel), turn 2 answered
    assert "get_weather" in llms[0].text["tool_args"] and '"Paris"' in llms[0].text["tool_args"]
    assert llms[1].text["text"] == "It is sunny and noon in Paris."
    # each tool node: its arguments, its result, how long it took
    (weather,) = by_name(board, "get_weather")
    assert weather["inputs"] == {"t": "map", "items": [["city", "Paris"]]}
    assert weather["outputs"] == "sunny in Paris"
    assert weather["elapsed"] >= 0
    (clock,) = by_name(board, "get_time")
    assert clock["outputs"] == "noon in Paris"


def test_failing_tool_default_agent_reraises_and_panel_says_so(k):
    """create_agent's default ToolNode re-raises a tool's exception: the run fails."""
    _result, report, board = traced_cell(
        k,
        "agent = create_agent(chat(), tools=[get_weather, get_time])\n"
        f"await traced(agent, {{'messages': [{{'role': 'user', 'content': {CLOCK_Q!r}}}]}},"
        " pick=last_content)",
    )
    assert report["error"] == "LookupError: no clock in Atlantis"
    assert_same_tree(board, report)
    (clock,) = by_name(board, "get_time")
    assert clock.status == "error"
    assert clock["error"] == "LookupError: no clock in Atlantis"
    # the error climbs: the tool's node run and the agent's outer run fail with it
    runs = {r.id: r for r in board.ordered(kind=None)}
    node = runs[clock["parent"]]
    assert node.status == "error" and node["error"] == clock["error"]
    root = board.ordered(kind=None)[0]
    assert root.status == "error" and root["error"] == clock["error"]
    assert len(board.ordered("llm")) == 1, "no second model turn"
    (weather,) = by_name(board, "get_weather")
    # the sibling call usually finishes first; if LangGraph cancels it, it reads interrupted
    assert weather.status in ("done", "interrupted")
    # the errors the panel shows are exactly LangChain's
    errors = {row["id"]: row["error"] for row in report["runs"] if "error" in row}
    assert {r.id: r["error"] for r in board.ordered(kind=None) if r.status == "error"} == errors


def test_failing_tool_caught_by_middleware_agent_goes_on(k):
    """With a wrap_tool_call middleware that turns the error into a ToolMessage, the tool
    node is red and the agent still answers."""
    _result, report, board = traced_cell(
        k,
        "agent = create_agent(chat(), tools=[get_weather, get_time], middleware=[soften_errors])\n"
        f"await traced(agent, {{'messages': [{{'role': 'user', 'content': {CLOCK_Q!r}}}]}},"
        " pick=tool_messages)",
    )
    assert report["error"] is None
    assert sorted(map(tuple, report["result"])) == [
        ("get_time", "tool failed: no clock in Atlantis", "error"),
        ("get_weather", "sunny in Atlantis", "success"),
    ]
    assert_same_tree(board, report)
    (clock,) = by_name(board, "get_time")
    assert clock.status == "error" and clock["error"] == "LookupError: no clock in Atlantis"
    runs = {r.id: r for r in board.ordered(kind=None)}
    assert runs[clock["parent"]].status == "done", "the node recovered"
    assert board.ordered(kind=None)[0].status == "done"
    llms = board.ordered("llm")
    assert len(llms) == 2
    assert llms[1].text["text"] == "Sunny, but the clock in Atlantis is broken."


def test_tool_handling_its_own_error_shows_the_error_message(k):
    """A tool with handle_tool_error=True returns its error as a ToolMessage(status="error")
    through on_tool_end: the run ends, the tool node is marked error with the error text as
    its output, and the agent goes on."""
    _result, report, board = traced_cell(
        k,
        "agent = create_agent(chat(), tools=[get_date])\n"
        f"await traced(agent, {{'messages': [{{'role': 'user', 'content': {DATE_Q!r}}}]}},"
        " pick=tool_messages)",
    )
    assert report["result"] == [["get_date", "no calendar in Paris", "error"]]
    assert_same_tree(board, report)
    (date,) = by_name(board, "get_date")
    assert date["outputs"] == "no calendar in Paris"
    assert board.ordered(kind=None)[0].status == "done"


def test_tool_error_message_marks_the_tool_node_red(k):
    _result, _report, board = traced_cell(
        k,
        "agent = create_agent(chat(), tools=[get_date])\n"
        f"await traced(agent, {{'messages': [{{'role': 'user', 'content': {DATE_Q!r}}}]}})",
    )
    (date,) = by_name(board, "get_date")
    assert date.status == "error"


# -- retriever ---------------------------------------------------------------------------
RETRIEVER = """
class Shelf(BaseRetriever):
    n: int = 3

    def _get_relevant_documents(self, query, *, run_manager):
        return [Document(page_content=f"{query} #{i}") for i in range(self.n)]
"""


@pytest.mark.parametrize("n", [3, 1])
def test_retriever_node_shows_query_and_documents(k, n):
    _result, report, board = traced_cell(
        k, RETRIEVER + f"await traced(Shelf(n={n}), 'gardens of <i>Paris</i>', pick=len)"
    )
    assert report["result"] == n
    assert_same_tree(board, report)
    (run,) = board.ordered(kind=None)
    assert run["kind"] == "retriever" and run["name"] == "Shelf"
    assert run["inputs"] == "gardens of <i>Paris</i>"
    docs = [{"t": "doc", "text": f"gardens of <i>Paris</i> #{i}"} for i in range(n)]
    assert run["outputs"] == {"t": "list", "items": docs}
    assert run.status == "done"


def test_retriever_inside_a_chain_hangs_from_it(k):
    _result, report, board = traced_cell(
        k,
        RETRIEVER + "join = RunnableLambda(lambda docs: ' | '.join(d.page_content for d in docs))\n"
        "await traced(Shelf(n=2) | join, 'roses')",
    )
    assert report["result"] == "roses #0 | roses #1"
    assert_same_tree(board, report)
    (retriever,) = board.ordered("retriever")
    seq = board.ordered(kind=None)[0]
    assert retriever["parent"] == seq.id and len(retriever["outputs"]["items"]) == 2


# -- custom events -----------------------------------------------------------------------
def test_custom_events_are_lines_of_their_parent_run(k):
    _result, report, board = traced_cell(
        k,
        "async def steps(x, config):\n"
        "    for i in range(3):\n"
        "        await adispatch_custom_event('progress', {'step': i, 'of': 3}, config=config)\n"
        "    await adispatch_custom_event('note', '<b>not bold</b>', config=config)\n"
        "    return x * 2\n"
        "await traced(RunnableLambda(steps, name='steps') | RunnableLambda(lambda x: x + 1), 20)",
    )
    assert report["result"] == 41
    assert_same_tree(board, report)
    (steps,) = by_name(board, "steps")
    expected = [f"progress: {{'step': {i}, 'of': 3}}" for i in range(3)] + ["note: <b>not bold</b>"]
    assert steps["events"] == expected
    # LangChain reported the same events on the same run (our repr of a str differs by quotes)
    assert report["events"] == {steps.id: [*expected[:3], "note: '<b>not bold</b>'"]}
    others = [r for r in board.ordered(kind=None) if r.id != steps.id]
    assert all(not r.fields.get("events") for r in others)


# -- hidden plumbing ---------------------------------------------------------------------
def test_hidden_runs_have_no_node_and_their_children_move_up(k):
    """A chain tagged langsmith:hidden (LangGraph's mark for its plumbing) gets no node; a
    child started under it hangs from the nearest shown ancestor, on both sides."""
    _result, report, board = traced_cell(
        k,
        "inner = RunnableLambda(lambda x: x + 1, name='inner')\n"
        "async def outer(x, config):\n"
        "    cm = AsyncCallbackManager.configure(config['callbacks'], local_tags=[HIDDEN])\n"
        "    rm = await cm.on_chain_start(None, x, name='plumbing')\n"
        "    y = await inner.ainvoke(x, {'callbacks': rm.get_child()})\n"
        "    await rm.on_chain_end(y)\n"
        "    return y\n"
        "await traced(RunnableLambda(outer, name='outer'), 1)",
    )
    assert report["result"] == 2
    assert len(report["hidden"]) == 1, "LangChain did report the hidden run"
    assert_same_tree(board, report)
    assert [r["name"] for r in board.ordered(kind=None)] == ["outer", "inner"]
    outer, inner = board.ordered(kind=None)
    assert inner["parent"] == outer.id
