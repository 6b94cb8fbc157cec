"""Make a sync LangChain callback handler safe to use from async runs: ``threadsafe(handler)``.

Why this exists
---------------
When a run is async (``await chat.agenerate(...)``, ``astream``, ``ainvoke``), LangChain calls
a *sync* handler (``BaseCallbackHandler`` with ``run_inline = False``, the default) through
``loop.run_in_executor(None, copy_context().run, method, ...)``. So, without anything from us:

* the handler runs on the event loop's default thread pool, not on the thread that runs the cell;
* successive tokens of one run may land on different pool threads;
* two runs going at once (``agenerate`` with several prompts, or two tasks) call the same handler
  from several threads at the same time, and the non-inline handlers of one event run
  concurrently with each other (``asyncio.gather``);
* a handler that does ``self.count += 1`` or appends to shared lists *silently* loses updates.

The rules of ``threadsafe(handler)``
------------------------------------
1. **One call at a time, in emission order.** Every call into the wrapped handler runs on one
   dedicated worker thread per wrapper (named ``lc-threadsafe-<HandlerClass>``), strictly in the
   order LangChain emitted the events; each run's tokens therefore arrive in order, and two runs'
   events never overlap. The handler itself needs no lock.
2. **The event loop is not blocked.** In an async run the wrapper is an inline handler whose
   callbacks are ``async``: it hands the call to the worker *synchronously* (that is what fixes the
   order) and then awaits the result, so the kernel keeps serving other tasks, widgets and
   comm messages while a slow handler works. The emitting run waits for its own event, exactly as
   it waits for ``run_in_executor`` today, so back-pressure is unchanged.
3. **Sync runs work the same way.** In a sync run (``chat.invoke()`` in a cell) LangChain's sync
   manager calls the wrapper directly; the wrapper then runs the call on the same worker and waits
   for it, so the ordering and one-at-a-time rules hold across sync runs, async runs and
   ``batch()`` threads together, and exceptions propagate like a plain sync handler's.
4. **Errors keep their meaning.** An exception raised by the handler comes back to LangChain
   unchanged: with ``raise_error = True`` it stops the run (async and sync), otherwise LangChain
   logs it; a ``NotImplementedError`` from ``on_chat_model_start`` still falls back to
   ``on_llm_start``.
5. **Transparent.** ``raise_error`` and every ``ignore_*`` flag are read from the wrapped handler
   at each event; only the callback methods the wrapped class overrides are forwarded (the others
   stay LangChain's no-ops); any other attribute read goes to the wrapped handler, and
   ``.wrapped`` returns it.
   Methods the class defines as ``async def`` are passed through untouched (awaited on the loop).
   ``threadsafe(threadsafe(h))`` is the same object.
6. **Output lands in the cell whose run called the handler.** Each call runs inside a copy of the
   caller's ``contextvars`` context. ipykernel (>= 7.1) keeps the "current cell" of ``print`` in a
   ContextVar, so a handler called for a run started in cell 1 (say a background
   ``asyncio.create_task(chat.agenerate(...))``) prints into cell 1 even while cell 3 is running.
   The same holds for a plain sync handler, because LangChain copies the context too. What does
   *not* hold: a thread the handler starts by itself (``threading.Thread``) has a fresh context and
   prints into whichever cell happens to run; start it with ``contextvars.copy_context().run``.
7. **No thread pile-up.** The worker thread starts on the first event, exits after
   ``IDLE_SECONDS`` without work (and restarts on demand), exits when the wrapper is garbage
   collected, and at interpreter exit queued calls are finished and the thread is joined.

``threadsafe(handler, inline=True)`` instead runs the handler on the thread that drives the run:
the kernel's event-loop thread for async runs and for a plain ``invoke()`` in a cell (LangChain's
``run_inline``). Use it for handlers that touch ipywidgets or other single-threaded objects. The
calls are still serialized (by a re-entrant lock, which matters only for sync ``batch()``, whose
runs go on LangChain's own pool threads), but a slow handler now stalls the loop while it runs.

An ``AsyncCallbackHandler`` does not need any of this: its coroutines already run on the loop.

Known LangChain quirk (langchain-core 1.8): in an *async* run of a completion model (an ``LLM``,
not a chat model), ``AsyncCallbackManager.on_llm_start`` calls only the inline handlers when
there is at least one, so a non-inline handler attached next to a ``threadsafe()`` wrapper (which
is inline) misses ``on_llm_start`` there. Chat models, and every other event, are unaffected.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextvars
import inspect
import sys
import threading
import types
import weakref
from concurrent.futures import Future
from typing import Any

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.callbacks import manager as _lc_manager

from .inline import asked_by_async_llm_start

__all__ = ["IDLE_SECONDS", "ThreadSafeHandler", "threadsafe"]

IDLE_SECONDS = 1.0
"""A worker thread with no work for this long exits; the next event starts a new one."""

IGNORE_FLAGS = (
    "ignore_llm",
    "ignore_retry",
    "ignore_chain",
    "ignore_agent",
    "ignore_retriever",
    "ignore_chat_model",
    "ignore_custom_event",
)

CALLBACK_NAMES = tuple(
    sorted(
        name
        for name in dir(BaseCallbackHandler)
        if name.startswith("on_") and callable(getattr(BaseCallbackHandler, name))
    )
)

# The code object of LangChain's *sync* dispatcher. The async dispatcher awaits a callback
# when it is a coroutine function; the sync one calls it and, if it gets a coroutine back, runs
# it later in a fresh event loop on another thread, swallowing its exceptions. Knowing which
# dispatcher is asking lets the wrapper answer the sync one with a plain synchronous call.
_SYNC_DISPATCH_CODE = getattr(_lc_manager.handle_event, "__code__", None)


# --------------------------------------------------------------------------------------------
# The worker: one thread, FIFO, started on demand, gone when idle.
# --------------------------------------------------------------------------------------------
class _SerialWorker:
    """Runs submitted calls one at a time, in submission order, on one (re)startable thread."""

    def __init__(self, name: str):
        self.name = name
        self._queue: collections.deque[tuple[Future, Any, tuple, dict]] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def on_worker_thread(self) -> bool:
        return self._thread is threading.current_thread()

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Future:
        fut: Future = Future()
        with self._cond:
            if not self._closed:
                self._queue.append((fut, fn, args, kwargs))
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                    _LIVE_WORKERS.add(self)
                    self._thread.start()
                else:
                    self._cond.notify()
                return fut
        # Closed (interpreter exit, or the wrapper was collected): run here, still in order
        # with respect to this caller.
        _run_one(fut, fn, args, kwargs)
        return fut

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    idle = self._closed or not self._cond.wait(IDLE_SECONDS)
                    if idle and not self._queue:
                        self._thread = None
                        return
                item = self._queue.popleft()
            _run_one(*item)

    def close(self, timeout: float | None = None) -> None:
        """Finish what is queued, then let the thread exit; wait for it up to ``timeout``."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify()
        if timeout is not None and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


