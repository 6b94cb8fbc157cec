"""Record LangChain runs per notebook cell, bounded, for ``%lc_runs``.

:class:`RunRecorder` is a sync callback handler with ``run_inline = True``: LangChain calls it
directly on whatever thread fires the event (the kernel loop for async runs), never through an
executor. Every method takes one lock and does O(1) work; a token only bumps a counter and, while
the preview is short, appends a few characters.

Bounds: the last ``max_cells`` cells that started runs, at most ``max_runs_per_cell`` runs per
cell (later runs are counted, not kept), ``PREVIEW_CHARS`` characters of model text per run.

A run belongs to the cell that started it: a child run to its parent's cell, a root run to
``cell_of_run()`` at start (the extension answers from a ContextVar set at the start of each cell,
so a background task from an earlier cell keeps its own cell). ``cell_of_run()`` returns a cell
number, or a ``(serial, number)`` key: cells run with ``store_history=False`` (nbval, some
front-ends) share one execution count, and the serial keeps them apart. No IPython import here.
"""

from __future__ import annotations

import html
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from ..langchain.inline import InlineHandlerMixin
from ..langchain.payloads import run_name, usage_of

PREVIEW_CHARS = 80
ERROR_CHARS = 200


@dataclass
class RunRecord:
    run_id: str
    parent_id: str | None
    kind: str  # chain | llm | chat model | tool | retriever
    name: str
    key: Any  # the cell: a number or a (serial, number) key
    started: float
    ended: float | None = None
    status: str = "running"  # running | ok | error
    error: str | None = None
    chunks: int = 0  # streamed non-empty tokens
    usage: dict[str, int] = field(default_factory=dict)
    preview: str = ""
    children: list[RunRecord] = field(default_factory=list)

    @property
    def cell(self) -> int | None:
        return _count(self.key)

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    def as_dict(self, depth: int) -> dict[str, Any]:
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
            "streamed_chunks": self.chunks,
            "usage": dict(self.usage),
            "preview": self.preview,
        }


@dataclass
class CellRuns:
    key: Any
    roots: list[RunRecord] = field(default_factory=list)
    count: int = 0
    dropped: int = 0

    @property
    def cell(self) -> int | None:
        return _count(self.key)


def _count(key: Any) -> int | None:
    """The execution count shown for a cell key."""
    return key[-1] if isinstance(key, tuple) else key


def _text_of(token: Any) -> str:
    if isinstance(token, str):
        return token
    if isinstance(token, list):  # Responses API: content blocks
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in token)
    return str(token or "")


def _output_text(response: Any) -> str:
    try:
        gen = response.generations[0][0]
    except (AttributeError, IndexError, TypeError):
        return ""
    return _text_of(getattr(gen, "text", "") or "")


