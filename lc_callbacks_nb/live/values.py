"""The one reader of structured values: what a chain, tool or retriever got and gave, as a tree.

LangChain hands callbacks whatever the runnable took or returned: a graph state full of
messages, a ``Command``, a list of ``Document``, a Pydantic model, a string, bytes. :func:`read`
turns any of them into a small JSON-able tree (the ``Value`` types of ``views/protocol.py``)
that every view renders the same way: the live panel (``views/js/src/values.js``), the text
view, the static twin and ``%lc_runs`` (``views/value_render.py``).

* **Messages read as a transcript**: role (human, ai, tool, system, ...), the answer text only
  (reasoning folded to its size; signatures, ids and provider metadata never read), tool calls
  as ``name(args)``, tool results with their tool name and status; images, audio and files as
  their type and size. Lists of messages, ``{"messages": ...}`` states, ``Command(update=...)``,
  ``ChatPromptValue`` and OpenAI-style ``{"role", "content"}`` dicts alike.
* **Each message once per board**: given a :class:`Ledger` (one per board), a message already
  shown earlier becomes part of a ``fold`` ("… 6 earlier messages") that names it by its
  number in the ledger, so what a node shows is what it added, and the bytes shown grow with
  the conversation, not with its square. Messages are known by id, else by a hash of what
  they say (a dict message without an id and the ``HumanMessage`` LangGraph makes of it are
  one message).
* **Everything else, folded and bounded**: dicts, dataclasses and Pydantic models as key/value
  trees (class name kept), documents as title/source and first lines, long strings clipped
  with their full length, bytes and base64 payloads (data URLs, content blocks) as a size,
  LangGraph's ``Command``/``Send``/``Interrupt`` by class name (LangGraph is never imported),
  anything else as a short clipped ``repr``. Depth, items, cycles and total size are bounded.
* **Redacted at every leaf**: strings with :func:`redact` (what a model wrote with
  :func:`redact_model_text`), keys too, and the whole value of a field whose name says it is
  a credential (``api_key``, ``password``).
* **Never raises**: an object that cannot be read (a raising ``__repr__``, a broken
  ``Mapping``) becomes ``<ClassName>``.

No IPython, no widgets: this is the run model's side.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from langchain_core.prompt_values import ChatPromptValue, PromptValue

from .redact import MARK, redact, redact_model_text, secret_name

__all__ = ["Ledger", "prompt_line", "read", "text_of"]

# -- bounds --------------------------------------------------------------------------------
STRING_CLIP = 1_000  # characters of one string leaf
TEXT_CLIP = 20_000  # characters of a value that is one string (a tool's text result)
MESSAGE_CLIP = 2_000  # characters of one message's text
ARGS_CLIP = 400  # characters of one tool call's arguments (JSON)
DOC_LINES = 3  # first lines of a document
DOC_CLIP = 300
REPR_CLIP = 300
KEY_CLIP = 120
MIN_CLIP = 80  # a leaf still shows this much once the value's budget is spent
BUDGET = 24_000  # characters of all leaves of one value
MAX_DEPTH = 6
MAX_ITEMS = 40  # entries of one container
MAX_MESSAGES = 40  # new messages of one transcript (the latest are kept)
MAX_NODES = 1_500
LEDGER_SIZE = 20_000  # messages a board remembers having shown
_BASE64_MIN = 256  # a string this long of base64 characters alone is a payload, not text
_HASH_CHARS = 20_000

ROLES = {
    "human": "human",
    "user": "human",
    "ai": "ai",
    "assistant": "ai",
    "AIMessageChunk": "ai",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "function",
    "remove": "remove",
}
_LANGGRAPH = "langgraph"
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[^;,]*)*)(;base64)?,", re.I)
_WS = re.compile(r"\s+")


# -- the ledger: which messages a board has shown ----------------------------------------------
class Ledger:
    """The messages a board (or a cell's ``%lc_runs`` record) has already shown, numbered in
    the order they first appeared. Thread-safe; bounded (past ``size`` messages new ones are
    shown in full, never folded).

    Identity: a message's ``id`` when it has one (and the same shape, :func:`_shape`: LangGraph
    replaces a message by id, and an edited message is shown again), else a hash of role, text,
    tool calls and tool name. A message known by id costs a dict lookup, not a reading: a node
    is handed the whole conversation, and most of it was shown before. A message without an
    id matches one seen without an id; a message whose id is new may take over one seen
    without an id (the dict you passed and the ``HumanMessage`` LangGraph made of it), once.
    ``keep=True`` also keeps each message's tree, for :meth:`expand`.
    """

    def __init__(self, size: int = LEDGER_SIZE, *, keep: bool = False) -> None:
        self.size = size
        self.keep = keep
        self.lock = threading.RLock()
        self._by_id: dict[str, tuple[int, Any]] = {}  # id -> (number, shape)
        self._unbound: dict[str, list[int]] = {}  # digest -> numbers seen without an id
        self._count = 0
        self.messages: dict[int, dict[str, Any]] = {}  # number -> tree (keep=True)

    def __len__(self) -> int:
        return self._count

    def known(self, mid: str, shape: Any) -> int | None:
        """The number of the message with this id, if shown with this shape."""
        found = self._by_id.get(mid)
        return found[0] if found is not None and found[1] == shape else None

    def find(self, mid: str | None, digest: str, shape: Any = None) -> int | None:
        """The number of a message already shown, else None (and a new id takes over a
        matching message seen without one)."""
        if mid is not None and mid in self._by_id:
            return self.known(mid, shape)  # a different shape: edited, shown again
        numbers = self._unbound.get(digest)
        if not numbers:
            return None
        if mid is None:
            return numbers[0]
        number = numbers.pop(0)
        self._by_id[mid] = (number, shape)
        return number

    def add(
        self, mid: str | None, digest: str, tree: dict[str, Any], shape: Any = None
    ) -> int | None:
        if self._count >= self.size:
            return None
        number = self._count
        self._count += 1
        if mid is not None:
            self._by_id[mid] = (number, shape)
        else:
            self._unbound.setdefault(digest, []).append(number)
        if self.keep:
            self.messages[number] = tree
        return number

    def expand(self, value: Any) -> Any:
        """``value`` with every fold replaced by the messages it stands for (``keep=True``)."""
        if isinstance(value, list):
            return [self.expand(v) for v in value]
        if not isinstance(value, dict):
            return value
        if value.get("t") == "msgs":
            items: list[Any] = []
            for item in value.get("items", []):
                if isinstance(item, dict) and item.get("t") == "fold" and self.keep:
                    found = [
                        self.messages[n]
                        for a, b in item.get("at", [])
                        for n in range(a, b + 1)
                        if n in self.messages
                    ]
                    if len(found) == item.get("n"):
                        items.extend(found)
                        continue
                items.append(self.expand(item))
            return {**value, "items": items}
        return {k: self.expand(v) for k, v in value.items()}


# -- small helpers ---------------------------------------------------------------------------
def _type_name(obj: Any) -> str:
    try:
        return type(obj).__name__
    except Exception:
        return "object"


def _langgraph_name(obj: Any) -> str | None:
    """The class name if ``obj`` is one of LangGraph's own classes (never imports it)."""
    cls = type(obj)
    module = getattr(cls, "__module__", "") or ""
    if module == _LANGGRAPH or module.startswith(_LANGGRAPH + "."):
        return cls.__name__
    return None


