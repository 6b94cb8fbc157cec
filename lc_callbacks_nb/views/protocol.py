"""The one written-down format between Python and the front-end (``board.js``, ``js/src/store.js``).

Every board is one anywidget. Kernel -> front-end traffic costs what the text costs, at any pace:
each piece of text crosses the wire once, in a small envelope, and never again while its run
streams.

* **Synced state** (traits; what a saved notebook rebuilds from): ``runs`` is a list of
  :class:`RunRow` (facts and figures, never text); ``archive`` is zlib-compressed JSON
  ``{run id: {channel: final text}}`` of finished runs; ``dropped`` counts finished runs evicted
  to bound memory; ``max_panels`` switches to the compact table. State syncs when runs end
  (at most once per second) and when the cell ends; a live run's row reaches a front-end that
  missed its start through a catch-up answer.
* **Ticks** (``model.send``, at most ``fps`` per second per board, none when nothing changed;
  live only, never stored): a :class:`Tick` carries the runs that started (their whole
  :class:`RunStart`, with the UUID) and, per run, only what changed, keyed by the run's
  *handle*: its start ``order`` in the board, as a string. An update (:data:`WireUpdate`) takes
  the smallest of three forms: a string (one token, that much more text), a list
  ``[tokens, text, reasoning, tool_args]`` (trailing empty channels left out), or an object
  (:class:`RunUpdate`: the first token's ``ttft``, a status, the final figures and outcome).
  The commonest tick, one run's new text, is a bare list: ``[handle, tokens, text, ...]``
  (:data:`TextTick`). A tick of new text alone waits while it would carry less than half its
  envelope in text (24 characters; the envelope is about 45 bytes), for at most 0.15 s: a slow
  stream sends a few ticks a second, not ``fps``.
  Elapsed time and tokens/s are not sent while a run streams: the browser derives them from its
  own clock, the start, ``ttft`` and the token count; the kernel's own figures come when the
  run's stream ends. A tick carrying 128 characters of text or more (a few hundred tokens a
  second and up) travels zlib-compressed, as a :class:`PackedTick`, when that is smaller.
* **Catching up** (front-end -> kernel -> front-end): a model built from state it did not see
  being built (a page reload, a second front-end) lacks the live runs' text so far. It sends a
  :class:`CatchUpRequest`; the kernel answers with a :class:`CaughtUp` (every live run's row,
  and in ``buffers[0]`` zlib-compressed JSON ``{run id: {channel: text}}``: the text *sent* so
  far, redacted as sent). The answer is taken under the lock the ticks are sent under, so it
  falls between two ticks: the front-end replaces the text with it and appends later ticks,
  losing and doubling nothing. Every front-end receives the answer; only the one whose ``id``
  it carries applies it. Several views of one model share the model's store and never ask.
* **From the front-end**, also: :class:`Shown` (a view is rendered) and :class:`StopRequest`
  (the panel's Stop button), which asks the kernel to stop one run. Only runs with
  ``stoppable`` get the button: runs started on the kernel's event loop (an async cell), since
  a sync cell blocks the kernel and it would not hear the click. (For the same reason a
  catch-up request waits for a sync cell's end; but while a sync cell blocks the kernel, a
  reloaded page cannot even fetch the widgets' state, and a second view of a model the page
  has shares its store.)

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


class RunStart(RunMeta, RunMetaExtra, total=False):
    """A run as a tick announces it."""

    elapsed: float  # seconds since it started, when sent (the browser's clock starts from it)


class RunFigures(TypedDict, total=False):
    """Counts and timings (seconds, from the kernel's monotonic clock). While a run streams
    only ``tokens`` (the total so far) and, once, ``ttft`` are sent; all of them when its stream
    ends, when the run ends, and in state rows."""

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
    """One run in the synced ``runs`` trait. No text: finished runs' text is in ``archive``,
    live runs' text reaches a view through ticks or a :class:`CaughtUp` answer. (Rows saved by
    earlier versions may carry a running run's ``text``; readers still accept it.)"""

    text: dict[Channel, str]


class RunUpdate(RunFigures, RunOutcome, total=False):
    """One run's changes in a tick, in the object form."""

    d: dict[Channel, str]  # text new since the previous tick, per channel
    reset: bool  # the text channel was replaced: ``d["text"]`` is the whole text


# A run's changes in a tick: "text" is one token and that text; [n, text, reasoning, tool_args]
# is n tokens and the new text per channel (trailing empty ones left out); else a RunUpdate.
WireUpdate = str | list[int | str] | RunUpdate


class Tick(TypedDict, total=False):
    """Kernel -> front-end; the message without ``k``. Either key is left out when empty."""

    s: list[RunStart]  # runs started since the previous tick
    u: dict[str, WireUpdate]  # run handle (str(order)) -> its changes


# One run's new text and token count, nothing else: [handle, tokens, text, reasoning?, tool_args?]
TextTick = list[int | str]


class PackedTick(TypedDict):
    """A :class:`Tick` or :data:`TextTick`, with ``buffers[0]`` = zlib(its JSON)."""

    k: Literal["z"]


class CatchUpRequest(TypedDict):
    """Front-end -> kernel: send me the live runs' text so far."""

    k: Literal["catch_up"]
    id: str  # the asker's own id, echoed in the answer


class CaughtUp(TypedDict):
    """Kernel -> front-end, with ``buffers[0]`` = zlib(JSON {run id: {channel: text sent}})."""

    k: Literal["caught_up"]
    id: str
    runs: list[RunRow]  # every live run, ``elapsed`` as of the answer


class StopRequest(TypedDict):
    """Front-end -> kernel: stop this run (its partial text stays; its status reads stopped)."""

    k: Literal["stop"]
    run: str


class Shown(TypedDict):
    """Front-end -> kernel, once per model: a view of this board is rendered (the kernel then
    need not display it again in a later cell for a run that outlived its own)."""

    k: Literal["shown"]


class FinishedRun(RunRow, total=False):
    """A run as the static twin and ``%lc_runs`` read it: a row plus its final text."""

    final: dict[Channel, str]
