"""Rebuild what the front-end shows from a kernel's IOPub widget traffic.

This mirrors ``js/src/store.js`` (the model's store every view of a board draws from): it starts
from the synced ``runs`` state, applies ticks (runs named by their handle, updates in their
three wire forms), lets the ``archive`` give finished runs their final text, and, for a store
that starts late, asks the kernel to catch up and applies the answer ("the answer replaces,
later ticks append"). Tests assert on the result, so what they check is what a browser would
draw. The wire format is written down in ``lc_callbacks_nb/views/protocol.py``.

The renderer itself is not in a board's traffic: each board names the kernel session's one
library model (``lib``), opened once before the first board; :func:`library_opens` measures it.

Bytes are counted as they cross the wire: the comm message's data as jupyter_client packs it
(JSON, ``ensure_ascii=False``), plus its binary buffers.
"""

from __future__ import annotations

import itertools
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

FINAL = {"done", "error", "interrupted", "paused", "handed_off", "stopped"}
CHANNELS = ("text", "reasoning", "tool_args")
_ids = itertools.count(1)


def wire_bytes(data: Any, buffers: list[bytes] | None = None) -> int:
    """A comm message's size on the wire: its data as jupyter_client's json_packer writes it,
    plus its buffers."""
    size = len(json.dumps(data, ensure_ascii=False, allow_nan=False).encode())
    return size + sum(len(b) for b in buffers or [])


def expand(upd: Any) -> dict[str, Any]:
    """A tick's update for one run, in its object form (store.js ``expand``)."""
    if isinstance(upd, str):
        return {"n": 1, "d": {"text": upd}}
    if isinstance(upd, list):
        return {"n": upd[0], "d": {c: t for c, t in zip(CHANNELS, upd[1:], strict=False) if t}}
    return dict(upd)


def inflate(data: bytes | memoryview | None) -> dict[str, Any]:
    return json.loads(zlib.decompress(bytes(data))) if data else {}


@dataclass
class ReplayedRun:
    id: str
    fields: dict[str, Any] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=lambda: dict.fromkeys(CHANNELS, ""))
    deltas: int = 0  # how many ticks carried text for this run

    @property
    def status(self) -> str:
        return self.fields.get("status", "running")

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]


