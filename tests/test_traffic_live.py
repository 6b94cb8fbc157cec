"""Traffic at a real pace, in a real kernel: stock ChatOpenAI over real HTTP to the embedded
server streaming at 50 and 300 tokens/s (answers long enough that the fixed cost of a run, its
start and final state, about 1.5 KB, is not what is measured); and a late front-end that asks to
catch up while the stream runs (issue #16). Counted from the IOPub traffic a front-end
receives."""

from __future__ import annotations

import json
import time

import pytest
from board_replay import late_board, replay
from harness import KernelSession

from lc_callbacks_nb.offline.server_script import tokenize
from lc_callbacks_nb.server import LocalChatServer

SETUP = """
import asyncio, json, time
from langchain_openai import ChatOpenAI
from lc_callbacks_nb import LiveStreamHandler

def chat(base_url):
    return ChatOpenAI(base_url=base_url, api_key="sk-local", model="gpt-4o-mini",
                      streaming=True, max_retries=0, callbacks=[LiveStreamHandler()])
"""


def answer(tokens: int) -> str:
    from pydoc_data.topics import topics

    return "".join(tokenize(" ".join(topics[k] for k in sorted(topics)))[:tokens])


def stream_cell(k: KernelSession, url: str) -> tuple[str, int]:
    """Submit a cell that streams 'long' from ``url``; return its msg_id and IOPub start."""
    start = len(k.iopub)
    return k.submit(f"t0 = time.perf_counter(); r = await chat({url!r}).ainvoke('long')"), start


@pytest.mark.parametrize(("pace", "tokens"), [(50, 1500), (300, 3000)])
def test_traffic_at_a_real_pace_is_within_budget(k, pace, tokens):
    text = answer(tokens)
    with LocalChatServer(script={"long": text}, token_delay=1 / pace) as srv:
        msg_id, start = stream_cell(k, srv.base_url)
        k.wait(msg_id)
        seconds = k.eval("time.perf_counter() - t0")
        assert k.eval("r.content") == text
    time.sleep(0.2)  # the flush thread's last messages
    (board,) = replay(k.iopub[start:])
    assert board.texts() == [text]
    text_bytes = len(text.encode())
    assert board.messages <= 20 * seconds + 5, (board.messages, seconds)
    assert board.bytes <= 1.3 * text_bytes + 60 * board.messages, (board.bytes, text_bytes)


def test_a_late_front_end_catches_up_mid_stream_in_a_real_kernel(k):
    text = answer(1500)
    with LocalChatServer(script={"long": text}, token_delay=0.004) as srv:
        msg_id, start = stream_cell(k, srv.base_url)
        deadline = time.monotonic() + 60
        while True:  # until the panel has some text: then a front-end opens
            boards = replay(k.iopub[start:])
            if boards and boards[0].runs and len(boards[0].texts()[0]) > 500:
                break
            assert time.monotonic() < deadline, "no text streamed"
            time.sleep(0.05)
        (early,) = boards
        opened = len(k.iopub)
        late = late_board(early.comm_id, early.state)  # the state of now: no live run's row
        while not late.requests:  # the next tick names a run it never saw start: it asks
            upto = len(k.iopub)
            for m in k.iopub[opened:upto]:
                if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == early.comm_id:
                    late.apply(m)
            opened = upto
            time.sleep(0.05)
        (request,) = late.requests
        content = {"comm_id": early.comm_id, "data": {"method": "custom", "content": request}}
        k.kc.shell_channel.send(k.kc.session.msg("comm_msg", content))
        k.wait(msg_id)
        time.sleep(0.2)
    later = [
        m for m in k.iopub[opened:]
        if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == early.comm_id
    ]
    for m in later:
        late.apply(m)
    # the kernel answered while the async cell streamed, not after it
    answers = [i for i, m in enumerate(later) if json.dumps(m["content"]).count("caught_up")]
    ticks_after = [m for m in later[answers[0] + 1 :] if m["content"]["data"]["method"] == "custom"]
    assert answers and ticks_after, "no answer, or no tick after it"
    assert late.answers == 1 and late.asked is None
    (run,) = late.ordered()
    assert run.text["text"] == text and run.status == "done"
    assert replay(k.iopub[start:])[0].texts() == [text]  # and the view that saw it all
