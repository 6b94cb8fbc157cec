"""threadsafe(): the race a sync handler runs into in async runs, and the wrapper that removes it.

Real parts throughout: ChatOpenAI streaming over HTTP from the embedded LocalChatServer, and
LangChain's own callback managers (GenericFakeChatModel where only the callback plumbing matters).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import textwrap
import threading
import time
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

from lc_callbacks_nb.langchain.placement import describe_placement
from lc_callbacks_nb.langchain.threadsafe import ThreadSafeHandler, threadsafe
from lc_callbacks_nb.server import LocalChatServer

WORDS = "a b c d e f g h"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server():
    with LocalChatServer(token_delay=0.0, echo=True) as srv:
        yield srv


class Chat:
    """ChatOpenAI against the embedded server; a fresh async HTTP client per event loop."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.sync = self.new()

    def new(self) -> ChatOpenAI:
        # langchain-openai caches one async httpx client per base_url, bound to the first
        # event loop; every asyncio.run() here is a new loop, so give each its own client.
        return ChatOpenAI(
            base_url=self.base_url,
            api_key="sk-test",
            streaming=True,
            max_retries=0,
            http_async_client=httpx.AsyncClient(),
        )

    def agenerate(self, *args: Any, **kwargs: Any) -> Any:
        return asyncio.run(self.new().agenerate(*args, **kwargs))

    def ainvoke(self, *args: Any, **kwargs: Any) -> Any:
        return asyncio.run(self.new().ainvoke(*args, **kwargs))

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync.invoke(*args, **kwargs)


@pytest.fixture
def chat(server):
    return Chat(server.base_url)


def prompts(n: int) -> list[list[HumanMessage]]:
    return [[HumanMessage(content=f"p{i} {WORDS}")] for i in range(n)]


def reply_text(run_tokens: list[str]) -> str:
    return "".join(t for t in run_tokens if isinstance(t, str))


class UnsafeCounter(BaseCallbackHandler):
    """Read-modify-write with a forced thread switch in between, plus shared list appends.

    Between reading and writing ``count`` the call waits (up to 1 s, once) for a second caller
    at a two-party barrier. Two concurrent callers always meet there, both having read the same
    value, so one update is lost: deterministic, not a timing accident. A caller that is alone
    (as under threadsafe()) times out once, which breaks the barrier for good, and every later
    call passes straight through.
    """

    def __init__(self) -> None:
        self.count = 0
        self.by_run: dict[Any, list[str]] = {}
        self.calls: list[tuple[Any, str]] = []
        self.threads: set[str] = set()
        self._meet = threading.Barrier(2)

    def on_llm_new_token(self, token: str, *, run_id: Any, **kwargs: Any) -> None:
        seen = self.count
        with contextlib.suppress(threading.BrokenBarrierError):
            self._meet.wait(timeout=1.0)
        self.count = seen + 1
        self.by_run.setdefault(run_id, []).append(token)
        self.calls.append((run_id, token))
        self.threads.add(threading.current_thread().name)


class InlineRecorder(BaseCallbackHandler):
    """Records events on the loop thread, at the moment LangChain emits them."""

    run_inline = True

    def __init__(self) -> None:
        self.calls: list[tuple[Any, str]] = []

    def on_llm_new_token(self, token: str, *, run_id: Any, **kwargs: Any) -> None:
        self.calls.append((run_id, token))


