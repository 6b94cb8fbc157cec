"""Record LangChain runs per notebook cell, bounded, for ``%lc_runs``.

:class:`RunRecorder` is fed from one reading of LangChain's callbacks
(:class:`~lc_callbacks_nb.langchain.events.RunEvents`): the same run kinds and statuses, the same
rule for which cell a run belongs to (``notebook/cells.py``), the same control-flow and interrupt
rules, the same redaction as the live panels. With the extension loaded, LangChain gets ONE
handler of ours per run: the ``%lc_stream`` panel handler, which records into the recorder as it
reads each event (``record_start`` / ``record_end``); with panels off, the recorder itself is
that handler. It only stores: every method takes one lock and does O(1) work. A run the panel
shows is not counted twice: its record reads the panel's count and first words (``RunRecord.
shown``) when ``%lc_runs`` looks and when the run ends, so both say the same; a run no panel of
ours shows is counted here by the same rule (``langchain/tokens.py`` ``tally``).

Bounds: the last ``max_cells`` cells that started runs, at most ``max_runs_per_cell`` runs per
cell (later runs are counted, not kept), ``PREVIEW_CHARS`` characters of model text per run.
Inputs and outputs of chains, tools and retrievers are kept as the panel shows them: Values
read by ``live/values.py`` (bounded, redacted), a message repeated from an earlier run of the
cell folded into the cell's ledger; ``--json`` (``RunsView.data()``) unfolds them again.
"""

from __future__ import annotations

import html
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from ..langchain.events import Outcome, RunEvents, Start
from ..langchain.tokens import (
    TEXT,
    Piece,
    ThinkSplitter,
    split_pieces,
    split_think,
    tally,
    token_pieces,
)
from ..live.redact import redact, redact_model_text
from ..live.runs import CHAIN, DONE, ERROR, LLM, RUNNING, clean_text
from ..live.values import Ledger, read
from ..views.value_render import FoldPlaces, value_html, value_lines, value_summary

PREVIEW_CHARS = 80
ERROR_CHARS = 200
VALUE_CHARS = 2_000  # characters of the leaves of one kept input or output (a summary, bounded)
LEDGER_MESSAGES = 2_000  # messages a cell's record remembers (and keeps, for --json)


@dataclass
class RunRecord:
    run_id: str
    parent_id: str | None
    kind: str  # llm | chain | tool | retriever (live/runs.py)
    name: str
    key: str  # the cell (notebook/cells.py)
    number: int | None  # the cell's execution count
    started: float
    ended: float | None = None
    status: str = RUNNING  # the statuses of live/runs.py
    error: str | None = None
    tokens: int = 0  # streamed tokens, as the panel counts them (langchain/tokens.py tally)
    by_channel: dict[str, int] = field(default_factory=dict)  # ... per channel they carried
    usage: dict[str, int] = field(default_factory=dict)
    preview: str = ""
    children: list[RunRecord] = field(default_factory=list)
    inputs: Any = ""  # a Value (live/values.py); "" for none
    outputs: Any = ""
    tool_calls: list[dict[str, str]] = field(default_factory=list)  # {id, name, args}
    # The panel's Run (live/runs.py) while it streams: counts and first words are read there.
    shown: Any = field(default=None, repr=False, compare=False)
    think: ThinkSplitter = field(default_factory=ThinkSplitter, repr=False, compare=False)

    def streamed(self, pieces: list[Piece]) -> None:
        """One streamed call of a run no panel of ours shows, counted as the panel counts.
        No lock: one run's tokens come from one thread at a time, and readers copy under the
        recorder's lock (a count read mid-stream may be one behind)."""
        if not pieces:
            return
        self.tokens += 1
        pieces = split_pieces(self.think, pieces)  # a leading <think> block is reasoning
        tally(self.by_channel, pieces)
        if len(self.preview) < PREVIEW_CHARS:
            text = "".join(t for c, t in pieces if c == TEXT)
            if text:
                self.preview = (self.preview + text)[:PREVIEW_CHARS]

    def sync(self) -> None:
        """Take the figures of the panel that shows this run (under the recorder's lock)."""
        run = self.shown
        if run is None:
            return
        self.tokens = run.tokens
        self.by_channel = dict(run.by_channel)
        if self.kind == LLM:
            # the first PREVIEW_CHARS pieces (each non-empty) hold the first words: no full join
            self.preview = "".join(run.text[TEXT][:PREVIEW_CHARS])[:PREVIEW_CHARS]

    @property
    def cell(self) -> int | None:
        return self.number

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    def as_dict(self, depth: int, ledger: Ledger | None = None) -> dict[str, Any]:
        unfold = ledger.expand if ledger is not None else (lambda v: v)
        return {
            "run_id": self.run_id,
            "parent_run_id": self.parent_id,
            "depth": depth,
            "cell": self.cell,
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "error": self.error,
            "duration_s": None if self.duration is None else round(self.duration, 6),
            "streamed_tokens": self.tokens,
            "streamed_tokens_by_channel": dict(self.by_channel),
            "usage": dict(self.usage),
            "tool_calls": [dict(c) for c in self.tool_calls],
            "preview": self.preview,
            "inputs": unfold(self.inputs),
            "outputs": unfold(self.outputs),
        }


