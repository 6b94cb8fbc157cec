"""Streams dropped before their end: ``async for chunk in chat.astream(...): break``.

A *sync* generator dropped mid-way is closed on the spot: LangChain's ``stream`` gets
``GeneratorExit`` and ends its run before the cell ends. An *async* generator cannot be closed
synchronously, so Python hands it to the event loop's finalizer hook, which schedules
``aclose()`` as a task. In a notebook that task runs after the cell has finished (ipykernel
triggers ``post_run_cell`` in the same loop iteration the cell ends in): the run's end would
reach a cell that is over, and a headless runner (nbclient, nbval) never records it.

So we wrap the finalizer hook of the thread that runs the kernel's loop. When a generator is
finalized we look at what it holds: the runs started while its frame was on the stack
(``astream`` on a model, a chain or a graph), the async generators it iterates, and the tasks in
its locals that started runs (``astream_events`` and ``astream_log`` run the stream in a task of
their own). Those runs, and everything still live under them, end at once, in the cell that
dropped the stream, as "interrupted: stream closed before its end". LangChain's own end or
error event, when ``aclose()`` finally runs, finds them ended and changes nothing. A stream the
user keeps (``agen = chat.astream(...)``, consumed in the next cell) is never finalized, so it
goes on as before.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, Protocol
from uuid import UUID

_CO_ASYNC_GENERATOR = inspect.CO_ASYNC_GENERATOR
_STACK_DEPTH = 200  # frames looked at when a run starts: the whole stack of a cell, in practice
_HOLD_DEPTH = 3  # generators held by the finalized one (astream_events v1 -> astream_log)


class Owner(Protocol):
    """What a handler following runs offers (``events.RunEvents``)."""

    def stream_closed(self, run_id: UUID) -> None: ...

    def runs_of_task(self, task: asyncio.Task[Any]) -> set[UUID]: ...


class _Registry:
    """Async generator frames on the stack when a live run started -> (owner, run id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # id(frame) -> (the frame itself, so its id cannot be reused while we hold the entry;
        # the runs started under it)
        self._by_frame: dict[int, tuple[FrameType, set[tuple[Owner, UUID]]]] = {}
        self._frames_of: dict[tuple[Owner, UUID], list[int]] = {}

    def watch(self, owner: Owner, run_id: UUID, frames: list[FrameType]) -> None:
        if not frames:
            return
        key = (owner, run_id)
        with self._lock:
            self._frames_of[key] = [id(f) for f in frames]
            for frame in frames:
                entry = self._by_frame.setdefault(id(frame), (frame, set()))
                entry[1].add(key)

    def forget(self, owner: Owner, run_id: UUID) -> None:
        key = (owner, run_id)
        with self._lock:
            for fid in self._frames_of.pop(key, ()):
                entry = self._by_frame.get(fid)
                if entry is not None:
                    entry[1].discard(key)
                    if not entry[1]:
                        del self._by_frame[fid]

    def under(self, frame: FrameType) -> list[tuple[Owner, UUID]]:
        with self._lock:
            entry = self._by_frame.get(id(frame))
            if entry is None or entry[0] is not frame:
                return []
            return list(entry[1])

    def watched(self, owner: Owner, run_id: UUID) -> bool:
        with self._lock:
            return (owner, run_id) in self._frames_of

    def owners(self) -> list[Owner]:
        with self._lock:
            return list({owner for owner, _ in self._frames_of})

    def __len__(self) -> int:
        return len(self._frames_of)


REGISTRY = _Registry()


def _async_generator_frames(start: FrameType | None) -> list[FrameType]:
    """Async generator frames from ``start`` up to the cell's own code (a ``<module>`` frame:
    what lies above it is the kernel, which holds no stream of the user's)."""
    frames = []
    frame = start
    for _ in range(_STACK_DEPTH):
        if frame is None:
            break
        code = frame.f_code
        if code.co_flags & _CO_ASYNC_GENERATOR:
            frames.append(frame)
        elif code.co_name == "<module>":
            break
        frame = frame.f_back
    return frames


def watch(owner: Owner, run_id: UUID) -> None:
    """Remember which async generators enclose a run starting now (threads with a running
    event loop only: the kernel's; the finalizer hook is installed there on first use)."""
    if not _installed_here() and not install():
        return
    REGISTRY.watch(owner, run_id, _async_generator_frames(sys._getframe(1)))


def forget(owner: Owner, run_id: UUID) -> None:
    REGISTRY.forget(owner, run_id)


def collect_dropped(owner: Owner, run_ids: list[UUID]) -> None:
    """A cell ends with some of its runs live inside async generators. A generator dropped in a
    reference cycle (``astream_events(version="v1")`` makes one) is finalized only by the
    garbage collector, whenever it next runs: run it now, once, so a dropped stream's runs end
    in their own cell. A stream the caller still holds is reachable and stays as it is."""
    if any(REGISTRY.watched(owner, run_id) for run_id in run_ids):
        gc.collect()


# -- what a finalized generator holds ----------------------------------------------------------
def _held(agen: Any, depth: int) -> Iterator[tuple[str, Any]]:
    """("frame", f) for the frame of ``agen`` and of the async generators it holds; ("task", t)
    for the tasks they hold. What a generator holds is what the garbage collector sees it
    refer to: its locals *and* its value stack (``async for x in other_gen()`` keeps
    ``other_gen`` on the stack only: astream_events v1 iterates astream_log that way)."""
    frame = getattr(agen, "ag_frame", None)
    if frame is None:  # finished already: its runs have ended
        return
    yield "frame", frame
    if depth <= 0:
        return
    try:
        held = gc.get_referents(agen)
    except Exception:  # a generator being torn down
        return
    for value in held:
        if isinstance(value, asyncio.Task):
            yield "task", value
        elif inspect.isasyncgen(value):
            yield from _held(value, depth - 1)
        elif isinstance(value, dict):  # locals of a frame that has materialized them
            for item in list(value.values()):
                if isinstance(item, asyncio.Task):
                    yield "task", item
                elif inspect.isasyncgen(item):
                    yield from _held(item, depth - 1)


def runs_held_by(agen: Any) -> list[tuple[Owner, UUID]]:
    found: list[tuple[Owner, UUID]] = []
    owners = REGISTRY.owners()
    for kind, item in _held(agen, _HOLD_DEPTH):
        if kind == "frame":
            found.extend(REGISTRY.under(item))
        else:
            found.extend((owner, run_id) for owner in owners for run_id in owner.runs_of_task(item))
    return found


# -- the finalizer hook ------------------------------------------------------------------------
class _Finalizer:
    """Wraps the thread's async-generator finalizer (asyncio's, which schedules ``aclose()``)."""

    lc_callbacks_nb = True

    def __init__(self, inner: Callable[[Any], Any] | None) -> None:
        self.inner = inner

    def __call__(self, agen: Any) -> None:
        try:
            for owner, run_id in runs_held_by(agen):
                owner.stream_closed(run_id)
        except Exception:  # never stand in the way of closing a generator
            pass
        if self.inner is not None:
            self.inner(agen)


_lock = threading.Lock()


def _installed_here() -> bool:
    return isinstance(sys.get_asyncgen_hooks().finalizer, _Finalizer)


def install() -> bool:
    """Wrap this thread's finalizer hook, once; only where an event loop runs (the kernel's)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    with _lock:
        hooks = sys.get_asyncgen_hooks()
        if not isinstance(hooks.finalizer, _Finalizer):
            sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=_Finalizer(hooks.finalizer))
    return True


def uninstall() -> None:
    """Put this thread's own finalizer back (generators already started keep ours: harmless)."""
    with _lock:
        hooks = sys.get_asyncgen_hooks()
        if isinstance(hooks.finalizer, _Finalizer):
            sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=hooks.finalizer.inner)