def test_unsafe_handler_loses_updates_and_threadsafe_fixes_it(chat):
    """100 concurrent generations: plain sync handler miscounts; wrapped, exact and in order."""
    n = 100

    plain = UnsafeCounter()
    chat.agenerate(prompts(n), callbacks=[plain])
    emitted = sum(len(v) for v in plain.by_run.values())
    assert len(plain.by_run) == n
    assert plain.count < emitted, "the race did not happen"
    assert len(plain.threads) > 1 and not any(t.startswith("lc-threadsafe") for t in plain.threads)

    inner = UnsafeCounter()
    recorder = InlineRecorder()
    wrapped = threadsafe(inner)
    result = chat.agenerate(prompts(n), callbacks=[recorder, wrapped])

    assert inner.count == emitted == len(recorder.calls)
    # Exactly the emitted events, in emission order (so each run's tokens in order too).
    assert inner.calls == recorder.calls
    replies = {reply_text(tokens) for tokens in inner.by_run.values()}
    assert replies == {f"p{i} {WORDS}" for i in range(n)}
    assert [g[0].text for g in result.generations] == [f"p{i} {WORDS}" for i in range(n)]
    assert inner.threads == {"lc-threadsafe-UnsafeCounter"}


class Slow(BaseCallbackHandler):
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.active = 0
        self.max_active = 0
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        with self.lock:
            self.active -= 1


async def _ticks_during(coro) -> tuple[Any, int]:
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        result = await coro
    finally:
        done = True
        await task
    return result, ticks


def test_wrapper_serializes_without_blocking_the_loop(chat):
    slow = Slow(0.01)
    run = chat.new().agenerate(prompts(4), callbacks=[threadsafe(slow)])
    _, ticks = asyncio.run(_ticks_during(run))
    assert slow.max_active == 1
    # ~48 tokens x 10 ms on the worker: the loop kept ticking meanwhile.
    assert ticks >= 20

    blocking = Slow(0.01)
    run = chat.new().agenerate(prompts(4), callbacks=[threadsafe(blocking, inline=True)])
    _, ticks_inline = asyncio.run(_ticks_during(run))
    assert blocking.max_active == 1
    assert blocking.threads == {threading.main_thread().name}
    assert ticks_inline < ticks / 2, "inline=True runs on the loop thread, so the loop stalls"


class Boom(BaseCallbackHandler):
    def __init__(self, raise_error: bool) -> None:
        self.raise_error = raise_error
        self.seen = 0

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.seen += 1
        if token.strip() == "c":
            raise RuntimeError(f"boom at {token!r}")


@pytest.mark.parametrize("mode", ["async", "sync", "sync-inside-loop"])
def test_raise_error_propagates_in_every_kind_of_run(chat, mode):
    def run(handler: BaseCallbackHandler) -> Any:
        msgs = prompts(1)[0]
        if mode == "async":
            return chat.ainvoke(msgs, config={"callbacks": [handler]})
        if mode == "sync":
            return chat.invoke(msgs, config={"callbacks": [handler]})

        async def in_loop() -> Any:  # like a plain chat.invoke() in a notebook cell
            return chat.invoke(msgs, config={"callbacks": [handler]})

        return asyncio.run(in_loop())

    strict = Boom(raise_error=True)
    with pytest.raises(RuntimeError, match="boom"):
        run(threadsafe(strict))
    assert strict.seen == 5  # '', 'p0', ' a', ' b', then ' c' raised

    lenient = Boom(raise_error=False)
    reply = run(threadsafe(lenient))
    assert reply.content == f"p0 {WORDS}"
    assert lenient.seen > 4


def test_sync_run_goes_through_the_worker_in_order(chat):
    inner = UnsafeCounter()
    inner._meet.abort()  # no partner will come in a sync run
    wrapped = threadsafe(inner)

    async def cell() -> Any:
        return chat.invoke(prompts(1)[0], config={"callbacks": [wrapped]})

    asyncio.run(cell())
    [tokens] = inner.by_run.values()
    assert reply_text(tokens) == f"p0 {WORDS}"
    assert inner.threads == {"lc-threadsafe-UnsafeCounter"}


def test_coroutine_callbacks_also_work_in_a_fresh_loop_on_another_thread():
    """If LangChain's sync dispatcher is not recognised, it runs our coroutines elsewhere: fine."""
    inner = UnsafeCounter()
    inner._meet.abort()
    wrapped = threadsafe(inner)
    coro = wrapped.on_llm_new_token("x", run_id="r1")
    assert asyncio.iscoroutine(coro)
    worker = threading.Thread(target=asyncio.run, args=(coro,))
    worker.start()
    worker.join(10)
    assert inner.calls == [("r1", "x")]


