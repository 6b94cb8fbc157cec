"""Plain-text view: runs go to stdout as they are flushed (terminal IPython, mode="text").

The same information as the widget's tree, one line at a time: a model's text as it streams,
the tool calls it asks for, each tool's result or error, and any run that fails, is
interrupted, pauses (a LangGraph interrupt: what it waits for) or hands off (where it went).
Only deterministic facts are printed (no timings, no token counts), so saved notebook
output stays comparable.

**Labelling rule.** Every line belongs to exactly one run and starts with that run's label,
``[2:ChatOpenAI]`` (model runs are numbered in start order), ``[tool:get_weather]``,
``[chain:LangGraph]``, with one exception: a model's own text is printed bare while the
cell's only run is one plain model call (a model run with no parent), so ``chat.invoke(...)``
reads like ``print``. Labels go on, for every line and to the end of the cell, as soon as the
cell has any other run: a second model call, a tool, a chain; or from the very first line
when the model runs inside a chain or agent (its run has a parent). Lines already printed
are never relabelled, so a lone first call stays bare and the next one reads
``[2:ChatOpenAI] ...``. Lines that are not model text (tool calls, results, status lines)
always carry the label, so they can never be read as model text.

**Layout.**

* A model's text streams onto its line. When another run prints in between, the line is
  ended and the run resumes on a new labelled line (a newline at the start of the resumed
  text is the one that switch already made, so it is not printed twice). Newlines before
  a run's first text are dropped; blank lines inside the text are kept (labelled).
* Tool calls, results and status lines each start on their own line, one label per line:
  ``tool call: get_weather {"city": "Paris"}`` (one line per call, when the model run ends),
  ``→ sunny`` (or ``done`` for an empty result; a structured result is written as the
  panel shows it, ``views/value_render.py``: a dict as ``{"temp": 21}`` or ``key: value``
  lines, messages as ``role: text``; the lines of a multi-line result are indented under
  the first), ``error: ValueError: boom``, ``interrupted``, and for a pause
  or hand-off its reason as LangGraph's signal gave it (``waiting for input: ...``,
  ``handed off to <node>``; the bare ``paused`` / ``handed off`` without one). Any status
  other than running and done is such a line.
* Chains and retrievers print no text; they print only their status lines (not
  ``interrupted``, which an interrupted cell gives every run), and not when a run inside
  them has already printed the same line (an error rising through an agent is said once).
* A final text that replaces what was streamed: if the streamed text is its beginning, only
  the rest is printed; otherwise a ``final text:`` line, then the whole text.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..langchain.tokens import TEXT, TOOL_ARGS
from ..live.runs import DONE, HANDED_OFF, INTERRUPTED, LLM, PAUSED, RUNNING, TOOL, Changes
from .base import BoardView
from .value_render import value_lines


@dataclass(eq=False)
class _Run:
    id: str
    kind: str
    label: str
    parent: str | None
    mid_line: bool = False  # its text so far ends inside a line
    has_text: bool = False  # it has printed some text
    received: list[str] = field(default_factory=list)  # its text so far (to follow a reset)
    said: set[tuple[str, str]] = field(default_factory=set)  # status lines runs inside it printed


def _lines(text: str) -> list[str]:
    """Split at newlines only (not at \\r, \\f, ...), keeping them."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _status_line(status: str, error: str) -> tuple[str, str]:
    """``error: <what>``; the bare reason for a pause or hand-off (it reads ``waiting for
    input: ...``, ``handed off to <node>``); else the status, with what it says if more."""
    word = status.replace("_", " ")
    if not error or error in (status, word):
        return word, ""
    if status in (PAUSED, HANDED_OFF):
        return "", error
    return f"{word}: ", error


