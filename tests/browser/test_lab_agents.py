"""Agents in JupyterLab, in real Chromium: the run tree a ``create_agent`` draws in the board.

A real ``langchain.agents.create_agent`` with two tools runs in the kernel against the
embedded server (``chat_server``, in the test process, 0.04 s a token), scripted to ask for
both tools in one turn and then answer. ``LiveStreamHandler(force_stream=True)`` is passed in
the call's config, so a model built without ``streaming=True`` streams anyway. What is read
is the DOM: the board's nested nodes (``details.lcnb-node``), the model-turn panels
(``.lcnb-panel``), their badges, inputs, outputs and errors.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from labkit import CELL_TIMEOUT, STDERR, LabPage, write_notebook

from lc_callbacks_nb.server import Reply, ToolCall

pytestmark = pytest.mark.browser

QUESTION = "What's the weather and the local time in Paris?"
ANSWER = (
    "It is sunny in Paris and the local time is noon: a fine afternoon for a long walk "
    "along the river, from the islands down to the gardens."
)
BROKEN = "And the weather and the time in Atlantis?"
SCRIPT = {
    QUESTION: [
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"city": "Paris"}),
                ToolCall("get_time", {"city": "Paris"}),
            ]
        ),
        ANSWER,
    ],
    BROKEN: [
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"city": "Atlantis"}),
                ToolCall("get_time", {"city": "Atlantis"}),
            ]
        ),
        "Never sent: the agent re-raises the tool's error.",
    ],
}
PLAIN_Q = "Say hello to the extension's own handler."

# The write_notebook setup cell defines BASE_URL and `live` (here with force_stream=True).
AGENT_SETUP = """\
from langchain.agents import create_agent
from langchain_core.tools import tool

# No streaming=True: only force_stream makes the agent's ainvoke calls stream (the Responses
# API, whose streamed reply is the same message: force_stream leaves Chat Completions alone).
model = ChatOpenAI(base_url=BASE_URL, api_key="sk-local", model="gpt-4o-mini", max_retries=0,
                   use_responses_api=True)


@tool
def get_weather(city: str) -> str:
    \"\"\"Current weather for a city.\"\"\"
    return f"sunny in {city}"


@tool
def get_time(city: str) -> str:
    \"\"\"Local time in a city.\"\"\"
    if city == "Atlantis":
        raise LookupError(f"no clock in {city}")
    return f"noon in {city}"


agent = create_agent(model, tools=[get_weather, get_time])
"""


def ask(question: str) -> str:
    return (
        "state = await agent.ainvoke(\n"
        f"    {{'messages': [{{'role': 'user', 'content': {question!r}}}]}},\n"
        "    config={'callbacks': [live]},\n"
        ")\n"
        "print(state['messages'][-1].content)"
    )


# Every run of a board, in document order: where it sits and what it shows.
TREE_JS = """cell => [...cell.querySelectorAll('.lcnb-board [data-run-id]')].map(el => {
    const up = el.parentElement.closest('[data-run-id]');
    const q = s => el.querySelector(':scope > ' + s)?.textContent ?? null;
    const head = el.querySelector(':scope > .lcnb-head');
    return {
        id: el.dataset.runId,
        parent: up ? up.dataset.runId : null,
        inChildren: !!el.parentElement.closest('.lcnb-children'),
        tag: el.tagName.toLowerCase(),
        cls: el.className,
        open: el.tagName === 'DETAILS' ? el.open : null,
        status: head.querySelector('.lcnb-status').textContent.trim(),
        kind: head.querySelector('.lcnb-kind')?.textContent ?? 'llm',
        name: head.querySelector('.lcnb-name').textContent,
        error: (head.querySelector('.lcnb-error') || el.querySelector(':scope > .lcnb-error'))
            .textContent,
        inputs: el.querySelector(':scope > .lcnb-io > .lcnb-inputs')?.textContent ?? null,
        outputs: el.querySelector(':scope > .lcnb-io > .lcnb-outputs')?.textContent ?? null,
        text: q('pre.lcnb-text'),
        toolArgs: el.querySelector(':scope > .lcnb-toolargs pre')?.textContent ?? null,
    };
})"""


@pytest.fixture(autouse=True)
def _script(chat_server):
    chat_server.script = SCRIPT
    chat_server.token_delay = 0.04
    chat_server.reset()
    yield
    chat_server.reset()


def tree(page: LabPage, i: int) -> list[dict]:
    """Cell ``i``'s board as data, read in one JS turn (also the failure message)."""
    return page.cell(i).evaluate(TREE_JS)


