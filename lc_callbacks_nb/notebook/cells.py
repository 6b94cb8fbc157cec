"""Which cell a run belongs to, and when cells end: the one owner of both questions.

**Which cell.** A run belongs to the cell whose execute request is the kernel's *shell parent*
in the context that starts it. ipykernel (>= 7.1) keeps that parent in a ContextVar, and it is
the same rule ipykernel uses to route ``print`` and ``display``: a task or an executor thread
running under a copied context (``agenerate``, ``batch()``, LangChain's worker threads, a
background task from an earlier cell) keeps the cell that started it; a bare thread (a
``ThreadPoolExecutor`` the user made) falls back to the shell's main context, which is the cell
executing now. So a board always sits in the cell its output goes to, whatever the threads.
The key is that request's ``msg_id``: unique even when cells share an execution count
(``store_history=False``, as nbval runs them). Outside a kernel (terminal IPython) cells run one
at a time: the key is a serial number taken at ``pre_run_cell``.

**Cell ends.** ``post_run_cell`` fires in the ending cell's context, with the interrupt (if any)
as its error: that is when runs an interrupt left behind are closed and when the boards of the
cell draw their last state. Listeners register with :func:`on_cell_end`; the IPython hooks are
installed once per shell, on first use, and removed by :func:`uninstall`.

**Output after a cell.** A front-end such as JupyterLab keeps listening to a cell after it
ended, but a headless runner (nbclient, so nbval and papermill) records only messages parented to
the cell it is executing, and nothing between cells. So what a run sends after its cell ended
must be sent under the cell running *now* to be saved: :func:`running` gives that cell and a copy
of its context (``ctx.run(send)`` parents the messages to it), :func:`has_ended` says whether a
cell is over, and :func:`on_cell_start` lets boards re-send, at the next cell's start, what they
could only send while the kernel was idle.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

_INTERRUPTS = ("KeyboardInterrupt", "CancelledError")


@dataclass(frozen=True)
class Cell:
    """A cell as runs see it: ``key`` identifies it, ``number`` is its ``In [n]`` (or None)."""

    key: str
    number: int | None


class CellEndListener(Protocol):
    def cell_ended(self, cell: Cell, interrupted: bool) -> None: ...


class CellStartListener(Protocol):
    def cell_started(self, cell: Cell) -> None: ...


# Terminal IPython: no kernel parent; a ContextVar set at pre_run_cell names the cell.
_local_cell: contextvars.ContextVar[Cell | None] = contextvars.ContextVar(
    "lc_callbacks_nb.cell", default=None
)
_serial = itertools.count(1)
_running: Cell | None = None  # the cell executing now (bare threads outside a kernel)
_numbers: OrderedDict[str, int] = OrderedDict()  # kernel msg_id -> execution count, bounded
_numbers_lock = threading.Lock()
_listeners: weakref.WeakSet[Any] = weakref.WeakSet()
_start_listeners: weakref.WeakSet[Any] = weakref.WeakSet()
_installed_on: Any = None
# The cell executing now and a copy of its context (kernel only), or None while idle.
_executing: tuple[Cell, contextvars.Context] | None = None
_ended: OrderedDict[str, None] = OrderedDict()  # keys of cells that have finished, bounded


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _kernel_parent_id(shell: Any) -> str | None:
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    try:
        msg_id = kernel.get_parent().get("header", {}).get("msg_id")
    except Exception:  # an ipykernel without get_parent: fall back to the serial
        return None
    return str(msg_id) if msg_id else None


def current() -> Cell:
    """The cell a run started in this context belongs to."""
    shell = _shell()
    if shell is None:
        return Cell("default", None)
    msg_id = _kernel_parent_id(shell)
    if msg_id is not None:
        with _numbers_lock:
            number = _numbers.get(msg_id)
        if number is None:  # hooks not installed yet: the shell's own count is the cell's
            number = _count_now(shell)
        return Cell(msg_id, number)
    cell = _local_cell.get() or _running
    if cell is not None:
        return cell
    return Cell(f"exec-{shell.execution_count}", _count_now(shell))


def _count_now(shell: Any) -> int | None:
    count = getattr(shell, "execution_count", None)
    return count - 1 if isinstance(count, int) and count > 1 else count


# -- IPython hooks -----------------------------------------------------------------------
def _pre_run_cell(info: Any) -> None:
    global _running
    shell = _installed_on
    count = getattr(shell, "execution_count", 0)
    number = count - 1 if getattr(info, "store_history", True) else count
    msg_id = _kernel_parent_id(shell)
    if msg_id is not None:
        with _numbers_lock:
            _numbers[msg_id] = number
            while len(_numbers) > 1000:
                _numbers.popitem(last=False)
        cell = Cell(msg_id, number)
    else:
        cell = Cell(f"cell-{next(_serial)}", number)
        _local_cell.set(cell)
        _running = cell
    _started(cell)


def _started(cell: Cell) -> None:
    global _executing
    _executing = (cell, contextvars.copy_context())
    for listener in list(_start_listeners):
        try:
            listener.cell_started(cell)
        except Exception:  # never disturb the user's cell
            pass


def _post_run_cell(result: Any) -> None:
    global _executing
    error = getattr(result, "error_in_exec", None)
    interrupted = error is not None and type(error).__name__ in _INTERRUPTS
    cell = current()
    with _numbers_lock:
        _ended[cell.key] = None
        while len(_ended) > 1000:
            _ended.popitem(last=False)
    for listener in list(_listeners):
        try:
            listener.cell_ended(cell, interrupted)
        except Exception:  # never disturb the user's cell
            pass
    if _executing is not None and _executing[0].key == cell.key:
        _executing = None


def running() -> tuple[Cell, contextvars.Context] | None:
    """The cell executing now and a copy of its context; None while the kernel is idle."""
    return _executing


def has_ended(key: str) -> bool:
    """Whether the cell ``key`` has finished (as far as the last 1,000 cells go)."""
    with _numbers_lock:
        return key in _ended


_pre_run_cell.lc_callbacks_nb = True  # type: ignore[attr-defined]  # marks our hooks for sweeps
_post_run_cell.lc_callbacks_nb = True  # type: ignore[attr-defined]


def install(shell: Any = None) -> None:
    """Install the hooks on ``shell`` (default: the running one), once."""
    global _installed_on
    shell = shell if shell is not None else _shell()
    if shell is None:
        return
    if _installed_on is not None and _installed_on is not shell:
        uninstall()
    for event, hook in (("pre_run_cell", _pre_run_cell), ("post_run_cell", _post_run_cell)):
        if hook not in shell.events.callbacks.get(event, []):  # (a sweep may have removed it)
            shell.events.register(event, hook)
    _installed_on = shell


def uninstall() -> None:
    """Remove the hooks (the extension's unload calls this; listeners stay registered)."""
    global _installed_on
    if _installed_on is not None:
        for event, hook in (("pre_run_cell", _pre_run_cell), ("post_run_cell", _post_run_cell)):
            with contextlib.suppress(ValueError):
                _installed_on.events.unregister(event, hook)
        _installed_on = None


def on_cell_end(listener: CellEndListener) -> None:
    """Call ``listener.cell_ended(cell, interrupted)`` after every cell (weakly held)."""
    _listeners.add(listener)
    install()


def on_cell_start(listener: CellStartListener) -> None:
    """Call ``listener.cell_started(cell)`` as every cell starts, in its context (weakly held)."""
    _start_listeners.add(listener)
    install()


