"""Widget view: one anywidget per cell, fed with deltas.

Live traffic is custom messages (``model.send``) carrying only the text that is new since
the previous flush, for every run of the board in one message. The synced traits are the
durable state (what a saved notebook and a late view rebuild from): ``runs`` holds each
run's facts, ``archive`` the final text of finished runs, zlib-compressed, so the text a
view already received live is not sent again at full size (and saved notebooks stay
small). They are set when runs start or end, at most once per ``state_interval`` while
runs are live, always when the last run ends; running runs' text is refreshed into
``runs`` every ``fresh_interval`` seconds for views that open mid-stream.
"""

from __future__ import annotations

import base64
import json
import pathlib
import time
import zlib
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets as t

from ..live.runs import FINAL_STATUSES, LLM, Changes
from .base import BoardView

_HERE = pathlib.Path(__file__).parent


class RunBoardWidget(anywidget.AnyWidget):
    """The front-end of one cell's runs. Model text is rendered with textContent only."""

    _esm = _HERE / "board.js"
    _css = _HERE / "board.css"
    runs = t.List(t.Dict()).tag(sync=True)
    max_panels = t.Int(8).tag(sync=True)
    title = t.Unicode("").tag(sync=True)
    dropped = t.Int(0).tag(sync=True)  # finished runs evicted to bound memory
    archive = t.Bytes(b"").tag(sync=True)  # zlib(JSON {run id: {channel: final text}})

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        # Deterministic text/plain twin: what nbval compares and what a plain viewer shows.
        return {
            "text/plain": self.plain_text(),
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2,
                "version_minor": 1,
                "model_id": self.model_id,
            },
        }

    def plain_text(self) -> str:
        return "LangChain live runs (widget view: needs a Jupyter front-end with ipywidgets)"


class WidgetView(BoardView):
    coalesce_ends = True
    def __init__(
        self,
        *,
        max_rows: int = 200,
        state_interval: float = 1.0,
        fresh_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        current_text: Callable[[str], dict[str, str] | None] | None = None,
        **options: Any,
    ):
        super().__init__(**options)
        self.max_rows = max_rows
        self.state_interval = state_interval
        self.fresh_interval = fresh_interval
        self.clock = clock
        self._current_text = current_text
        self._rows: dict[str, dict[str, Any]] = {}
        self._last_state = float("-inf")
        self._last_fresh = clock()
        self._state_pending = False
        self._dropped = 0
        self._final: dict[str, dict[str, str]] = {}  # run id -> final text per channel
        self._archive_dirty = False
        self.widget: RunBoardWidget | None = None

    def open(self) -> None:
        from IPython.display import display

        self.widget = RunBoardWidget(max_panels=self.max_panels, title=self.title)
        display(self.widget)

    def render(self, changes: Changes, *, live_runs: int) -> None:
        widget = self.widget
        if widget is None:
            return
        for meta in changes.started:
            self._rows[meta["id"]] = {**meta, "status": "running"}
        message_updates: dict[str, dict[str, Any]] = {}
        for run_id, update in changes.updates.items():
            row = self._rows.get(run_id)
            if row is None:
                continue
            for key, value in update.items():
                if key not in ("delta", "final"):
                    row[key] = value
            if "final" in update:
                self._final[run_id] = update["final"]
                self._archive_dirty = True
            message_updates[run_id] = {k: v for k, v in update.items() if k != "final"}
        if changes.started or changes.finished:
            self._state_pending = True
        if changes:
            widget.send({"k": "tick", "started": changes.started, "updates": message_updates})
        now = self.clock()
        stale = live_runs and now - self._last_fresh >= self.fresh_interval
        due = now - self._last_state >= self.state_interval
        if (self._state_pending and (due or not live_runs)) or stale:
            self._sync_state(now, refresh_text=bool(stale))

    def _sync_state(self, now: float, *, refresh_text: bool) -> None:
        assert self.widget is not None
        self._evict()
        rows = []
        for row in self._rows.values():
            # Fresh dicts: traitlets compares with ==, and rows are mutated in place.
            row = dict(row)
            if refresh_text and row.get("status") not in FINAL_STATUSES and self._current_text:
                text = self._current_text(row["id"])
                if text:
                    row["text"] = text
            rows.append(row)
        if refresh_text:
            self._last_fresh = now
        self._last_state = now
        self._state_pending = False
        with self.widget.hold_sync():  # one update message for every changed trait
            self.widget.runs = rows
            self.widget.dropped = self._dropped
            if self._archive_dirty:
                self.widget.archive = pack_archive(self._final)
                self._archive_dirty = False

    def _evict(self) -> None:
        """Keep at most max_rows rows: the oldest finished LLM runs go first."""
        excess = len(self._rows) - self.max_rows
        if excess <= 0:
            return
        for run_id in [
            rid
            for rid, row in self._rows.items()
            if row.get("status") in FINAL_STATUSES and row.get("kind") == LLM
        ][:excess]:
            del self._rows[run_id]
            self._final.pop(run_id, None)
            self._archive_dirty = True
            self._dropped += 1


def pack_archive(texts: dict[str, dict[str, str]]) -> bytes:
    return zlib.compress(json.dumps(texts, separators=(",", ":")).encode(), 6)


def unpack_archive(data: bytes | memoryview | str) -> dict[str, dict[str, str]]:
    """The inverse of pack_archive; accepts the base64 text a saved notebook holds."""
    if isinstance(data, str):
        data = base64.b64decode(data)
    return json.loads(zlib.decompress(bytes(data))) if data else {}


def saved_runs(model_state: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of a board as saved in a notebook's widget state, each with its final ``text``.

    ``model_state`` is one entry of ``metadata.widgets[...]["state"]``: ``{"state": {...},
    "buffers": [{"path": ["archive"], "data": base64, ...}]}``.
    """
    archive: bytes | str = b""
    for buf in model_state.get("buffers", []):
        if buf.get("path") == ["archive"]:
            archive = buf["data"]
    texts = unpack_archive(archive)
    return [
        {**row, "text": texts.get(row["id"], row.get("text", {}))}
        for row in model_state["state"].get("runs", [])
    ]