class TextView(BoardView):
    # Printed text goes to the cell of the context it is printed in (ipykernel's OutStream):
    # a run that outlives its cell prints under the cell running now (live/boards.py).
    routed_by_cell = True

    def __init__(self, *, stream: TextIO | None = None, **options: Any):
        super().__init__(**options)
        self._stream = stream
        self._runs: dict[str, _Run] = {}  # runs still going
        self._started = 0
        self._llm_runs = 0
        self._labelled = False  # model text carries labels (for good, once on)
        self._open: str | None = None  # run whose unfinished line ends the output so far
        self._note = ""  # printed before the next line: where the runs below started

    @property
    def stream(self) -> TextIO:
        # Looked up at each write: in a kernel, sys.stdout routes by the current context.
        return self._stream or sys.stdout

    # -- drawing ------------------------------------------------------------------------
    def render(self, changes: Changes, *, live_runs: int, **_: Any) -> None:
        # (Further keywords, such as ``final`` for the cell's last render, change nothing
        # here: every run's line is already ended when the run ends.)
        for meta in changes.started:
            self._start(meta)
        finished = set(changes.finished)
        for run_id, update in changes.updates.items():
            run = self._runs.get(run_id)
            if run is None:
                continue
            if run.kind == LLM:
                self._text(run, update)
            if run_id in finished:
                self._finish(run, update)
        with contextlib.suppress(Exception):
            self.stream.flush()

    def _start(self, meta: dict[str, Any]) -> None:
        kind, name, parent = meta["kind"], meta["name"], meta.get("parent")
        if kind == LLM:
            self._llm_runs += 1
            label = f"{self._llm_runs}:{name}"
        else:
            label = f"{kind}:{name}"
        self._runs[meta["id"]] = _Run(meta["id"], kind, label, parent)
        self._started += 1
        if self._started > 1 or parent is not None or kind != LLM:
            self._labelled = True

    def _text(self, run: _Run, update: dict[str, Any]) -> None:
        text = (update.get("delta") or {}).get(TEXT, "")
        if update.get("reset"):
            # The whole text, replacing what was streamed: print only what is new, if we can.
            text = text or (update.get("final") or {}).get(TEXT, "")
            so_far = "".join(run.received)
            if text.startswith(so_far):
                text = text[len(so_far) :]
            else:
                self._meta(run, "final text:")
                run.received, run.mid_line, run.has_text = [], False, False
        if text:
            run.received.append(text)
            self._write_text(run, text)

    def _write_text(self, run: _Run, text: str) -> None:
        if not run.has_text:
            text = text.lstrip("\n")
        elif self._open != run.id and run.mid_line and text.startswith("\n"):
            text = text[1:]  # switching runs already ended its line
        if not text:
            return
        if self._open != run.id:
            self._end_line()
        prefix = f"[{run.label}] " if self._labelled else ""
        for line in _lines(text):
            if self._open is None:
                self._write(prefix)
            self._write(line)
            self._open = None if line.endswith("\n") else run.id
        run.has_text = True
        run.mid_line = not text.endswith("\n")

    def _finish(self, run: _Run, update: dict[str, Any]) -> None:
        if self._open == run.id:
            self._end_line()
        status = update.get("status") or DONE
        if run.kind == LLM:
            calls = (update.get("final") or {}).get(TOOL_ARGS, "")
            for call in calls.split("\n"):
                if call.strip():
                    self._meta(run, "tool call: ", call.strip())
        elif run.kind == TOOL and status == DONE:
            value = update.get("outputs")
            outputs = "" if value in (None, "") else "\n".join(value_lines(value))
            if outputs.strip("\n"):
                self._meta(run, "→ ", outputs)
            else:
                self._meta(run, "done")
        if status not in (RUNNING, DONE):
            error = update.get("error") or ""
            said = (status, error)
            if run.kind in (LLM, TOOL) or (status != INTERRUPTED and said not in run.said):
                self._meta(run, *_status_line(status, error))
                parent = run.parent
                while parent is not None and parent in self._runs:
                    self._runs[parent].said.add(said)
                    parent = self._runs[parent].parent
        del self._runs[run.id]

    def moved(self, origin: str) -> None:
        # The open line stays in the other cell's output; from here on every line is labelled.
        self._open = None
        self._labelled = True
        self._note = f"[{origin}]\n"

    # -- lines --------------------------------------------------------------------------
    def _meta(self, run: _Run, head: str, detail: str = "") -> None:
        """A line that is not model text: always labelled, always on a line of its own;
        the lines of a multi-line detail are indented under the first."""
        self._end_line()
        lines = detail.strip("\n").split("\n")
        label = f"[{run.label}] "
        self._write(f"{label}{head}{lines[0]}".rstrip() + "\n")
        for line in lines[1:]:
            self._write(f"{label}{' ' * len(head)}{line}".rstrip() + "\n")

    def _end_line(self) -> None:
        if self._open is not None:
            self._write("\n")
            self._open = None

    def _write(self, text: str) -> None:
        if text:
            if self._note:
                self.stream.write(self._note)
                self._note = ""
            self.stream.write(text)
