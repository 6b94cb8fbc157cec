"""Notice when a cell ends, to close runs that no LangChain event will ever end.

An interrupted top-level ``await`` leaves LangChain's coroutine suspended: neither
``on_llm_end`` nor ``on_llm_error`` fires, and the task that started the run may never
finish either. IPython's ``post_run_cell`` event still fires, with the interrupt as the
cell's error, in the cell's own context: that is when such runs become "interrupted".
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any, Protocol


class Watcher(Protocol):
    def cell_ended(self, interrupted: bool) -> None: ...


_watchers: weakref.WeakSet[Any] = weakref.WeakSet()
_installed_on: Any = None
_INTERRUPTS = (KeyboardInterrupt, asyncio.CancelledError)


def _post_run_cell(result: Any) -> None:
    error = getattr(result, "error_in_exec", None)
    interrupted = isinstance(error, _INTERRUPTS)
    for watcher in list(_watchers):
        try:
            watcher.cell_ended(interrupted)
        except Exception:  # never disturb the user's cell
            pass


def watch(watcher: Watcher) -> None:
    """Call ``watcher.cell_ended`` after every cell; installs the IPython hook once."""
    global _installed_on
    _watchers.add(watcher)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or shell is _installed_on:
        return
    shell.events.register("post_run_cell", _post_run_cell)
    _installed_on = shell


def uninstall() -> None:
    """Remove the IPython hook (the extension's unload calls this)."""
    global _installed_on
    if _installed_on is not None:
        with contextlib.suppress(ValueError):
            _installed_on.events.unregister("post_run_cell", _post_run_cell)
        _installed_on = None
