"""Rebuild what the front-end shows from a kernel's IOPub widget traffic.

This mirrors board.js: a view starts from the synced ``runs`` state, appends the text
deltas of custom ``tick`` messages, and lets a final state row overrule its own text.
Tests assert on the result, so what they check is what a browser would draw.

The renderer itself is not in a board's traffic: each board names the kernel session's one
library model (``lib``), opened once before the first board; :func:`library_opens` measures it.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

FINAL = {"done", "error", "interrupted", "paused", "handed_off", "stopped"}
CHANNELS = ("text", "reasoning", "tool_args")


@dataclass
class ReplayedRun:
    id: str
    fields: dict[str, Any] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=lambda: dict.fromkeys(CHANNELS, ""))
    deltas: int = 0  # how many tick messages carried text for this run

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
    messages: int = 0  # comm_msg count after the open
    bytes: int = 0  # JSON bytes of those messages' data
    ticks: int = 0
    state_updates: int = 0
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

    def _run(self, meta: dict[str, Any]) -> ReplayedRun:
        run = self.runs.get(meta["id"])
        if run is None:
            run = self.runs[meta["id"]] = ReplayedRun(meta["id"])
        return run

    def apply_state(self, state: dict[str, Any]) -> None:
        self.state.update(state)
        for row in state.get("runs", []):
            run = self._run(row)
            run.fields.update({k: v for k, v in row.items() if k != "text"})
            # rows carry text only for running runs: a refresh for views that missed deltas
            incoming = row.get("text") or {}
            for c in CHANNELS:
                if len(incoming.get(c, "")) > len(run.text[c]):
                    run.text[c] = incoming[c]
        if state.get("archive"):
            # finished runs' final text: zlib-compressed JSON in a binary buffer
            self.archive = json.loads(zlib.decompress(bytes(state["archive"])))
        for run_id, text in self.archive.items():
            run = self.runs.get(run_id)
            if run is not None:
                run.text.update({c: text.get(c, "") for c in CHANNELS})

    def apply_tick(self, msg: dict[str, Any]) -> None:
        for meta in msg.get("started", []):
            run = self._run(meta)
            for k, v in meta.items():
                run.fields.setdefault(k, v)
        for run_id, upd in msg.get("updates", {}).items():
            run = self.runs.get(run_id)
            if run is None:
                continue
            delta = upd.get("delta", {})
            if delta:
                run.deltas += 1
            for c in CHANNELS:
                if c in delta:
                    if upd.get("reset") and c == "text":
                        run.text[c] = delta[c]
                    else:
                        run.text[c] += delta[c]
            run.fields.update({k: v for k, v in upd.items() if k not in ("delta", "reset")})


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
            board = boards[content["comm_id"]]
            data = content["data"]
            board.messages += 1
            board.bytes += len(json.dumps(data).encode())
            if data.get("method") == "update":
                board.state_updates += 1
                board.bytes += sum(len(b) for b in msg.get("buffers", []))
                board.apply_state(_with_buffers(data, msg).get("state", {}))
            elif data.get("method") == "custom":
                board.ticks += 1
                board.apply_tick(data.get("content", {}))
    return list(boards.values())


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
