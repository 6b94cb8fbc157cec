"""``LiveStreamHandler``: every LangChain run becomes a live panel in the cell that started it.

It is an ``AsyncCallbackHandler`` whose callbacks never await: each one does a little
bookkeeping under a lock and returns. With ``run_inline = True`` LangChain then calls it
directly on whatever thread fires the event: the kernel's event loop in an async cell,
the calling thread in a sync cell. No executor hop, no throwaway event loop per token,
and the run's order of events is the order we see. Drawing happens elsewhere: the flush
scheduler's thread sends coalesced deltas at most ``fps`` times a second, and the end of a
run is drawn synchronously so it reaches the cell before the cell finishes.

Failures inside this handler are caught and recorded; they never reach the user's run.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler

from ..langchain.inline import InlineHandlerMixin
from ..langchain.payloads import (
    final_text,
    is_finish_chunk,
    model_name,
    run_name,
    tool_calls_of,
    usage_of,
)
from ..langchain.tokens import TEXT, token_pieces
from ..notebook import cell_watch
from ..views import make_view, resolve_mode
from .flush import FlushScheduler, get_scheduler
from .redact import redact
from .runs import CHAIN, DONE, ERROR, INTERRUPTED, LLM, RETRIEVER, TOOL, Run, RunBoard, preview

F = TypeVar("F", bound=Callable[..., Any])

# run id -> the handler that shows it, so a run never gets two panels (an explicit handler
# and the %lc_stream one, or a handler passed twice). Entries leave when their run ends.
_claims: dict[UUID, LiveStreamHandler] = {}
_claims_lock = threading.Lock()

_INTERRUPTS = (KeyboardInterrupt, asyncio.CancelledError)
HIDDEN_TAG = "langsmith:hidden"  # LangChain/LangGraph's mark for internal runs


def _guarded(method: F) -> F:
    """Never let a failure in panel code break the user's run; keep it for inspection."""

    @functools.wraps(method)
    def wrapper(self: LiveStreamHandler, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            self._internal_error(exc)
            return None

    return wrapper  # type: ignore[return-value]


def _cell_key() -> str:
    """Identify the cell whose code is running in this context (thread/task)."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:
        try:
            msg_id = kernel.get_parent().get("header", {}).get("msg_id")
            if msg_id:
                return str(msg_id)
        except Exception:
            pass
    if shell is not None:
        return f"exec-{shell.execution_count}"
    return "default"


def _error_text(error: BaseException) -> str:
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return redact(f"{type(error).__name__}: {message}" if message else type(error).__name__)


class _Board:
    """One cell's runs, its view, and the flush plumbing around them."""

    def __init__(self, handler: LiveStreamHandler, key: str):
        self.handler = handler
        self.key = key
        self.runs = RunBoard(key, clock=handler.clock)
        self.clock = handler.clock
        self.view = make_view(
            handler._resolved_mode(),
            max_panels=handler.max_panels,
            **handler._view_options(self),
        )
        # A private copy of the starting cell's context, entered only by the flush thread.
        self.context: contextvars.Context | None = contextvars.copy_context()
        self.interval = 1.0 / handler.fps
        self.scheduled = False
        self.opened = False

    def flush(self) -> None:
        self.scheduled = False
        if not self.opened:
            return
        changes = self.runs.collect()
        if changes:
            self.view.render(changes, live_runs=self.runs.live_count)


class LiveStreamHandler(InlineHandlerMixin, AsyncCallbackHandler):  # type: ignore[override]
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
            (agents, chains), so their panels fill token by token. See ``force_stream``
            in the README for the LangChain mechanism this relies on.
        max_rows: Finished runs kept per cell view; older ones are dropped (counted).
        clock: Monotonic clock, injectable for tests.
    """

    # run_inline is True (InlineHandlerMixin): our callbacks never block, so LangChain calls
    # them where the event happens.
    raise_error = False

    def __new__(cls, *args: Any, force_stream: bool = False, **kwargs: Any) -> LiveStreamHandler:
        if force_stream and not issubclass(cls, _StreamingMarker):
            try:
                cls = _streaming_subclass(cls)
            except ImportError as exc:  # LangChain moved the marker: say so, keep working
                warnings.warn(
                    f"lc_callbacks_nb: force_stream is unavailable with this LangChain ({exc}); "
                    "panels show each model's final text when it ends",
                    stacklevel=2,
                )
        return super().__new__(cls)

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
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= 240:
            raise ValueError(f"fps must be a number in (0, 240] (got {fps!r})")
        resolve_mode(mode)  # validates
        if isinstance(max_panels, bool) or not isinstance(max_panels, int) or max_panels < 0:
            raise ValueError(f"max_panels must be an integer >= 0 (got {max_panels!r})")
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise ValueError(f"max_rows must be an integer >= 1 (got {max_rows!r})")
        self.fps = float(fps)
        self.mode = mode
        self.max_panels = max_panels
        self.force_stream = force_stream
        self.max_rows = max_rows
        self.clock = clock
        self.scheduler = scheduler or get_scheduler()
        self._boards: dict[str, _Board] = {}
        # run id -> (board, run, the run's text list): what the token hot path needs, at hand
        self._runs: dict[UUID, tuple[_Board, Run, list[str]]] = {}
        self._hidden: dict[UUID, UUID | None] = {}  # hidden run -> its shown parent
        self._lock = threading.RLock()
        self._mode_cache: str | None = None
        self._task_runs: weakref.WeakKeyDictionary[asyncio.Task[Any], set[UUID]] = (
            weakref.WeakKeyDictionary()
        )
        self.internal_errors: list[str] = []

    def __repr__(self) -> str:
        return (
            f"LiveStreamHandler(fps={self.fps:g}, mode={self.mode!r}, "
            f"max_panels={self.max_panels}, force_stream={self.force_stream})"
        )

    # -- plumbing -----------------------------------------------------------------------
    def _resolved_mode(self) -> str:
        if self._mode_cache is None:
            self._mode_cache = resolve_mode(self.mode)
        return self._mode_cache

    def _view_options(self, board: _Board) -> dict[str, Any]:
        if self._resolved_mode() == "widget":
            return {
                "max_rows": self.max_rows,
                "clock": self.clock,
                "current_text": board.runs.current_text,
            }
        return {}

    def _internal_error(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"
        if not self.internal_errors:
            warnings.warn(
                f"lc_callbacks_nb: live panel failed ({text}); the run goes on", stacklevel=3
            )
        self.internal_errors.append(text)
        del self.internal_errors[:-20]

    def _board_for_new_run(self, parent_run_id: UUID | None) -> _Board:
        # Children join their parent's board, wherever (whichever thread) they start.
        if parent_run_id is not None:
            found = self._runs.get(parent_run_id)
            if found is not None:
                return found[0]
        key = _cell_key()
        with self._lock:
            board = self._boards.get(key)
            if board is None:
                self._retire_idle_boards(keep=key)
                cell_watch.watch(self)  # (re)installs the post_run_cell hook if it is gone
                board = _Board(self, key)
                self._boards[key] = board
            return board

    def _claim(self, run_id: UUID, parent_run_id: UUID | None) -> bool:
        with _claims_lock:
            owner = _claims.get(run_id)
            if owner is not None and owner is not self:
                return False
            if parent_run_id is not None:
                parent_owner = _claims.get(parent_run_id)
                if parent_owner is not None and parent_owner is not self:
                    return False  # the parent's panel belongs to another handler
            _claims[run_id] = self
            return True

    def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        kind: str,
        name: str,
        **fields: Any,
    ) -> None:
        if parent_run_id is not None:
            # children of a hidden run hang from its nearest shown ancestor
            parent_run_id = self._hidden.get(parent_run_id, parent_run_id)
        if kind == CHAIN and HIDDEN_TAG in fields.get("tags", ()):
            # framework plumbing (LangGraph's channel writes, branches): not worth a node
            self._hidden[run_id] = parent_run_id
            return
        if run_id in self._runs or not self._claim(run_id, parent_run_id):
            return
        board = self._board_for_new_run(parent_run_id)
        run = board.runs.start(
            str(run_id), str(parent_run_id) if parent_run_id else None, kind, name, **fields
        )
        self._runs[run_id] = (board, run, run.text[TEXT])
        self._watch_task(run_id)
        if not board.opened:
            with self.scheduler.lock:  # the view is created and shown on this thread, in this cell
                board.view.open()
                board.opened = True
            self.scheduler.flush_now(board)  # the panel appears before the first token
        else:
            self._wake(board)

    def _wake(self, board: _Board) -> None:
        if not board.scheduled:
            board.scheduled = True
            self.scheduler.wake(board)

    def _end(self, run_id: UUID, **outcome: Any) -> None:
        self._hidden.pop(run_id, None)
        found = self._runs.pop(run_id, None)
        with _claims_lock:
            if _claims.get(run_id) is self:
                del _claims[run_id]
        if found is None:
            return
        board, run, _text = found
        board.runs.finish(run, **outcome)
        if board.runs.live_count and board.view.coalesce_ends:
            # Others still run: within the fps budget (agenerate ends its runs in one burst).
            self.scheduler.flush_soon(board)
        else:
            # The board's last run: drawn now, on the run's own thread, so the final state
            # reaches the cell before the cell ends.
            self.scheduler.flush_now(board)

    def _fail(self, run_id: UUID, error: BaseException) -> None:
        """End a run with an error; an interrupt or cancellation reads "interrupted"."""
        status = INTERRUPTED if isinstance(error, _INTERRUPTS) else ERROR
        self._end(run_id, status=status, error=_error_text(error))

    def _retire_idle_boards(self, keep: str) -> None:
        """Forget other cells' boards once nothing runs on them (their views keep the state)."""
        for key, board in list(self._boards.items()):
            if key != keep and not board.runs.live_count:
                del self._boards[key]
                self.scheduler.forget(board)

    def _watch_task(self, run_id: UUID) -> None:
        """Mark a run interrupted when the task that started it ends while it still runs.

        Cancelling an ``agenerate`` mid-stream fires neither on_llm_end nor on_llm_error;
        the task that started the run finishing is the signal we get.
        """
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return  # no loop on this thread: a sync run, which always ends with an event
        if task is None:
            return
        runs = self._task_runs.get(task)
        if runs is None:
            self._task_runs[task] = runs = set()
            task.add_done_callback(self._task_done)
        runs.add(run_id)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        for run_id in self._task_runs.pop(task, ()):
            if run_id in self._runs:
                self._end(run_id, status=INTERRUPTED, error="interrupted")

    def cell_ended(self, interrupted: bool) -> None:
        """After a cell (see cell_watch): if it was interrupted, its unfinished runs were too."""
        if not interrupted:
            return
        key = _cell_key()
        for run_id, (board, _run, _text) in list(self._runs.items()):
            if board.key == key:
                self._end(run_id, status=INTERRUPTED, error="interrupted")

    def live_run_count(self) -> int:
        return len(self._runs)

    # -- LLM and chat model events --------------------------------------------------------
    @_guarded
    def on_chat_model_start(  # type: ignore[override]
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        last = messages[0][-1] if messages and messages[0] else None
        prompt = getattr(last, "content", "") if last is not None else ""
        self._start(
            run_id,
            parent_run_id,
            LLM,
            run_name(serialized, kwargs, "chat model"),
            model=model_name(serialized, metadata),
            tags=tuple(tags or ()),
            inputs=preview(prompt, 300),
        )

    @_guarded
    def on_llm_start(  # type: ignore[override]
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._start(
            run_id,
            parent_run_id,
            LLM,
            run_name(serialized, kwargs, "llm"),
            model=model_name(serialized, metadata),
            tags=tuple(tags or ()),
            inputs=preview(prompts[0] if prompts else "", 300),
        )

    def on_llm_new_token(  # type: ignore[override]
        self,
        token: Any,
        *,
        chunk: Any = None,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        # The hot path: kept flat (no decorator, no lock). One run's tokens come from one
        # thread at a time, list.append is atomic, and RunBoard.collect slices up to a
        # length it read once, so the flush thread never loses a piece.
        try:
            found = self._runs.get(run_id)
            if found is None:
                return
            board, run, text = found
            if token.__class__ is str and token:
                text.append(token)
                run.tokens += 1
                if run.first_token_at is None:
                    run.first_token_at = board.clock()
            else:
                pieces = token_pieces(token, chunk)
                if pieces:
                    board.runs.add_pieces(run, pieces)
                elif is_finish_chunk(chunk):
                    board.runs.stream_finished(run)
                else:
                    return  # role and usage chunks change nothing
            if not board.scheduled:
                self._wake(board)
        except Exception as exc:
            self._internal_error(exc)

    @_guarded
    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        self._end(
            run_id,
            status=DONE,
            usage=usage_of(response),
            final_text=final_text(response),
            final_tool_args=tool_calls_of(response),
        )

    @_guarded
    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        self._fail(run_id, error)

    # -- chains, tools, retrievers ----------------------------------------------------------
    @_guarded
    def on_chain_start(  # type: ignore[override]
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._start(
            run_id,
            parent_run_id,
            CHAIN,
            run_name(serialized, kwargs, "chain"),
            tags=tuple(tags or ()),
            inputs=preview(inputs, 300),
        )

    @_guarded
    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        self._end(run_id, status=DONE, outputs=preview(outputs, 300))

    @_guarded
    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        self._fail(run_id, error)

    @_guarded
    def on_tool_start(  # type: ignore[override]
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._start(
            run_id,
            parent_run_id,
            TOOL,
            run_name(serialized, kwargs, "tool"),
            tags=tuple(tags or ()),
            inputs=preview(inputs if inputs is not None else input_str),
        )

    @_guarded
    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        content = getattr(output, "content", output)
        if getattr(output, "status", None) == "error":
            # handle_tool_error / handle_validation_error: LangChain ends the run "normally"
            # with an error ToolMessage; the panel should still say it failed.
            text = preview(content, 300).strip()
            first = text.splitlines()[0] if text else "tool error"
            self._end(run_id, status=ERROR, outputs=preview(content), error=first)
            return
        self._end(run_id, status=DONE, outputs=preview(content))

    @_guarded
    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        self._fail(run_id, error)

    @_guarded
    def on_retriever_start(  # type: ignore[override]
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._start(
            run_id,
            parent_run_id,
            RETRIEVER,
            run_name(serialized, kwargs, "retriever"),
            tags=tuple(tags or ()),
            inputs=preview(query, 300),
        )

    @_guarded
    def on_retriever_end(self, documents: Sequence[Any], *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        count = len(documents)
        self._end(run_id, status=DONE, outputs=f"{count} document{'s' if count != 1 else ''}")

    @_guarded
    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        self._fail(run_id, error)

    @_guarded
    def on_custom_event(  # type: ignore[override]
        self, name: str, data: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        if run_id in self._hidden:  # sent from plumbing: show it on the nearest shown run
            shown = self._hidden[run_id]
            if shown is None:
                return
            run_id = shown
        found = self._runs.get(run_id)
        if found is not None:
            board, run, _text = found
            board.runs.add_event(run, f"{name}: {preview(data, 300)}")
            self._wake(board)


class _StreamingMarker:
    """Mixed in when force_stream=True; see _streaming_subclass."""


_streaming_classes: dict[type, type] = {}


def _streaming_subclass(cls: type[LiveStreamHandler]) -> type[LiveStreamHandler]:
    """A subclass LangChain's chat models recognise as a streaming consumer.

    ``BaseChatModel._should_stream`` streams when a handler of the run is an instance of
    ``langchain_core.tracers._streaming._StreamingCallbackHandler`` (how astream_events
    gets tokens out of ``ainvoke``). We declare the same, with pass-through taps. If
    LangChain renames it, the import fails loudly here and tests/test_force_stream.py fails.
    """
    from langchain_core.tracers._streaming import _StreamingCallbackHandler

    if cls in _streaming_classes:
        return _streaming_classes[cls]

    def tap_output_aiter(self: Any, run_id: UUID, output: Any) -> Any:
        return output

    def tap_output_iter(self: Any, run_id: UUID, output: Iterator[Any]) -> Iterator[Any]:
        return output

    made: type[LiveStreamHandler] = type(
        f"Streaming{cls.__name__}",
        (cls, _StreamingMarker, _StreamingCallbackHandler),
        {
            "__module__": cls.__module__,
            "__doc__": cls.__doc__,
            "tap_output_aiter": tap_output_aiter,
            "tap_output_iter": tap_output_iter,
        },
    )
    _streaming_classes[cls] = made
    return made
