"""One reading of LangChain's callbacks, shared by the live panels and the ``%lc_runs`` recorder.

:class:`RunEvents` turns LangChain's callback arguments into two calls its subclasses implement:
``run_started(run_id, start)`` and ``run_ended(run_id, outcome)``. Everything about *reading*
LangChain lives here, once: run names and models, inputs and outputs (handed on as LangChain
gave them: each subclass reads them with ``live/values.py`` into its own board's ledger, so a
message is shown once per board), which runs are framework plumbing (hidden), which cell a run
belongs to (its parent's, else ``cells.current()``), and how a run ends:

* ``on_*_end`` -> done (a tool whose ``ToolMessage`` has ``status="error"`` -> error);
* ``on_*_error`` -> error, except: :class:`RunStopped` (the panel's Stop) -> stopped; LangGraph's
  control flow (an ``interrupt()``, a ``Command(graph=PARENT)``) -> paused / handed_off
  (``control_flow.classify``), and a parent whose child paused and which then ended normally
  (the graph that returned ``__interrupt__``) -> paused too; an interrupt or a cancellation ->
  interrupted; ``GeneratorExit`` (a stream closed before its end) -> interrupted;
* no event at all: the task that started the run was *cancelled* or interrupted (cancelling an
  ``agenerate`` mid-stream fires neither end nor error) -> interrupted; the cell was interrupted
  while the run was live -> interrupted. A task that simply finished does not end its runs: a
  stream started in one cell may be consumed in the next (``agen = chat.astream(...)``).

Subclasses keep their own storage and implement the token hot path themselves.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TypeVar
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.callbacks import manager as _lc_manager

from ..live.redact import redact
from ..live.runs import (
    CHAIN,
    DONE,
    ERROR,
    INTERRUPTED,
    LLM,
    PAUSED,
    RETRIEVER,
    STOPPED,
    TOOL,
    preview,
)
from ..live.values import prompt_line, text_of
from ..notebook import cells
from . import closed_streams, control_flow
from .inline import InlineHandlerMixin
from .payloads import (
    final_reasoning,
    final_text,
    model_name,
    run_name,
    tool_call_infos,
    tool_calls_of,
    usage_of,
)

F = TypeVar("F", bound=Callable[..., Any])

HIDDEN_TAG = "langsmith:hidden"  # LangChain/LangGraph's mark for internal runs
_INTERRUPTS = (KeyboardInterrupt, asyncio.CancelledError)


@dataclass
class Start:
    """A run that starts, as LangChain described it."""

    kind: str
    name: str
    parent_id: UUID | None  # the nearest *shown* ancestor
    cell: cells.Cell
    model: str = ""
    tags: tuple[str, ...] = ()
    # what the run was given, as LangChain passed it ("" for nothing); for model runs, one
    # redacted line (live/values.prompt_line). Read it at once: LangChain may mutate it later.
    inputs: Any = ""
    thread: str | None = None  # LangGraph thread id, when the run reports one
    stoppable: bool = False  # started on the loop of a running task: the kernel hears a Stop
    tool_call_id: str | None = None  # tool runs: the model's tool call that started it
    resumed: str | None = None  # LangGraph Command(resume=...) input: "resumed with: ..."


@dataclass
class Outcome:
    """How a run ended."""

    status: str
    error: str = ""
    outputs: Any = ""  # the run's result as LangChain passed it ("" for nothing)
    usage: dict[str, int] = field(default_factory=dict)
    final_text: str | None = None
    final_reasoning: str | None = None  # the final message's reasoning (content blocks)
    tool_args: str | None = None
    tool_calls: list[dict[str, str]] = field(default_factory=list)


class RunStopped(Exception):
    """Raised into a run whose panel's Stop button was pressed.

    The run ends with status "stopped" and keeps its partial text; the code that awaited it
    gets this exception (``agenerate`` with several prompts lets the others finish first, then
    raises it). ``run_id`` and ``name`` say which run.
    """

    def __init__(self, run_id: str, name: str) -> None:
        super().__init__(f"run {name!r} ({run_id}) was stopped from its panel")
        self.run_id = run_id
        self.name = name


def error_text(error: BaseException) -> str:
    """One redacted line: ``Type: first line of the message``."""
    try:
        message = str(error).strip()
    except Exception:  # a __str__ that raises must not hide the failure
        message = ""
    first = message.splitlines()[0] if message else ""
    return redact(f"{type(error).__name__}: {first}" if first else type(error).__name__)


def outcome_of_error(error: BaseException) -> Outcome:
    """The one rule for a run that ended with an exception."""
    if isinstance(error, RunStopped):
        return Outcome(STOPPED, error="stopped from its panel")
    flow = control_flow.classify(error)
    if flow is not None:
        status, message = flow
        return Outcome(status, error=redact(message))
    if isinstance(error, _INTERRUPTS):
        return Outcome(INTERRUPTED, error="interrupted")
    if isinstance(error, GeneratorExit):
        return Outcome(INTERRUPTED, error="stream closed before its end")
    return Outcome(ERROR, error=error_text(error))


# LangChain's async dispatcher: a run whose events come through it is an async run (ainvoke,
# astream, agenerate), which yields to the event loop between tokens.
_ASYNC_DISPATCH = getattr(_lc_manager._ahandle_event_for_handler, "__code__", None)


def _on_kernel_loop() -> bool:
    """True for an async run on the main thread's event loop (an async cell, or a task it
    made): the kernel handles comm messages between its tokens, so it can hear a Stop. A sync
    run (``invoke`` in a cell) blocks the kernel, even though ipykernel runs the cell in a task."""
    if threading.current_thread() is not threading.main_thread():
        return False
    frame: FrameType | None = sys._getframe(2)
    for _ in range(8):  # our callback, the guard, then LangChain's dispatcher
        if frame is None:
            return False
        if frame.f_code is _ASYNC_DISPATCH:
            return True
        frame = frame.f_back
    return False


def guarded(method: F) -> F:
    """Never let a failure in our code break the user's run; keep it for inspection."""

    @functools.wraps(method)
    def wrapper(self: RunEvents, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            self.internal_error(exc)
            return None

    return wrapper  # type: ignore[return-value]


class RunEvents(InlineHandlerMixin, AsyncCallbackHandler):  # type: ignore[override]
    """Base of LangChain handlers that follow runs; see the module docstring.

    Callbacks are plain functions that never block: with ``run_inline`` (InlineHandlerMixin)
    LangChain calls them where the event happens, with no executor hop.
    """

    raise_error = False
    #: a failure inside our code warns once per handler, then is only recorded
    _warned = False

    def __init__(self) -> None:
        self._hidden: dict[UUID, UUID | None] = {}  # hidden run -> its shown parent
        self._live: dict[UUID, cells.Cell] = {}  # runs we follow -> their cell
        self._parents: dict[UUID, UUID | None] = {}  # runs we follow -> their shown parent
        # LangGraph reports an interrupt() as an error of the node (and of each enclosing
        # subgraph), then ends the graph normally: a parent of a paused run is paused too.
        self._paused_under: dict[UUID, str] = {}
        self._task_runs: weakref.WeakKeyDictionary[asyncio.Task[Any], set[UUID]] = (
            weakref.WeakKeyDictionary()
        )
        self._events_lock = threading.Lock()
        self.internal_errors: list[str] = []
        self._listening = False
        # Before any stream this handler will see starts (a generator keeps the finalizer of
        # its first iteration): made in a kernel cell, this is the kernel loop's thread.
        closed_streams.install()
        # Before any run, too: a run that starts after its cell ended (a task of a cell that
        # did not await it) is known to be late only if that cell's end was seen.
        cells.install()

    # -- for subclasses ------------------------------------------------------------------
    def run_started(self, run_id: UUID, start: Start) -> bool:
        """Record a new run; return False to ignore it (and its events)."""
        raise NotImplementedError

    def run_ended(self, run_id: UUID, outcome: Outcome) -> None:
        raise NotImplementedError

    def cell_finished(self, cell: cells.Cell) -> None:
        """After each cell, once its orphaned runs are closed (e.g. draw final states)."""

    def internal_error(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"lc_callbacks_nb: {type(self).__name__} failed ({text}); the run goes on",
                stacklevel=3,
            )
        self.internal_errors.append(text)
        del self.internal_errors[:-20]

    def live_run_count(self) -> int:
        return len(self._live)

    # -- starting and ending -------------------------------------------------------------
    def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        kind: str,
        name: str,
        *,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        model: str = "",
        inputs: Any = "",
        tool_call_id: str | None = None,
    ) -> None:
        if parent_run_id is not None:
            # children of a hidden run hang from its nearest shown ancestor
            parent_run_id = self._hidden.get(parent_run_id, parent_run_id)
        tag_tuple = tuple(tags or ())
        if kind == CHAIN and HIDDEN_TAG in tag_tuple:
            # framework plumbing (LangGraph's channel writes, branches): not worth a node
            self._hidden[run_id] = parent_run_id
            return
        if run_id in self._live:
            return
        parent_cell = self._live.get(parent_run_id) if parent_run_id is not None else None
        cell = parent_cell or cells.current()
        start = Start(
            kind=kind,
            name=name,
            parent_id=parent_run_id,
            cell=cell,
            model=model,
            tags=tag_tuple,
            inputs=inputs,
            thread=control_flow.thread_of(metadata),
            stoppable=_on_kernel_loop(),
            tool_call_id=tool_call_id,
            resumed=control_flow.resumed_with(inputs) if kind == CHAIN else None,
        )
        if not self._listening:
            self._listening = True
            cells.on_cell_end(self)
        if not self.run_started(run_id, start):
            return
        self._live[run_id] = cell
        self._parents[run_id] = parent_run_id
        self._watch_task(run_id)
        closed_streams.watch(self, run_id)

    def _end(self, run_id: UUID, outcome: Outcome) -> None:
        self._hidden.pop(run_id, None)
        paused = self._paused_under.pop(run_id, None)
        parent = self._parents.pop(run_id, None)
        if self._live.pop(run_id, None) is None:
            return
        closed_streams.forget(self, run_id)
        if paused is not None and outcome.status == DONE:
            outcome = Outcome(PAUSED, error=paused, outputs=outcome.outputs, usage=outcome.usage)
        if outcome.status == PAUSED and parent is not None:
            self._paused_under.setdefault(parent, outcome.error)
        self.run_ended(run_id, outcome)

    def _fail(self, run_id: UUID, error: BaseException) -> None:
        self._end(run_id, outcome_of_error(error))

    # -- runs no event will end ----------------------------------------------------------
    def _watch_task(self, run_id: UUID) -> None:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return  # no loop on this thread: a sync run, which always ends with an event
        if task is None:
            return
        with self._events_lock:
            runs = self._task_runs.get(task)
            if runs is None:
                self._task_runs[task] = runs = set()
                task.add_done_callback(self._task_done)
            runs.add(run_id)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        with self._events_lock:
            runs = self._task_runs.pop(task, set())
        if not task.cancelled():
            error = task.exception()
            if not isinstance(error, _INTERRUPTS):
                return  # finished: its open streams may go on in a later cell
        for run_id in runs:
            if run_id in self._live:
                self._end(run_id, Outcome(INTERRUPTED, error="interrupted"))

    def runs_of_task(self, task: asyncio.Task[Any]) -> set[UUID]:
        """Live runs started in ``task`` (closed_streams: tasks a dropped stream held)."""
        with self._events_lock:
            return {r for r in self._task_runs.get(task, ()) if r in self._live}

    def stream_closed(self, run_id: UUID) -> None:
        """The stream a run was started under was dropped before its end (closed_streams):
        the run and every run still live under it end now, innermost first."""
        try:
            if run_id not in self._live:
                return
            doomed = [run_id]
            for parent in doomed:  # grows as it goes: breadth-first over the live tree
                doomed.extend(r for r, p in list(self._parents.items()) if p == parent)
            for rid in reversed(doomed):
                self._end(rid, Outcome(INTERRUPTED, error="stream closed before its end"))
        except Exception as exc:
            self.internal_error(exc)

    def cell_ended(self, cell: cells.Cell, interrupted: bool) -> None:
        """After every cell (cells.on_cell_end): an interrupt ends that cell's live runs."""
        try:
            mine = [r for r, run_cell in list(self._live.items()) if run_cell.key == cell.key]
            if interrupted:
                for run_id in mine:
                    self._end(run_id, Outcome(INTERRUPTED, error="interrupted"))
            elif mine:
                closed_streams.collect_dropped(self, mine)
            self.cell_finished(cell)
        except Exception as exc:
            self.internal_error(exc)

    # -- LLM and chat model events -------------------------------------------------------
    @guarded
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
        self._start(
            run_id,
            parent_run_id,
            LLM,
            run_name(serialized, kwargs, "chat model"),
            tags=tags,
            metadata=metadata,
            model=model_name(serialized, metadata),
            inputs=prompt_line(messages[0]) if messages else "",
        )

    @guarded
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
            tags=tags,
            metadata=metadata,
            model=model_name(serialized, metadata),
            inputs=prompts[0] if prompts else "",
        )

    @guarded
    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        self._end(
            run_id,
            Outcome(
                DONE,
                usage=usage_of(response),
                final_text=final_text(response),
                final_reasoning=final_reasoning(response),
                tool_args=tool_calls_of(response),
                tool_calls=tool_call_infos(response),
            ),
        )

    @guarded
    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        self._fail(run_id, error)

    # -- chains, tools, retrievers -------------------------------------------------------
    @guarded
    def on_chain_start(  # type: ignore[override]
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
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
            CHAIN,
            run_name(serialized, kwargs, "chain"),
            tags=tags,
            metadata=metadata,
            inputs=inputs,
        )

    @guarded
    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        paused = control_flow.paused_outputs(outputs)
        if paused is not None:  # a graph that returned at an interrupt() is waiting, not done
            self._end(run_id, Outcome(PAUSED, error=redact(paused)))
            return
        self._end(run_id, Outcome(DONE, outputs=outputs))

    @guarded
    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        self._fail(run_id, error)

    @guarded
    def on_tool_start(  # type: ignore[override]
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._start(
            run_id,
            parent_run_id,
            TOOL,
            run_name(serialized, kwargs, "tool"),
            tags=tags,
            metadata=metadata,
            inputs=inputs if inputs is not None else input_str,
            tool_call_id=kwargs.get("tool_call_id"),
        )

    @guarded
    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        content = getattr(output, "content", output)
        if getattr(output, "status", None) == "error":
            # handle_tool_error / handle_validation_error: LangChain ends the run "normally"
            # with an error ToolMessage; it still failed.
            text = preview(content if isinstance(content, str) else text_of(content), 300)
            first = text.strip().splitlines()[0] if text.strip() else "tool error"
            self._end(run_id, Outcome(ERROR, error=first, outputs=content))
            return
        self._end(run_id, Outcome(DONE, outputs=content))

    @guarded
    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        self._fail(run_id, error)

    @guarded
    def on_retriever_start(  # type: ignore[override]
        self,
        serialized: dict[str, Any] | None,
        query: str,
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
            RETRIEVER,
            run_name(serialized, kwargs, "retriever"),
            tags=tags,
            metadata=metadata,
            inputs=query,
        )

    @guarded
    def on_retriever_end(self, documents: Sequence[Any], *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        self._end(run_id, Outcome(DONE, outputs=list(documents)))

    @guarded
    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:  # type: ignore[override]
        self._fail(run_id, error)

    def shown_run(self, run_id: UUID) -> UUID | None:
        """``run_id``, or for a hidden run its nearest shown ancestor (None if none)."""
        if run_id in self._hidden:
            return self._hidden[run_id]
        return run_id