def _safe_repr(obj: Any) -> str:
    try:
        text = repr(obj)
        return text if isinstance(text, str) else f"<{_type_name(obj)}>"
    except Exception:  # a repr that raises must not break the run
        return f"<{_type_name(obj)}>"


def _clean(text: str) -> str:
    """Valid UTF-8: surrogate pairs joined, lone halves U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    except Exception:
        return _safe_repr(value)


def _digest(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=12)
    for part in parts:
        text = part if isinstance(part, str) else _json(part)
        h.update(text[:_HASH_CHARS].encode("utf-8", "surrogatepass"))
        h.update(b"\x00%d\x00" % len(text))
    return h.hexdigest()


def _b64_size(text: str) -> int:
    body = text.rstrip("=")
    return len(body) * 3 // 4


def _looks_base64(text: str) -> bool:
    """A long run of base64 characters only (no spaces), with letters and digits."""
    n = len(text)
    if n < _BASE64_MIN:
        return False
    if n < 1000 and n % 4 and not text.endswith("="):
        return False
    head = text[:4096]
    if not _BASE64.fullmatch(head) or (n > 4096 and not _BASE64.fullmatch(text[-64:])):
        return False
    return any(c.isdigit() for c in head) and any(c.isupper() for c in head)


def _data_url(text: str) -> dict[str, Any] | None:
    m = _DATA_URL.match(text[:300])
    if m is None:
        return None
    body = len(text) - m.end()
    size = body * 3 // 4 if m.group(3) else body
    out: dict[str, Any] = {"t": "media", "kind": _kind_of_mime(m.group(1) or ""), "size": size}
    if m.group(1):
        out["mime"] = m.group(1).lower()
    return out


def _kind_of_mime(mime: str) -> str:
    major = mime.split("/", 1)[0].lower()
    return major if major in ("image", "audio", "video") else "file"


# -- the reader ------------------------------------------------------------------------------
class _Reader:
    def __init__(self, ledger: Ledger | None, budget: int) -> None:
        self.ledger = ledger
        self.left = budget
        self.nodes = 0
        self.path: set[int] = set()  # ids of the containers being read (cycles)

    # leaves
    def text(self, value: str, limit: int = STRING_CLIP, *, model: bool = False) -> Any:
        """A string leaf: base64 and data URLs as a size; else redacted and clipped."""
        n = len(value)
        if n >= _BASE64_MIN:
            media = _data_url(value) if value[:5].lower() == "data:" else None
            if media is not None:
                return media
            if _looks_base64(value):
                return {"t": "media", "kind": "base64", "size": _b64_size(value)}
        cap = max(MIN_CLIP, min(limit, self.left))
        shown = self.clip(value, cap, model=model)
        self.left -= len(shown)
        if n > cap:
            return {"t": "text", "text": shown, "len": n}
        return shown

    def clip(self, value: str, cap: int, *, model: bool = False) -> str:
        """``value`` redacted, then cut at ``cap``: redacting a little more than is kept, so
        a secret cut at the edge is still recognised."""
        window = value if len(value) <= cap else value[: cap + 200]
        red = (redact_model_text if model else redact)(_clean(window))
        return red if len(value) <= cap else red[:cap]

    def line(self, value: Any, limit: int) -> str:
        """A short label (a name, a role, a key): one line, redacted, clipped."""
        text = value if isinstance(value, str) else _safe_repr(value)
        text = _WS.sub(" ", text[: limit * 2]).strip()
        text = redact(_clean(text))
        return text if len(text) <= limit else text[: limit - 1] + "…"

    # any value
    def value(self, obj: Any, depth: int = 0) -> Any:
        self.nodes += 1
        try:
            return self._value(obj, depth)
        except Exception:  # an object that cannot be read still gets a line
            return {"t": "obj", "cls": self.line(_type_name(obj), KEY_CLIP), "text": ""}

    def _value(self, obj: Any, depth: int) -> Any:
        if obj is None or isinstance(obj, bool):
            return obj
        if isinstance(obj, int):
            return obj if abs(obj) < 2**53 else self.text(str(obj))
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else str(obj)
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return {"t": "media", "kind": "bytes", "size": _byte_size(obj)}
        if self.nodes > MAX_NODES or self.left <= 0:
            return {"t": "cut", "why": "size", "cls": self.line(_type_name(obj), KEY_CLIP)}
        if id(obj) in self.path:
            return {"t": "cut", "why": "cycle", "cls": self.line(_type_name(obj), KEY_CLIP)}
        if depth >= MAX_DEPTH:
            return {"t": "cut", "why": "depth", "cls": self.line(_type_name(obj), KEY_CLIP)}
        self.path.add(id(obj))
        try:
            return self._container(obj, depth)
        finally:
            self.path.discard(id(obj))

    def _container(self, obj: Any, depth: int) -> Any:
        if isinstance(obj, BaseMessage) or _message_dict(obj):
            return self.messages([obj])
        if isinstance(obj, ChatPromptValue):
            return self.messages(list(obj.messages), cls="ChatPromptValue")
        if isinstance(obj, PromptValue):
            return self.text(obj.to_string())
        if isinstance(obj, Document):
            return self.document(obj)
        graph = _langgraph_name(obj)
        if graph is not None:
            found = self.langgraph(graph, obj, depth)
            if found is not None:
                return found
        if isinstance(obj, Mapping):
            return self.mapping(obj, depth)
        fields = _fields(obj)  # before sequences: a namedtuple is a tuple with names
        if fields is not None:
            return self.mapping(fields, depth, cls=_type_name(obj))
        if isinstance(obj, (list, tuple, set, frozenset)) or _type_name(obj) == "deque":
            return self.sequence(obj, depth)
        return self.obj(obj)

    def obj(self, obj: Any) -> dict[str, Any]:
        text = _safe_repr(obj)
        shown = self.clip(text, REPR_CLIP)
        self.left -= len(shown)
        out: dict[str, Any] = {
            "t": "obj",
            "cls": self.line(_type_name(obj), KEY_CLIP),
            "text": shown,
        }
        if len(text) > REPR_CLIP:
            out["len"] = len(text)
        return out

    # containers
    def mapping(self, obj: Any, depth: int, *, cls: str | None = None) -> Any:
        if isinstance(obj, Mapping):
            call = self.tool_call(obj)
            if call is not None:
                return call
        items: list[list[Any]] = []
        more = 0
        entries = obj.items() if isinstance(obj, Mapping) else obj
        kind = cls
        for key, val in entries:
            if key == "__type" and isinstance(val, str) and kind is None:
                kind = val  # LangGraph's tagged dicts ({"__type": "tool_call_with_context"})
                continue
            if len(items) >= MAX_ITEMS or self.left <= 0 or self.nodes > MAX_NODES:
                more += 1
                continue
            name = key if isinstance(key, str) else _safe_repr(key)
            shown_key = self.line(name, KEY_CLIP)
            self.left -= len(shown_key)
            if secret_name(name) and val not in (None, "") and not isinstance(val, bool):
                items.append([shown_key, MARK])
            else:
                items.append([shown_key, self.value(val, depth + 1)])
        out: dict[str, Any] = {"t": "map", "items": items}
        if kind:
            out["cls"] = self.line(kind, KEY_CLIP)
        if more:
            out["more"] = more
        return out

    def sequence(self, obj: Any, depth: int) -> Any:
        try:
            items_in = list(obj) if not isinstance(obj, (list, tuple)) else obj
        except Exception:
            return self.obj(obj)
        if items_in and all(_is_message(v) for v in items_in):
            return self.messages(list(items_in))
        if _content_blocks(items_in):
            return self.content(list(items_in))
        items: list[Any] = []
        for val in items_in[:MAX_ITEMS]:
            if self.left <= 0 or self.nodes > MAX_NODES:
                break
            items.append(self.value(val, depth + 1))
        out: dict[str, Any] = {"t": "list", "items": items}
        if not isinstance(obj, list):
            out["cls"] = _type_name(obj)
        if len(items_in) > len(items):
            out["more"] = len(items_in) - len(items)
        return out

    def content(self, blocks: list[Mapping[str, Any]]) -> Any:
        """Content blocks outside a message (a tool's multimodal result): text as text (all
        text: one string), reasoning as its size, media as type and size, calls as calls."""
        if all(b.get("type") in _TEXT_BLOCKS for b in blocks):
            return self.text("".join(str(b.get("text") or "") for b in blocks))
        items: list[Any] = []
        for block in blocks[:MAX_ITEMS]:
            kind = block.get("type")
            if kind in _TEXT_BLOCKS:
                items.append(self.text(str(block.get("text") or "")))
            elif kind in _REASONING_BLOCKS:
                size = _reasoning_size(block)
                note = f"[reasoning: {size:,} characters]"
                items.append({"t": "obj", "cls": "reasoning", "text": note})
            elif kind in _CALL_BLOCKS:
                args = block.get("input", block.get("args", block.get("arguments")))
                items.append(self.call(block.get("name"), args))
            else:
                items.append(self.part(block))
        out: dict[str, Any] = {"t": "list", "items": items}
        if len(blocks) > len(items):
            out["more"] = len(blocks) - len(items)
        return out

    def langgraph(self, name: str, obj: Any, depth: int) -> Any:
        """LangGraph's control values, by class name: only the fields that say something."""
        if name == "Command":
            fields = [
                ("graph", "parent" if obj.graph == "__parent__" else obj.graph),
                ("update", obj.update),
                ("goto", obj.goto),
                ("resume", obj.resume),
            ]
        elif name == "Send":
            fields = [("node", obj.node), ("arg", obj.arg)]
        elif name == "Interrupt" or name == "Overwrite":
            fields = [("value", obj.value)]
        elif name == "GraphOutput":
            fields = [("value", obj.value), ("interrupts", obj.interrupts)]
        else:
            return None
        kept = [(k, v) for k, v in fields if v is not None and not (_empty(v) and k != "value")]
        return self.mapping(kept, depth, cls=name)

    def tool_call(self, obj: Mapping[str, Any]) -> dict[str, Any] | None:
        """LangChain's ``{"name", "args", "id", "type": "tool_call"}`` as ``name(args)``."""
        if obj.get("type") != "tool_call" or not isinstance(obj.get("name"), str):
            return None
        return self.call(obj.get("name"), obj.get("args"))

    def call(self, name: Any, args: Any, *, invalid: bool = False) -> dict[str, Any]:
        text = args if isinstance(args, str) else _json(args if args is not None else {})
        out: dict[str, Any] = {"t": "call", "name": self.line(name or "?", KEY_CLIP)}
        shown = self.clip(text, ARGS_CLIP)
        self.left -= len(shown) + len(out["name"])
        out["args"] = shown
        if len(text) > ARGS_CLIP:
            out["len"] = len(text)
        if invalid:
            out["invalid"] = True
        return out

    def document(self, doc: Any) -> dict[str, Any]:
        meta = doc.metadata if isinstance(getattr(doc, "metadata", None), Mapping) else {}
        content = (
            doc.page_content if isinstance(doc.page_content, str) else _safe_repr(doc.page_content)
        )
        out: dict[str, Any] = {"t": "doc"}
        title = meta.get("title") or meta.get("name")
        source = meta.get("source") or meta.get("url") or meta.get("file_path")
        if title:
            out["title"] = self.line(title, KEY_CLIP)
        if source:
            out["source"] = self.line(source, 2 * KEY_CLIP)
        lines = content.strip("\n").split("\n")
        head = "\n".join(lines[:DOC_LINES])
        cap = max(MIN_CLIP, min(DOC_CLIP, self.left))
        shown = self.clip(head, cap)
        self.left -= len(shown)
        out["text"] = shown
        if len(head) > cap or len(lines) > DOC_LINES:
            out["len"] = len(content)
        return out

    # messages
    def messages(self, items: list[Any], *, cls: str | None = None) -> dict[str, Any]:
        """A transcript. With a ledger, messages shown before fold into ranges of numbers;
        past MAX_MESSAGES new ones, the earliest new ones are counted, not shown."""
        ledger = self.ledger
        # first pass: the messages shown before (known by id, cheaply, or by what they say)
        read: list[_Message | int | None] = []
        for item in items:
            mid, shape = _shape(item)
            number = None
            if ledger is not None and mid is not None:
                with ledger.lock:
                    number = ledger.known(mid, shape)
            if number is not None:
                read.append(number)
                continue
            msg = _Message.of(item)
            if msg is not None:
                msg.shape = shape
                if ledger is not None:
                    with ledger.lock:
                        number = ledger.find(msg.id, msg.digest, shape)
            read.append(number if number is not None else msg)
        fresh = [i for i, m in enumerate(read) if isinstance(m, _Message)]
        keep = set(fresh[-MAX_MESSAGES:]) if len(fresh) > MAX_MESSAGES else None
        out_items: list[dict[str, Any]] = []
        hidden = 0
        for i, entry in enumerate(read):
            if isinstance(entry, int):
                _fold_into(out_items, entry)
                continue
            msg = entry
            if msg is None:  # unreadable: shown as a value
                out_items.append(self.value(items[i]))
                continue
            if keep is not None and i not in keep:
                hidden += 1
                continue
            if hidden:
                out_items.append({"t": "gap", "n": hidden})
                hidden = 0
            tree = self.message(msg)
            if ledger is not None:
                with ledger.lock:
                    # a parallel branch may have shown it meanwhile
                    number = ledger.find(msg.id, msg.digest, msg.shape)
                    if number is None:
                        number = ledger.add(msg.id, msg.digest, tree, msg.shape)
                    else:
                        _fold_into(out_items, number)
                        continue
                if number is not None:
                    tree["i"] = number
            out_items.append(tree)
        out: dict[str, Any] = {"t": "msgs", "items": out_items}
        if cls:
            out["cls"] = cls
        return out

    def message(self, msg: _Message) -> dict[str, Any]:
        out: dict[str, Any] = {"t": "msg", "role": self.line(msg.role, 40)}
        if msg.name:
            out["name"] = self.line(msg.name, KEY_CLIP)
        if msg.text:
            cap = max(MIN_CLIP, min(MESSAGE_CLIP, self.left))
            shown = self.clip(msg.text, cap, model=msg.role == "ai")
            self.left -= len(shown)
            out["text"] = shown
            if len(msg.text) > cap:
                out["len"] = len(msg.text)
        if msg.reasoning:
            out["reasoning"] = msg.reasoning
        if msg.calls:
            out["calls"] = [self.call(n, a, invalid=bad) for n, a, bad in msg.calls[:MAX_ITEMS]]
        if msg.status:
            out["status"] = self.line(msg.status, 40)
        if msg.parts:
            out["parts"] = [self.part(p) for p in msg.parts[:MAX_ITEMS]]
        return out

    def part(self, block: Any) -> Any:
        """A content block that is not text or reasoning: media as a size, else a value."""
        media = _media_block(block)
        if media is not None:
            if "url" in media:
                media["url"] = self.line(media["url"], 2 * KEY_CLIP)
            if "name" in media:
                media["name"] = self.line(media["name"], KEY_CLIP)
            return media
        return self.value(block, 1)