def _run_one(fut: Future, fn: Any, args: tuple, kwargs: dict) -> None:
    # An event LangChain already emitted is always delivered, even if whoever awaited it was
    # cancelled meanwhile (an interrupted cell): the handler must not miss or reorder events.
    deliver = fut.set_running_or_notify_cancel()
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        if deliver:
            fut.set_exception(exc)
    else:
        if deliver:
            fut.set_result(result)


_LIVE_WORKERS: weakref.WeakSet[_SerialWorker] = weakref.WeakSet()


@atexit.register
def _shutdown_workers() -> None:
    # atexit runs after Python has joined non-daemon threads and before daemon threads are
    # frozen, so queued handler calls still get to run.
    for worker in list(_LIVE_WORKERS):
        worker.close(timeout=5.0)


# --------------------------------------------------------------------------------------------
# The wrapper.
# --------------------------------------------------------------------------------------------
class ThreadSafeHandler(BaseCallbackHandler):
    """Base of the classes ``threadsafe()`` builds; see the module docstring for the rules."""

    inline: bool = False

    @property
    def run_inline(self) -> bool:  # type: ignore[override]  # a property over a class flag
        # Inline everywhere, except where LangChain would then skip every non-inline handler
        # (see lc_callbacks_nb.langchain.inline); an inline=True wrapper asked to stay on the loop.
        return self.inline or not asked_by_async_llm_start(sys._getframe(1))

    def __init__(self, handler: BaseCallbackHandler):
        self._handler = handler
        self._lock = threading.RLock()
        self._worker: _SerialWorker | None = None
        if not self.inline:
            self._worker = _SerialWorker(f"lc-threadsafe-{type(handler).__name__}")
            weakref.finalize(self, self._worker.close)

    @property
    def wrapped(self) -> BaseCallbackHandler:
        """The handler this wrapper forwards to."""
        return self._handler

    @property
    def worker_thread(self) -> threading.Thread | None:
        """The worker thread if one is alive right now (``None`` when idle or ``inline=True``)."""
        return self._worker.thread if self._worker is not None else None

    @property
    def raise_error(self) -> bool:  # type: ignore[override]
        return self._handler.raise_error

    @raise_error.setter
    def raise_error(self, value: bool) -> None:
        self._handler.raise_error = value

    def __getattr__(self, name: str) -> Any:
        # Only called for names the wrapper lacks: read them from the wrapped handler.
        if name == "_handler":
            raise AttributeError(name)
        return getattr(self._handler, name)

    def __repr__(self) -> str:
        extra = ", inline=True" if self.inline else ""
        return f"threadsafe({self._handler!r}{extra})"

    # The two ways of calling the wrapped method -------------------------------------------
    def _call_sync(self, name: str, args: tuple, kwargs: dict) -> Any:
        method = getattr(self._handler, name)
        if self._worker is None:
            with self._lock:
                return method(*args, **kwargs)
        if self._worker.on_worker_thread():  # re-entered from inside the handler
            return method(*args, **kwargs)
        ctx = contextvars.copy_context()
        return self._worker.submit(ctx.run, method, *args, **kwargs).result()

    async def _call_async(self, name: str, args: tuple, kwargs: dict) -> Any:
        method = getattr(self._handler, name)
        if self._worker is None or self._worker.on_worker_thread():
            return self._call_sync(name, args, kwargs)
        # Submitted before the first suspension point: the queue order is the emission order.
        fut = self._worker.submit(contextvars.copy_context().run, method, *args, **kwargs)
        return await asyncio.wrap_future(fut)


