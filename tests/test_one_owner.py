"""Regressions of issue #10 ("one owner per concept"), each in a real kernel over real HTTP.

Every test here failed before the redesign: batch()/thread pools opened several boards; a
split surrogate pair froze a board; a stream consumed in the next cell ended "interrupted"; a
loop of short runs sent two messages per run; a cancelled run stayed "running" in %lc_runs;
%%lc_stream tracebacks quoted the rewritten first line.
"""

from __future__ import annotations

import json
import re

import pytest
from board_replay import replay
from harness import KernelSession

from lc_callbacks_nb.server import LocalChatServer

SETUP = """
import asyncio, json
from concurrent.futures import ThreadPoolExecutor
from langchain_openai import ChatOpenAI
from lc_callbacks_nb import LiveStreamHandler
live = LiveStreamHandler()

def chat(handler=None, **kw):
    return ChatOpenAI(base_url={base_url!r}, api_key="sk-test-0123456789abcdef", model="m",
                      streaming=True, max_retries=0,
                      callbacks=[handler or live], **kw)
"""


def cell(k: KernelSession, code: str, allow_error: bool = False):
    start = len(k.iopub)
    result = k.run(code, allow_error=allow_error)
    return result, replay(k.iopub[start:])


@pytest.mark.parametrize(
    "call",
    [
        "res = [m.content for m in chat().batch(prompts)]",
        "with ThreadPoolExecutor(8) as pool:\n"
        "    res = [m.content for m in pool.map(chat().invoke, prompts)]",
    ],
    ids=["batch", "thread_pool"],
)
def test_runs_from_many_threads_share_one_board_and_all_finish(k, call):
    prompts = [f"thread prompt {i} " + "w " * (5 + i) for i in range(8)]
    result, boards = cell(k, f"prompts = {prompts!r}\n{call}\nprint(json.dumps(res))")
    texts = json.loads(result.stdout.strip().splitlines()[-1])
    assert texts == prompts
    assert len(boards) == 1, f"{len(boards)} boards for one cell"
    board = boards[0]
    assert sorted(board.texts()) == sorted(prompts)
    assert [r.status for r in board.ordered()] == ["done"] * len(prompts)
    assert sorted(board.saved_texts()) == sorted(prompts)  # the durable state too


def test_a_surrogate_pair_split_across_chunks_comes_out_whole():
    # The server sends the halves of one emoji as two chunks (JSON "\ud83d", then "\ude00"),
    # and a truly lone surrogate in another run.
    script = {"emoji": "smile \ud83d\ude00 done", "lone": "bad \ud800 half"}
    with LocalChatServer(script=script) as srv, KernelSession() as k2:
        k2.run(SETUP.format(base_url=srv.base_url))
        start = len(k2.iopub)
        k2.run(
            "a = (await chat().ainvoke('emoji')).content\n"
            "b = (await chat().ainvoke('lone')).content"
        )
        boards = replay(k2.iopub[start:])
        errors = k2.eval("live.internal_errors")
    assert errors == []
    runs = [r for b in boards for r in b.ordered()]
    assert [r.status for r in runs] == ["done", "done"]
    assert runs[0].text["text"] == "smile 😀 done"
    assert runs[1].text["text"] == "bad \ufffd half"


def test_a_stream_consumed_in_the_next_cell_stays_live_and_ends_done(k):
    words = " ".join(f"w{i}" for i in range(30))
    first, boards1 = cell(
        k, f"agen = chat().astream({words!r})\nfirst = await agen.__anext__()\nprint('ok')"
    )
    assert boards1 and boards1[0].ordered()[0].status == "running"
    start = len(k.iopub)
    k.run("rest = [c.content async for c in agen]\nprint(first.content + ''.join(rest))")
    later = [m for m in k.iopub[start:] if m["msg_type"].startswith("comm")]
    # the run's panel is the first cell's board: its later messages update that same widget
    board = replay(k.iopub[: len(k.iopub)])
    (mine,) = [b for b in board if b.parent_msg_id == first.msg_id]
    (run,) = mine.ordered()
    assert later, "the panel kept updating after its cell ended"
    assert run.status == "done"
    assert run.text["text"] == words
    # ... and its static twin (what the saved notebook keeps) was redrawn with the final text
    twins = [m for m in k.iopub[start:] if m["msg_type"] == "update_display_data"]
    assert twins and words in twins[-1]["content"]["data"]["text/plain"]
    # and the sync form
    it_cell, _ = cell(k, f"it = chat().stream({words!r})\nfirst = next(it)")
    k.run("rest = list(it)")
    (mine,) = [b for b in replay(k.iopub) if b.parent_msg_id == it_cell.msg_id]
    assert [r.status for r in mine.ordered()] == ["done"]
    assert mine.ordered()[0].text["text"] == words


