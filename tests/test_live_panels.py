"""LiveStreamHandler in a real kernel, streaming from the embedded server over real HTTP.

Each test rebuilds what the front-end would show from the IOPub comm traffic
(tests/board_replay.py mirrors board.js) and compares it with what LangChain returned.
"""

from __future__ import annotations

import json
import time

import pytest
from board_replay import replay
from harness import KernelSession

from lc_callbacks_nb.server import LocalChatServer
from lc_callbacks_nb.views.widget import saved_runs

SETUP = """
import asyncio, json
from langchain_openai import ChatOpenAI
from langchain_core.messages import HumanMessage
from lc_callbacks_nb import LiveStreamHandler

def chat(handler, **kw):
    return ChatOpenAI(base_url={base_url!r}, api_key="sk-secret-test-key-123456",
                      model="gpt-4o-mini",
                      streaming=True, max_retries=0, callbacks=[handler], **kw)
live = LiveStreamHandler()
"""


def run_cell(k: KernelSession, code: str, allow_error: bool = False):
    start = len(k.iopub)
    result = k.run(code, allow_error=allow_error)
    return result, replay(k.iopub[start:])


def prompts(n: int) -> list[str]:
    return [f"prompt {i}: " + " ".join(f"w{i}x{j}" for j in range(20 + i % 7)) for i in range(n)]


@pytest.mark.parametrize("n", [1, 10, 100])
def test_concurrent_generations_rebuild_exactly(k, n):
    ps = prompts(n)
    code = (
        f"ps = {ps!r}\n"
        "import time; t0 = time.perf_counter()\n"
        "res = await chat(live).agenerate([[HumanMessage(p)] for p in ps])\n"
        "print(json.dumps([time.perf_counter() - t0, [g[0].text for g in res.generations]]))"
    )
    result, boards = run_cell(k, code)
    seconds, texts = json.loads(result.stdout.strip().splitlines()[-1])
    assert texts == ps  # echo server
    assert len(boards) == 1, "one board per cell"
    board = boards[0]
    assert board.parent_msg_id == result.msg_id, "the board's messages belong to this cell"
    assert board.texts() == texts, "rebuilt panels equal the LLMResult, in prompt order"
    assert all(run.status == "done" for run in board.ordered())
    # the live deltas alone (without the final state) also rebuild the text
    assert all(run.deltas >= 1 for run in board.ordered())
    assert all(run["tokens"] > 0 for run in board.ordered())
    # the durable state (synced traits after the last update) holds every final text
    assert board.saved_texts() == texts
    # one board message stream for all runs, within the fps budget even when agenerate ends
    # every run in one burst (20 fps x the cell's duration, + the open/first/last flushes)
    assert board.messages <= 20 * seconds + 5


def test_sync_cell_invoke_and_stream(k):
    result, boards = run_cell(
        k,
        "m = chat(live)\n"
        "a = m.invoke('sync invoke works fine').content\n"
        "b = ''.join(c.content for c in m.stream('sync stream works too'))\n"
        "print(json.dumps([a, b]))",
    )
    a, b = json.loads(result.stdout.strip().splitlines()[-1])
    assert [a, b] == ["sync invoke works fine", "sync stream works too"]
    assert len(boards) == 1
    assert boards[0].texts() == [a, b]
    assert [r.status for r in boards[0].ordered()] == ["done", "done"]


def test_usage_and_metrics_reported(k):
    _result, boards = run_cell(
        k,
        "m = chat(live, stream_usage=True)\nr = await m.ainvoke('count my tokens please')",
    )
    run = boards[0].ordered()[0]
    assert run["usage"]["input_tokens"] > 0 and run["usage"]["output_tokens"] > 0
    assert run["tokens"] >= 4 and "ttft" in run.fields and "elapsed" in run.fields
    assert run["model"] == "gpt-4o-mini"


@pytest.mark.parametrize("fault", ["server_error", "disconnect"])
def test_server_fault_marks_error_and_reaches_cell(k, server, fault):
    server.inject_fault(fault, after_tokens=3)
    result, boards = run_cell(
        k, "r = await chat(live).ainvoke('this one fails midway through')", allow_error=True
    )
    assert result.status == "error"
    (run,) = boards[0].ordered()
    assert run.status == "error"
    assert run["error"].startswith(result.error["ename"])
    # the same cell without the handler raises the same exception
    server.inject_fault(fault, after_tokens=3)
    plain, _ = run_cell(
        k,
        "r = await ChatOpenAI(base_url=chat(live).openai_api_base, api_key='x', streaming=True,"
        " max_retries=0).ainvoke('this one fails midway through')",
        allow_error=True,
    )
    assert plain.error["ename"] == result.error["ename"]
    # and the next cell works
    _ok, boards = run_cell(k, "r = await chat(live).ainvoke('fine again')")
    assert boards[0].texts() == ["fine again"]


def test_no_secret_reaches_iopub(k):
    start = len(k.iopub)
    run_cell(k, "r = await chat(live).ainvoke('hello secret world')")
    blob = json.dumps(k.iopub[start:], default=str)
    assert "sk-secret-test-key-123456" not in blob
    assert "Bearer" not in blob


