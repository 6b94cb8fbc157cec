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


# Terminal IPython: no kernel parent; a ContextVar set at pre_run_cell names the cell.
_local_cell: contextvars.ContextVar[Cell | None] = contextvars.ContextVar(
    "lc_callbacks_nb.cell", default=None
)
_serial = itertools.count(1)
_running: Cell | None = None  # the cell executing now (bare threads outside a kernel)
_numbers: OrderedDict[str, int] = OrderedDict()  # kernel msg_id -> execution count, bounded
_numbers_lock = threading.Lock()
_listeners: weakref.WeakSet[Any] = weakref.WeakSet()
_installed_on: Any = None


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
        return
    cell = Cell(f"cell-{next(_serial)}", number)
    _local_cell.set(cell)
    _running = cell


def _post_run_cell(result: Any) -> None:
    error = getattr(result, "error_in_exec", None)
    interrupted = error is not None and type(error).__name__ in _INTERRUPTS
    cell = current()
    for listener in list(_listeners):
        try:
            listener.cell_ended(cell, interrupted)
        except Exception:  # never disturb the user's cell
            pass


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


