"""What every view does; subclasses override only how to draw (like tqdm's targets)."""

from __future__ import annotations

from ..live.runs import Changes


class BoardView:
    """Draws one cell's runs. Called only under the flush scheduler's lock."""

    # May the end of a run wait for the next scheduled flush (when others still run)? A widget
    # says yes to keep a burst of run ends within its message budget; text says no, so what
    # it prints follows the order of events exactly.
    coalesce_ends = False

    def __init__(self, *, max_panels: int = 8, title: str = ""):
        self.max_panels = max_panels
        self.title = title

    def open(self) -> None:
        """Show the (empty) view in the current cell. Called once, before the first render."""

    def render(self, changes: Changes, *, live_runs: int) -> None:
        """Draw what changed since the last render. ``live_runs`` is 0 when all runs ended."""
        raise NotImplementedError