class FlagHandler(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[str] = []
        self.skip_llm = False

    @property
    def ignore_llm(self) -> bool:
        return self.skip_llm

    def on_llm_start(self, serialized: Any, prompts: list[str], **kwargs: Any) -> None:
        self.events.append(f"llm_start:{prompts[0]}")

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.events.append("token")

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.events.append(f"custom:{name}")


def test_transparent_flags_methods_and_fallback(chat):
    inner = FlagHandler()
    wrapped = threadsafe(inner)
    # Only the overridden callbacks are forwarded; the others stay LangChain's no-ops.
    assert type(wrapped).on_llm_end is BaseCallbackHandler.on_llm_end
    assert type(wrapped).on_chat_model_start is BaseCallbackHandler.on_chat_model_start
    assert wrapped.skip_llm is False  # other attributes read through
    assert wrapped.wrapped is inner

    # No on_chat_model_start: LangChain falls back to on_llm_start with the prompt as text.
    chat.ainvoke("p1 x", config={"callbacks": [wrapped]})
    chat.invoke("p2 y", config={"callbacks": [wrapped]})
    starts = [e for e in inner.events if e.startswith("llm_start")]
    assert starts == ["llm_start:Human: p1 x", "llm_start:Human: p2 y"]
    assert inner.events.count("token") > 4

    inner.events.clear()
    inner.skip_llm = True  # read at every event, through the wrapper
    assert wrapped.ignore_llm is True
    chat.ainvoke("p3", config={"callbacks": [wrapped]})
    assert inner.events == []

    for flag in ("ignore_chain", "ignore_agent", "ignore_retriever", "ignore_chat_model"):
        assert getattr(wrapped, flag) is False
    inner.raise_error = True
    assert wrapped.raise_error is True


def test_chat_model_start_raising_not_implemented_falls_back(chat):
    class Legacy(BaseCallbackHandler):
        def __init__(self) -> None:
            self.prompts: list[str] = []

        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            raise NotImplementedError

        def on_llm_start(self, serialized: Any, prompts: list[str], **kwargs: Any) -> None:
            self.prompts.extend(prompts)

    inner = Legacy()
    wrapped = threadsafe(inner)
    chat.ainvoke("p1", config={"callbacks": [wrapped]})
    chat.invoke("p2", config={"callbacks": [wrapped]})
    assert inner.prompts == ["Human: p1", "Human: p2"]


def test_custom_events_and_async_methods_pass_through():
    from langchain_core.callbacks.manager import adispatch_custom_event
    from langchain_core.runnables import RunnableLambda

    class Mixed(FlagHandler):
        async def on_text(self, text: str, **kwargs: Any) -> None:
            self.events.append(f"text:{text}")

    inner = Mixed()
    wrapped = threadsafe(inner)
    assert asyncio.iscoroutinefunction(type(wrapped).on_text)

    async def step(x: str) -> str:
        await adispatch_custom_event("progress", {"x": x})
        return x

    asyncio.run(RunnableLambda(step).ainvoke("v", config={"callbacks": [wrapped]}))
    asyncio.run(wrapped.on_text("hello"))
    assert inner.events == ["custom:progress", "text:hello"]


def test_idempotent_and_clear_errors():
    inner = FlagHandler()
    wrapped = threadsafe(inner)
    assert threadsafe(wrapped) is wrapped
    inline = threadsafe(wrapped, inline=True)
    assert inline.wrapped is inner and inline.inline and threadsafe(inline, inline=True) is inline
    assert isinstance(wrapped, ThreadSafeHandler) and wrapped.run_inline is True
    assert repr(wrapped).startswith("threadsafe(")

    with pytest.raises(TypeError, match=r"needs a langchain_core BaseCallbackHandler.*int"):
        threadsafe(42)
    with pytest.raises(TypeError, match=r"threadsafe\(FlagHandler\(\)\)"):
        threadsafe(FlagHandler)

    class AsyncOne(AsyncCallbackHandler):
        async def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            pass

    with pytest.raises(TypeError, match=r"AsyncCallbackHandler.*already run on the event loop"):
        threadsafe(AsyncOne())


def test_describe_placement():
    class Inline(FlagHandler):
        run_inline = True

    class AsyncOne(AsyncCallbackHandler):
        async def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            pass

    assert describe_placement(FlagHandler()) == "executor (default thread pool, concurrent)"
    assert describe_placement(Inline()) == "loop (inline)"
    assert describe_placement(AsyncOne()) == "loop (async, awaited, concurrent)"
    assert describe_placement(threadsafe(FlagHandler())) == (
        "serialized (threadsafe wrapper, worker thread lc-threadsafe-FlagHandler)"
    )
    assert describe_placement(threadsafe(FlagHandler(), inline=True)).startswith("loop (inline")
    assert describe_placement(FlagHandler(), sync_run=True).startswith("caller's thread")
    with pytest.raises(TypeError, match="got str"):
        describe_placement("nope")


class Streaming(GenericFakeChatModel):
    streaming: bool = True


class Noop(BaseCallbackHandler):
    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        pass


def _extra_threads(baseline: set[int], wait: float) -> list[str]:
    deadline = time.monotonic() + wait
    while True:
        extra = [t.name for t in threading.enumerate() if t.ident not in baseline]
        extra = [name for name in extra if name.startswith("lc-threadsafe")]
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.02)


