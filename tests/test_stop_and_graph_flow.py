"""Stop one run from its panel (#12), and LangGraph's control flow as neutral states (#13 part 2),
in a real kernel: the panel, %lc_runs and the saved twin say the same thing."""

from __future__ import annotations

import json

import pytest
from board_replay import replay
from harness import KernelSession

from lc_callbacks_nb.server import LocalChatServer

SETUP = """
import asyncio, json
from langchain_openai import ChatOpenAI
from langchain_core.messages import HumanMessage
from lc_callbacks_nb import LiveStreamHandler, RunStopped
live = LiveStreamHandler()
chat = ChatOpenAI(base_url={base_url!r}, api_key="sk-local", model="m", streaming=True,
                  max_retries=0, callbacks=[live])
"""


@pytest.fixture(scope="module")
def slow_kernel():
    with LocalChatServer(echo=True, token_delay=0.03) as srv, KernelSession() as k:
        k.run("%load_ext lc_callbacks_nb\n%lc_stream off")
        k.run(SETUP.format(base_url=srv.base_url))
        yield k


def test_stop_ends_one_of_three_runs_and_the_caller_learns_which(slow_kernel):
    k = slow_kernel
    prompts = [" ".join(f"p{i}w{j}" for j in range(40)) for i in range(3)]
    start = len(k.iopub)
    result = k.run(
        f"prompts = {prompts!r}\n"
        "task = asyncio.ensure_future(chat.agenerate([[HumanMessage(p)] for p in prompts]))\n"
        "await asyncio.sleep(0.4)\n"
        "ids = {str(u): r.name for u, (_b, r, _t, _rec) in live._runs.items()}\n"
        "target = next(u for u, (_b, r, _t, _rec) in live._runs.items() if 'p1w0' in r.inputs)\n"
        "print(live.request_stop(str(target)))\n"
        "try:\n"
        "    await task\n"
        "except RunStopped as exc:\n"
        "    print(json.dumps(['stopped', exc.run_id == str(target)]))\n"
    )
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "True"
    assert json.loads(lines[-1]) == ["stopped", True]
    (board,) = replay(k.iopub[start:])
    runs = board.ordered()
    assert [r.status for r in runs] == ["done", "stopped", "done"]
    assert all(r.fields.get("stoppable") for r in runs)
    stopped = runs[1]
    assert stopped.text["text"] and prompts[1].startswith(stopped.text["text"])
    assert stopped.text["text"] != prompts[1]  # partial
    assert [runs[0].text["text"], runs[2].text["text"]] == [prompts[0], prompts[2]]
    data = k.eval(
        "[d['status'] for d in get_ipython().run_line_magic('lc_runs', '--json')]"
    )
    assert data == ["done", "stopped", "done"]


def test_a_sync_run_is_not_stoppable(slow_kernel):
    start = len(slow_kernel.iopub)
    slow_kernel.run("r = chat.invoke('sync one')")
    (run,) = replay(slow_kernel.iopub[start:])[0].ordered()
    assert run.fields.get("stoppable") is False
    assert slow_kernel.eval("live.request_stop('not-a-run')") is False


GRAPH = """
from typing import TypedDict
from langgraph.graph import StateGraph, START, END
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import interrupt, Command

class S(TypedDict):
    answer: str

def ask(state):
    return {"answer": interrupt("approve the plan?")}

def done(state):
    return {"answer": state["answer"] + "!"}

g = StateGraph(S)
g.add_node("ask", ask)
g.add_node("done", done)
g.add_edge(START, "ask")
g.add_edge("ask", "done")
g.add_edge("done", END)
graph = g.compile(checkpointer=InMemorySaver()).with_config(callbacks=[live])
cfg = {"configurable": {"thread_id": "t-42"}}
"""


def test_graph_interrupt_is_paused_everywhere_and_resume_shows_the_thread(slow_kernel):
    k = slow_kernel
    k.run(GRAPH)
    start = len(k.iopub)
    first = k.run("out = graph.invoke({'answer': ''}, cfg)\nprint('__interrupt__' in out)")
    assert first.stdout.strip() == "True"
    (board,) = replay(k.iopub[start:])
    runs = {r.fields["name"]: r for r in board.ordered(kind=None)}
    assert runs["ask"].status == "paused"
    assert runs["ask"]["error"] == "waiting for input: approve the plan?"
    assert runs["LangGraph"].status == "paused"  # the graph returned __interrupt__: not done
    assert not [r for r in runs.values() if r.status == "error"]
    assert runs["LangGraph"].fields.get("thread") == "t-42"
    data = k.eval(
        "[(d['name'], d['status']) for d in get_ipython().run_line_magic('lc_runs', '--json')]"
    )
    assert ("ask", "paused") in [tuple(d) for d in data]
    assert all(status != "error" for _n, status in data)
    # the saved twin says the same
    twin = [m for m in k.iopub[start:] if m["msg_type"] == "update_display_data"]
    assert twin
    assert "waiting for input: approve the plan?" in twin[-1]["content"]["data"]["text/plain"]
    # resuming in a later cell: the same thread, shown as a resume
    start = len(k.iopub)
    k.run("out = graph.invoke(Command(resume='yes'), cfg)\nprint(out['answer'])")
    (board,) = replay(k.iopub[start:])
    root = next(r for r in board.ordered(kind=None) if r.fields["name"] == "LangGraph")
    assert root.status == "done" and root.fields.get("thread") == "t-42"
    assert "resumed with: yes" in root.fields.get("events", [])
