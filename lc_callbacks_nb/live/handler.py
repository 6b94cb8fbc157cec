"""``LiveStreamHandler``: every LangChain run becomes a live panel in the cell that started it.

Events become runs, nothing else: :class:`~lc_callbacks_nb.langchain.events.RunEvents` reads
LangChain's callbacks (names, inputs, outcomes, which cell) and this class records them in the
cell's board (``boards.py``: runs + view + flush target). Drawing happens elsewhere: the flush
scheduler's thread sends coalesced deltas at most ``fps`` times a second; the end of a cell
draws its board's last state before the cell finishes.

The extension's handler also feeds the ``%lc_runs`` recorder (``recorder``), from the same
reading of each event: LangChain then dispatches every event to one handler of ours, not two.

Callbacks never await and run inline (``run_inline``), on whatever thread fires the event: the
kernel's event loop in an async cell, the calling thread in a sync cell. Failures inside this
handler are caught and recorded in ``internal_errors``; they never reach the user's run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ..langchain import force_stream as _force_stream
from ..langchain.events import Outcome, RunEvents, RunStopped, Start, guarded
from ..langchain.payloads import is_finish_chunk
from ..langchain.tokens import TEXT, split_think, token_pieces
from ..langchain.tokens import has_extra_pieces as has_extra
from ..notebook import cells
from ..views import make_view, resolve_mode
from .boards import CLAIMS, Board, BoardTable
from .flush import FlushScheduler, get_scheduler
from .runs import LLM, Run, preview

if TYPE_CHECKING:
    from ..notebook.history import RunRecord, RunRecorder

# (board, run, the run's text list, its %lc_runs record); board/run/text None: shown elsewhere
Tracked = tuple["Board | None", "Run | None", "list[str] | None", "RunRecord | None"]


class LiveStreamHandler(RunEvents):  # type: ignore[override]
    """Show every LLM run (and its chains, tools and retrievers) as a live panel.

    Args:
        fps: Most updates per second sent to each cell's view (default 20). Tokens between
            two updates are coalesced into one message; nothing is dropped.
        mode: ``"widget"`` (a live panel per run; needs a Jupyter front-end with
            ipywidgets), ``"text"`` (tokens printed to stdout, labelled when several
            runs interleave), or ``"auto"`` (widget inside a Jupyter kernel, text elsewhere).
        max_panels: Above this many LLM runs in one cell, panels give way to one compact
            table with a row per run (click a row for its full text).
        force_stream: Make models stream even when called with ``invoke``/``ainvoke``
            (agents, chains), so their panels fill token by token, for every model whose
            streamed reply is the same message as its plain one; other models are left
            alone, and that is said once (``langchain/force_stream.py``, README).
        max_rows: Finished runs kept per cell view; older ones are dropped (counted).
        clock: Monotonic clock, injectable for tests.
    """

    # Every failure inside our callbacks is caught and recorded; the one exception that must
    # reach LangChain is RunStopped (the panel's Stop), so LangChain has to re-raise it.
    raise_error = True

    def __init__(
        self,
        fps: float = 20.0,
        mode: str = "auto",
        max_panels: int = 8,
        force_stream: bool = False,
        *,
        max_rows: int = 200,
        clock: Callable[[], float] = time.monotonic,
        scheduler: FlushScheduler | None = None,
    ):
        from .options import check_handler_args  # the one option list: ValueError, one line

        check_handler_args(
            fps=fps, mode=mode, max_panels=max_panels, force_stream=force_stream, max_rows=max_rows
        )
        super().__init__()
        self.fps = float(fps)
        self.mode = mode
        self.max_panels = max_panels
        self.force_stream = force_stream
        if force_stream:
            _force_stream.requested_by(self)  # the per-model decision: langchain/force_stream.py
        self.max_rows = max_rows
        self.clock = clock
        self.scheduler = scheduler or get_scheduler()
        self._boards = BoardTable(self._new_board, self.scheduler)
        # The %lc_runs recorder this handler also feeds (the extension sets it; None for a
        # handler of your own, whose runs the extension's handler records).
        self.recorder: RunRecorder | None = None
        # run id -> (board, run, the run's text list, its %lc_runs record): what the token hot
        # path needs, at hand. A run another handler shows has only its record here.
        self._runs: dict[UUID, Tracked] = {}
        self._mode_cache: str | None = None

    def __repr__(self) -> str:
        return (
            f"LiveStreamHandler(fps={self.fps:g}, mode={self.mode!r}, "
            f"max_panels={self.max_panels}, force_stream={self.force_stream}, "
            f"max_rows={self.max_rows})"
        )

    # -- boards --------------------------------------------------------------------------
    def _resolved_mode(self) -> str:
        if self._mode_cache is None:
            self._mode_cache = resolve_mode(self.mode)
        return self._mode_cache

    def _new_board(self, cell: cells.Cell) -> Board:
        cells.on_cell_start(self)  # (a weak set: once is enough, again is harmless)
        board = Board(
            cell.key,
            None,
            number=cell.number,
            interval=1.0 / self.fps,
            clock=self.clock,
            on_error=self.internal_error,
        )
        options: dict[str, Any] = {"max_panels": self.max_panels}
        if self._resolved_mode() == "widget":
            options.update(
                max_rows=self.max_rows,
                clock=self.clock,
                on_error=self.internal_error,
                on_stop=self.request_stop,  # the panel's Stop button
            )
        board.view = make_view(self._resolved_mode(), **options)
        return board

    def _wake(self, board: Board) -> None:
        if not board.scheduled:
            board.scheduled = True
            self.scheduler.wake(board)

    # -- RunEvents ------------------------------------------------------------------------
    def run_started(self, run_id: UUID, start: Start) -> bool:
        recorder = self.recorder
        record = recorder.record_start(run_id, start) if recorder is not None else None
        shown = False
        if CLAIMS.claim(run_id, start.parent_id, self):
            try:
                shown = self._show(run_id, start, record)
            except BaseException as exc:
                CLAIMS.release(run_id, self)  # a run we could not show is nobody's
                if not isinstance(exc, Exception):
                    raise
                self.internal_error(exc)
        if not shown and record is not None:
            self._runs[run_id] = (None, None, None, record)  # recorded, shown elsewhere
        return shown or record is not None

    def _show(self, run_id: UUID, start: Start, record: RunRecord | None) -> bool:
        found = self._runs.get(start.parent_id) if start.parent_id is not None else None
        parent = found[1] if found is not None else None  # (None: recorded, shown elsewhere)
        if found is not None and found[0] is not None and parent is not None:
            # children join their parent's board, whichever thread they're on
            board, created = found[0], False
        else:
            parent = None
            board, created = self._boards.board_for(start.cell)
        extra: dict[str, Any] = {}
        if start.kind == LLM:
            extra["stoppable"] = start.stoppable
        if start.tool_call_id:
            extra["tool_call_id"] = start.tool_call_id
        if start.thread and (parent is None or parent.thread != start.thread):
            extra["thread"] = start.thread  # shown where it first appears: the graph's root
        run = board.runs.start(
            str(run_id),
            str(start.parent_id) if parent is not None else None,
            start.kind,
            start.name,
            model=start.model,
            tags=start.tags,
            inputs=start.inputs,
            extra=extra,
        )
        run.thread = start.thread
        if start.resumed:
            board.runs.add_event(run, start.resumed)
        self._runs[run_id] = (board, run, run.text[TEXT], record)
        if record is not None:
            record.shown = run  # %lc_runs reads the panel's counts: one count, one place
        if created:
            self.scheduler.flush_now(board)  # the panel appears before the first token
        else:
            self._wake(board)
        return True

    def run_ended(self, run_id: UUID, outcome: Outcome) -> None:
        CLAIMS.release(run_id, self)
        found = self._runs.pop(run_id, None)
        if found is None:
            return
        board, run, _text, record = found
        if board is None or run is None:
            if record is not None and self.recorder is not None:
                self.recorder.record_end(record, outcome)
            return
        final, reasoning = outcome.final_text, outcome.final_reasoning
        if final is not None:  # the reply itself keeps its think block: only the panel splits
            think, final = split_think(final)
            reasoning = reasoning or think or None
        board.runs.finish(
            run,
            status=outcome.status,
            usage=outcome.usage or None,
            outputs=outcome.outputs,
            error=outcome.error,
            final_text=final,
            final_reasoning=reasoning,
            final_tool_args=outcome.tool_args,
            tool_calls=outcome.tool_calls or None,
        )
        if record is not None and self.recorder is not None:
            self.recorder.record_end(record, outcome)  # after finish: the run's final counts
        if board.view.coalesce_ends and not board.cell_over:
            # Within the fps budget, like tokens: a loop of short runs, or agenerate ending
            # all its runs in one burst, costs one message per interval, not one per run.
            self._wake(board)
        else:
            # Text: printed in the order events happened. A run outliving its cell (a
            # background task, a stream consumed in a later cell): drawn now, under the cell
            # that is running (Board.flush), so its final state reaches the saved notebook.
            self.scheduler.flush_now(board)

    def cell_finished(self, cell: cells.Cell) -> None:
        # The cell's last state reaches its output before the cell does (and is what a saved
        # notebook keeps), live runs as "running"; so does the state of boards whose runs
        # outlived their own cell and went on during this one.
        for board in self._boards:
            if board.key == cell.key:
                board.cell_over = True
            elif not (board.cell_over and board.runs.live_count):
                continue
            board.ending = True
            self.scheduler.flush_now(board)

    def cell_started(self, cell: cells.Cell) -> None:
        """(cells.on_cell_start) What boards sent while the kernel was idle, sent again."""
        try:
            for board in self._boards:
                if board.owed:
                    with self.scheduler.lock:
                        board.cell_started()
        except Exception as exc:
            self.internal_error(exc)

    # -- the token hot path --------------------------------------------------------------
    def on_llm_new_token(  # type: ignore[override]
        self,
        token: Any,
        *,
        chunk: Any = None,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        # Kept flat (no decorator, no lock). One run's tokens come from one thread at a time,
        # list.append is atomic, and RunBoard.collect slices up to a length it read once, so
        # the flush thread never loses a piece.
        try:
            found = self._runs.get(run_id)
            if found is None:
                return
            board, run, text, record = found
            if run is None or board is None or text is None:  # recorded only
                if record is not None:
                    record.streamed(token_pieces(token, chunk))
                return
            if run.stop:
                raise RunStopped(str(run_id), run.name)
            # the fast path: plain text, no think block to split, nothing else in the chunk
            if token.__class__ is str and token and run.think is None and not has_extra(chunk):
                text.append(token)
                run.tokens += 1
                by_channel = run.by_channel
                by_channel[TEXT] = by_channel.get(TEXT, 0) + 1
                if run.first_token_at is None:
                    run.first_token_at = board.runs.clock()
            else:
                pieces = token_pieces(token, chunk)
                if pieces:
                    board.runs.add_pieces(run, pieces)
                elif is_finish_chunk(chunk):
                    board.runs.stream_finished(run)
                else:
                    return  # role and usage chunks change nothing
            if not board.scheduled:
                board.scheduled = True
                self.scheduler.wake(board)
        except RunStopped:
            raise  # into LangChain's stream (raise_error): the run ends "stopped"
        except Exception as exc:
            self.internal_error(exc)

    # -- Stop -------------------------------------------------------------------------------
    def request_stop(self, run_id: str) -> bool:
        """Stop one running LLM run (the panel's Stop button): its next token raises
        :class:`RunStopped` into LangChain, which ends the run with status "stopped" and
        re-raises to the caller. Only runs started on the kernel's event loop can be stopped
        (a sync cell blocks the kernel, which then cannot hear the button). Returns whether
        the request was taken."""
        for uuid, (_board, run, _text, _record) in list(self._runs.items()):
            if run is None:
                continue
            if str(uuid) == run_id and run.kind == LLM and run.extra.get("stoppable"):
                run.stop = True
                return True
        return False

    @guarded
    def on_custom_event(  # type: ignore[override]
        self, name: str, data: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        shown = self.shown_run(run_id)  # sent from plumbing: shown on the nearest shown run
        found = self._runs.get(shown) if shown is not None else None
        if found is not None and found[0] is not None and found[1] is not None:
            board, run = found[0], found[1]
            board.runs.add_event(run, f"{name}: {preview(data, 300)}")
            self._wake(board)