def test_handler_failure_never_breaks_the_run(k):
    result, _ = run_cell(
        k,
        "bad = LiveStreamHandler()\n"
        "def boom(*a, **kw): raise RuntimeError('view exploded')\n"
        "r = await chat(bad).ainvoke('still works')\n"
        "bad_view = next(iter(bad._boards)).view\n"
        "bad_view.render = boom\n"
        "r2 = await chat(bad).ainvoke('still works after the view broke')\n"
        "print(r.content, '|', r2.content)",
    )
    assert "still works | still works after the view broke" in result.stdout
    # the failure is recorded where the README says, and warned about once
    after = k.run("print(bad.internal_errors[:1])")
    assert "RuntimeError: view exploded" in after.stdout
    assert (result.stderr + after.stderr).count("view exploded") == 1


def test_text_mode_labels_interleaved_runs(k, server):
    result, boards = run_cell(
        k,
        "t = LiveStreamHandler(mode='text')\n"
        "res = await chat(t).agenerate([[HumanMessage('alpha beta gamma')],"
        " [HumanMessage('one two three')]])",
    )
    assert boards == []
    out = result.stdout
    # every line belongs to one labelled run, and each run's text reassembles exactly
    by_run: dict[str, str] = {}
    for line in out.splitlines():
        assert line.startswith("[1:") or line.startswith("[2:"), line
        label, _, text = line.partition("] ")
        by_run[label] = by_run.get(label, "") + text
    assert sorted(by_run.values()) == ["alpha beta gamma", "one two three"]


def test_table_mode_flag_and_max_panels(k):
    _result, boards = run_cell(
        k,
        "small = LiveStreamHandler(max_panels=2)\n"
        "res = await chat(small).agenerate([[HumanMessage(f'p{i}')] for i in range(3)])",
    )
    assert boards[0].state["max_panels"] == 2
    assert len(boards[0].ordered()) == 3  # > max_panels: board.js shows the table


@pytest.mark.parametrize("call", ["await chat(live).ainvoke", "chat(live).invoke"])
def test_interrupt_mid_stream_marks_interrupted_and_next_cell_runs(call):
    with (
        LocalChatServer(echo=True, token_delay=0.05) as slow,
        KernelSession() as k2,
    ):
        k2.run(SETUP.format(base_url=slow.base_url))
        start = len(k2.iopub)
        words = " ".join(f"word{i}" for i in range(200))
        msg_id = k2.submit(f"r = {call}({words!r})")
        # wait until some tokens have been streamed to the front-end, then interrupt
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            boards = replay(k2.iopub[start:])
            if boards and boards[0].runs and any(r.text["text"] for r in boards[0].ordered()):
                break
            time.sleep(0.05)
        k2.interrupt()
        result = k2.wait(msg_id)
        assert result.status == "error"
        assert result.error["ename"] in ("KeyboardInterrupt", "CancelledError")
        (run,) = replay(k2.iopub[start:])[0].ordered()
        # ipykernel cancels an async cell only once LangChain's stream yields; either way
        # no end event fires, and the panel must not stay "streaming" with a live timer.
        assert run.status == "interrupted"
        assert run.text["text"] and words.startswith(run.text["text"])
        # nothing keeps running: no live runs, and the next cell works
        after = k2.run("print(live.live_run_count())\nr = await chat(live).ainvoke('next')")
        assert after.stdout.strip().splitlines()[0] == "0"


def test_saved_widget_state_holds_final_text(tmp_path, server):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP.format(base_url=server.base_url)),
        nbformat.v4.new_code_cell(
            "res = await chat(live).agenerate([[HumanMessage('saved one')],"
            " [HumanMessage('saved two')]])"
        ),
    ]
    client = NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True)
    client.execute()
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    boards = [
        saved_runs(s)
        for s in state.values()
        if s["state"].get("_anywidget_id", "").endswith("RunBoardWidget")
    ]
    texts = [row["text"]["text"] for rows in boards for row in rows]
    assert texts == ["saved one", "saved two"]
    assert all(row["status"] == "done" for rows in boards for row in rows)


def test_short_run_figures_stop_at_its_own_stream_end(k):
    """agenerate ends every run after the slowest; a short run's timing must not wait for it."""
    with LocalChatServer(echo=True, token_delay=0.02) as slow:
        short, long_ = "a b", " ".join(f"w{i}" for i in range(40))
        _result, boards = run_cell(
            k,
            f"m = ChatOpenAI(base_url={slow.base_url!r}, api_key='x', streaming=True,"
            " callbacks=[live])\n"
            f"res = await m.agenerate([[HumanMessage({short!r})], [HumanMessage({long_!r})]])",
        )
    first, second = boards[0].ordered()
    assert first.fields.get("streamed") and second.fields.get("streamed")
    assert first["elapsed"] < second["elapsed"] / 3  # ~3 tokens vs ~80 tokens at 20 ms


def test_unload_removes_the_cell_watch_hook(k):
    result, _ = run_cell(
        k,
        "%load_ext lc_callbacks_nb\n"
        "r = await chat(live).ainvoke('installs the watch')\n"
        "from lc_callbacks_nb.notebook import cells\n"
        "ip = get_ipython()\n"
        "before = cells._post_run_cell in ip.events.callbacks['post_run_cell']\n"
        "%unload_ext lc_callbacks_nb\n"
        "after = cells._post_run_cell in ip.events.callbacks['post_run_cell']\n"
        "print(before, after)",
    )
    assert result.stdout.strip().splitlines()[-1] == "True False"
