"""Widget view: one anywidget per cell, fed with deltas.

Live traffic is custom messages (``model.send``) carrying only the text that is new since
the previous flush, for every run of the board in one message. The synced traits are the
durable state (what a saved notebook and a late view rebuild from): ``runs`` holds each
run's facts, ``archive`` the final text of finished runs, zlib-compressed, so the text a
view already received live is not sent again at full size (and saved notebooks stay
small). The message format is written down in ``protocol.py``.

State is synced when runs have started or ended, at most once per ``state_interval`` (a loop
of a thousand short runs costs a few syncs, not a thousand), and at once when the cell ends
with no run live (``finish``); a sync that is due later is asked of the scheduler
(``wants_flush_at``). Running runs' text is refreshed into ``runs`` every ``fresh_interval``
seconds for views that open mid-stream.

The renderer (``static/board.bundle.js``: Markdown, sanitizer, highlighter, board) crosses the
wire once per kernel session, not once per cell: every board's ``_esm`` is a tiny loader
(``js/loader.js``) that reads the bundle from ONE :class:`BoardLibrary` model per kernel (its
``code`` trait, zlib-compressed; ``lib`` on the board holds that model's id) and imports it once
per page. A notebook saved with widget state holds the library once.

From the front-end: a :class:`~.protocol.StopRequest` (the panel's Stop button) is passed to
``on_stop(run_id)`` when the run is one of this board's; anything else is ignored.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pathlib
import re
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets as t

from ..live.runs import FINAL_STATUSES, LLM, Changes
from .base import BoardView
from .protocol import Tick
from .twin import render_bundle

_HERE = pathlib.Path(__file__).parent
BUNDLE = _HERE / "static" / "board.bundle.js"
LOADER = _HERE / "js" / "loader.js"
_SOURCES_HASH = re.compile(rb"sources-sha256=([0-9a-f]{64})")


def _loader_source() -> str:
    """js/loader.js without its comment lines: it is sent (and saved) once per board."""
    lines = LOADER.read_text().splitlines()
    return "\n".join(ln for ln in lines if not ln.lstrip().startswith("//")) + "\n"


class BoardLibrary(anywidget.AnyWidget):
    """The board renderer, shared by every board of a kernel session (a model never displayed).

    An anywidget model (its own ``_esm`` is empty) rather than a bare ``@jupyter-widgets/base``
    WidgetModel: that one's default serializer deep-copies state through JSON when a notebook is
    saved, which turns the binary ``code`` into ``{}``; anywidget's model keeps binary traits as
    buffers, in traffic and in saved widget state."""

    _esm = "export default {};\n"

    code = t.Bytes(b"").tag(sync=True)  # zlib(static/board.bundle.js)
    hash = t.Unicode("").tag(sync=True)  # the loader's cache key (one import per page per hash)
    lcnb_library = t.Unicode("board").tag(sync=True)  # marks this model in traffic and state


_library: BoardLibrary | None = None
_library_lock = threading.Lock()


def bundle_payload() -> tuple[bytes, str]:
    """The bundle, compressed as it crosses the wire, and its cache key."""
    raw = BUNDLE.read_bytes()
    found = _SOURCES_HASH.search(raw[:300])
    key = hashlib.sha256(raw).hexdigest()[:16] if found is None else found.group(1).decode()[:16]
    return zlib.compress(raw, 9), key


def board_library() -> BoardLibrary:
    """This kernel session's library model, created (and sent) on first use."""
    global _library
    with _library_lock:
        lib = _library
        if lib is None or getattr(lib, "comm", None) is None:  # none yet, or closed
            code, key = bundle_payload()
            lib = _library = BoardLibrary(code=code, hash=key)
        return lib


