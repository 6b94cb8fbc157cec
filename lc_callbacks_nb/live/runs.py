"""A pure-Python model of the runs one cell started: no IPython, no widgets.

Handlers write events into a :class:`RunBoard` from whatever thread LangChain uses; a
flush takes everything that changed since the previous flush with :meth:`RunBoard.collect`
and hands it to a view. Finished runs leave the board once their final state has been
collected, so a long loop of runs does not keep their text alive here.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..langchain.tokens import (
    CHANNELS,
    REASONING,
    TEXT,
    TOOL_ARGS,
    Piece,
    ThinkSplitter,
    split_pieces,
    tally,
)
from .redact import StreamRedactor, redact, redact_model_text
from .values import Ledger, read

# The one vocabulary of statuses, for panels, text mode, the static twin and %lc_runs.
RUNNING = "running"
DONE = "done"
ERROR = "error"
INTERRUPTED = "interrupted"  # a cancelled or interrupted cell, a stream closed before its end
PAUSED = "paused"  # LangGraph interrupt(): waiting for input (``error`` says for what)
HANDED_OFF = "handed_off"  # LangGraph Command(graph=PARENT): control went elsewhere
STOPPED = "stopped"  # the user pressed the panel's Stop (the caller gets RunStopped)
FINAL_STATUSES = (DONE, ERROR, INTERRUPTED, PAUSED, HANDED_OFF, STOPPED)

# Kinds of run; "llm" covers chat models and completion models alike.
LLM, CHAIN, TOOL, RETRIEVER = "llm", "chain", "tool", "retriever"

PREVIEW_CHARS = 100_000  # the view clips at 1,500 and offers the rest on click


_SURROGATE = re.compile("[\ud800-\udfff]")
_HIGH_SURROGATE_END = re.compile("[\ud800-\udbff]$")


def clean_text(text: str) -> str:
    """Text that encodes as UTF-8: surrogate pairs split across tokens joined, lone ones U+FFFD.

    A server may split an emoji's UTF-16 pair across two stream chunks (JSON ``\\ud83d`` then
    ``\\ude00``); Python keeps each half as a lone code point, which no JSON encoder sends.
    """
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def preview(value: Any, limit: int = PREVIEW_CHARS) -> str:
    """A short, secret-free text form of an input or output for display."""
    try:
        text = value if isinstance(value, str) else repr(value)
    except Exception:  # a repr that raises must not break the run
        text = f"<{type(value).__name__}>"
    text = redact(clean_text(text))
    if len(text) > limit:
        return text[:limit] + f"… [{len(text) - limit} more characters]"
    return text


def redacted(channel: str, text: str) -> str:
    """The one redaction, as it applies to a channel of model output."""
    return redact(text) if channel == TOOL_ARGS else redact_model_text(text)


@dataclass(eq=False)
class Run:
    id: str
    parent_id: str | None
    kind: str
    name: str
    order: int
    started_at: float
    model: str = ""
    tags: tuple[str, ...] = ()
    inputs: Any = ""  # a Value (live/values.py), read when the run started
    extra: dict[str, Any] = field(default_factory=dict)  # stoppable, tool_call_id, thread
    status: str = RUNNING
    stop: bool = False  # a Stop was asked for: the next token raises RunStopped
    # one stream redactor per channel: what the model wrote leaves here redacted, piece by piece
    redactors: dict[str, StreamRedactor] = field(default_factory=dict)
    thread: str | None = None  # LangGraph thread id (shown in meta only where it first appears)
    first_token_at: float | None = None
    ended_at: float | None = None
    tokens: int = 0  # streamed calls that carried something (langchain/tokens.py `tally`)
    by_channel: dict[str, int] = field(default_factory=dict)  # ... per channel they carried
    usage: dict[str, int] | None = None
    outputs: Any = ""  # a Value, read when the run ended
    error: str = ""
    tool_calls: list[dict[str, str]] | None = None
    events: list[str] = field(default_factory=list)
    # All text so far, per channel (kept until the final state is collected) ...
    text: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in CHANNELS})
    # ... and how many pieces of each channel the view has already been sent.
    sent: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))
    meta_changed: bool = False  # status, events or the stream's end changed: send every figure
    is_new: bool = True
    reported_tokens: int = 0  # the token count the views were last given
    reported_ttft: bool = False
    reset: bool = False  # the text channel was replaced after some of it was sent
    # When the model's stream finished (its finish chunk). agenerate ends all its runs
    # together, after the slowest: a short run's figures stop here, not at that end.
    stream_done_at: float | None = None
    # A leading <think>...</think> in the text goes to the reasoning channel; None once the
    # text is known to have none (or it closed): the token fast path is then taken.
    think: ThinkSplitter | None = field(default_factory=ThinkSplitter)

    def full(self, channel: str = TEXT) -> str:
        return "".join(self.text[channel])

    def shown(self, channel: str) -> str:
        """The channel's whole text as views may show it: valid UTF-8, redacted."""
        return redacted(channel, clean_text(self.full(channel)))

    def redactor(self, channel: str) -> StreamRedactor:
        red = self.redactors.get(channel)
        if red is None:
            # tool-call arguments are JSON, where name=value pairs are what they look like
            red = self.redactors[channel] = StreamRedactor(pairs=channel == TOOL_ARGS)
        return red


    def metrics(self, now: float) -> dict[str, Any]:
        end = self.stream_done_at or (self.ended_at if self.ended_at is not None else now)
        out: dict[str, Any] = {"tokens": self.tokens, "elapsed": round(end - self.started_at, 3)}
        if self.first_token_at is not None:
            out["ttft"] = round(self.first_token_at - self.started_at, 3)
            span = end - self.first_token_at
            if span > 0 and self.tokens > 1:
                out["tps"] = round((self.tokens - 1) / span, 1)
        if self.stream_done_at is not None:
            out["streamed"] = True
        return out

    def meta(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent": self.parent_id,
            "kind": self.kind,
            "name": self.name,
            "order": self.order,
            "model": self.model,
            "tags": list(self.tags),
            "inputs": self.inputs,
            **self.extra,
        }