def node(page: LabPage, i: int, run_id: str) -> Any:
    return page.cell(i).locator(f'.lcnb-board [data-run-id="{run_id}"]')


def reveal(page: LabPage, i: int, rows: list[dict], run_id: str) -> None:
    """Open, as a user would (a click on the summary), every folded node around ``run_id``."""
    by_id = {r["id"]: r for r in rows}
    chain = []
    parent = by_id[run_id]["parent"]
    while parent is not None:
        chain.append(parent)
        parent = by_id[parent]["parent"]
    for rid in reversed(chain):  # outermost first
        details = node(page, i, rid)
        if not details.evaluate("d => d.open"):
            details.locator(":scope > summary").click()
            page.page.wait_for_function("d => d.open", arg=details.element_handle())


def wait_mid_stream(page: LabPage, i: int, panel_index: int) -> dict:
    """One reading (text, status, prompt in one JS turn) of panel ``panel_index`` of cell
    ``i`` as soon as it has text while the cell is still ``[*]``; ``{prompt}`` if it ended."""
    return page.page.wait_for_function(
        """([cell, k]) => {
            const prompt = cell.querySelector('.jp-InputArea-prompt').textContent.trim();
            if (prompt !== '[*]:') return {prompt};
            const panel = cell.querySelectorAll('.lcnb-panel')[k];
            const pre = panel && panel.querySelector(':scope > pre.lcnb-text');
            return pre && pre.textContent
                ? {prompt, text: pre.textContent,
                   status: panel.querySelector('.lcnb-status').textContent.trim()}
                : null;
        }""",
        arg=[page.cell(i).element_handle(), panel_index],
        timeout=CELL_TIMEOUT * 1000,
    ).json_value()


def agent_notebook(lab, chat_server, name: str, question: str) -> str:
    return write_notebook(
        lab, name, [AGENT_SETUP, ask(question)],
        base_url=chat_server.base_url, handler_args="force_stream=True",
    )  # fmt: skip


