"""Plain-text view: tokens go to stdout as they are flushed (terminal IPython, mode="text").

With one run, its text is printed as it streams. When several runs of a cell interleave,
every switch from one run to another starts a new line with the run's label, so each
line belongs to exactly one run. Only deterministic facts are printed (no timings), so
saved notebook output stays comparable.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, TextIO

from ..langchain.tokens import TEXT, TOOL_ARGS
from ..live.runs import DONE, INTERRUPTED, LLM, TOOL, Changes
from .base import BoardView


class TextView(BoardView):
    def __init__(self, *, stream: TextIO | None = None, **options: Any):
        super().__init__(**options)
        self._stream = stream
        self._labels: dict[str, str] = {}
        self._llm_runs = 0
        self._current: str | None = None  # run whose text the last line belongs to
        self._at_line_start = True

    @property
    def stream(self) -> TextIO:
        # Looked up at each write: in a kernel, sys.stdout routes by the current context.
        return self._stream or sys.stdout

    def _write(self, text: str) -> None:
        if text:
            self.stream.write(text)
            self._at_line_start = text.endswith("\n")

    def _prefix(self, run_id: str) -> str:
        return f"[{self._labels.get(run_id, '?')}] " if self._llm_runs > 1 else ""

    def _switch_to(self, run_id: str) -> None:
        if self._current == run_id:
            return
        if not self._at_line_start:
            self._write("\n")
        self._current = run_id
        self._write(self._prefix(run_id))

    def _write_run(self, run_id: str, text: str) -> None:
        """A run's text; once runs interleave, every line it starts carries its label."""
        self._switch_to(run_id)
        prefix = self._prefix(run_id)
        for line in text.splitlines(keepends=True):
            if self._at_line_start and prefix:
                self._write(prefix)
            self._write(line)

    def render(self, changes: Changes, *, live_runs: int) -> None:
        for meta in changes.started:
            if meta["kind"] == LLM:
                self._llm_runs += 1
                self._labels[meta["id"]] = f"{self._llm_runs}:{meta['name']}"
            elif meta["kind"] == TOOL:
                self._labels[meta["id"]] = f"tool:{meta['name']}"
        for run_id, update in changes.updates.items():
            if run_id not in self._labels:
                continue  # chains and retrievers stay silent in text mode
            delta = update.get("delta", {})
            if update.get("reset"):
                delta = {TEXT: update.get("final", {}).get(TEXT, "")}
            if delta.get(TEXT):
                self._write_run(run_id, delta[TEXT])
            status = update.get("status")
            if run_id in changes.finished:
                self._finish(run_id, update, status)
        with contextlib.suppress(Exception):
            self.stream.flush()

    def _finish(self, run_id: str, update: dict[str, Any], status: str | None) -> None:
        label = self._labels.get(run_id, "?")
        final = update.get("final", {})
        if final.get(TOOL_ARGS):
            self._switch_to(run_id)
            calls = final[TOOL_ARGS].strip()
            self._write(("" if self._at_line_start else "\n") + f"[tool calls] {calls}")
        if status == DONE and label.startswith("tool:") and update.get("outputs"):
            self._switch_to(run_id)
            self._write(f"[{label} → {update['outputs']}]")
        if status not in (DONE, None):
            self._switch_to(run_id)
            what = "interrupted" if status == INTERRUPTED else f"error: {update.get('error', '')}"
            self._write(f"[{label} {what}]")
        if self._current == run_id and not self._at_line_start:
            self._write("\n")
        if self._current == run_id:
            self._current = None
