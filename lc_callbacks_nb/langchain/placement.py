"""Where a callback handler's methods run: ``describe_placement(handler) -> str``.

The answer follows LangChain's dispatch rules (``langchain_core.callbacks.manager``):

* async run, ``async def`` callbacks: awaited on the event loop (inline ones one by one first,
  the rest together through ``asyncio.gather``);
* async run, sync callbacks, ``run_inline = True``: called directly on the loop thread;
* async run, sync callbacks, ``run_inline = False`` (the default): ``run_in_executor`` on the
  loop's default thread pool, several at once;
* sync run: sync callbacks on the thread that runs the model; ``async def`` callbacks in a fresh
  event loop on LangChain's own worker thread, once per event;
* ``threadsafe(h)``: one worker thread per wrapper, one call at a time, in emission order;
  ``threadsafe(h, inline=True)``: the thread that drives the run, one call at a time.
"""

from __future__ import annotations

import inspect

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler

from lc_callbacks_nb.langchain.threadsafe import ThreadSafeHandler, overridden_callbacks

__all__ = ["describe_placement"]


def describe_placement(handler: BaseCallbackHandler, *, sync_run: bool = False) -> str:
    """One line saying where ``handler``'s callbacks run in an async run (or a sync one)."""
    if not isinstance(handler, BaseCallbackHandler):
        raise TypeError(
            f"describe_placement() needs a BaseCallbackHandler, got {type(handler).__name__}"
        )
    if isinstance(handler, ThreadSafeHandler):
        if handler.inline:
            where = "caller's thread" if sync_run else "loop"
            return f"{where} (inline, threadsafe wrapper, serialized)"
        name = type(handler.wrapped).__name__
        return f"serialized (threadsafe wrapper, worker thread lc-threadsafe-{name})"

    cls = type(handler)
    # AsyncCallbackHandler's own methods are async no-ops; a subclass that overrides its real
    # callbacks with plain functions (as LiveStreamHandler does) runs those, not these.
    names = [
        n
        for n in overridden_callbacks(cls)
        if getattr(cls, n) is not getattr(AsyncCallbackHandler, n, None)
    ]
    is_async = [inspect.iscoroutinefunction(getattr(cls, n)) for n in names]
    if names and all(is_async):
        kind = "async"
    elif any(is_async):
        kind = "mixed"
    else:
        kind = "sync"

    if sync_run:
        if kind == "sync":
            return "caller's thread (sync run, called directly)"
        return "LangChain worker thread (fresh event loop per event)" + (
            "; sync methods on the caller's thread" if kind == "mixed" else ""
        )
    if kind == "async":
        return "loop (async, awaited" + (", inline)" if handler.run_inline else ", concurrent)")
    if kind == "mixed":
        sync_part = "inline" if handler.run_inline else "in the executor, concurrent"
        return f"loop (async methods awaited); sync methods {sync_part}"
    if handler.run_inline:
        return "loop (inline)"
    return "executor (default thread pool, concurrent)"