def test_agent_tree_two_parallel_tools_then_answer(page: LabPage, lab, chat_server):
    """One board: the agent's outer node holds both model turns and both tool nodes, with
    arguments, results and the streamed answer; every badge ends ``done``."""
    page.open(agent_notebook(lab, chat_server, "agent.ipynb", QUESTION))
    page.run_cell(0)
    page.run_cell(1)

    page.start_cell(2)
    # force_stream: the answering turn (the second panel) fills while the cell runs
    mid = wait_mid_stream(page, 2, 1)
    page.wait_cell_done(2)
    assert page.cell(2).locator(STDERR).count() == 0, page.cell(2).locator(STDERR).all_inner_texts()
    assert mid["prompt"] == "[*]:", f"the cell ended before the answer showed any text: {mid}"
    assert 0 < len(mid["text"]) < len(ANSWER) and ANSWER.startswith(mid["text"]), mid
    assert mid["status"] == "streaming", mid
    requests = chat_server.requests
    assert len(requests) == 2, "one request per model turn"
    assert all(r.get("stream") is True for r in requests), "force_stream did not make it stream"

    rows = tree(page, 2)
    detail = json.dumps(rows, indent=1)
    assert page.cell(2).locator(".lcnb-board").count() == 1, "one board per cell"
    # one outer node, the agent: everything else is nested inside its .lcnb-children
    (outer,) = [r for r in rows if r["parent"] is None]
    assert outer["tag"] == "details" and "lcnb-kind-chain" in outer["cls"], detail
    assert outer["kind"] == "chain" and outer["name"] in ("LangGraph", "agent"), detail
    board = page.cell(2).locator(".lcnb-board")
    assert board.locator(":scope > [data-run-id]").count() == 1, detail
    inside = node(page, 2, outer["id"]).locator(":scope > .lcnb-children")
    panels = inside.locator(".lcnb-panel[data-run-id]")
    tools = inside.locator("details.lcnb-node.lcnb-kind-tool[data-run-id]")
    assert panels.count() == 2, "one panel per model turn, inside the agent's node"
    assert tools.count() == 2, "two tool nodes, inside the agent's node"
    assert board.locator(".lcnb-panel").count() == 2
    assert board.locator(".lcnb-kind-tool").count() == 2

    turns = [r for r in rows if r["tag"] == "div"]
    tool_rows = {r["name"]: r for r in rows if r["kind"] == "tool"}
    assert set(tool_rows) == {"get_weather", "get_time"}, detail
    assert all(r["inChildren"] for r in rows if r is not outer)
    assert [t["name"] for t in turns] == ["ChatOpenAI", "ChatOpenAI"], detail
    # each tool: its arguments in, its result out (a dict on one line, JSON-like)
    assert tool_rows["get_weather"]["inputs"] == 'in: {"city": "Paris"}', detail
    assert tool_rows["get_weather"]["outputs"] == "out: sunny in Paris", detail
    assert tool_rows["get_time"]["inputs"] == 'in: {"city": "Paris"}', detail
    assert tool_rows["get_time"]["outputs"] == "out: noon in Paris", detail
    # the first turn asked for both tools: its "tool calls" details show name and arguments
    first, last = turns
    assert first["text"] == "", "the tool-calling turn has no text"
    reveal(page, 2, rows, first["id"])
    calls = node(page, 2, first["id"]).locator(":scope > details.lcnb-toolargs")
    assert calls.is_visible()
    assert calls.locator(":scope > summary").inner_text().strip() == "tool calls"
    calls.locator(":scope > summary").click()
    links = calls.locator(".lcnb-call")
    links.first.wait_for(state="visible")
    # the finished turn's calls, each once: a link to the tool run it started (the streamed
    # argument text they came from is not shown a second time)
    assert [t.strip() for t in links.all_inner_texts()] == [
        'get_weather {"city": "Paris"}',
        'get_time {"city": "Paris"}',
    ]
    assert calls.locator(":scope > pre.lcnb-text").is_hidden()
    # the tool nodes' inputs and outputs are there for the user to read, once unfolded
    for r in tool_rows.values():
        reveal(page, 2, rows, r["id"])
        tool = node(page, 2, r["id"])
        if not tool.evaluate("d => d.open"):
            tool.locator(":scope > summary").click()
        assert tool.locator(":scope > .lcnb-io > .lcnb-inputs").is_visible()
        assert tool.locator(":scope > .lcnb-io > .lcnb-outputs").is_visible()
    # the answering turn: exactly the scripted answer, and no tool calls
    assert last["text"] == ANSWER, detail
    assert node(page, 2, last["id"]).locator(":scope > details.lcnb-toolargs").is_hidden()
    statuses = [s.strip() for s in board.locator(".lcnb-status").all_text_contents()]
    assert statuses == ["done"] * len(rows), detail
    assert all(r["error"] == "" for r in rows), detail
    # the cell's own output: the agent's answer
    assert ANSWER in page.cell(2).locator(".jp-OutputArea").inner_text()
    assert not page.foreign_requests(), page.foreign_requests()



TRIP = "Plan my afternoon in Paris."
TRIP_ANSWER = (
    "**Go for a walk.** It is sunny and noon in Paris:\n\n"
    "- the islands first\n- then the gardens"
)
TRIP_SCRIPT = {
    TRIP: [
        Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"})]),
        Reply(tool_calls=[ToolCall("get_time", {"city": "Paris"})]),
        TRIP_ANSWER,
    ]
}

# Every model turn's node and the messages its input and output show, read in one JS turn.
MESSAGES_JS = r"""cell => [...cell.querySelectorAll('.lcnb-board details.lcnb-node')].map(el => {
    const io = s => el.querySelector(':scope > .lcnb-io > ' + s);
    const rows = box => box ? [...box.querySelectorAll('.lcnb-msg')].map(m => ({
        role: m.querySelector(':scope > .lcnb-role').textContent,
        text: [...m.querySelector(':scope > .lcnb-msg-body').children]
            .map(c => c.textContent).join(' ').replace(/\s+/g, ' ').trim(),
    })) : [];
    return {
        name: el.querySelector(':scope > summary .lcnb-name').textContent,
        kind: el.querySelector(':scope > summary .lcnb-kind').textContent,
        inputs: io('.lcnb-inputs')?.textContent ?? '',
        outputs: io('.lcnb-outputs')?.textContent ?? '',
        inRows: rows(io('.lcnb-inputs')),
        outRows: rows(io('.lcnb-outputs')),
        folds: [...el.querySelectorAll(':scope > .lcnb-io .lcnb-fold')].map(b => b.textContent),
    };
})"""


