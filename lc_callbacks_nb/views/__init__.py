"""Views draw a RunBoard's changes: a live widget, or plain text on stdout."""

from .auto import make_view, resolve_mode
from .base import BoardView

__all__ = ["BoardView", "make_view", "resolve_mode"]
