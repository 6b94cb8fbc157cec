"""One scheduler that flushes pending panel updates at a bounded rate.

Tokens arrive on the kernel loop (async cells) or on the calling thread (sync cells, where
the loop is blocked and a loop timer would never fire). So the periodic flush runs on one
daemon thread of its own. The hot path only flips a flag and, when a target goes from
clean to dirty, notifies the thread; the thread alone looks at the clock.

Each target is flushed at most ``fps`` times per second. A target's ``flush()`` is
always called under the scheduler's lock, whether from the ticker thread or from
:meth:`FlushScheduler.flush_now` (a board's first appearance, a cell's end), so view state has
exactly one writer at a time. A target that fails is told (``on_error``) and the ticker goes
on: no board can stop the others' updates, whatever its interval or its view does.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable
from typing import Protocol

MAX_WAIT = 1.0  # the ticker re-checks at least this often (and never sleeps on a huge number)


class FlushTarget(Protocol):
    interval: float
    context: contextvars.Context | None

    def flush(self) -> None: ...

    def on_error(self, exc: BaseException) -> None: ...

    def retry_at(self) -> float | None:
        """A clock time at which the target wants flushing again although nothing changed."""
        ...


class FlushScheduler:
    def __init__(self, clock: Callable[[], float] = time.monotonic, *, threaded: bool = True):
        self.clock = clock
        self.threaded = threaded
        self.lock = threading.RLock()  # held while any target flushes
        self._cond = threading.Condition(threading.Lock())
        self._due: dict[FlushTarget, float] = {}  # dirty targets -> earliest flush time
        self._last: dict[FlushTarget, float] = {}  # target -> time of its last flush
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- called from any thread ---------------------------------------------------------
    def wake(self, target: FlushTarget) -> None:
        """Mark ``target`` dirty; it will be flushed within its interval."""
        with self._cond:
            last = self._last.get(target)
            now = self.clock()
            due = now if last is None else max(now, last + target.interval)
            pending = self._due.get(target)
            if pending is not None and pending <= due:
                return
            self._due[target] = due
            if self.threaded:
                self._ensure_thread()
                self._cond.notify()

    def flush_now(self, target: FlushTarget) -> None:
        """Flush synchronously on the calling thread (final states, interrupts)."""
        with self._cond:
            self._due.pop(target, None)
            self._last[target] = self.clock()
        self._run(target, enter_context=False)

    def forget(self, target: FlushTarget) -> None:
        with self._cond:
            self._due.pop(target, None)
            self._last.pop(target, None)

    # -- the ticker ---------------------------------------------------------------------
    def tick(self) -> float | None:
        """Flush every target that is due now; return seconds until the next one is due."""
        with self._cond:
            now = self.clock()
            ready = [t for t, due in self._due.items() if due <= now]
            for target in ready:
                del self._due[target]
                self._last[target] = now
            wait = min((due - now for due in self._due.values()), default=None)
        for target in ready:
            self._run(target, enter_context=True)
        return wait

    def _run(self, target: FlushTarget, *, enter_context: bool) -> None:
        with self.lock:
            try:
                ctx = target.context if enter_context else None
                if ctx is not None:
                    # The target's own copy of the context of the cell that started it,
                    # so its output and comm messages carry that cell's parent header.
                    ctx.run(target.flush)
                else:
                    target.flush()
                again = target.retry_at()
            except Exception as exc:  # a broken view must never kill the ticker
                with contextlib.suppress(Exception):
                    target.on_error(exc)
                return
        if again is not None:
            with self._cond:
                due = self._due.get(target)
                self._due[target] = again if due is None else min(due, again)
                if self.threaded:
                    self._ensure_thread()
                    self._cond.notify()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="lc-live-flush", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                wait = self.tick()
            except Exception:  # the clock or a target's bookkeeping failed: keep ticking
                wait = MAX_WAIT
            if wait is not None:
                wait = min(max(wait, 0.0), MAX_WAIT)
            with self._cond:
                if self._closed:
                    return
                if not self._due:
                    # Idle: park until woken; exit after a while so no thread lingers.
                    if not self._cond.wait(timeout=30.0) and not self._due:
                        self._thread = None
                        return
                elif wait is not None and wait > 0:
                    self._cond.wait(timeout=wait)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


_scheduler: FlushScheduler | None = None
_scheduler_lock = threading.Lock()


def get_scheduler() -> FlushScheduler:
    """The process-wide scheduler shared by every live handler."""
    global _scheduler
    with _scheduler_lock:
        if _scheduler is None:
            _scheduler = FlushScheduler()
        return _scheduler