def test_agent_tree_reads_as_a_conversation(page: LabPage, lab, chat_server):
    """Three model turns, two tools, one after the other: each graph node shows what it
    added (the model node its ai message and tool call, the tools node its tool result), a
    node's input folds the messages shown before it ("… 3 earlier messages", one click
    shows them again, from what the page already has), the answer is Markdown, and no node
    prints a Python repr of a message."""
    chat_server.script = TRIP_SCRIPT
    page.open(agent_notebook(lab, chat_server, "trip.ipynb", TRIP))
    page.run_cell(0)
    page.run_cell(1)
    page.run_cell(2)
    assert page.cell(2).locator(STDERR).count() == 0, page.cell(2).locator(STDERR).all_inner_texts()

    board = page.cell(2).locator(".lcnb-board")
    everything = board.evaluate("b => b.textContent")
    reprs = ("additional_kwargs", "response_metadata", "HumanMessage(", "AIMessage(", "Command(")
    for repr_only in reprs:
        assert repr_only not in everything, repr_only
    nodes = page.cell(2).evaluate(MESSAGES_JS)
    detail = json.dumps(nodes, indent=1)
    root = nodes[0]
    assert root["name"] in ("LangGraph", "agent"), detail
    # the question, once, as a human message; the whole conversation back, folded
    assert root["inRows"] == [{"role": "human", "text": TRIP}], detail
    assert root["folds"] == ["… 6 earlier messages"], detail
    models = [n for n in nodes if n["name"] == "model"]
    tools = [n for n in nodes if n["name"] == "tools"]
    assert len(models) == 3 and len(tools) == 2, detail
    # each model node: what it added (its ai message), after the earlier messages folded
    assert [m["folds"] for m in models] == [["… 1 earlier message"], ["… 3 earlier messages"],
                                            ["… 5 earlier messages"]], detail  # fmt: skip
    assert [m["outRows"] for m in models] == [
        [{"role": "ai", "text": '→ get_weather({"city": "Paris"})'}],
        [{"role": "ai", "text": '→ get_time({"city": "Paris"})'}],
        [{"role": "ai", "text": "Go for a walk. It is sunny and noon in Paris: "
                                "the islands first then the gardens"}],
    ], detail
    assert models[0]["outputs"].startswith("out: Command"), detail
    # each tools node: the call it ran in, the tool's result out
    assert [t["inputs"] for t in tools] == [
        'in: get_weather({"city": "Paris"})', 'in: get_time({"city": "Paris"})'
    ], detail
    assert [t["outRows"] for t in tools] == [
        [{"role": "tool", "text": "get_weather sunny in Paris"}],
        [{"role": "tool", "text": "get_time noon in Paris"}],
    ], detail
    # the answer is model text: Markdown, rendered by the panels' safe renderer
    answer = board.locator(".lcnb-outputs .lcnb-msg.lcnb-role-ai .lcnb-md")
    assert answer.last.locator("strong").text_content() == "Go for a walk."
    items = answer.last.locator("li").all_text_contents()
    assert items == ["the islands first", "then the gardens"]

    # one click on the last model node's fold shows the five earlier messages again
    last_model = board.locator("details.lcnb-node").filter(
        has=page.page.locator(":scope > summary .lcnb-name", has_text="model")
    ).last
    board.evaluate("b => b.querySelectorAll('details.lcnb-node').forEach(d => { d.open = true; })")
    fold = last_model.locator(":scope > .lcnb-io > .lcnb-inputs .lcnb-fold")
    fold.click()
    earlier = last_model.locator(":scope > .lcnb-io > .lcnb-inputs .lcnb-msgs-earlier .lcnb-msg")
    assert [r.strip() for r in earlier.locator(":scope > .lcnb-role").all_inner_texts()] == [
        "human", "ai", "tool", "ai", "tool"
    ]
    assert TRIP in earlier.first.inner_text()
    assert fold.inner_text() == "hide 5 earlier messages"
    assert not page.foreign_requests(), page.foreign_requests()

    if os.environ.get("LCNB_SCREENSHOTS") == "1":
        fold.click()  # folded again: the picture shows the tree as it opens
        board.evaluate(
            """b => {
                b.querySelectorAll('details.lcnb-node').forEach(d => { d.open = true; });
                b.querySelectorAll('details.lcnb-toolargs').forEach(d => { d.open = true; });
            }"""
        )
        page.page.set_viewport_size({"width": 1100, "height": 2600})  # the whole tree at once
        page.shot(2, "lab-agent-tree.png")


