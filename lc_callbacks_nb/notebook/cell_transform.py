"""The ``%%lc_stream`` rewrite: scope a cell's runs, keep top-level ``await`` and the cell's value.

IPython never awaits a cell magic, so ``%%lc_stream`` cannot be an ordinary cell magic if the body
may ``await``. Two cooperating steps rewrite the cell before it runs instead:

1. A text transform (first in line after IPython's cleanup transforms) replaces only the
   ``%%lc_stream opts`` line by ``_lcnb_cell_ = <open_cell>('opts')``. The body's lines stay as
   they are, on the same line numbers: IPython's own transforms still handle ``!cmd`` and
   ``%magic`` in the body, tracebacks quote the user's lines, multi-line strings are untouched,
   and IPython still sees the ``await`` and runs the cell as a task on the kernel loop.
2. An AST transform recognises that first statement and wraps the rest::

       _lcnb_cell_ = open_cell('opts')      # parses options: a bad one stops here, nothing set
       try:
           _lcnb_cell_.enter()              # set the scoped handler in this context
           <body, except a final expression>
           _lcnb_cell_.value = <final expression>
       finally:
           _lcnb_cell_.exit()               # restore: also on error, interrupt, cancellation
       _lcnb_cell_.finish()                 # removes the helper name, returns the value -> Out[n]

   ``enter`` and ``exit`` run in the same frame, hence the same context: the ``ContextVar`` reset
   is exact, tasks created by the body inherit the scope, the next cell does not. A trailing
   ``;`` still silences the value (IPython checks the transformed text, whose last line is the
   user's).
"""

from __future__ import annotations

import ast
import linecache
import re
import sys
from collections.abc import Callable
from typing import Any

NAME = "_lcnb_cell_"
_MAGIC = re.compile(r"^%%lc_stream(?:[ \t]+(?P<args>.*?))?[ \t]*\r?\n?$")
_OPENER = (
    '{name} = __import__("lc_callbacks_nb.notebook.cell_transform", fromlist=["_"])'
    ".open_cell({args!r})\n"
)


# opener line -> the user's ``%%lc_stream`` line it replaced, until the AST step puts it back
# into IPython's source cache (so tracebacks quote what the user typed).
_typed: dict[str, str] = {}


def rewrite_lines(lines: list[str]) -> list[str]:
    """Text step: ``%%lc_stream opts`` on the first line -> the opener statement."""
    if not lines:
        return lines
    m = _MAGIC.match(lines[0])
    if m is None:
        return lines
    opener = _OPENER.format(name=NAME, args=(m.group("args") or ""))
    if len(_typed) > 100:
        _typed.clear()
    _typed[opener] = lines[0] if lines[0].endswith("\n") else lines[0] + "\n"
    return [opener, *lines[1:]]


def _show_typed_first_line() -> None:
    """Tracebacks read cell source from ``linecache``, where IPython cached the *transformed*
    cell before the AST step; the rewrite keeps line numbers, so only line 1 differs."""
    for name, entry in list(linecache.cache.items()):
        if len(entry) != 4:
            continue  # a lazy entry, not a cell
        size, mtime, lines, fullname = entry  # type: ignore[misc]
        if lines and lines[0] in _typed:
            linecache.cache[name] = (size, mtime, [_typed[lines[0]], *lines[1:]], fullname)


rewrite_lines.lc_callbacks_nb = True  # type: ignore[attr-defined]  # marks our hook for sweeps


def _is_opener(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == NAME
    )


def _call(method: str, *args: ast.expr) -> ast.Call:
    return ast.Call(
        func=ast.Attribute(value=ast.Name(id=NAME, ctx=ast.Load()), attr=method, ctx=ast.Load()),
        args=list(args),
        keywords=[],
    )


class ScopeWrapper(ast.NodeTransformer):
    """AST step: wrap the body after the opener in try/finally (see module docstring)."""

    lc_callbacks_nb = True

    def visit_Module(self, node: ast.Module) -> ast.Module:
        try:
            wrapped = self._wrap(node)
            if wrapped.body and _is_opener(wrapped.body[0]):
                _show_typed_first_line()
            return wrapped
        except Exception:  # IPython would unregister a transformer that raises
            return node

    def _wrap(self, node: ast.Module) -> ast.Module:
        if not node.body or not _is_opener(node.body[0]):
            return node
        opener, body = node.body[0], list(node.body[1:])
        last: ast.stmt | None = body[-1] if body and isinstance(body[-1], ast.Expr) else None
        if last is not None:
            assert isinstance(last, ast.Expr)
            body[-1] = ast.copy_location(
                ast.Assign(
                    targets=[
                        ast.Attribute(
                            value=ast.Name(id=NAME, ctx=ast.Load()), attr="value", ctx=ast.Store()
                        )
                    ],
                    value=last.value,
                ),
                last,
            )
        enter = ast.copy_location(ast.Expr(_call("enter")), opener)
        end = body[-1] if body else opener
        exit_ = ast.copy_location(ast.Expr(_call("exit")), end)
        try_ = ast.copy_location(
            ast.Try(body=[enter, *body], handlers=[], orelse=[], finalbody=[exit_]), opener
        )
        finish = ast.copy_location(ast.Expr(_call("finish")), end)
        node.body = [opener, try_, finish]
        return ast.fix_missing_locations(node)


class _Cell:
    """The helper object bound to ``_lcnb_cell_`` while a ``%%lc_stream`` cell runs."""

    def __init__(self, scope: Any, namespace: dict[str, Any]) -> None:
        self._scope = scope
        self._ns = namespace
        self.value: Any = None

    def enter(self) -> None:
        self._scope.enter()

    def exit(self) -> None:
        self._scope.exit()

    def finish(self) -> Any:
        if self._ns.get(NAME) is self:
            del self._ns[NAME]
        return self.value


# The loaded extension's "parse these options, give me a scope" (set by install, cleared by
# uninstall): injected, so this module never imports the extension that imports it.
_open_scope: Callable[[str], Any] | None = None


def set_scope_opener(open_scope: Callable[[str], Any] | None) -> None:
    global _open_scope
    _open_scope = open_scope


def open_cell(args: str) -> _Cell:
    """Called by the rewritten cell's first line. Bad options raise UsageError; nothing set yet."""
    if _open_scope is None:
        from IPython.core.error import UsageError

        raise UsageError("lc_callbacks_nb is not loaded: run %load_ext lc_callbacks_nb")
    scope = _open_scope(args)  # UsageError on bad options; nothing set yet
    return _Cell(scope, sys._getframe(1).f_globals)
