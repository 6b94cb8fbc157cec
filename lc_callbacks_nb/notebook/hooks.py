"""The one handler LangChain's configure hook adds to every run: scoped, global, or the recorder.

LangChain offers one extension point for "a handler on every run":
``register_configure_hook(var, inheritable)``. Every callback manager it configures calls
``var.get()`` and adds the result when it is not ``None``. There is no unregister, so this module
registers ONE slot once per process and afterwards only flips what it returns. One slot, so one
handler of ours per run: LangChain dispatches each event once, and the handler feeds both the
panel and the ``%lc_runs`` recorder from one reading of it (``live/handler.py``).

What the slot returns, first match wins:

- the ``%%lc_stream`` handler of the current context (``SCOPED``): "runs started by this cell",
  real context state. A :class:`ScopedSlot` over a ``ContextVar``, entered and reset in the same
  frame by the rewritten cell (so tasks the cell creates inherit it, and the next cell does not),
  with a process-wide kill switch for unload, and a fallback for bare threads started while the
  scope is open (they have no context to inherit);
- else ``GLOBAL.target``: the ``%lc_stream on`` handler, or the recorder itself while panels are
  off, or ``None`` (nothing attached, no cost) when the extension is not loaded. "On for this
  kernel" is process state, not context state: a value ``set()`` in a kernel cell would live in
  the context that cell ran in (an async cell's task, gone when it ends; a ``threading.Thread``
  starts with an empty context), so the target is a plain attribute, the same answer in every
  task, cell and thread.

:class:`Slot` implements the part of the ``ContextVar`` interface LangChain uses. The panel
handlers the extension makes carry the recorder (``handler.recorder``), so a run is recorded
whichever of them it gets. No IPython import here; which cell a run belongs to is ``cells.py``'s
question, not ours.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any

_MISSING: Any = object()
_SLOT_PREFIX = "lc_callbacks_nb."


class Slot:
    """The process-wide handler slot, with the ``ContextVar.get`` interface LangChain calls."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.target: Any = None
        self.recorder: Any = None  # the %lc_runs recorder the targets feed (for reports)
        self.scoped: ScopedSlot | None = None  # consulted first: a %%lc_stream cell's handler

    def get(self, default: Any = None) -> Any:
        if self.scoped is not None:
            handler = self.scoped.get()
            if handler is not None:
                return handler
        target = self.target
        return default if target is None else target

    def set(self, target: Any) -> None:
        self.target = target

    def __repr__(self) -> str:
        return f"<Slot {self.name} -> {type(self.target).__name__ if self.target else None}>"


class ScopedSlot:
    """The ``%%lc_stream`` handler of the current context (task / cell), if any."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.enabled = False  # unload flips this: stale contexts stop getting handlers
        self._var: contextvars.ContextVar[Any] = contextvars.ContextVar(name)
        self._open: list[Any] = []  # handlers of scopes open right now (any context)
        self._lock = threading.Lock()

    def get(self, default: Any = None) -> Any:
        if not self.enabled:
            return default
        value = self._var.get(_MISSING)
        if value is _MISSING:
            # A context that never passed through a cell: a bare thread. Attribute its runs
            # to the scope open right now, if any (the cell that is running started it).
            with self._lock:
                value = self._open[-1] if self._open else None
        return default if value is None else value

    def enter(self, handler: Any) -> contextvars.Token[Any]:
        with self._lock:
            self._open.append(handler)
        return self._var.set(handler)

    def exit(self, handler: Any, token: contextvars.Token[Any] | None) -> None:
        with self._lock:
            for i in range(len(self._open) - 1, -1, -1):
                if self._open[i] is handler:
                    del self._open[i]
                    break
        if token is not None:
            try:
                self._var.reset(token)
            except ValueError:  # set in another context (a task): that copy is gone already
                pass

    def mark_cell(self) -> None:
        """Called at the start of every cell: its context (and tasks it creates) has no scope."""
        self._var.set(None)

    def close_all(self) -> None:
        with self._lock:
            self._open.clear()

    def __repr__(self) -> str:
        return f"<ScopedSlot {self.name} enabled={self.enabled}>"


def _find_registered(name: str) -> Any:
    """A slot of ours already registered in this process (survives reimporting this module)."""
    try:
        from langchain_core.tracers.context import _configure_hooks
    except ImportError:  # pragma: no cover - private name moved; we simply register anew
        return None
    for var, *_ in _configure_hooks:
        if getattr(var, "name", None) == name and type(var).__name__ == "Slot":
            return var
    return None


def _register(slot: Any) -> Any:
    from langchain_core.tracers.context import register_configure_hook

    existing = _find_registered(slot.name)
    if existing is not None:
        return existing
    register_configure_hook(slot, inheritable=True)
    return slot


# One slot registered with LangChain; kept across `importlib.reload` of this module (module
# globals survive a reload, and a slot already registered in this process is found again).
try:
    SCOPED, GLOBAL  # type: ignore[used-before-def,has-type]  # noqa: B018
except NameError:
    GLOBAL = _register(Slot(_SLOT_PREFIX + "handler"))
    SCOPED = GLOBAL.scoped or ScopedSlot(_SLOT_PREFIX + "scoped")
    GLOBAL.scoped = SCOPED


def set_global(handler: Any) -> None:
    """What every run gets outside a ``%%lc_stream`` cell (None: nothing)."""
    GLOBAL.set(handler)


def set_recorder(recorder: Any) -> None:
    """The ``%lc_runs`` recorder the extension's handlers feed (reported by active_handlers)."""
    GLOBAL.recorder = recorder


def configured_handler() -> Any:
    """The one handler the configure hook adds to a run started in the current context."""
    return GLOBAL.get()


def active_handlers() -> list[tuple[str, Any]]:
    """What a run started in the current context is fed into, in order: the recorder, then the
    panel handler (``scoped`` or ``global``). One LangChain handler feeds them all."""
    handler = GLOBAL.get()
    if handler is None:
        return []
    recorder = GLOBAL.recorder
    out: list[tuple[str, Any]] = []
    if recorder is not None and (handler is recorder or getattr(handler, "recorder", None)):
        out.append(("recorder", recorder))
    if handler is not recorder:
        out.append(("scoped" if SCOPED.get() is handler else "global", handler))
    return out


class CellScope:
    """One ``%%lc_stream`` cell: enter sets the scoped handler, exit restores; both idempotent."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self._token: contextvars.Token[Any] | None = None
        self._entered = False
        self.value: Any = None

    def enter(self) -> None:
        if not self._entered:
            self._entered = True
            self._token = SCOPED.enter(self.handler)

    def exit(self) -> None:
        if self._entered:
            self._entered = False
            token, self._token = self._token, None
            SCOPED.exit(self.handler, token)

    def __enter__(self) -> CellScope:
        self.enter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.exit()