def test_thousand_runs_leave_no_threads_behind(monkeypatch):
    module = sys.modules["lc_callbacks_nb.langchain.threadsafe"]  # the module, not the function

    monkeypatch.setattr(module, "IDLE_SECONDS", 0.2)
    model = Streaming(messages=cycle(["x y z"]))
    baseline = {t.ident for t in threading.enumerate()}
    shared = threadsafe(Noop())

    async def many() -> None:
        for _ in range(500):  # a fresh wrapper per run: each is collected, its thread exits
            await model.ainvoke("hi", config={"callbacks": [threadsafe(Noop())]})
        # 500 concurrent runs through one wrapper: one thread
        await asyncio.gather(
            *(model.ainvoke("hi", config={"callbacks": [shared]}) for _ in range(500))
        )
        new = [t.name for t in threading.enumerate() if t.ident not in baseline]
        assert new.count("lc-threadsafe-Noop") <= 2, new

    asyncio.run(many())
    assert _extra_threads(baseline, wait=3.0) == []
    # And it comes back on demand after going idle.
    model.invoke("hi", config={"callbacks": [shared]})
    assert _extra_threads(baseline, wait=3.0) == []


def test_queued_calls_finish_at_interpreter_exit():
    script = textwrap.dedent(
        """
        import asyncio, time
        from langchain_core.callbacks import BaseCallbackHandler
        from lc_callbacks_nb.langchain.threadsafe import threadsafe

        class SlowPrinter(BaseCallbackHandler):
            def on_llm_new_token(self, token, **kwargs):
                time.sleep(0.05)
                print("token", token, flush=True)

        wrapped = threadsafe(SlowPrinter())
        loop = asyncio.new_event_loop()
        for i in range(5):  # emitted (queued on the worker), never awaited
            loop.create_task(wrapped.on_llm_new_token(str(i), run_id=None))
        loop.run_until_complete(asyncio.sleep(0))
        print("main done", flush=True)
        """
    )
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line for line in lines if line.startswith("token")] == [f"token {i}" for i in range(5)]
    assert lines.index("main done") < lines.index("token 4")  # ran after the main code ended
    assert elapsed < 30