# A chain whose input and output carry the hostile corpus in every kind of leaf of a Value.
HOSTILE_VALUES = """\
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableLambda

P = {payloads!r}


class Opaque:
    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


value = {{p: p for p in P}}  # keys and values
value["messages"] = (
    [SystemMessage(p) for p in P] + [HumanMessage(p) for p in P]
    + [AIMessage(p, tool_calls=[{{"name": p, "args": {{p: p}}, "id": str(i)}}])
       for i, p in enumerate(P)]
    + [ToolMessage(p, tool_call_id=str(i), name=p, status="error") for i, p in enumerate(P)]
)
value["documents"] = [Document(page_content=p, metadata={{"title": p, "source": p}}) for p in P]
value["media"] = HumanMessage(content=[{{"type": "image", "url": p}} for p in P])
value["objects"] = [Opaque(p) for p in P]
out = await RunnableLambda(lambda v: v, name=P[0]).ainvoke(value, config={{"callbacks": [live]}})
print(len(out))
"""


def test_hostile_text_in_every_leaf_stays_text(page: LabPage, lab, chat_server):
    """The hostile Markdown corpus in every leaf of a node's input and output (keys, values,
    messages of every role, tool names and arguments, documents, media URLs, object reprs):
    nothing executes, nothing loads, only the ai answers are Markdown (sanitized), every other
    leaf reads verbatim; the same holds for the earlier messages a fold shows again."""
    from test_lab_markdown import PAYLOADS, arm_traps

    dialogs = arm_traps(page)
    name = write_notebook(
        lab, "hostile-values.ipynb", [HOSTILE_VALUES.format(payloads=PAYLOADS)],
        base_url=chat_server.base_url,
    )  # fmt: skip
    page.open(name)
    page.page.evaluate("() => { window.alert = () => { window.__pwned = 'alert'; }; }")
    page.run_cell(0)
    page.run_cell(1)
    board = page.cell(1).locator(".lcnb-board")
    board.evaluate("b => b.querySelectorAll('details').forEach(d => { d.open = true; })")
    folds = board.locator(".lcnb-outputs .lcnb-fold")
    # the output repeats the input's messages: folded (the transcript, the media message)
    assert folds.count() == 2
    for i in range(2):
        folds.nth(i).click()  # the earlier messages, drawn again from the page's own table
    assert board.locator(".lcnb-outputs .lcnb-msgs-earlier").count() == 2
    page.page.wait_for_timeout(1500)  # room for a late onerror / onload / fetch

    for tag in ("img", "script", "iframe", "object", "embed", "svg", "style", "input", "form"):
        assert board.locator(tag).count() == 0, f"a <{tag}> element inside the board"
    inline = board.locator(".lcnb-value [style], .lcnb-value [onclick], .lcnb-value [onerror]")
    assert inline.count() == 0
    hrefs = board.locator(".lcnb-value a").evaluate_all(
        "as => as.map(a => [a.getAttribute('href'), a.target, a.rel])"
    )
    assert hrefs, "the ai answers' safe links were dropped too"
    for href, target, rel in hrefs:
        assert href and href.startswith(("http://", "https://", "mailto:")), href
        assert target == "_blank" and rel == "noopener noreferrer", (href, target, rel)
    # only ai messages are Markdown: every other leaf is its payload, verbatim, as text
    markdown = board.locator(".lcnb-md").count()
    assert markdown == 2 * len(PAYLOADS), "ai answers: once in the input, once in the fold"
    assert board.locator(".lcnb-md").evaluate_all(
        "ms => ms.every(m => m.closest('.lcnb-msg').classList.contains('lcnb-role-ai'))"
    )
    leaves = board.evaluate(
        """b => [...b.querySelectorAll('.lcnb-inputs .lcnb-msg-text, .lcnb-inputs .lcnb-val-key,'
                 + ' .lcnb-inputs .lcnb-val-str, .lcnb-inputs .lcnb-msg-name,'
                 + ' .lcnb-inputs .lcnb-val-call, .lcnb-inputs .lcnb-val-media')]
               .map(e => e.textContent)"""
    )
    text = "\n".join(leaves)
    for p in PAYLOADS:
        assert text.count(p) >= 8, (p, text.count(p))  # key, value, 2 messages, doc x3, ...
    assert page.page.evaluate("() => typeof window.__pwned") == "undefined"
    assert not dialogs, dialogs
    assert not page.foreign_requests(), page.foreign_requests()
    assert not [u for u in page.requests if "evil.example" in u or u.endswith("/x")]