@dataclass
class ReplayedBoard:
    comm_id: str
    parent_msg_id: str
    state: dict[str, Any]
    runs: dict[str, ReplayedRun] = field(default_factory=dict)
    handles: dict[str, str] = field(default_factory=dict)  # str(order) -> run id
    behind: set[str] = field(default_factory=set)  # live runs whose text only an answer gives
    asked: str | None = None  # our catch-up request's id, until answered
    requests: list[dict[str, Any]] = field(default_factory=list)  # what this store asked
    messages: int = 0  # comm_msg count after the open
    bytes: int = 0  # wire bytes of those messages (JSON data + buffers)
    ticks: int = 0
    state_updates: int = 0
    answers: int = 0  # catch-up answers received (for anyone)
    open_bytes: int = 0  # the comm_open: the loader (_esm) and the initial state
    lib: str = ""  # model id of the renderer library this board loads its code from
    archive: dict[str, dict[str, str]] = field(default_factory=dict)

    def saved_texts(self) -> list[str]:
        """Final texts as the durable state holds them (what a saved notebook shows)."""
        rows = [r for r in self.state.get("runs", []) if r["kind"] == "llm"]
        return [self.archive.get(r["id"], r.get("text", {})).get("text", "") for r in rows]

    def ordered(self, kind: str | None = "llm") -> list[ReplayedRun]:
        runs = [r for r in self.runs.values() if kind is None or r.fields.get("kind") == kind]
        return sorted(runs, key=lambda r: r.fields.get("order", 0))

    def texts(self) -> list[str]:
        return [r.text["text"] for r in self.ordered()]

    # -- as store.js ------------------------------------------------------------------------
    def _add(self, meta: dict[str, Any]) -> ReplayedRun:
        run = self.runs[meta["id"]] = ReplayedRun(meta["id"], {"status": "running", **meta})
        self.handles[str(meta["order"])] = meta["id"]
        return run

    def _set_text(self, run_id: str, texts: dict[str, str]) -> None:
        run = self.runs.get(run_id)
        if run is not None:
            run.text = {c: texts.get(c, "") for c in CHANNELS}
            self.behind.discard(run_id)

    def _ask(self) -> None:
        if self.asked is None:
            self.asked = f"replay-{next(_ids)}"
            self.requests.append({"k": "catch_up", "id": self.asked})

    def apply_state(self, state: dict[str, Any]) -> None:
        self.state.update(state)
        for row in state.get("runs", []):
            run = self.runs.get(row["id"])
            if run is None:
                run = self._add(row)
                if row["id"] in self.archive:
                    self._set_text(row["id"], self.archive[row["id"]])
                elif row.get("status", "running") not in FINAL and not row.get("text"):
                    self.behind.add(row["id"])
            running = row.get("status", "running") not in FINAL
            run.fields.update(
                {k: v for k, v in row.items() if k != "text" and not (k == "elapsed" and running)}
            )
            legacy = row.get("text") or {}  # rows saved by earlier versions
            for c in CHANNELS:
                if len(legacy.get(c, "")) > len(run.text[c]):
                    run.text[c] = legacy[c]
        if self.behind:
            self._ask()
        if state.get("archive"):
            # finished runs' final text: zlib-compressed JSON in a binary buffer
            self.archive = inflate(state["archive"])
            for run_id, text in self.archive.items():
                self._set_text(run_id, text)

    def apply_tick(self, msg: dict[str, Any] | list[Any]) -> None:
        if isinstance(msg, list):  # one run's new text alone: [handle, tokens, text, ...]
            msg = {"u": {str(msg[0]): msg[1:]}}
        for meta in msg.get("s", []):
            if meta["id"] not in self.runs:
                self._add(meta)
        for handle, wire in msg.get("u", {}).items():
            run_id = self.handles.get(handle)
            run = self.runs.get(run_id) if run_id else None
            if run is None:
                self._ask()
                continue
            upd = expand(wire)
            if run.id not in self.behind:
                delta = upd.get("d", {})
                if delta:
                    run.deltas += 1
                for c in CHANNELS:
                    if c in delta:
                        if upd.get("reset") and c == "text":
                            run.text[c] = delta[c]
                        else:
                            run.text[c] += delta[c]
                if upd.get("n"):
                    run.fields["tokens"] = run.fields.get("tokens", 0) + upd["n"]
            run.fields.update({k: v for k, v in upd.items() if k not in ("d", "n", "reset")})

    def apply_answer(self, msg: dict[str, Any], buffers: list[bytes]) -> None:
        self.answers += 1
        if self.asked is None or msg.get("id") != self.asked:
            return  # another front-end's question
        self.asked = None
        texts = inflate(buffers[0] if buffers else None)
        for row in msg.get("runs", []):
            run = self.runs.get(row["id"]) or self._add(row)
            run.fields.update({k: v for k, v in row.items() if k != "elapsed"})
            self._set_text(row["id"], texts.get(row["id"], {}))

    def apply(self, msg: dict[str, Any]) -> None:
        """One IOPub comm_msg of this board."""
        data = msg["content"]["data"]
        buffers = [bytes(b) for b in msg.get("buffers") or []]
        self.messages += 1
        self.bytes += wire_bytes(data, buffers)
        if data.get("method") == "update":
            self.state_updates += 1
            self.apply_state(_with_buffers(data, msg).get("state", {}))
        elif data.get("method") == "custom":
            content = data.get("content", {})
            if isinstance(content, list):
                self.ticks += 1
                self.apply_tick(content)
            elif content.get("k") == "caught_up":
                self.apply_answer(content, buffers)
            elif content.get("k") == "z":  # a tick with much text, compressed
                self.ticks += 1
                self.apply_tick(inflate(buffers[0]))
            elif "k" not in content:
                self.ticks += 1
                self.apply_tick(content)


