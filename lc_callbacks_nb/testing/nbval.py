"""A pytest plugin that makes nbval compare the final state of updated displays.

A saved notebook holds each display as it ended: when a kernel sends ``update_display_data``
(``display(..., display_id=True).update(...)``, which lc_callbacks_nb's boards use to leave
their final static twin in the notebook), nbclient and JupyterLab replace the outputs carrying
that ``transient.display_id`` in place. nbval 0.11 does not: it prints
``unhandled iopub msg: update_display_data`` and compares every output as first displayed,
so a notebook saved by any front-end fails. It also ignores ``clear_output``.

With this plugin, while nbval collects one cell's outputs:

* ``display_data`` / ``execute_result`` with a ``display_id`` are remembered by position (a
  later one with the same id also updates the earlier ones, as nbclient does);
* ``update_display_data`` replaces ``data`` and ``metadata`` of those outputs of the cell;
* ``clear_output`` empties the collected outputs, at once or, with ``wait=True``, just before
  the next output arrives (nbclient's rule).

Both messages are consumed here, so nbval no longer prints "unhandled iopub msg" for them.
Everything else nbval does is unchanged. Limits (the same as nbval's view of a cell): only
messages whose parent is the cell being run are applied, and only to that cell's outputs (an
update that reaches an earlier, already compared cell is not replayed).

Activation is opt-in::

    pytest -p lc_callbacks_nb.testing.nbval --nbval --nbval-current-env notebooks/

(or ``addopts = "-p lc_callbacks_nb.testing.nbval"`` in the pytest configuration). The patch
wraps three nbval methods: ``IPyNbCell.runtest`` (to know the cell being collected),
``RunningKernel.execute_cell_input`` (its request id) and ``IPyNbFile.get_kernel_message``
(where every iopub message passes). If nbval's internals no longer look as this expects, the
run stops with a ``pytest.UsageError`` (at start) or a cell fails with an explanation, instead
of silently comparing the wrong thing.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["NbvalPatchError", "install", "uninstall"]

_MARK = "__lcnb_display_patch__"
_HINT = (
    "lc_callbacks_nb.testing.nbval: nbval's internals changed ({}); the display-update patch "
    "no longer applies. Run without '-p lc_callbacks_nb.testing.nbval' or update the plugin."
)


class NbvalPatchError(RuntimeError):
    """nbval did something this plugin does not expect: results would be wrong."""


class _CellDisplays:
    """The display bookkeeping of the one cell nbval is collecting outputs for."""

    def __init__(self, item: Any) -> None:
        self.item = item
        self.file = item.parent
        self.msg_id: str | None = None
        self.by_id: dict[str, list[int]] = {}  # display id -> indices in the cell's outputs
        self.clear_pending = False
        self.messages = 0

    def outputs(self) -> list[Any]:
        outs = getattr(self.item, "test_outputs", None)
        if not isinstance(outs, list):
            raise NbvalPatchError(_HINT.format("IPyNbCell.test_outputs is not the output list"))
        return outs

    def consume(self, msg: dict[str, Any]) -> bool:
        """Apply ``msg``; True if nbval must not see it (it is handled here)."""
        self.messages += 1
        parent = (msg.get("parent_header") or {}).get("msg_id")
        if self.msg_id is None or parent != self.msg_id:
            return False  # not this cell's: nbval skips it too
        msg_type = msg.get("msg_type") or (msg.get("header") or {}).get("msg_type")
        content = msg.get("content") or {}
        transient = content.get("transient") or {}
        display_id = transient.get("display_id") if isinstance(transient, dict) else None
        if msg_type == "clear_output":
            if content.get("wait"):
                self.clear_pending = True
            else:
                self._clear()
            return True
        if msg_type == "update_display_data":
            if display_id:
                self._update(display_id, content)
            return True
        if msg_type in ("display_data", "execute_result", "stream", "error"):
            # nbval appends one output for each of these after this returns.
            if self.clear_pending:
                self._clear()
            if display_id and msg_type != "stream":
                self._update(display_id, content)
                self.by_id.setdefault(display_id, []).append(len(self.outputs()))
        return False

    def _clear(self) -> None:
        del self.outputs()[:]  # in place: nbval holds the same list
        self.by_id.clear()
        self.clear_pending = False

    def _update(self, display_id: str, content: dict[str, Any]) -> None:
        outs = self.outputs()
        for index in self.by_id.get(display_id, []):
            if index >= len(outs):
                raise NbvalPatchError(_HINT.format("an output nbval collected disappeared"))
            out = outs[index]
            if out.get("output_type") not in ("display_data", "execute_result"):
                raise NbvalPatchError(
                    _HINT.format(f"output {index} is a {out.get('output_type')!r}, not a display")
                )
            out["data"] = content.get("data", {})
            out["metadata"] = content.get("metadata", {})


_active: _CellDisplays | None = None
_originals: dict[tuple[type, str], Callable[..., Any]] = {}


def _wrap_runtest(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def runtest(self: Any) -> Any:
        global _active
        cell = _CellDisplays(self)
        previous, _active = _active, cell
        try:
            result = original(self)
        finally:
            _active = previous
        if cell.msg_id is not None and cell.messages == 0:
            raise NbvalPatchError(
                _HINT.format("the cell ran but no iopub message passed get_kernel_message")
            )
        return result

    setattr(runtest, _MARK, True)
    return runtest


def _wrap_execute(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def execute_cell_input(self: Any, *args: Any, **kwargs: Any) -> Any:
        msg_id = original(self, *args, **kwargs)
        cell = _active
        if cell is not None and cell.msg_id is None and cell.file.kernel is self:
            cell.msg_id = msg_id
        return msg_id

    setattr(execute_cell_input, _MARK, True)
    return execute_cell_input


def _wrap_get_message(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def get_kernel_message(self: Any, timeout: Any = None, stream: str = "iopub") -> Any:
        while True:
            msg = original(self, timeout=timeout, stream=stream)
            cell = _active
            if cell is None or stream != "iopub" or cell.file is not self:
                return msg
            if not cell.consume(msg):
                return msg
            # handled here: read on, with a fresh timeout, as nbval does per message

    setattr(get_kernel_message, _MARK, True)
    return get_kernel_message


def _check_source(func: Callable[..., Any], needles: tuple[str, ...], what: str) -> None:
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return  # no source shipped: the runtime checks still apply
    for needle in needles:
        if needle not in source:
            raise NbvalPatchError(_HINT.format(f"{what} no longer contains {needle!r}"))


def install() -> None:
    """Patch nbval (idempotent). Raises NbvalPatchError if nbval does not look as expected."""
    try:
        from nbval.kernel import RunningKernel
        from nbval.plugin import IPyNbCell, IPyNbFile
    except ImportError as exc:
        raise NbvalPatchError(f"lc_callbacks_nb.testing.nbval needs nbval: {exc}") from exc
    targets = [
        (IPyNbCell, "runtest", _wrap_runtest),
        (RunningKernel, "execute_cell_input", _wrap_execute),
        (IPyNbFile, "get_kernel_message", _wrap_get_message),
    ]
    for cls, name, _ in targets:
        if not callable(cls.__dict__.get(name)):
            raise NbvalPatchError(_HINT.format(f"{cls.__name__}.{name} is missing"))
    # What the wrappers rely on in the collecting loop.
    _check_source(
        IPyNbCell.runtest,
        (
            "execute_cell_input(",
            "self.test_outputs = outs",
            "self.parent.get_kernel_message(",
            "outs.append(out)",
        ),
        "IPyNbCell.runtest",
    )
    for cls, name, wrap in targets:
        current = cls.__dict__[name]
        if getattr(current, _MARK, False):
            continue
        _originals[(cls, name)] = current
        setattr(cls, name, wrap(current))


def uninstall() -> None:
    """Undo :func:`install`."""
    while _originals:
        (cls, name), original = _originals.popitem()
        setattr(cls, name, original)


# -- pytest hooks ------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    try:
        install()
    except NbvalPatchError as exc:
        raise pytest.UsageError(str(exc)) from exc


def pytest_unconfigure(config: pytest.Config) -> None:
    uninstall()
