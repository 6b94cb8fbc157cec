"""One board per cell (its runs, its view, its flush target), and the claim table.

A *board* is what one cell shows: the runs started from that cell, drawn by one view. A
handler keeps its boards in a :class:`BoardTable`; finding a cell's board, creating it and
showing its (empty) view happen as one step under one lock, so runs that start at once on
several threads (``chat.batch()`` in a sync cell, a thread pool) share one board and one widget.

**A board that outlives its cell** (a background task, a stream consumed later) sends what it
still has to send where a saved notebook keeps it; see :meth:`Board.flush` and
:meth:`Board.cell_started` (the platform facts are in ``notebook/cells.py``).

The claim table makes sure a run never gets two panels: an explicit ``LiveStreamHandler`` and
the ``%lc_stream`` one (or a handler passed twice) may both see a run; the first to claim it
shows it, and the children of a run follow their parent's owner.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from ..notebook import cells
from .flush import FlushScheduler
from .runs import RunBoard


class Claims:
    """run id -> the handler that shows it. Entries leave when their run ends."""

    def __init__(self) -> None:
        self._owners: dict[UUID, Any] = {}
        self._lock = threading.Lock()

    def claim(self, run_id: UUID, parent_id: UUID | None, owner: Any) -> bool:
        with self._lock:
            current = self._owners.get(run_id)
            if current is not None and current is not owner:
                return False
            if parent_id is not None:
                parent_owner = self._owners.get(parent_id)
                if parent_owner is not None and parent_owner is not owner:
                    return False  # the parent's panel belongs to another handler
            self._owners[run_id] = owner
            return True

    def release(self, run_id: UUID, owner: Any) -> None:
        with self._lock:
            if self._owners.get(run_id) is owner:
                del self._owners[run_id]

    def __len__(self) -> int:
        return len(self._owners)


CLAIMS = Claims()


class Board:
    """One cell's runs and their view; a flush target of the scheduler."""

    def __init__(
        self,
        key: str,
        view: Any,
        *,
        number: int | None = None,
        interval: float,
        clock: Callable[[], float],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self.key = key
        self.runs = RunBoard(key, clock=clock)
        self.view = view
        # A private copy of the starting cell's context, entered only by the flush thread,
        # so the view's messages carry that cell's parent header.
        self.context: contextvars.Context | None = contextvars.copy_context()
        self.interval = interval
        self.scheduled = False
        self.cell_over = False  # the cell that started it has finished
        self.number = number  # that cell's In [n]
        # Sent while the kernel was idle (nbclient records nothing then): sent again at the next
        # cell's start, unless a front-end shows the view (it follows the display id).
        self.owed = False
        self._display_owed = False  # the view itself was displayed while idle
        self._drawn_in = key  # the cell the view last drew into
        self.ending = False  # the next flush is a cell's end: the twin is drawn whatever runs live
        self._on_error = on_error
        self._held_since: float | None = None  # new text waiting for more (see _hold)

    @property
    def origin(self) -> str:
        """Where its runs started, said where it is drawn in another cell."""
        return f"started in In [{self.number}]" if self.number else "started in an earlier cell"

    def show(self) -> None:
        """Display the (empty) view: in its own cell while that cell runs; else it is late."""
        if not cells.has_ended(self.key):
            self.view.open()
            return
        self.cell_over = True
        self.view.title = self.origin
        self._send_late(self.view.open, opening=True)

    def flush(self) -> None:
        """Draw what changed (called by the scheduler, under its lock). After ``ending`` is
        set (a cell's end) the twin is drawn even though runs are still live."""
        self.scheduled = False
        if self._hold():
            return
        try:
            if self.cell_over:
                self._send_late(self._draw)
            else:
                self._draw()
        finally:
            self.ending = False

    def _draw(self) -> None:
        changes = self.runs.collect()
        live = self.runs.live_count
        self.view.render(changes, live_runs=live)
        if self.cell_over and (self.ending or changes.finished or not live):
            # The twin (and widget state) as of now, live runs as "running"; redrawn by display
            # id when a run ends (never on a mere start: a display update re-creates the view).
            self.view.finish()

    def _send_late(self, send: Callable[[], None], *, opening: bool = False) -> None:
        """Send for a board whose cell is over, where a saved notebook keeps it.

        nbclient (so nbval, papermill, ``make demo``) records only messages parented to the cell
        it executes, and nothing while the kernel is idle (nbclient/client.py,
        ``_async_poll_output_msg``); but an ``update_display_data`` parented to that cell
        updates every earlier output with its display id (``_update_display_id``). JupyterLab
        routes an output to its parent's future, which outlives the cell (OutputArea.execute:
        ``requestExecute(content, false, ...)``, disposeOnDone false), and an update by display
        id to every cell that displayed it, whatever its parent (@jupyterlab/services
        KernelConnection._handleDisplayId). Widget ticks reach a view whatever their parent.
        So: under the cell executing now; while idle, as it comes (JupyterLab shows it), and
        owed to the next cell's start (:meth:`cell_started`)."""
        now = cells.running()
        if (now is None and self.ending) or (now is not None and now[0].key == self.key):
            # A cell's end (post_run_cell runs in its context; the hooks may have been
            # installed by this very cell, too late to know it started): sent as it is.
            send()
            return
        if now is None:
            if self.view.routed_by_cell:
                self.owed = True
                return  # printed text: at the next cell's start, where it is kept
            kept = self.view.kept
            send()
            if self.view.kept != kept:  # state or a display went out: nbclient missed it
                self.owed = True
                self._display_owed = self._display_owed or opening
            return
        cell, context = now
        if cell.key != self._drawn_in:
            self._drawn_in = cell.key
            self.view.moved(self.origin)
        context.copy().run(send)  # (a copy: another thread may be inside the same context)

    def cell_started(self) -> None:
        """A cell starts (in its own context): send what was sent while the kernel was idle,
        unless a front-end shows the view (then it already has it)."""
        if not self.owed:
            return
        self.owed = False
        redisplay, self._display_owed = self._display_owed, False
        if self.view.seen:
            return
        self._send_late(self._draw)
        self.view.resend(redisplay=redisplay)

    def on_error(self, exc: BaseException) -> None:
        self._on_error(exc)

    def _hold(self) -> bool:
        """Let a little new text wait for more, so a slow stream does not pay a message's
        envelope for every token or two: only text (no start, end, status or first token),
        less of it than the view's ``min_tick_chars``, held for at most ``max_hold`` seconds."""
        view = self.view
        if not view.min_tick_chars or self.cell_over:
            return False
        chars = self.runs.pending_text()
        now = self.runs.clock()
        if not chars or chars >= view.min_tick_chars:  # (0: no new text to wait with)
            self._held_since = None
            return False
        if self._held_since is None:
            self._held_since = now
        if now - self._held_since >= view.max_hold:
            self._held_since = None
            return False
        return True

    def retry_at(self) -> float | None:
        """When the board wants another flush although nothing changed: held text, or state
        the view deferred."""
        held = self._held_since + self.view.max_hold if self._held_since is not None else None
        deferred = self.view.wants_flush_at()
        if held is None or deferred is None:
            return held if deferred is None else deferred
        return min(held, deferred)


class BoardTable:
    """A handler's boards, one per cell."""

    def __init__(
        self, make_board: Callable[[cells.Cell], Board], scheduler: FlushScheduler
    ) -> None:
        self._make_board = make_board
        self._scheduler = scheduler
        self._boards: dict[str, Board] = {}
        self._lock = threading.Lock()

    def board_for(self, cell: cells.Cell) -> tuple[Board, bool]:
        """The board of ``cell``, created and shown if new; ``(board, created)``."""
        key = cell.key
        board = self._boards.get(key)
        if board is not None:
            return board, False
        with self._lock:
            board = self._boards.get(key)
            if board is not None:
                return board, False
            self._retire_idle(keep=key)
            board = self._make_board(cell)
            with self._scheduler.lock:  # shown on this thread, so in this run's cell
                board.show()
            self._boards[key] = board
            return board, True

    def get(self, key: str) -> Board | None:
        return self._boards.get(key)

    def _retire_idle(self, keep: str) -> None:
        """Forget other cells' boards once nothing runs on them (their views keep the state)."""
        for key, board in list(self._boards.items()):
            if key != keep and not board.runs.live_count and not board.owed:
                del self._boards[key]
                self._scheduler.forget(board)

    def __iter__(self) -> Iterator[Board]:
        return iter(list(self._boards.values()))

    def __len__(self) -> int:
        return len(self._boards)
