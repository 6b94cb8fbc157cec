"""What every view does; subclasses override only how to draw (like tqdm's targets)."""

from __future__ import annotations

from ..live.runs import Changes


class BoardView:
    """Draws one cell's runs. Called only under the flush scheduler's lock."""

    # May the end of a run wait for the next scheduled flush? A widget says yes, so a loop
    # of short runs stays within its message budget; text says no, so what it prints follows
    # the order of events exactly.
    coalesce_ends = False
    # May new text wait for more? A widget says yes while a message would carry little text for
    # its envelope (slow streams), for at most `max_hold` seconds; text prints at once.
    min_tick_chars = 0
    max_hold = 0.0

    # Does what it draws go to the cell of the context it is drawn in (printed text)? Then
    # nothing is drawn while the kernel is idle, where no saved notebook would keep it.
    routed_by_cell = False

    def __init__(self, *, max_panels: int = 8):
        self.max_panels = max_panels
        self.title = ""  # set before open() when the view is drawn away from its runs' cell
        self.seen = False  # a front-end said it shows the view (it then follows its display id)
        self.kept = 0  # messages sent that a saved notebook keeps (state, displays)

    def open(self) -> None:
        """Show the (empty) view in the current cell. Called once, before the first render."""

    def render(self, changes: Changes, *, live_runs: int) -> None:
        """Draw what changed since the last render (``changes`` may be empty: a deferred
        flush the view asked for). ``live_runs`` is 0 when all runs ended."""
        raise NotImplementedError

    def finish(self) -> None:
        """The cell that started the board has ended: draw the state as of now (what a saved
        notebook keeps; live runs as running). Called again when a run ends later."""

    def moved(self, origin: str) -> None:
        """What follows is drawn into another cell than before (``origin``: where the runs
        started, e.g. ``started in In [3]``)."""

    def resend(self, *, redisplay: bool) -> None:
        """Send again, in the cell starting now, what was sent while the kernel was idle: the
        whole state, and the view itself (``redisplay``) or its final form."""

    def wants_flush_at(self) -> float | None:
        """A clock time at which this view wants a flush although nothing changed."""
        return None