class RunRecorder(InlineHandlerMixin, BaseCallbackHandler):  # type: ignore[override]
    """Keeps a bounded run tree per cell. Thread-safe; O(1) per event.

    Inline (InlineHandlerMixin) except where that would take events from other handlers.
    """

    raise_error = False

    def __init__(
        self,
        max_cells: int = 20,
        max_runs_per_cell: int = 200,
        cell_of_run: Callable[[], Any] = lambda: None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.max_cells = max_cells
        self.max_runs_per_cell = max_runs_per_cell
        self.cell_of_run = cell_of_run
        self.clock = clock
        self._lock = threading.Lock()
        self._cells: OrderedDict[Any, CellRuns] = OrderedDict()
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

    # -- recording -----------------------------------------------------------------------
    def _start(
        self,
        kind: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        serialized: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> None:
        rid = str(run_id)
        pid = None if parent_run_id is None else str(parent_run_id)
        now = self.clock()
        with self._lock:
            parent = self._runs.get(pid) if pid else None
            key = parent.key if parent is not None else self.cell_of_run()
            cr = self._cells.get(key)
            if cr is None:
                cr = self._cells[key] = CellRuns(key)
                self._evict()
            else:
                self._cells.move_to_end(key)
            if cr.count >= self.max_runs_per_cell or (pid and parent is None and cr.dropped):
                cr.dropped += 1
                return
            rec = RunRecord(rid, pid, kind, run_name(serialized, kwargs, kind), key, now)
            cr.count += 1
            self._runs[rid] = rec
            (parent.children if parent is not None else cr.roots).append(rec)

    def _end(
        self,
        run_id: UUID,
        error: BaseException | str | None = None,
        response: Any = None,
        preview: str = "",
    ) -> None:
        now = self.clock()
        with self._lock:
            rec = self._runs.get(str(run_id))
            if rec is None:
                return
            rec.ended = now
            if error is not None:
                rec.status = "error"
                text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
                rec.error = text[:ERROR_CHARS]
            else:
                rec.status = "ok"
            if preview and not rec.preview:
                rec.preview = preview[:PREVIEW_CHARS]
            if response is not None:
                rec.usage = usage_of(response)
                if not rec.preview:
                    rec.preview = _output_text(response)[:PREVIEW_CHARS]

    def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, **kw):
        self._start("chain", run_id, parent_run_id, serialized, kw)

    def on_llm_start(self, serialized, prompts, *, run_id, parent_run_id=None, **kw):
        self._start("llm", run_id, parent_run_id, serialized, kw)

    def on_chat_model_start(self, serialized, messages, *, run_id, parent_run_id=None, **kw):
        self._start("chat model", run_id, parent_run_id, serialized, kw)

    def on_tool_start(self, serialized, input_str, *, run_id, parent_run_id=None, **kw):
        self._start("tool", run_id, parent_run_id, serialized, kw)

    def on_retriever_start(self, serialized, query, *, run_id, parent_run_id=None, **kw):
        self._start("retriever", run_id, parent_run_id, serialized, kw)

    def on_llm_new_token(self, token, *, run_id, **kw):
        text = _text_of(token)
        if not text:
            return
        with self._lock:
            rec = self._runs.get(str(run_id))
            if rec is None:
                return
            rec.chunks += 1
            if len(rec.preview) < PREVIEW_CHARS:
                rec.preview = (rec.preview + text)[:PREVIEW_CHARS]

    def on_llm_end(self, response, *, run_id, **kw):
        self._end(run_id, response=response)

    def on_chain_end(self, outputs, *, run_id, **kw):
        self._end(run_id)

    def on_tool_end(self, output, *, run_id, **kw):
        content = str(getattr(output, "content", output))
        if getattr(output, "status", None) == "error":
            # a tool that handled its own error: the run ends normally, but it failed
            self._end(
                run_id, error=content.strip().splitlines()[0] if content.strip() else "tool error"
            )
        else:
            self._end(run_id, preview=content)

    def on_retriever_end(self, documents, *, run_id, **kw):
        n = len(documents)
        self._end(run_id, preview=f"{n} document{'' if n == 1 else 's'}")

    def on_llm_error(self, error, *, run_id, **kw):
        self._end(run_id, error=error)

    def on_chain_error(self, error, *, run_id, **kw):
        self._end(run_id, error=error)

    def on_tool_error(self, error, *, run_id, **kw):
        self._end(run_id, error=error)

    def on_retriever_error(self, error, *, run_id, **kw):
        self._end(run_id, error=error)

    # -- reading -------------------------------------------------------------------------
    def cells(self) -> list[int | None]:
        with self._lock:
            return [_count(key) for key in self._cells]

    def view(self, cell: int | None = None) -> RunsView:
        """The runs of cell number ``cell`` (the latest such), or of the last cell that had any."""
        with self._lock:
            cr = None
            for key in reversed(self._cells):
                if cell is None or _count(key) == cell:
                    cr = self._cells[key]
                    break
            if cell is None and cr is not None:
                cell = cr.cell
            snapshot = _snapshot(cr) if cr is not None else None
            kept = len(self._cells)
        return RunsView(cell, snapshot, kept_cells=self.max_cells, known_cells=kept)


def _snapshot(cr: CellRuns) -> CellRuns:
    """A deep copy taken under the lock, so rendering never races the recorder."""

    def copy(rec: RunRecord) -> RunRecord:
        return RunRecord(
            rec.run_id,
            rec.parent_id,
            rec.kind,
            rec.name,
            rec.key,
            rec.started,
            rec.ended,
            rec.status,
            rec.error,
            rec.chunks,
            dict(rec.usage),
            rec.preview,
            [copy(c) for c in rec.children],
        )

    return CellRuns(cr.key, [copy(r) for r in cr.roots], cr.count, cr.dropped)


# -- rendering ---------------------------------------------------------------------------
def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def _tokens(rec: RunRecord) -> str:
    u = rec.usage
    if "input_tokens" in u or "output_tokens" in u:
        return f"tokens {u.get('input_tokens', '?')} in / {u.get('output_tokens', '?')} out"
    if rec.chunks:
        return f"{rec.chunks} chunks streamed"
    return ""


def _walk(roots: list[RunRecord], depth: int = 0):
    for rec in roots:
        yield depth, rec
        yield from _walk(rec.children, depth + 1)


def _fields(rec: RunRecord) -> list[str]:
    parts = [rec.kind, rec.status if rec.status != "error" else f"error: {rec.error}"]
    parts.append(format_duration(rec.duration))
    tok = _tokens(rec)
    if tok:
        parts.append(tok)
    return parts


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
        return [rec.as_dict(depth) for depth, rec in _walk(self.runs.roots)]

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

    def __repr__(self) -> str:
        lines = [self._title()]
        if self.runs is not None:
            for depth, rec in _walk(self.runs.roots):
                line = "  " * (depth + 1) + f"{rec.name}  " + " · ".join(_fields(rec))
                if rec.preview:
                    line += f"  {rec.preview!r}"
                lines.append(line)
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        e = html.escape
        out = [f"<div class='lcnb-runs'><b>{e(self._title())}</b>"]
        if self.runs is not None:
            out.append("<ul style='list-style:none;padding-left:1em;margin:0'>")
            for depth, rec in _walk(self.runs.roots):
                color = {"ok": "#2a7", "error": "#c33"}.get(rec.status, "#888")
                item = (
                    f"<li style='margin-left:{depth * 1.5}em'>"
                    f"<span style='color:{color}'>●</span> <code>{e(rec.name)}</code> "
                    f"{e(' · '.join(_fields(rec)))}"
                )
                if rec.preview:
                    item += f" <q>{e(rec.preview)}</q>"
                out.append(item + "</li>")
            out.append("</ul>")
        out.append("</div>")
        return "".join(out)