def replay(messages: list[dict[str, Any]]) -> list[ReplayedBoard]:
    """Every run board opened in these IOPub messages, in the order they were opened."""
    boards: dict[str, ReplayedBoard] = {}
    for msg in messages:
        kind = msg["msg_type"]
        content = msg["content"]
        if kind == "comm_open":
            state = _with_buffers(content.get("data", {}), msg)
            state = state.get("state", {})
            if state.get("_anywidget_id", "").endswith("RunBoardWidget"):
                board = ReplayedBoard(
                    content["comm_id"], msg["parent_header"].get("msg_id", ""), {}
                )
                board.open_bytes = len(json.dumps(content["data"])) + _buffer_bytes(msg)
                board.lib = state.get("lib", "")
                board.apply_state(state)
                boards[content["comm_id"]] = board
        elif kind == "comm_msg" and content["comm_id"] in boards:
            boards[content["comm_id"]].apply(msg)
    return list(boards.values())


def late_board(comm_id: str, state: dict[str, Any]) -> ReplayedBoard:
    """A store that starts from ``state`` (a page reload, a second front-end): it marks the live
    runs it never saw start as behind and asks (``requests``); feed it later messages with
    :meth:`ReplayedBoard.apply`."""
    board = ReplayedBoard(comm_id, "", {})
    board.apply_state(state)
    return board


@dataclass
class LibraryOpen:
    comm_id: str
    hash: str
    bytes: int  # JSON bytes of the comm_open plus its binary buffers (the compressed bundle)


def library_opens(messages: list[dict[str, Any]]) -> list[LibraryOpen]:
    """The renderer library models opened in these IOPub messages (one per kernel session)."""
    found = []
    for msg in messages:
        if msg["msg_type"] != "comm_open":
            continue
        content = msg["content"]
        state = content.get("data", {}).get("state", {})
        if state.get("lcnb_library"):
            size = len(json.dumps(content["data"])) + _buffer_bytes(msg)
            found.append(LibraryOpen(content["comm_id"], state.get("hash", ""), size))
    return found


def ticks(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every tick of these IOPub messages in its object form (``s``: runs started, ``u``: run
    handle -> its update, expanded), whether sent bare, as a list or compressed."""
    out = []
    for msg in messages:
        if msg["msg_type"] != "comm_msg" or msg["content"]["data"].get("method") != "custom":
            continue
        content = msg["content"]["data"].get("content", {})
        if isinstance(content, dict) and content.get("k") == "z":
            content = inflate(bytes((msg.get("buffers") or [b""])[0]))
        elif isinstance(content, dict) and "k" in content:
            continue  # not a tick (a catch-up answer)
        if isinstance(content, list):
            content = {"u": {str(content[0]): content[1:]}}
        updates = {h: expand(w) for h, w in content.get("u", {}).items()}
        out.append({"s": content.get("s", []), "u": updates})
    return out


def _buffer_bytes(msg: dict[str, Any]) -> int:
    return sum(len(b) for b in msg.get("buffers") or [])


def _with_buffers(data: dict[str, Any], msg: dict[str, Any]) -> dict[str, Any]:
    """Put a message's binary buffers back into its state at their buffer_paths."""
    buffers = msg.get("buffers") or []
    paths = data.get("buffer_paths") or []
    if not buffers or not paths:
        return data
    state = dict(data.get("state", {}))
    for path, buf in zip(paths, buffers, strict=False):
        if len(path) == 1:
            state[path[0]] = bytes(buf)
    return {**data, "state": state}


_OLD_CLIP = re.compile(r"… \[(\d+) more characters\]")


def stands_for(value: Any) -> int:
    """Characters a shown input or output stands for: what it shows, plus what each clip note
    says was cut (an old string preview's ``… [N more characters]``, a Value's ``len``)."""
    if isinstance(value, str):
        return len(value) + sum(int(n) for n in _OLD_CLIP.findall(value))
    if isinstance(value, list):
        return sum(stands_for(v) for v in value)
    if isinstance(value, dict):
        total = sum(stands_for(v) for k, v in value.items() if k != "len")
        shown = value.get("text", value.get("args"))
        if isinstance(value.get("len"), int) and isinstance(shown, str):
            total += max(value["len"] - len(shown), 0)
        return total
    return len(json.dumps(value))
