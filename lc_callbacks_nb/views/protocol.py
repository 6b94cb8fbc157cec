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


# -- structured values: chain / tool / retriever inputs and outputs ---------------------------
# What ``live/values.py`` reads any input or output into, and every view renders (board.js via
# js/src/values.js, the text view, the static twin and %lc_runs via views/value_render.py).
# JSON-able, bounded (live/values.py: depth, items, characters), redacted at every leaf.
# A ``Value`` is a JSON scalar (a string is text shown as it is) or one of the dicts below,
# told apart by ``t``.


class TextValue(TypedDict):
    """A string too long to show whole: its first characters and its full length."""

    t: Literal["text"]
    text: str
    len: int


class MapValue(TypedDict, total=False):
    """A dict, a dataclass, a Pydantic model, LangGraph's ``Command``/``Send``/``Interrupt``:
    ``items`` are ``[key, value]`` pairs in order (a credential-named key's value is ``***``)."""

    t: Literal["map"]
    items: list[list[Value]]
    cls: str  # the class name of an object (absent for a plain dict)
    more: int  # entries left out (size bounds)


class ListValue(TypedDict, total=False):
    t: Literal["list"]
    items: list[Value]
    cls: str  # tuple, set, deque (absent for a list)
    more: int  # items left out


class CallValue(TypedDict, total=False):
    """A tool call, shown ``name(args)``."""

    t: Literal["call"]
    name: str
    args: str  # JSON text, clipped
    len: int  # the full length of ``args`` when clipped
    invalid: bool  # a tool call the model got wrong (LangChain's invalid_tool_calls)


class MediaValue(TypedDict, total=False):
    """Bytes or a base64 payload (an image, audio, a file, a data URL): never inline."""

    t: Literal["media"]
    kind: Literal["image", "audio", "video", "file", "bytes", "base64"]
    mime: str
    size: int  # bytes (decoded size of base64)
    url: str  # a remote URL (shown as text, never loaded)
    name: str  # a file name or provider file id


class DocValue(TypedDict, total=False):
    """A retriever's ``Document``: title and source when its metadata has them, first lines."""

    t: Literal["doc"]
    title: str
    source: str
    text: str
    len: int  # the full length of the page content when ``text`` is not all of it


class Message(TypedDict, total=False):
    """One message of a transcript."""

    t: Literal["msg"]
    role: str  # human, ai, tool, system, function, remove, or a ChatMessage's own role
    i: int  # its number on the board (what a FoldValue refers to); absent past the bound
    name: str  # a tool result's tool, or the speaker's name
    text: str  # answer text only (Markdown for ai), clipped
    len: int  # the full length of ``text`` when clipped
    reasoning: int  # characters of reasoning folded away (thinking, reasoning summaries)
    calls: list[CallValue]  # the tool calls an ai message makes
    status: str  # a tool result's status when not success ("error")
    parts: list[Value]  # other content: images, audio, files (MediaValue), unknown blocks


class FoldValue(TypedDict):
    """Messages shown earlier on the same board: ``n`` of them, by number ranges
    ``[[first, last], ...]`` (inclusive), to be looked up among what the board already has."""

    t: Literal["fold"]
    n: int
    at: list[list[int]]


class GapValue(TypedDict):
    """Messages left out of a long transcript (size bounds): not shown anywhere."""

    t: Literal["gap"]
    n: int


class MessagesValue(TypedDict, total=False):
    """A transcript: a list of messages, a ``{"messages": ...}`` state's list, a
    ``ChatPromptValue`` (``cls``), or one message alone."""

    t: Literal["msgs"]
    items: list[Message | FoldValue | GapValue]
    cls: str


class ObjValue(TypedDict, total=False):
    """Anything else: a clipped, redacted ``repr``."""

    t: Literal["obj"]
    cls: str
    text: str
    len: int  # the repr's full length when clipped


class CutValue(TypedDict):
    """Where reading stopped: a cycle, the depth bound or the size bound."""

    t: Literal["cut"]
    why: Literal["cycle", "depth", "size"]
    cls: str


Value = (
    str
    | int
    | float
    | bool
    | None
    | TextValue
    | MapValue
    | ListValue
    | CallValue
    | MediaValue
    | DocValue
    | MessagesValue
    | ObjValue
    | CutValue
)


class RunMeta(TypedDict):
    """What a run is; sent once, when it starts."""

    id: str
    parent: str | None  # the shown parent run, or None for a root
    kind: Kind
    name: str
    order: int  # start order within the board
    model: str
    tags: list[str]
    # llm runs: one redacted line, what the model was last asked (live/values.prompt_line);
    # others: the tool input / query / chain input as a Value (live/values.read)
    inputs: Value


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
    outputs: Value  # a chain's, tool's or retriever's result (live/values.read)
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
