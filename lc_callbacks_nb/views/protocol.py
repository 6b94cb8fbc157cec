"""The one written-down format between Python and the front-end (``board.js``).

Every board is one anywidget. Two kinds of traffic cross the wire:

* **Synced state** (traits; what a saved notebook and a late view rebuild from):
  ``runs`` is a list of :class:`RunRow`; ``archive`` is zlib-compressed JSON
  ``{run id: {channel: final text}}`` of finished runs; ``dropped`` counts finished runs evicted
  to bound memory; ``max_panels`` switches to the compact table.
* **Custom messages** (``model.send``; live only, never stored): one :class:`Tick` per flush,
  carrying the runs that started and, per run, a :class:`RunUpdate` with only the text that is
  new since the previous tick.
* **From the front-end**: :class:`StopRequest` (the panel's Stop button) asks the kernel to
  stop one run. Only runs with ``stoppable`` get the button: runs started on the kernel's event
  loop (an async cell), since a sync cell blocks the kernel and it would not hear the click.

The static twin (``views/twin.py``), the text view and the tests' replay of the front-end
(``tests/board_replay.py``) read the same shapes. Vocabulary (kinds, statuses, channels) lives in
``live/runs.py`` and ``langchain/tokens.py``; it is repeated here only as types.
"""

from __future__ import annotations

from typing import Literal, TypedDict

Kind = Literal["llm", "chain", "tool", "retriever"]
Status = Literal["running", "done", "error", "interrupted", "paused", "handed_off", "stopped"]
Channel = Literal["text", "reasoning", "tool_args"]


class RunMeta(TypedDict):
    """What a run is; sent once, when it starts."""

    id: str
    parent: str | None  # the shown parent run, or None for a root
    kind: Kind
    name: str
    order: int  # start order within the board
    model: str
    tags: list[str]
    inputs: str  # redacted, clipped preview of the prompt / tool input / query


class RunMetaExtra(TypedDict, total=False):
    stoppable: bool  # the kernel can hear a Stop for this run (started on its event loop)
    tool_call_id: str  # tool runs: the id of the model's tool call that started it
    thread: str  # LangGraph thread id, on the run where it first appears


class RunFigures(TypedDict, total=False):
    """Counts and timings (seconds, from the kernel's monotonic clock)."""

    tokens: int
    elapsed: float
    ttft: float
    tps: float
    streamed: bool  # the model's stream finished (its figures are final)


class ToolCallInfo(TypedDict):
    id: str
    name: str
    args: str  # JSON text


class RunOutcome(TypedDict, total=False):
    status: Status
    error: str  # one redacted line; for paused / handed_off runs, what they wait for / go to
    outputs: str  # redacted, clipped preview of a chain's or tool's result
    # input_tokens, output_tokens, total_tokens; when reported also cache_read (input tokens
    # served from the provider's cache) and reasoning (output tokens spent reasoning)
    usage: dict[str, int]
    events: list[str]  # custom events dispatched from inside the run
    tool_calls: list[ToolCallInfo]  # llm runs: the tool calls of the final message


class RunRow(RunMeta, RunMetaExtra, RunFigures, RunOutcome, total=False):
    """One run in the synced ``runs`` trait. ``text`` is present only for running runs
    (a refresh for views that missed deltas); finished runs' text is in ``archive``."""

    text: dict[Channel, str]


class RunUpdate(RunFigures, RunOutcome, total=False):
    """One run's changes in a tick."""

    delta: dict[Channel, str]  # text new since the previous tick
    reset: bool  # the text channel was replaced: ``delta["text"]`` is the whole text


class Tick(TypedDict):
    k: Literal["tick"]
    started: list[RunMeta]
    updates: dict[str, RunUpdate]


class StopRequest(TypedDict):
    """Front-end -> kernel: stop this run (its partial text stays; its status reads stopped)."""

    k: Literal["stop"]
    run: str


class FinishedRun(RunRow, total=False):
    """A run as the static twin and ``%lc_runs`` read it: a row plus its final text."""

    final: dict[Channel, str]