@dataclass
class Changes:
    """What one flush carries to a view."""

    now: float
    started: list[dict[str, Any]]  # meta of runs new since the last flush
    updates: dict[str, dict[str, Any]]  # run id -> changed fields and text deltas
    finished: list[str]  # run ids whose final state is in `updates`

    def __bool__(self) -> bool:
        return bool(self.started or self.updates)


class RunBoard:
    """The runs started from one cell, in the order they started. Thread-safe."""

    def __init__(self, key: str, clock: Callable[[], float] = time.monotonic):
        self.key = key
        self.clock = clock
        self.lock = threading.Lock()
        self._live: dict[str, Run] = {}
        self._done: list[Run] = []  # finished since the last collect
        self._order = 0
        self.total_started = 0
        # the messages this board has shown: a node's input or output folds those it repeats
        self.ledger = Ledger()

    # -- events -------------------------------------------------------------------------
    def start(
        self,
        run_id: str,
        parent_id: str | None,
        kind: str,
        name: str,
        *,
        model: str = "",
        tags: tuple[str, ...] = (),
        inputs: Any = "",
        extra: dict[str, Any] | None = None,
    ) -> Run:
        inputs = self.read(inputs)  # outside the lock: the flush thread need not wait
        with self.lock:
            run = Run(
                id=run_id,
                parent_id=parent_id,
                kind=kind,
                name=name,
                order=self._order,
                started_at=self.clock(),
                model=model,
                tags=tags,
                inputs=inputs,
                extra=extra or {},
            )
            self._order += 1
            self.total_started += 1
            self._live[run_id] = run
            return run

    def add_pieces(self, run: Run, pieces: list[Piece]) -> None:
        with self.lock:
            if run.status != RUNNING:
                return
            think = run.think
            if think is not None:
                pieces = split_pieces(think, pieces)
                if think.passthrough:
                    run.think = None
            for channel, text in pieces:
                run.text[channel].append(text)
            run.tokens += 1
            tally(run.by_channel, pieces)
            if run.first_token_at is None:
                run.first_token_at = self.clock()

    def stream_finished(self, run: Run) -> None:
        with self.lock:
            if run.stream_done_at is None and run.status == RUNNING:
                run.stream_done_at = self.clock()
                run.meta_changed = True

    def add_event(self, run: Run, line: str) -> None:
        with self.lock:
            run.events.append(line)
            run.meta_changed = True

    def finish(
        self,
        run: Run,
        *,
        status: str = DONE,
        usage: dict[str, int] | None = None,
        outputs: Any = "",
        error: str = "",
        final_text: str | None = None,
        final_reasoning: str | None = None,
        final_tool_args: str | None = None,
        tool_calls: list[dict[str, str]] | None = None,
    ) -> bool:
        """End a run. Returns False if it had already ended (a late or duplicate event).
        ``final_text`` is the reply's text with any leading think block already split off;
        ``final_reasoning`` fills the reasoning channel when nothing streamed into it."""
        if run.status != RUNNING:
            return False
        outputs = self.read(outputs)
        with self.lock:
            if run.status != RUNNING:
                return False
            if run.think is not None:  # what the splitter still held when the stream ended
                for channel, text in run.think.flush():
                    run.text[channel].append(text)
                run.think = None
            run.status = status
            run.ended_at = self.clock()
            run.usage = usage
            run.outputs = outputs
            run.error = error
            run.tool_calls = tool_calls
            if final_text is not None and final_text != run.full(TEXT):
                # Not streamed (or streamed differently): the result is the truth.
                run.reset = run.sent[TEXT] > 0  # views must replace, not append
                run.text[TEXT] = [final_text]
                run.sent[TEXT] = 0
                run.redactors.pop(TEXT, None)
            if final_reasoning and not run.text[REASONING]:
                run.text[REASONING] = [final_reasoning]  # reasoning of a run that did not stream
            if final_tool_args and not run.text[TOOL_ARGS]:
                run.text[TOOL_ARGS] = [final_tool_args]  # tool calls of a run that did not stream
            run.meta_changed = True
            self._live.pop(run.id, None)
            self._done.append(run)
            return True

    def read(self, value: Any) -> Any:
        """An input or output as a Value; messages this board showed before are folded."""
        if isinstance(value, str) and value == "":
            return ""
        return read(value, self.ledger)

    @property
    def live_count(self) -> int:
        return len(self._live)

    # -- flushing -----------------------------------------------------------------------
    def pending_text(self) -> int | None:
        """Characters of text not yet collected, when new text (and token counts) is all that
        changed; None when anything else did (a start, an end, a status, a first token)."""
        with self.lock:
            if self._done:
                return None
            chars = 0
            for run in self._live.values():
                if run.is_new or run.meta_changed or run.reset:
                    return None
                if run.first_token_at is not None and not run.reported_ttft:
                    return None
                for channel in CHANNELS:
                    pieces = run.text[channel]
                    for i in range(run.sent[channel], len(pieces)):
                        chars += len(pieces[i])
            return chars

    def collect(self) -> Changes:
        """Everything that changed since the last call; finished runs leave the board."""
        with self.lock:
            now = self.clock()
            started: list[dict[str, Any]] = []
            updates: dict[str, dict[str, Any]] = {}
            finished: list[str] = []
            for run in [*self._done, *self._live.values()]:
                if run.is_new:
                    run.is_new = False
                    started.append({**run.meta(), "elapsed": round(now - run.started_at, 3)})
                update: dict[str, Any] = {}
                for channel in CHANNELS:
                    pieces = run.text[channel]
                    end = len(pieces)  # read once: tokens may be appended meanwhile
                    delta = ""
                    if end > run.sent[channel]:
                        delta = "".join(pieces[run.sent[channel] : end])
                        if run.status == RUNNING and _HIGH_SURROGATE_END.search(delta):
                            # the other half of a split pair comes with the next token
                            end -= 1
                            delta = "".join(pieces[run.sent[channel] : end])
                        run.sent[channel] = end
                    if not delta and (run.status == RUNNING or channel not in run.redactors):
                        continue
                    # Redacted as it streams: only a fragment that could still grow into a
                    # secret is held back, and it goes out when the run ends.
                    red = run.redactor(channel)
                    shown = red.feed(clean_text(delta)) if delta else ""
                    if run.status != RUNNING:
                        shown += red.flush()
                    if shown:
                        update.setdefault("delta", {})[channel] = shown
                if run.reset and "delta" in update:
                    update["reset"] = True
                    run.reset = False
                if run.meta_changed or run.status != RUNNING:
                    update.update(run.metrics(now))  # every figure, the kernel's own
                    run.reported_ttft = run.first_token_at is not None
                    run.reported_tokens = update["tokens"]
                else:  # streaming: only what the views cannot derive (their clock does the rest)
                    tokens = run.tokens  # read once: the token path adds to it meanwhile
                    if tokens != run.reported_tokens:
                        update["tokens"] = run.reported_tokens = tokens
                    if run.first_token_at is not None and not run.reported_ttft:
                        run.reported_ttft = True
                        update["ttft"] = round(run.first_token_at - run.started_at, 3)
                if run.meta_changed:
                    run.meta_changed = False
                    update["status"] = run.status
                    if run.events:
                        update["events"] = list(run.events)
                if run.status != RUNNING:
                    update["status"] = run.status
                    update["final"] = {c: run.shown(c) for c in CHANNELS if run.text[c]}
                    if run.usage:
                        update["usage"] = run.usage
                    if run.outputs is not None and run.outputs != "":
                        update["outputs"] = run.outputs
                    if run.error:
                        update["error"] = run.error
                    if run.tool_calls:
                        update["tool_calls"] = run.tool_calls
                    finished.append(run.id)
                if update:
                    updates[run.id] = update
            for run in self._done:
                run.text = {c: [] for c in CHANNELS}  # the view holds the final text now
                run.redactors = {}
            self._done.clear()
            return Changes(now=now, started=started, updates=updates, finished=finished)