def _ignore_property(flag: str) -> property:
    return property(lambda self: getattr(self._handler, flag), doc=f"Read from the wrapped {flag}.")


for _flag in IGNORE_FLAGS:
    setattr(ThreadSafeHandler, _flag, _ignore_property(_flag))
del _flag


class _Forward:
    """A forwarded callback: synchronous for LangChain's sync dispatcher, ``async`` otherwise."""

    def __init__(self, name: str):
        self.name = name

        def sync_call(self_: ThreadSafeHandler, *args: Any, **kwargs: Any) -> Any:
            return self_._call_sync(name, args, kwargs)

        async def async_call(self_: ThreadSafeHandler, *args: Any, **kwargs: Any) -> Any:
            return await self_._call_async(name, args, kwargs)

        sync_call.__name__ = async_call.__name__ = name
        self._sync = sync_call
        self._async = async_call

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self._async
        if sys._getframe(1).f_code is _SYNC_DISPATCH_CODE:
            return types.MethodType(self._sync, obj)
        return types.MethodType(self._async, obj)


def _inline_forward(name: str) -> Any:
    def call(self: ThreadSafeHandler, *args: Any, **kwargs: Any) -> Any:
        return self._call_sync(name, args, kwargs)

    call.__name__ = name
    return call


def _passthrough_async(name: str) -> Any:
    async def call(self: ThreadSafeHandler, *args: Any, **kwargs: Any) -> Any:
        return await getattr(self._handler, name)(*args, **kwargs)

    call.__name__ = name
    return call


def overridden_callbacks(cls: type) -> list[str]:
    """The callback methods ``cls`` defines differently from ``BaseCallbackHandler``."""
    return [
        name
        for name in CALLBACK_NAMES
        if getattr(cls, name, None) is not getattr(BaseCallbackHandler, name)
    ]


_CLASS_CACHE: dict[tuple[type, bool], type[ThreadSafeHandler]] = {}


def _wrapper_class(cls: type, inline: bool) -> type[ThreadSafeHandler]:
    key = (cls, inline)
    made = _CLASS_CACHE.get(key)
    if made is None:
        namespace: dict[str, Any] = {"inline": inline, "__module__": __name__}
        for name in overridden_callbacks(cls):
            if inspect.iscoroutinefunction(getattr(cls, name)):
                namespace[name] = _passthrough_async(name)
            elif inline:
                namespace[name] = _inline_forward(name)
            else:
                namespace[name] = _Forward(name)
        made = type(f"ThreadSafe{cls.__name__}", (ThreadSafeHandler,), namespace)
        _CLASS_CACHE[key] = made
    return made


def threadsafe(handler: BaseCallbackHandler, *, inline: bool = False) -> ThreadSafeHandler:
    """Wrap a sync callback handler so its calls run one at a time, in order (see module doc).

    ``inline=False`` (default): on one worker thread per wrapper, without blocking the loop.
    ``inline=True``: on the thread that drives the run (the kernel's loop thread in a notebook).
    """
    if isinstance(handler, ThreadSafeHandler):
        if handler.inline == bool(inline):
            return handler
        handler = handler.wrapped
    if isinstance(handler, type):
        raise TypeError(
            f"threadsafe() needs a handler instance, got the class {handler.__name__}; "
            f"call it: threadsafe({handler.__name__}())"
        )
    if not isinstance(handler, BaseCallbackHandler):
        raise TypeError(
            "threadsafe() needs a langchain_core BaseCallbackHandler instance, "
            f"got {type(handler).__name__}: {handler!r:.60}"
        )
    if isinstance(handler, AsyncCallbackHandler):
        raise TypeError(
            f"threadsafe() is for sync handlers; {type(handler).__name__} is an "
            "AsyncCallbackHandler, whose callbacks already run on the event loop: use it as is"
        )
    return _wrapper_class(type(handler), bool(inline))(handler)
