"""print() from a sync handler lands in the cell whose run called it, in a real kernel.

The rule under test (see lc_callbacks_nb.langchain.threadsafe): ipykernel keeps the "current
cell" of stdout in a ContextVar; LangChain runs sync handlers under a copy of the emitting
task's context, and threadsafe() does the same on its worker, so output follows the *run*, not
the cell that happens to be executing. A bare thread has no such context and follows the clock.
"""

from __future__ import annotations

import time

import pytest

SETUP = """
import asyncio, contextvars, threading
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from lc_callbacks_nb.server import LocalChatServer
from lc_callbacks_nb.langchain.threadsafe import threadsafe

server = LocalChatServer(token_delay=0.02, echo=True).start()
chat = ChatOpenAI(base_url=server.base_url, api_key="sk-test", streaming=True, max_retries=0)

class Printer(BaseCallbackHandler):
    def __init__(self, tag):
        self.tag = tag

    def on_llm_new_token(self, token, **kwargs):
        if token:
            print(f"<{self.tag}> {token!r} @{threading.current_thread().name}")

def handler(tag, mode):
    h = Printer(tag)
    return {"plain": h, "wrapped": threadsafe(h), "inline": threadsafe(h, inline=True)}[mode]

print("ready")
"""

THREAD_PREFIX = {"plain": "asyncio_", "wrapped": "lc-threadsafe-Printer", "inline": "MainThread"}


@pytest.fixture(scope="module")
def k(kernel):
    assert "ready" in kernel.run(SETUP).stdout
    yield kernel
    kernel.run("server.stop()")


def tagged(kernel, tag: str) -> list[dict]:
    """Every stdout stream message of the session that carries output of handler ``tag``."""
    with kernel._lock:
        messages = list(kernel.iopub)
    return [
        m
        for m in messages
        if m["msg_type"] == "stream"
        and m["content"]["name"] == "stdout"
        and f"<{tag}>" in m["content"]["text"]
    ]


def lines_of(messages: list[dict], tag: str) -> list[str]:
    text = "".join(m["content"]["text"] for m in messages)
    return [line for line in text.splitlines() if line.startswith(f"<{tag}>")]


@pytest.mark.parametrize("mode", ["plain", "wrapped", "inline"])
def test_async_run_prints_into_its_own_cell(k, mode):
    tag = f"own-{mode}"
    res = k.run(f'await chat.agenerate([[HumanMessage("p a b")]], '
                f'callbacks=[handler("{tag}", "{mode}")])')
    messages = tagged(k, tag)
    assert {m["parent_header"]["msg_id"] for m in messages} == {res.msg_id}
    lines = lines_of(messages, tag)
    assert [line.split(" @")[0] for line in lines] == [
        f"<{tag}> {tok!r}" for tok in ["p", " a", " b"]
    ]
    assert all(line.rsplit(" @", 1)[1].startswith(THREAD_PREFIX[mode]) for line in lines), lines


@pytest.mark.parametrize("mode", ["plain", "wrapped"])
def test_background_run_keeps_printing_into_the_cell_that_started_it(k, mode):
    tag = f"bg-{mode}"
    words = " ".join(f"w{i}" for i in range(25))  # ~0.5 s of tokens at 20 ms each
    first = k.run(
        f'task = asyncio.create_task(chat.agenerate([[HumanMessage("{words}")]], '
        f'callbacks=[handler("{tag}", "{mode}")]))'
    )
    second = k.run('print("second cell starts"); await task; print("second cell ends")')
    assert second.stdout.startswith("second cell starts") and "<bg-" not in second.stdout

    messages = tagged(k, tag)
    assert {m["parent_header"]["msg_id"] for m in messages} == {first.msg_id}
    assert len(lines_of(messages, tag)) == 25
    # ... and most of it was printed while the second cell was the one running.
    second_busy = second.messages[0]["_received"]
    assert sum(m["_received"] > second_busy for m in messages) >= 1


@pytest.mark.parametrize("mode", ["plain", "wrapped", "inline"])
def test_sync_run_in_a_cell_prints_into_that_cell(k, mode):
    tag = f"sync-{mode}"
    res = k.run(f'chat.invoke("p x y", config={{"callbacks": [handler("{tag}", "{mode}")]}})')
    messages = tagged(k, tag)
    assert {m["parent_header"]["msg_id"] for m in messages} == {res.msg_id}
    lines = lines_of(messages, tag)
    assert len(lines) == 3
    expected = "@lc-threadsafe-Printer" if mode == "wrapped" else "@MainThread"
    assert all(line.endswith(expected) for line in lines), lines


def test_bare_thread_follows_the_running_cell_copied_context_follows_its_cell(k):
    """The documented exception: a thread you start yourself without copying the context."""
    first = k.run(
        "gate = threading.Event()\n"
        "def say(what):\n"
        "    gate.wait(10)\n"
        "    print(what)\n"
        "bare = threading.Thread(target=say, args=('<bare> hi',))\n"
        "kept = threading.Thread(target=contextvars.copy_context().run, args=(say, '<kept> hi'))\n"
        "bare.start(); kept.start()"
    )
    time.sleep(0.1)
    second = k.run("gate.set(); bare.join(); kept.join()")
    assert {m["parent_header"]["msg_id"] for m in tagged(k, "bare")} == {second.msg_id}
    assert {m["parent_header"]["msg_id"] for m in tagged(k, "kept")} == {first.msg_id}