def test_a_loop_of_short_runs_stays_within_the_fps_budget(k):
    n = 300
    result, boards = cell(
        k,
        "import time\nt0 = time.perf_counter()\n"
        f"for i in range({n}):\n    chat().invoke(f'loop run {{i}}')\n"
        "print(time.perf_counter() - t0)",
    )
    seconds = float(result.stdout.strip().splitlines()[-1])
    (board,) = boards
    runs = board.ordered()
    assert len(runs) == n and all(r.status == "done" for r in runs)
    assert runs[-1].text["text"] == f"loop run {n - 1}"  # the last run reached the panel
    # ends are coalesced like tokens: before the fix, two messages per run (600+)
    assert board.messages <= 20 * seconds + 10, (board.messages, seconds)
    # state syncs are bounded by time, not by runs
    assert board.state_updates <= seconds / 1.0 + 3


def test_cancelled_run_reads_interrupted_in_the_panel_and_in_lc_runs():
    with LocalChatServer(echo=True, token_delay=0.05) as slow, KernelSession() as k2:
        k2.run("%load_ext lc_callbacks_nb\n%lc_stream off")
        k2.run(SETUP.format(base_url=slow.base_url))
        start = len(k2.iopub)
        k2.run(
            "t = asyncio.ensure_future(chat().ainvoke(' '.join(['word'] * 100)))\n"
            "await asyncio.sleep(0.5)\n"
            "t.cancel()\n"
            "await asyncio.sleep(0.1)"
        )
        (run,) = replay(k2.iopub[start:])[0].ordered()
        data = k2.eval(
            "[(d['kind'], d['status'])"
            " for d in get_ipython().run_line_magic('lc_runs', '--json')]"
        )
    assert run.status == "interrupted"
    assert data == [["llm", "interrupted"]]


def test_lc_stream_traceback_quotes_what_the_user_typed(k):
    k.run("%load_ext lc_callbacks_nb")
    result = k.run("%%lc_stream --fps 5\nx = 1\n1 / 0", allow_error=True)
    tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(result.error["traceback"]))
    assert "_lcnb_cell_ = __import__" not in tb
    assert "%%lc_stream --fps 5" in tb
    k.run("%unload_ext lc_callbacks_nb")


def test_a_model_echoing_secrets_never_puts_them_on_the_wire():
    """Regression (#10 defect 2, model text): what the model wrote reached the panel, the widget
    state and the saved twin unredacted. Keys and the kernel's env secrets are caught there too,
    even split across tokens; ordinary 'Name: value' prose is left alone."""
    secret = "zq-no-known-shape-31415926"
    reply = (
        f"Your key is sk-proj-abcdefghijklmnop0123456789 and the token is {secret}. "
        "Key: the first step."
    )
    with LocalChatServer(script={"leak": reply}) as srv, KernelSession(
        env={"MY_SERVICE_TOKEN": secret}
    ) as k2:
        k2.run("%load_ext lc_callbacks_nb")
        k2.run(SETUP.format(base_url=srv.base_url))
        start = len(k2.iopub)
        result = k2.run("r = await chat().ainvoke('leak')\nprint(len(r.content))")
        k2.run("%lc_runs")
        blob = json.dumps(k2.iopub[start:], default=str)
        (board,) = replay(k2.iopub[start:])
    assert int(result.stdout.split()[-1]) == len(reply)  # the caller gets what the model said
    for leaked in ("abcdefghijklmnop0123456789", secret):
        assert leaked not in blob
    (run,) = board.ordered()
    assert run.text["text"] == (
        "Your key is sk-proj-*** and the token is ***. Key: the first step."
    )
