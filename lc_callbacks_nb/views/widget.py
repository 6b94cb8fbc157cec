"""Widget view: one anywidget per cell, fed with deltas.

Live traffic is ticks (``model.send``) carrying only what changed since the previous flush, for
every run of the board in one small message: the new text, the token count, the first token's
time once; runs are named by a short handle after their start. The synced traits are the
durable state (what a saved notebook rebuilds from): ``runs`` holds each run's facts,
``archive`` the final text of finished runs, zlib-compressed, so the text a view already
received live is not sent again at full size (and saved notebooks stay small). A front-end that
missed the start of a live run's text asks for it (``catch_up``), and gets the text this view
has *sent*, taken between two ticks. The message format is written down in ``protocol.py``.

State is synced when runs have ended, at most once per ``state_interval`` (a loop
of a thousand short runs costs a few syncs, not a thousand), and at once when the cell ends
with no run live (``finish``); a sync that is due later is asked of the scheduler
(``wants_flush_at``). A live run's text never goes into state: traffic grows with the text, not
with how long the run lasts.

The renderer (``static/board.bundle.js``: Markdown, sanitizer, highlighter, board) crosses the
wire once per kernel session, not once per cell: every board's ``_esm`` is a tiny loader
(``js/loader.js``) that reads the bundle from ONE :class:`BoardLibrary` model per kernel (its
``code`` trait, zlib-compressed; ``lib`` on the board holds that model's id) and imports it once
per page. A notebook saved with widget state holds the library once.

From the front-end: a :class:`~.protocol.StopRequest` (the panel's Stop button) is passed to
``on_stop(run_id)`` when the run is one of this board's; a :class:`~.protocol.CatchUpRequest`
is answered; anything else is ignored.
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

from ..langchain.tokens import CHANNELS
from ..live.runs import FINAL_STATUSES, LLM, Changes
from .base import BoardView
from .protocol import CaughtUp, Tick, WireUpdate
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
    title = t.Unicode("").tag(sync=True)  # e.g. "started in In [3]" (drawn in a later cell)

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
            title=self.title,
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
    # A tick's envelope is about 45 bytes: a tick of new text alone waits until it carries at
    # least half as much text, or for 0.15 s. At 50 tokens/s that is ~7 ticks a second, not 20;
    # from ~200 tokens/s on, fps ticks a second (a token's latency stays near 1/fps).
    min_tick_chars = 24
    max_hold = 0.15

    def __init__(
        self,
        *,
        max_rows: int = 200,
        state_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        on_error: Callable[[BaseException], None] | None = None,
        on_stop: Callable[[str], None] | None = None,
        **options: Any,
    ):
        super().__init__(**options)
        self.max_rows = max_rows
        self.state_interval = state_interval
        self.clock = clock
        # What goes to the front-end leaves under this lock, in order: ticks and state from the
        # flush thread, catch-up answers from the kernel's shell thread.
        self._lock = threading.RLock()
        self._rows: dict[str, dict[str, Any]] = {}
        self._started_at: dict[str, float] = {}  # live runs -> their start, on self.clock
        self._sent: dict[str, dict[str, list[str]]] = {}  # live runs -> the text sent so far
        self._last_state = float("-inf")
        self._state_pending = False
        self._dropped = 0
        self._final: dict[str, dict[str, str]] = {}  # run id -> final text per channel
        self._archive_dirty = False
        self._twin_stale = False
        self.on_error = on_error
        self.on_stop = on_stop
        self.widget: RunBoardWidget | None = None
        self._display: Any = None  # the output's DisplayHandle: the twin is updated through it
        self._library: BoardLibrary | None = None  # the library, if made for this view

    def open(self) -> None:
        from IPython.display import display

        known = _library
        self.widget = RunBoardWidget(max_panels=self.max_panels, title=self.title)
        self._library = _library if _library is not known else None
        self.widget.on_twin_error = self.on_error
        self.widget.on_msg(self._on_front_msg)
        self._display = display(self.widget, display_id=True)
        self.kept += 1

    def resend(self, *, redisplay: bool) -> None:
        """What was sent while the kernel was idle, again, under the cell starting now. nbclient
        builds a saved notebook's widget state from the comm messages of the cell it executes
        (``handle_comm_msg`` merges each ``state`` per comm id): so the whole state, the
        library's too if it was made for this view. Then the display (with its twin), or the
        twin's update by display id."""
        from IPython.display import display

        widget = self.widget
        if widget is None:
            return
        if self._library is not None:
            self._library.send_state()
        with self._lock:
            self._sync_state(self.clock())
            widget.send_state()
        self._twin_stale = False
        if redisplay:
            display(widget, display_id=self._display.display_id)
        else:
            self._display.update(widget)

    def _on_front_msg(self, _widget: Any, content: Any, _buffers: Any = None) -> None:
        """A message from the front-end: a well-formed StopRequest for a run of this board
        reaches ``on_stop``; a CatchUpRequest is answered; anything else is ignored."""
        if not isinstance(content, dict):
            return
        try:
            kind = content.get("k")
            if kind == "shown":  # a front-end renders the view (board.js)
                self.seen = True
                return
            if kind == "catch_up" and isinstance(content.get("id"), str):
                self._catch_up(content["id"][:64])
                return
            run_id = content.get("run")
            if kind != "stop" or self.on_stop is None:
                return
            if isinstance(run_id, str) and run_id in self._rows:
                self.on_stop(run_id)
        except Exception as exc:  # a failure here never breaks the kernel
            if self.on_error is not None:
                self.on_error(exc)

    def _catch_up(self, asker: str) -> None:
        """Answer a front-end that lacks the live runs' text: the text *sent* so far, taken
        under the lock ticks leave under, so the answer falls between two ticks."""
        widget = self.widget
        if widget is None:
            return
        with self._lock:
            now = self.clock()
            rows = [
                {**self._rows[rid], "elapsed": round(now - t0, 3)}
                for rid, t0 in self._started_at.items()
                if rid in self._rows
            ]
            texts = {
                rid: {c: "".join(pieces) for c, pieces in sent.items() if pieces}
                for rid, sent in self._sent.items()
            }
            answer: CaughtUp = {"k": "caught_up", "id": asker, "runs": rows}  # type: ignore[typeddict-item]
            widget.send(answer, buffers=[pack_archive(texts)])

    def render(self, changes: Changes, *, live_runs: int) -> None:
        widget = self.widget
        if widget is None:
            return
        with self._lock:
            for meta in changes.started:
                rid = meta["id"]
                self._rows[rid] = {**meta, "status": "running"}
                self._started_at[rid] = changes.now - meta.get("elapsed", 0.0)
                self._sent[rid] = {}
            wire: dict[str, WireUpdate] = {}
            for run_id, update in changes.updates.items():
                row = self._rows.get(run_id)
                if row is None:
                    continue
                wire[str(row["order"])] = self._encode(run_id, row, update)
                if "final" in update:
                    self._final[run_id] = update["final"]
                    self._archive_dirty = True
                    self._sent.pop(run_id, None)  # the archive holds its text now
                    self._started_at.pop(run_id, None)
            if changes.finished:  # (a live run's row reaches a late front-end in a catch-up)
                self._state_pending = True
            if changes.started or changes.finished:
                self._twin_stale = True
            if changes.started or wire:
                deltas = (u.get("delta") or {} for u in changes.updates.values())
                chars = sum(len(t) for d in deltas for t in d.values())
                send_tick(widget, self._tick(changes.started, wire), chars)
            now = self.clock()
            if self._state_pending and now - self._last_state >= self.state_interval:
                self._sync_state(now)

    @staticmethod
    def _tick(started: list[dict[str, Any]], wire: dict[str, WireUpdate]) -> Tick | list[Any]:
        """The tick; one run's new text alone goes as ``[handle, tokens, text, ...]``."""
        if not started and len(wire) == 1:
            ((handle, update),) = wire.items()
            if isinstance(update, str):
                return [int(handle), 1, update]
            if isinstance(update, list):
                return [int(handle), *update]
        tick: Tick = {}
        if started:
            tick["s"] = started  # type: ignore[typeddict-item]
        if wire:
            tick["u"] = wire
        return tick

    def _encode(self, run_id: str, row: dict[str, Any], update: dict[str, Any]) -> WireUpdate:
        """One run's changes in the fewest bytes (protocol.py, WireUpdate); keeps the row and
        the text sent so far in step with what leaves."""
        delta: dict[str, str] = update.get("delta") or {}
        sent = self._sent.get(run_id)
        if sent is not None:
            if update.get("reset"):
                sent.pop("text", None)
            for channel, text in delta.items():
                sent.setdefault(channel, []).append(text)
        added = update["tokens"] - row.get("tokens", 0) if "tokens" in update else 0
        for key, value in update.items():
            if key not in ("delta", "final", "reset"):
                row[key] = value
        if update.keys() <= {"delta", "tokens"}:  # streaming: text and a count, nothing else
            parts: list[int | str] = [added, *(delta.get(c, "") for c in CHANNELS)]
            while len(parts) > 1 and not parts[-1]:
                parts.pop()
            if added == 1 and len(parts) == 2 and isinstance(parts[1], str):
                return parts[1]  # one token: the text alone
            return parts
        out: dict[str, Any] = {k: v for k, v in update.items() if k not in ("delta", "final")}
        if delta:
            out["d"] = delta
        return out  # type: ignore[return-value]

    def finish(self) -> None:
        if self.widget is None:
            return
        if not (self._state_pending or self._archive_dirty or self._twin_stale):
            return
        with self._lock:  # (live runs' rows too: the twin reads them as running)
            self._sync_state(self.clock())
        # The output's static twin, redrawn from the final state: an update_display_data sent
        # from the cell that is running, so nbclient, JupyterLab (and nbval with our plugin)
        # keep the final runs in the saved notebook. Once per cell end, not per tick: the
        # front-end re-creates the widget's view on a display update.
        self._twin_stale = False
        if self._display is not None:
            self._display.update(self.widget)
            self.kept += 1

    def wants_flush_at(self) -> float | None:
        return self._last_state + self.state_interval if self._state_pending else None

    def _sync_state(self, now: float) -> None:
        assert self.widget is not None
        self._evict()
        rows = []
        for rid, row in self._rows.items():
            # Fresh dicts: traitlets compares with ==, and rows are mutated in place.
            row = dict(row)
            t0 = self._started_at.get(rid)
            if t0 is not None:
                row["elapsed"] = round(now - t0, 3)  # a live run's clock, as of this state
            rows.append(row)
        self._last_state = now
        self._state_pending = False
        self.kept += 1
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


COMPRESS_FROM = 128  # characters of new text in a tick: below this, zlib only adds bytes


def send_tick(widget: Any, tick: Tick | list[Any], text_chars: int) -> None:
    """A tick as it is, or zlib-compressed in a buffer when that is smaller: from a few hundred
    tokens a second on, ticks compressed one by one cost 0.5-0.8 x their text, which pays for
    the final text's second trip (the archive, what a saved notebook keeps)."""
    if text_chars >= COMPRESS_FROM:
        packed = json.dumps(tick, separators=(",", ":"), ensure_ascii=False).encode()
        small = zlib.compress(packed, 9)
        if len(small) + 12 < len(packed):  # (+ the envelope {"k": "z"})
            widget.send({"k": "z"}, buffers=[small])
            return
    widget.send(tick)


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