def _fold_into(items: list[dict[str, Any]], number: int) -> None:
    """Add message ``number`` to the fold that ends ``items``, or start one."""
    last = items[-1] if items else None
    if last is None or last.get("t") != "fold":
        items.append({"t": "fold", "n": 1, "at": [[number, number]]})
        return
    last["n"] += 1
    ranges = last["at"]
    if ranges[-1][1] + 1 == number:
        ranges[-1][1] = number
    else:
        ranges.append([number, number])


def _byte_size(obj: Any) -> int:
    try:
        return memoryview(obj).nbytes
    except Exception:
        return len(obj)


def _empty(value: Any) -> bool:
    try:
        return isinstance(value, (str, list, tuple, dict, set, frozenset)) and len(value) == 0
    except Exception:
        return False


def _fields(obj: Any) -> list[tuple[str, Any]] | None:
    """(name, value) of a dataclass's, a Pydantic model's or a namedtuple's fields."""
    cls = type(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [(f.name, getattr(obj, f.name, None)) for f in dataclasses.fields(obj) if f.repr]
    model_fields = getattr(cls, "model_fields", None)
    if isinstance(model_fields, Mapping) and hasattr(obj, "model_dump"):
        out = [
            (name, getattr(obj, name, None))
            for name, info in model_fields.items()
            if getattr(info, "repr", True)
        ]
        extra = getattr(obj, "model_extra", None)
        if isinstance(extra, Mapping):
            out.extend(extra.items())
        return out
    names = getattr(cls, "_fields", None)
    if isinstance(obj, tuple) and isinstance(names, tuple):
        return list(zip(names, obj, strict=False))
    return None


# -- messages --------------------------------------------------------------------------------
def _shape(obj: Any) -> tuple[str | None, Any]:
    """(id, shape) of a message: the id it carries and a cheap fingerprint (type, content
    size, tool calls, status) that an edit by id changes; ``(None, None)`` without an id."""
    mid: Any
    kind: Any
    content: Any
    try:
        if isinstance(obj, BaseMessage):
            mid, kind, content = obj.id, obj.type, obj.content
            # (getattr on a pydantic message that lacks the field is slow: ask by type)
            calls = getattr(obj, "tool_calls", ()) if kind in ("ai", "AIMessageChunk") else ()
            status = getattr(obj, "status", None) if kind == "tool" else None
        elif isinstance(obj, Mapping) and "id" in obj:
            mid, kind, content = obj.get("id"), obj.get("role"), obj.get("content")
            calls, status = obj.get("tool_calls") or (), None
        else:
            return None, None
        if not isinstance(mid, str) or not mid:
            return None, None
        if isinstance(content, list):
            size = sum(len(b.get("text") or "") if isinstance(b, Mapping) else 1 for b in content)
            size += 1_000_000 * len(content)
        else:
            size = len(content) if isinstance(content, str) else -1
        return mid, (kind, size, len(calls), status)
    except Exception:
        return None, None


def _message_dict(obj: Any) -> bool:
    """An OpenAI-style message dict: ``{"role": "user", "content": ...}``."""
    if not isinstance(obj, Mapping):
        return False
    role = obj.get("role")
    return isinstance(role, str) and role in ROLES and "content" in obj and len(obj) <= 8


def _is_message(obj: Any) -> bool:
    if isinstance(obj, BaseMessage) or _message_dict(obj):
        return True
    # LangChain's message-like tuples: ("human", "hello")
    return (
        isinstance(obj, tuple)
        and len(obj) == 2
        and isinstance(obj[0], str)
        and obj[0] in ROLES
        and isinstance(obj[1], (str, list))
    )


@dataclasses.dataclass
class _Message:
    role: str
    text: str = ""
    reasoning: int = 0  # characters of reasoning, folded
    calls: list[tuple[Any, Any, bool]] = dataclasses.field(default_factory=list)
    name: str = ""
    status: str = ""
    parts: list[Any] = dataclasses.field(default_factory=list)
    id: str | None = None
    digest: str = ""
    shape: Any = None  # _shape(): what an id must still match to be the same message

    @classmethod
    def of(cls, obj: Any) -> _Message | None:
        try:
            msg = cls._read(obj)
        except Exception:
            return None
        if msg is not None:
            msg.digest = _digest(msg.role, msg.text, [(n, a) for n, a, _ in msg.calls], msg.name)
        return msg

    @classmethod
    def _read(cls, obj: Any) -> _Message | None:
        if isinstance(obj, BaseMessage):
            kind = obj.type
            role = getattr(obj, "role", kind) if kind == "chat" else kind
            msg = cls(role=ROLES.get(role, role) if isinstance(role, str) else "chat")
            mid = obj.id
            msg.id = mid if isinstance(mid, str) and mid else None
            msg.name = obj.name if isinstance(obj.name, str) else ""
            if kind == "tool":
                status = getattr(obj, "status", "")
                msg.status = status if status and status != "success" else ""
            _read_content(msg, obj.content)
            extra = obj.additional_kwargs if isinstance(obj.additional_kwargs, Mapping) else {}
            thought = extra.get("reasoning_content")
            if isinstance(thought, str):
                msg.reasoning += len(thought)
            calls = getattr(obj, "tool_calls", None) or []
            for call in calls:
                msg.calls.append((call.get("name"), call.get("args"), False))
            for bad in getattr(obj, "invalid_tool_calls", None) or []:
                msg.calls.append((bad.get("name"), bad.get("args"), True))
            if not msg.calls and isinstance(extra.get("function_call"), Mapping):
                fc = extra["function_call"]
                msg.calls.append((fc.get("name"), fc.get("arguments"), False))
            if calls:  # the same calls again as content blocks (Anthropic's tool_use, OpenAI
                # Responses' function_call, whose call_id is the tool call's id)
                ids = {c.get("id") for c in calls} - {None}
                names = {c.get("name") for c in calls}
                msg.parts = [p for p in msg.parts if not _duplicate_call(p, ids, names)]
            return msg
        if isinstance(obj, Mapping):
            role = obj["role"]
            msg = cls(role=ROLES.get(role, role))
            mid = obj.get("id")
            msg.id = mid if isinstance(mid, str) and mid else None
            if isinstance(obj.get("name"), str):
                msg.name = obj["name"]
            _read_content(msg, obj.get("content"))
            for call in obj.get("tool_calls") or []:
                if isinstance(call, Mapping):
                    inner = call.get("function")  # OpenAI: {"function": {"name", "arguments"}}
                    fn: Mapping[str, Any] = inner if isinstance(inner, Mapping) else call
                    msg.calls.append((fn.get("name"), fn.get("arguments", fn.get("args")), False))
            return msg
        if isinstance(obj, tuple):
            msg = cls(role=ROLES[obj[0]])
            _read_content(msg, obj[1])
            return msg
        return None


_TEXT_BLOCKS = ("text", "output_text", "input_text")
_REASONING_BLOCKS = ("thinking", "reasoning", "redacted_thinking")
_CALL_BLOCKS = ("tool_use", "tool_call", "function_call", "server_tool_use", "server_tool_call")
_SKIPPED_BLOCKS = ("tool_call_chunk",)


def _read_content(msg: _Message, content: Any) -> None:
    """Answer text, reasoning size and other parts of a message's content."""
    if isinstance(content, str):
        msg.text = content
        return
    if content is None:
        return
    if not isinstance(content, list):
        msg.parts.append(content)
        return
    texts: list[str] = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
            continue
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind in _TEXT_BLOCKS and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind in _REASONING_BLOCKS:
            msg.reasoning += _reasoning_size(block)
        elif kind == "refusal" and isinstance(block.get("refusal"), str):
            texts.append(block["refusal"])
        elif kind in _SKIPPED_BLOCKS:
            continue
        else:
            msg.parts.append(block)
    msg.text = "".join(texts)


_MEDIA_BLOCKS = ("image", "image_url", "input_image", "audio", "input_audio", "video", "file",
                 "input_file", "document")  # fmt: skip


def _content_blocks(items: Any) -> bool:
    """A list of LangChain / provider content blocks (every item a dict with a ``type``, one of
    them text, reasoning, media or a call)."""
    typed = (isinstance(b, Mapping) and isinstance(b.get("type"), str) for b in items)
    if not items or not all(typed):
        return False
    known = (*_TEXT_BLOCKS, *_REASONING_BLOCKS, *_CALL_BLOCKS, *_MEDIA_BLOCKS)
    return any(b["type"] in known for b in items)


def _reasoning_size(block: Mapping[str, Any]) -> int:
    size = 0
    for key in ("thinking", "reasoning", "data"):
        if isinstance(block.get(key), str):
            size += len(block[key])
    for part in block.get("summary") or []:  # OpenAI Responses: summary parts
        if isinstance(part, Mapping) and isinstance(part.get("text"), str):
            size += len(part["text"])
    return size


def _duplicate_call(block: Any, ids: set[Any], names: set[Any]) -> bool:
    if not isinstance(block, Mapping) or block.get("type") not in _CALL_BLOCKS:
        return False
    if block.get("id") in ids or block.get("call_id") in ids:
        return True
    # no id to match (some providers): a call block naming a parsed call is that call
    return block.get("id") is None and block.get("call_id") is None and block.get("name") in names


def _media_block(block: Any) -> dict[str, Any] | None:
    """Image, audio, video and file content blocks of any provider, as kind, MIME and size."""
    if not isinstance(block, Mapping):
        return None
    kind = block.get("type")
    if not isinstance(kind, str):
        return None
    base = kind.replace("input_", "").replace("_url", "")
    if base == "document":
        base = "file"
    if base not in ("image", "audio", "video", "file"):
        return None
    out: dict[str, Any] = {"t": "media", "kind": base}
    mime = block.get("mime_type") or block.get("media_type")
    data = block.get("base64") or block.get("data")
    url = block.get("url")
    nested = block.get(kind) if kind in ("image_url", "input_audio") else None
    if isinstance(nested, Mapping):  # OpenAI: {"image_url": {"url": ...}}, {"input_audio": ...}
        url = nested.get("url", url)
        data = nested.get("data", data)
        if nested.get("format"):
            mime = mime or f"{base}/{nested['format']}"
    elif isinstance(nested, str):
        url = nested
    source = block.get("source")
    if isinstance(source, Mapping):  # Anthropic: {"source": {"type": "base64", ...}}
        mime = mime or source.get("media_type")
        data = source.get("data", data)
        url = source.get("url", url)
    if isinstance(block.get("image_url"), str):  # Responses API input_image
        url = block["image_url"]
    if isinstance(url, str) and url.lower().startswith("data:"):
        found = _data_url(url)
        if found is not None:
            mime = mime or found.get("mime")
            out["size"] = found["size"]
        url = None
    if isinstance(data, str):
        out["size"] = _b64_size(data)
    elif isinstance(data, (bytes, bytearray)):
        out["size"] = len(data)
    if isinstance(mime, str) and mime:
        out["mime"] = mime
    if isinstance(url, str) and url:
        out["url"] = url
    name = (
        block.get("filename") or block.get("file_id") or (block.get("extras") or {}).get("filename")
    )
    if isinstance(name, str) and name:
        out["name"] = name
    return out


# -- public ------------------------------------------------------------------------------------
def read(value: Any, ledger: Ledger | None = None, *, budget: int = BUDGET) -> Any:
    """``value`` as a ``Value`` tree (see ``views/protocol.py``): bounded, redacted at every
    leaf, never raising. With a ``ledger``, messages it has seen fold (and new ones join it)."""
    try:
        reader = _Reader(ledger, budget)
        if isinstance(value, str):  # the whole value: as much as the budget allows
            return reader.text(value, TEXT_CLIP)
        return reader.value(value)
    except Exception:  # pragma: no cover - _Reader.value catches per node already
        return {"t": "obj", "cls": _type_name(value), "text": ""}


def text_of(content: Any) -> str:
    """The answer text of a message's content (a string or a list of content blocks)."""
    msg = _Message(role="ai")
    try:
        _read_content(msg, content)
    except Exception:
        return ""
    return msg.text


def prompt_line(messages: Iterable[Any], limit: int = 300) -> str:
    """What a model run was asked, in one redacted line: the last message's text, else its
    tool calls (``→ get_weather({"city": "Paris"})``), a tool result with its tool's name."""
    try:
        items = list(messages)
        msg = _Message.of(items[-1]) if items else None
    except Exception:
        return ""
    if msg is None:
        return ""
    text = msg.text.strip()
    if not text and msg.calls:
        text = "→ " + ", ".join(
            f"{n}({a if isinstance(a, str) else _json(a)})" for n, a, _ in msg.calls
        )
    if msg.role == "tool" and msg.name:
        text = f"{msg.name}: {text}"
    if not text and msg.parts:
        text = f"[{len(msg.parts)} attachment{'s' if len(msg.parts) != 1 else ''}]"
    text = _WS.sub(" ", text[: limit * 2]).strip()
    text = redact(_clean(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"