@dataclass
class CellRuns:
    key: str
    number: int | None
    roots: list[RunRecord] = field(default_factory=list)
    count: int = 0
    dropped: int = 0
    # the messages this cell's runs have shown (kept, so --json can unfold them)
    ledger: Ledger = field(default_factory=lambda: Ledger(LEDGER_MESSAGES, keep=True))

    @property
    def cell(self) -> int | None:
        return self.number


class RunRecorder(RunEvents):
    """Keeps a bounded run tree per cell. Thread-safe; O(1) per event."""

    def __init__(
        self,
        max_cells: int = 20,
        max_runs_per_cell: int = 200,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__()
        self.max_cells = max_cells
        self.max_runs_per_cell = max_runs_per_cell
        self.clock = clock
        self._lock = threading.Lock()
        self._cells: OrderedDict[str, CellRuns] = OrderedDict()
        self._runs: dict[str, RunRecord] = {}  # only runs of cells still kept

    def __repr__(self) -> str:
        return (
            f"RunRecorder(max_cells={self.max_cells}, max_runs_per_cell={self.max_runs_per_cell})"
        )

    # -- bounds --------------------------------------------------------------------------
    def resize(self, max_cells: int | None = None, max_runs_per_cell: int | None = None) -> None:
        with self._lock:
            if max_cells is not None:
                self.max_cells = max_cells
            if max_runs_per_cell is not None:
                self.max_runs_per_cell = max_runs_per_cell
            self._evict()

    def _evict(self) -> None:
        while len(self._cells) > self.max_cells:
            _, old = self._cells.popitem(last=False)
            stack = list(old.roots)
            while stack:
                rec = stack.pop()
                self._runs.pop(rec.run_id, None)
                stack.extend(rec.children)

    # -- recording: the sink the one handler feeds ------------------------------------
    def record_start(self, run_id: UUID, start: Start) -> RunRecord | None:
        """Keep a run that starts; None when over the per-cell cap (it is counted instead)."""
        rid = str(run_id)
        pid = None if start.parent_id is None else str(start.parent_id)
        now = self.clock()
        with self._lock:
            parent = self._runs.get(pid) if pid else None
            key = start.cell.key
            cr = self._cells.get(key)
            if cr is None:
                cr = self._cells[key] = CellRuns(key, start.cell.number)
                self._evict()
            else:
                self._cells.move_to_end(key)
            if cr.count >= self.max_runs_per_cell or (pid and parent is None and cr.dropped):
                cr.dropped += 1
                return None
            rec = RunRecord(rid, pid, start.kind, start.name, key, start.cell.number, now)
            cr.count += 1
            self._runs[rid] = rec
            (parent.children if parent is not None else cr.roots).append(rec)
            ledger = cr.ledger
        value = _read(start.inputs, ledger)  # outside the lock: bounded, but not O(1)
        with self._lock:
            rec.inputs = value
        return rec

    def record_end(self, rec: RunRecord, outcome: Outcome) -> None:
        now = self.clock()
        with self._lock:
            cr = self._cells.get(rec.key)
            if cr is None or rec.ended is not None:  # its cell was evicted, or a late repeat
                return
        value = _read(outcome.outputs, cr.ledger)
        with self._lock:
            rec.sync()
            rec.shown = None  # the panel's run is let go; its figures are final
            rec.outputs = value
            rec.tool_calls = [dict(c) for c in outcome.tool_calls]
            rec.ended = now
            rec.status = outcome.status
            rec.error = outcome.error[:ERROR_CHARS] if outcome.status != DONE else None
            if outcome.status == ERROR and not rec.error:
                rec.error = "error"
            rec.usage = dict(outcome.usage)
            if rec.kind == LLM:
                if not rec.preview:  # nothing streamed: the reply's answer, as the panel shows it
                    rec.preview = split_think(outcome.final_text or "")[1][:PREVIEW_CHARS]
            elif rec.kind != CHAIN and value != "":
                rec.preview = value_summary(value, PREVIEW_CHARS)

    # -- the recorder as the handler itself (panels off) ---------------------------------
    def run_started(self, run_id: UUID, start: Start) -> bool:
        return self.record_start(run_id, start) is not None

    def run_ended(self, run_id: UUID, outcome: Outcome) -> None:
        rec = self._runs.get(str(run_id))
        if rec is not None:
            self.record_end(rec, outcome)

    def on_llm_new_token(  # type: ignore[override]
        self, token: Any, *, chunk: Any = None, run_id: UUID, **kw: Any
    ) -> None:
        pieces = token_pieces(token, chunk)
        if not pieces:
            return
        with self._lock:  # a handler of its own may be called from several threads at once
            rec = self._runs.get(str(run_id))
            if rec is not None:
                rec.streamed(pieces)

    # -- reading -------------------------------------------------------------------------
    def cells(self) -> list[int | None]:
        with self._lock:
            return [cr.number for cr in self._cells.values()]

    def view(self, cell: int | None = None) -> RunsView:
        """The runs of cell number ``cell`` (the latest such), or of the last cell that had any."""
        with self._lock:
            cr = None
            for key in reversed(self._cells):
                if cell is None or self._cells[key].number == cell:
                    cr = self._cells[key]
                    break
            if cell is None and cr is not None:
                cell = cr.cell
            snapshot = _snapshot(cr) if cr is not None else None
            kept = len(self._cells)
        return RunsView(cell, snapshot, kept_cells=self.max_cells, known_cells=kept)


def _read(value: Any, ledger: Ledger) -> Any:
    if isinstance(value, str) and value == "":
        return ""
    return read(value, ledger, budget=VALUE_CHARS)


def _shown(text: str | None, *, model_text: bool = False) -> str | None:
    """What may leave the recorder: redacted (model text by its own rule), valid UTF-8."""
    if text is None:
        return None
    return (redact_model_text if model_text else redact)(clean_text(text))


def _snapshot(cr: CellRuns) -> CellRuns:
    """A deep copy taken under the lock (so rendering never races the recorder), redacted."""

    def copy(rec: RunRecord) -> RunRecord:
        rec.sync()  # a run still streaming: the panel's figures now
        return replace(
            rec,
            error=_shown(rec.error),
            by_channel=dict(rec.by_channel),
            usage=dict(rec.usage),
            preview=_shown(rec.preview, model_text=rec.kind == LLM) or "",
            children=[copy(c) for c in rec.children],
            # inputs and outputs: Values are immutable once read, and redacted when read
            tool_calls=[
                {k: _shown(v) or "" for k, v in c.items()} for c in rec.tool_calls
            ],
            shown=None,
        )

    roots = [copy(r) for r in cr.roots]
    return CellRuns(cr.key, cr.number, roots, cr.count, cr.dropped, cr.ledger)


# -- rendering ---------------------------------------------------------------------------
def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


CHANNEL_LABELS = {"text": "text", "reasoning": "reasoning", "tool_args": "tool args"}


def _counts(rec: RunRecord) -> list[str]:
    """What streamed (the panel's count, split by channel when there is more than one) and the
    provider's usage: two different figures, each named for what it is."""
    parts = []
    if rec.tokens:
        label = f"{rec.tokens} token{'s' if rec.tokens != 1 else ''} streamed"
        channels = [(c, n) for c, n in rec.by_channel.items() if n]
        if len(channels) > 1:
            label += " (" + ", ".join(f"{n} {CHANNEL_LABELS.get(c, c)}" for c, n in channels) + ")"
        parts.append(label)
    u = rec.usage
    if "input_tokens" in u or "output_tokens" in u:
        parts.append(f"usage {u.get('input_tokens', '?')} in / {u.get('output_tokens', '?')} out")
    return parts


def _calls(rec: RunRecord) -> list[str]:
    """A model turn's tool calls, ``name(args)`` each (what the panel's tool lane shows)."""
    return [f"{c.get('name') or '?'}({c.get('args', '')})" for c in rec.tool_calls]


def _walk(roots: list[RunRecord], depth: int = 0):
    for rec in roots:
        yield depth, rec
        yield from _walk(rec.children, depth + 1)


def _fields(rec: RunRecord) -> list[str]:
    parts = [rec.kind, f"{rec.status}: {rec.error}" if rec.error else rec.status]
    parts.append(format_duration(rec.duration))
    parts.extend(_counts(rec))
    return parts


def _io(rec: RunRecord) -> list[tuple[str, int, Any]]:
    """A chain's, tool's or retriever's input and output (label, 0 in / 1 out, Value)."""
    if rec.kind == LLM:
        return []
    pairs = (("in", 0, rec.inputs), ("out", 1, rec.outputs))
    return [(k, side, v) for k, side, v in pairs if v not in ("", None)]


class RunsView:
    """What ``%lc_runs`` returns: an HTML tree with a plain-text twin, or data via ``data()``."""

    def __init__(
        self, cell: int | None, runs: CellRuns | None, kept_cells: int, known_cells: int
    ) -> None:
        self.cell = cell
        self.runs = runs
        self.kept_cells = kept_cells
        self.known_cells = known_cells

    def data(self) -> list[dict[str, Any]]:
        if self.runs is None:
            return []
        ledger = self.runs.ledger
        return [rec.as_dict(depth, ledger) for depth, rec in _walk(self.runs.roots)]

    def _title(self) -> str:
        label = "cell ?" if self.cell is None else f"cell [{self.cell}]"
        if self.runs is None:
            if self.cell is None:
                return "lc_runs: no runs recorded yet"
            return (
                f"lc_runs: no runs recorded for {label} "
                f"(history keeps the last {self.kept_cells} cells that started runs)"
            )
        n = self.runs.count
        title = f"{label}: {n} run{'s' if n != 1 else ''}"
        if self.runs.dropped:
            title += f" (+{self.runs.dropped} not recorded: over the per-cell cap)"
        return title

    def _places(self) -> FoldPlaces:
        """Where each message is written in full, in the order the runs are listed."""
        places = FoldPlaces()
        if self.runs is not None:
            for at, (_, rec) in enumerate(_walk(self.runs.roots)):
                places.add((at, 0), rec.inputs)
                places.add((at, 1), rec.outputs)
        return places

    def __repr__(self) -> str:
        lines = [self._title()]
        places = self._places()
        if self.runs is not None:
            for at, (depth, rec) in enumerate(_walk(self.runs.roots)):
                line = "  " * (depth + 1) + f"{rec.name}  " + " · ".join(_fields(rec))
                if rec.preview and rec.kind == LLM:
                    line += f"  {rec.preview!r}"
                lines.append(line)
                pad = "  " * (depth + 2)
                lines.extend(f"{pad}→ {call}" for call in _calls(rec))
                for label, side, value in _io(rec):
                    sub = value_lines(value, earlier=places.at((at, side)))
                    lines.append(f"{pad}{label}: {sub[0]}" if sub else f"{pad}{label}:")
                    lines.extend(pad + " " * (len(label) + 2) + ln for ln in sub[1:])
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        e = html.escape
        out = [f"<div class='lcnb-runs'><b>{e(self._title())}</b>"]
        places = self._places()
        if self.runs is not None:
            out.append("<ul style='list-style:none;padding-left:1em;margin:0'>")
            for at, (depth, rec) in enumerate(_walk(self.runs.roots)):
                color = {DONE: "#2a7", ERROR: "#c33"}.get(rec.status, "#888")
                item = (
                    f"<li style='margin-left:{depth * 1.5}em'>"
                    f"<span style='color:{color}'>●</span> <code>{e(rec.name)}</code> "
                    f"{e(' · '.join(_fields(rec)))}"
                )
                if rec.preview and rec.kind == LLM:
                    item += f" <q>{e(rec.preview)}</q>"
                for call in _calls(rec):
                    item += f"<div style='margin-left:1em'>→ <code>{e(call)}</code></div>"
                for label, side, value in _io(rec):
                    shown = value_html(value, earlier=places.at((at, side)))
                    item += (
                        "<div style='display:flex;gap:6px;align-items:baseline;margin-left:1em'>"
                        f"<span style='color:#888'>{label}:</span>"
                        f"<div style='flex:1;min-width:0'>{shown}</div></div>"
                    )
                out.append(item + "</li>")
            out.append("</ul>")
        out.append("</div>")
        return "".join(out)