def test_failing_tool_is_red_with_its_error_and_the_cell_errors(page: LabPage, lab, chat_server):
    """The agent re-raises a tool's exception: the cell shows the traceback, the tool node is
    .lcnb-failed with the error in its summary, readable without opening anything."""
    page.open(agent_notebook(lab, chat_server, "broken.ipynb", BROKEN))
    page.run_cell(0)
    page.run_cell(1)
    page.run_cell(2, allow_error=True)

    # the cell shows the traceback
    tb = page.cell(2).locator(STDERR).all_inner_texts()
    assert any("LookupError" in t and "no clock in Atlantis" in t for t in tb), tb

    rows = tree(page, 2)
    detail = json.dumps(rows, indent=1)
    error = "LookupError: no clock in Atlantis"
    assert page.cell(2).locator(".lcnb-board").count() == 1, "one board per cell"
    (clock,) = [r for r in rows if r["kind"] == "tool" and r["name"] == "get_time"]
    tool = node(page, 2, clock["id"])
    assert "lcnb-failed" in (tool.get_attribute("class") or ""), detail
    assert (tool.locator(":scope > summary .lcnb-status").text_content() or "").strip() == "error"
    summary_error = tool.locator(":scope > summary.lcnb-head > span.lcnb-error")
    assert summary_error.evaluate("s => s.textContent") == error, detail
    # the error climbs: the outer node fails with the same error in its own summary
    (outer,) = [r for r in rows if r["parent"] is None]
    assert outer["status"] == "error" and outer["error"] == error, detail
    assert "lcnb-failed" in outer["cls"], detail
    assert len([r for r in rows if r["tag"] == "div"]) == 1, "no second model turn"
    assert {r["status"] for r in rows if r["name"] == "get_weather"} <= {"done", "interrupted"}

    # visible as the board stands, nothing opened: the outer node's summary ...
    outer_error = node(page, 2, outer["id"]).locator(":scope > summary span.lcnb-error")
    assert outer_error.is_visible() and outer_error.inner_text().strip() == error
    # ... and the failed tool's own summary: failed nodes and their ancestors stay unfolded
    assert summary_error.is_visible(), "the failed tool's error must show without a click"
    assert summary_error.inner_text().strip() == error


def test_load_ext_global_handler_and_lc_runs(page: LabPage, lab, chat_server):
    """``%load_ext lc_callbacks_nb``: a plain ``ainvoke`` (no callbacks) gets a board from the
    extension's global handler, and ``%lc_runs`` lists the model run as HTML."""
    name = write_notebook(
        lab,
        "ext.ipynb",
        [
            "%load_ext lc_callbacks_nb",
            "plain = ChatOpenAI(base_url=BASE_URL, api_key='sk-local', model='gpt-4o-mini',"
            " max_retries=0)\n"
            f"reply = await plain.ainvoke({PLAIN_Q!r})\n"
            "print(reply.content)",
            "%lc_runs",
        ],
        base_url=chat_server.base_url,
    )
    page.open(name)
    for i in range(4):
        page.run_cell(i)

    board = page.cell(2).locator(".lcnb-board")
    assert board.count() == 1, "one board, from the extension's handler"
    assert page.panel_texts(2) == [PLAIN_Q]  # the server echoes unscripted prompts
    assert page.statuses(2) == ["done"]
    assert page.panels(2).first.locator(".lcnb-name").inner_text() == "ChatOpenAI"
    assert len(chat_server.requests) == 1

    html = page.cell(3).locator('.jp-OutputArea-output[data-mime-type="text/html"]')
    assert html.count() == 1, "no HTML output from %lc_runs"
    runs = html.locator(".lcnb-runs")
    assert runs.is_visible()
    text = runs.inner_text()
    assert "ChatOpenAI" in text, text
    assert "1 run" in text, text
    assert runs.locator("li").count() == 1, text