class RunBoardWidget(anywidget.AnyWidget):
    """The front-end of one cell's runs (see the module docstring for the renderer)."""

    _esm = _loader_source()
    lib = t.Unicode("").tag(sync=True)  # model id of the BoardLibrary
    runs = t.List(t.Dict()).tag(sync=True)
    max_panels = t.Int(8).tag(sync=True)
    dropped = t.Int(0).tag(sync=True)  # finished runs evicted to bound memory
    archive = t.Bytes(b"").tag(sync=True)  # zlib(JSON {run id: {channel: final text}})

    # Where a failure while building the static twin is recorded (the handler's internal_error).
    on_twin_error: Callable[[BaseException], None] | None = None

    def __init__(self, **kwargs: Any) -> None:
        if "lib" not in kwargs:
            kwargs["lib"] = board_library().model_id
        super().__init__(**kwargs)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        # The live panel for a Jupyter front-end with the widget manager (it ranks the widget
        # view first, so it shows only that); the static twin for everything else: GitHub,
        # nbviewer, nbconvert, VS Code without widgets, a reopen without widget state, nbval.
        bundle: dict[str, Any] = render_bundle(
            self.finished_runs(),
            dropped=self.dropped,
            max_panels=self.max_panels,
            on_error=self.on_twin_error,
        )
        bundle["application/vnd.jupyter.widget-view+json"] = {
            "version_major": 2,
            "version_minor": 1,
            "model_id": self.model_id,
        }
        return bundle

    def finished_runs(self) -> list[dict[str, Any]]:
        """The synced rows, each with its final text (what the twin and %lc_runs read)."""
        texts = unpack_archive(self.archive)
        return [
            {**row, "final": texts[row["id"]]} if row["id"] in texts else row for row in self.runs
        ]


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
        on_error: Callable[[BaseException], None] | None = None,
        on_stop: Callable[[str], None] | None = None,
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
        self._twin_stale = False
        self.on_error = on_error
        self.on_stop = on_stop
        self.widget: RunBoardWidget | None = None
        self._display: Any = None  # the output's DisplayHandle: the twin is updated through it

    def open(self) -> None:
        from IPython.display import display

        self.widget = RunBoardWidget(max_panels=self.max_panels)
        self.widget.on_twin_error = self.on_error
        self.widget.on_msg(self._on_front_msg)
        self._display = display(self.widget, display_id=True)

    def _on_front_msg(self, _widget: Any, content: Any, _buffers: Any = None) -> None:
        """A custom message from the front-end: only a well-formed StopRequest for a run of
        this board reaches ``on_stop``; anything else is ignored."""
        if self.on_stop is None or not isinstance(content, dict):
            return
        run_id = content.get("run")
        if content.get("k") != "stop" or not isinstance(run_id, str) or run_id not in self._rows:
            return
        try:
            self.on_stop(run_id)
        except Exception as exc:  # a failure in the stop path never breaks the kernel
            if self.on_error is not None:
                self.on_error(exc)

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
            self._twin_stale = True
        if changes:
            tick: Tick = {"k": "tick", "started": changes.started, "updates": message_updates}  # type: ignore[typeddict-item]
            widget.send(tick)
        now = self.clock()
        stale = live_runs and now - self._last_fresh >= self.fresh_interval
        due = now - self._last_state >= self.state_interval
        if (self._state_pending and due) or stale:
            self._sync_state(now, refresh_text=bool(stale))

    def finish(self) -> None:
        if self.widget is None:
            return
        if not (self._state_pending or self._archive_dirty or self._twin_stale):
            return
        if self._state_pending or self._archive_dirty:
            self._sync_state(self.clock(), refresh_text=False)
        # The output's static twin, redrawn from the final state: an update_display_data sent
        # from the cell that is running, so nbclient, JupyterLab (and nbval with our plugin)
        # keep the final runs in the saved notebook. Once per cell end, not per tick: the
        # front-end re-creates the widget's view on a display update.
        self._twin_stale = False
        if self._display is not None:
            self._display.update(self.widget)

    def wants_flush_at(self) -> float | None:
        return self._last_state + self.state_interval if self._state_pending else None

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
