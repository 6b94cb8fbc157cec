"""Pick the view once per board: a widget where a widget front-end can exist, else text."""

from __future__ import annotations

from typing import Any

from .base import BoardView

MODES = ("auto", "widget", "text")


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (the only place a widget can be shown)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def resolve_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    if mode == "auto":
        return "widget" if _in_kernel() else "text"
    return mode


def make_view(mode: str, **options: Any) -> BoardView:
    if resolve_mode(mode) == "widget":
        from .widget import WidgetView

        return WidgetView(**options)
    from .text import TextView

    return TextView(**options)
