"""Write a ``Value`` (``live/values.py``, types in ``protocol.py``) as text or script-free HTML.

The text view, the static twin (text/plain and text/html) and ``%lc_runs`` render inputs and
outputs here; the live panel renders the same tree in ``js/src/values.js`` with the same rules:

* a transcript is one entry per message: ``role[ name][ [reasoning: N characters]]: text``,
  its tool calls as ``→ name(args)`` lines, media as ``[image · image/png · 2.9 KB]``;
  messages shown earlier on the board are one line, ``… 6 earlier messages (shown above)``
  (where: :class:`FoldPlaces`; the live panel shows them again on a click);
* a short dict or list of scalars is one line, JSON-like (``{"city": "Paris"}``, an object's
  class as ``Send(node: "worker")``); otherwise one ``key: value`` line per entry, nested
  values indented under their key, a chain of single-key dicts as one path
  (``update › messages:``), a one-item list as its item, a state that holds only
  ``messages`` as its transcript;
* clipped texts say so with their full length, like the twin: ``… [clipped: 1,000 of 5,432
  characters]``.

Values arrive redacted (the reader did it); the HTML writer escapes every text and makes
attribute and URL look-alikes inert (:func:`inert_html`), and emits no script, no event
attribute, no URL attribute, no style element.
"""

from __future__ import annotations

import html as _html
import json
import re
from collections.abc import Callable
from typing import Any

__all__ = ["FoldPlaces", "inert_html", "printable", "value_html", "value_lines", "value_summary"]

INLINE = 100  # characters of a one-line dict or list
_BLOCKS = ("msgs", "msg", "map", "list")  # nodes written under their key, never beside it
EARLIER = "shown above"
# what a fold says about where its messages are: a fixed phrase, or one per fold (FoldPlaces)
Earlier = str | Callable[[dict[str, Any]], str]


# -- shared reading ------------------------------------------------------------------------
def _node(value: Any) -> str:
    """The node type of a value: its ``t``, or ``scalar``."""
    if isinstance(value, dict):
        t = value.get("t")
        return t if isinstance(t, str) else "map?"
    if isinstance(value, list):
        return "list?"
    return "scalar"


def _scalar(value: Any) -> str:
    """A scalar in the JSON spelling (strings as they are)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value if isinstance(value, str) else str(value)


def _quoted(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return _scalar(value)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _size(n: Any) -> str:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        return ""
    if n < 1024:
        return f"{n:,} B"
    if n < 1024**2:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024**2:.1f} MB"


def _clip_note(shown: str, full: Any) -> str:
    if not isinstance(full, int) or full <= len(shown):
        return ""
    return f"… [clipped: {len(shown):,} of {full:,} characters]"


def inline(value: Any) -> str | None:
    """A value's one-line form, if it has a short one (scalars, small dicts and lists of them)."""
    kind = _node(value)
    if kind == "scalar":
        text = _scalar(value)
        return None if "\n" in text else text
    if kind == "call":
        return call_text(value)
    if kind == "media":
        return media_text(value)
    if kind not in ("map", "list") or value.get("more"):
        return None
    items = value.get("items")
    if not isinstance(items, list):
        return None
    parts = []
    for item in items:
        if kind == "map":
            if not (isinstance(item, list) and len(item) == 2) or _node(item[1]) != "scalar":
                return None
            key = _scalar(item[0])
            parts.append(
                f"{key}={_quoted(item[1])}"
                if value.get("cls")
                else f"{_quoted(key)}: {_quoted(item[1])}"
            )
        else:
            if _node(item) != "scalar":
                return None
            parts.append(_quoted(item))
    body = ", ".join(parts)
    cls = value.get("cls")
    if cls:
        text = f"{cls}({body})"
    elif kind == "map":
        text = "{" + body + "}"
    else:
        text = "[" + body + "]"
    return text if len(text) <= INLINE and "\n" not in text else None


def call_text(value: dict[str, Any]) -> str:
    name = _scalar(value.get("name", "?"))
    args = _scalar(value.get("args", ""))
    note = _clip_note(args, value.get("len"))
    text = f"{name}({args}{' ' + note if note else ''})"
    return text + (" [invalid]" if value.get("invalid") else "")


def media_text(value: dict[str, Any]) -> str:
    parts = [_scalar(value.get("kind", "bytes"))]
    for key in ("mime", "name"):
        if value.get(key):
            parts.append(_scalar(value[key]))
    size = _size(value.get("size"))
    if size:
        parts.append(size)
    if value.get("url"):
        parts.append(_scalar(value["url"]))
    return "[" + " · ".join(parts) + "]"


def _cut_text(value: dict[str, Any]) -> str:
    why = value.get("why")
    cls = _scalar(value.get("cls", ""))
    if why == "cycle":
        return f"… (a cycle: this {cls} again)"
    if why == "depth":
        return f"… ({cls} nested too deep)"
    return f"… ({cls} left out: size bound)"


def _message_head(msg: dict[str, Any]) -> str:
    head = _scalar(msg.get("role", "?"))
    if msg.get("name"):
        head += f" {_scalar(msg['name'])}"
    if msg.get("status"):
        head += f" [{_scalar(msg['status'])}]"
    if msg.get("reasoning"):
        head += f" [reasoning: {_plural(int(msg['reasoning']), 'character')}]"
    return head


def fold_text(item: dict[str, Any], where: Earlier = EARLIER) -> str:
    n = item.get("n", 0)
    word = "earlier message" if item.get("t") == "fold" else "message"
    place = where(item) if callable(where) else where
    tail = (f" ({place})" if place else "") if item.get("t") == "fold" else " not shown"
    return f"… {_plural(n if isinstance(n, int) else 0, word)}{tail}"


def message_numbers(value: Any) -> list[int]:
    """The board numbers (``i``) of the messages a value shows in full."""
    found: list[int] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            if v.get("t") == "msg" and isinstance(v.get("i"), int):
                found.append(v["i"])
            for key in ("items", "parts"):
                if isinstance(v.get(key), list):
                    stack.extend(v[key])
    return found


class FoldPlaces:
    """Where, in a page of runs written top to bottom, each message is shown in full: so a
    fold can say "shown above" or "shown below" (a graph's output is written before the
    nodes inside it that showed its messages)."""

    def __init__(self) -> None:
        self.first: dict[int, tuple[int, int]] = {}

    def add(self, place: tuple[int, int], value: Any) -> None:
        for number in message_numbers(value):
            self.first.setdefault(number, place)

    def at(self, place: tuple[int, int]) -> Callable[[dict[str, Any]], str]:
        """What a fold written at ``place`` (run index, 0 for in / 1 for out) says."""

        def where(item: dict[str, Any]) -> str:
            seen = set()
            for pair in item.get("at") or []:
                if isinstance(pair, list) and len(pair) == 2:
                    for n in range(pair[0], min(pair[1], pair[0] + 10_000) + 1):
                        if n in self.first:
                            seen.add(self.first[n] < place)
            if not seen:
                return "no longer shown"
            return {frozenset({True}): "shown above", frozenset({False}): "shown below"}.get(
                frozenset(seen), "shown above and below"
            )

        return where


def _single_path(value: Any) -> tuple[list[str], Any]:
    """Keys of a chain of single-entry plain dicts, and the value at its end."""
    path: list[str] = []
    while (
        _node(value) == "map"
        and not value.get("cls")
        and not value.get("more")
        and isinstance(value.get("items"), list)
        and len(value["items"]) == 1
        and inline(value) is None
    ):
        key, value = value["items"][0]
        path.append(_scalar(key))
    return path, value


def _sole_item(value: Any) -> Any:
    """A one-item list (no class, nothing left out) stands for its item; a state that is only
    ``{"messages": [...]}`` for its transcript."""
    while True:
        kind = _node(value)
        if kind not in ("list", "map") or value.get("cls") or value.get("more"):
            return value
        items = value.get("items")
        if not isinstance(items, list) or len(items) != 1:
            return value
        if kind == "list" and _node(items[0]) != "scalar":
            value = items[0]
        elif kind == "map" and items[0][0] == "messages" and _node(items[0][1]) == "msgs":
            value = items[0][1]
        else:
            return value


# -- text ------------------------------------------------------------------------------------
def value_lines(value: Any, *, earlier: Earlier = EARLIER) -> list[str]:
    """The value as lines of text (nested parts indented by two spaces)."""
    try:
        return _lines(value, earlier)
    except Exception:  # a malformed tree (an old notebook, a hand-made row) still shows
        return [str(value)[:200]]


def _indent(lines: list[str], pad: str = "  ") -> list[str]:
    return [pad + line if line else line for line in lines]


def _text_lines(text: str, full: Any = None) -> list[str]:
    lines = text.split("\n")
    note = _clip_note(text, full)
    if note:
        lines[-1] = f"{lines[-1]} {note}" if lines[-1] else note
    return lines


def _lines(value: Any, earlier: Earlier) -> list[str]:
    value = _sole_item(value)
    one = inline(value)
    if one is not None:
        return [one]
    kind = _node(value)
    if kind == "text":
        return _text_lines(_scalar(value.get("text", "")), value.get("len"))
    if kind == "obj":
        return _text_lines(_scalar(value.get("text", "")), value.get("len"))
    if kind == "cut":
        return [_cut_text(value)]
    if kind == "doc":
        return _doc_lines(value)
    if kind == "msgs":
        out = [f"{value['cls']}:"] if value.get("cls") else []
        for item in value.get("items", []):
            out.extend(_message_lines(item, earlier))
        return out
    if kind == "msg":
        return _message_lines(value, earlier)
    if kind == "map":
        return _map_lines(value, earlier)
    if kind == "list":
        out = [f"{value['cls']}:"] if value.get("cls") else []
        for item in value.get("items", []):
            sub = _lines(item, earlier)
            out.append(f"- {sub[0]}" if sub else "-")
            out.extend(_indent(sub[1:]))
        if value.get("more"):
            out.append(f"… {_plural(value['more'], 'more item')}")
        return out
    return [str(value)]


def _cls_label(value: dict[str, Any]) -> tuple[str, bool]:
    """An object's class as a header line, or, when it has one entry only, as the first step
    of that entry's label (``Command › update``)."""
    cls = _scalar(value["cls"]) if value.get("cls") else ""
    alone = bool(cls) and len(value.get("items") or []) == 1 and not value.get("more")
    return cls, alone


def _map_lines(value: dict[str, Any], earlier: Earlier) -> list[str]:
    cls, alone = _cls_label(value)
    out = [cls] if cls and not alone else []
    pad = "  " if cls and not alone else ""
    for item in value.get("items", []):
        if not (isinstance(item, list) and len(item) == 2):
            continue
        key, val = _scalar(item[0]), item[1]
        path, val = _single_path(_sole_item(val))
        label = " › ".join([cls, key, *path] if alone else [key, *path])
        sub = _lines(val, earlier)
        if len(sub) == 1 and (inline(val) is not None or _node(val) not in _BLOCKS):
            out.append(f"{pad}{label}: {sub[0]}")
        else:
            out.append(f"{pad}{label}:")
            out.extend(_indent(sub, pad + "  "))
    if value.get("more"):
        out.append(f"{pad}… {_plural(value['more'], 'more entry')}".replace("entrys", "entries"))
    return out


def _message_lines(item: Any, earlier: Earlier) -> list[str]:
    kind = _node(item)
    if kind in ("fold", "gap"):
        return [fold_text(item, earlier)]
    if kind != "msg":
        return _lines(item, earlier)
    head = _message_head(item)
    text = _scalar(item.get("text", ""))
    body = _text_lines(text, item.get("len")) if text else []
    calls = [f"→ {call_text(c)}" for c in item.get("calls", []) if isinstance(c, dict)]
    parts = []
    for part in item.get("parts", []):
        parts.extend(_lines(part, earlier))
    rest = [*calls, *parts]
    if body:
        first, more = body[0], body[1:]
    elif rest:
        first, more, rest = rest[0], [], rest[1:]
    else:
        first, more = "", []
    lines = [f"{head}: {first}".rstrip()]
    lines.extend(_indent(more))
    lines.extend(_indent(rest))
    return lines


def _doc_parts(value: dict[str, Any]) -> tuple[str, list[str]]:
    """``document title · source:`` and the lines of its text (with a clip note)."""
    label = " · ".join(_scalar(value[k]) for k in ("title", "source") if value.get(k))
    text = _scalar(value.get("text", ""))
    lines = text.split("\n") if text else []
    if isinstance(value.get("len"), int) and value["len"] > len(text):
        lines.append(f"… [{value['len']:,} characters]")
    return (f"document {label}:" if label else "document:"), lines


def _doc_beside(head: str, lines: list[str]) -> bool:
    """A one-line document is written beside its label."""
    return len(lines) == 1 and len(head) + len(lines[0]) < INLINE


def _doc_lines(value: dict[str, Any]) -> list[str]:
    head, lines = _doc_parts(value)
    if _doc_beside(head, lines):
        return [f"{head} {lines[0]}"]
    return [head, *_indent(lines)]


def value_summary(value: Any, limit: int = 80) -> str:
    """One line: the inline form, else the first line of the text form."""
    lines = value_lines(value)
    text = " ↵ ".join(line.strip() for line in lines[:3] if line.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- HTML ------------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _control_picture(m: re.Match[str]) -> str:
    code = ord(m.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ .. ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"  # C1 controls


def printable(text: str) -> str:
    """Valid, printable text: lone surrogates → U+FFFD, controls → visible pictures."""
    if not text.isascii():
        # Pairs of surrogates become the character they encode; lone ones U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = text.replace("\r\n", "\n")
    return _CONTROL.sub(_control_picture, text)


_INERT = re.compile(
    r"(?i)(\b(?:on[a-z]+|src|srcset|href|xlink:href|action|formaction|style|background)\s*)="
)
_SCHEME = re.compile(r"(?i)\b(javascript|vbscript|livescript)(\s*):")


def inert_html(text: str) -> str:
    """Text as HTML text content: printable, escaped, attribute/URL look-alikes made inert."""
    escaped = _html.escape(printable(text), quote=False)
    escaped = _INERT.sub(r"\1&#61;", escaped)
    return _SCHEME.sub(r"\1\2&#58;", escaped)


_MUTED = "color:var(--jp-ui-font-color2,#888)"
_KEY = "color:var(--jp-ui-font-color2,#666);font-weight:600"
_TEXT = "white-space:pre-wrap;word-break:break-word"
_ROLE = (
    "display:inline-block;min-width:3.2em;text-align:center;border-radius:3px;padding:0 4px;"
    "margin-right:6px;font-size:11px;font-weight:600;color:#fff;background:{}"
)
ROLE_COLORS = {"human": "#1a73e8", "ai": "#188038", "tool": "#7b3fc4", "system": "#5f6368"}
_ROW = "margin:2px 0"
_NEST = "margin-left:1.2em"
_CODE = "font-family:var(--jp-code-font-family,monospace);font-size:12px"


def value_html(value: Any, *, earlier: Earlier = EARLIER) -> str:
    """The value as script-free HTML (inline styles only), the same structure as the text."""
    try:
        return _html_of(value, earlier, 0)
    except Exception:
        return f'<span style="{_TEXT}">{inert_html(str(value)[:200])}</span>'


def _span(text: str, style: str = _TEXT) -> str:
    return f'<span style="{style}">{inert_html(text)}</span>'


def _html_of(value: Any, earlier: Earlier, depth: int) -> str:
    value = _sole_item(value)
    one = inline(value)
    if one is not None:
        kind = _node(value)
        style = _CODE if kind in ("map", "list", "call") else _TEXT
        return _span(one, style)
    kind = _node(value)
    if kind in ("text", "obj"):
        text = _scalar(value.get("text", ""))
        note = _clip_note(text, value.get("len"))
        return _span(text) + (" " + _span(note, _MUTED) if note else "")
    if kind == "cut":
        return _span(_cut_text(value), _MUTED)
    if kind == "doc":
        head, lines = _doc_parts(value)
        if _doc_beside(head, lines):
            return f'<div style="{_ROW}">{_span(head, _KEY)} {_span(lines[0])}</div>'
        return (
            f'<div style="{_ROW}">{_span(head, _KEY)}'
            f'<div style="{_NEST};{_TEXT}">{inert_html(chr(10).join(lines))}</div></div>'
        )
    if kind in ("msgs", "msg"):
        items = value.get("items", []) if kind == "msgs" else [value]
        head = (
            f'<div style="{_KEY}">{inert_html(_scalar(value["cls"]))}</div>'
            if value.get("cls")
            else ""
        )
        return head + "".join(_message_html(item, earlier, depth) for item in items)
    if kind == "map":
        return _map_html(value, earlier, depth)
    if kind == "list":
        head = (
            f'<div style="{_KEY}">{inert_html(_scalar(value["cls"]))}</div>'
            if value.get("cls")
            else ""
        )
        bullet = f'<span style="{_MUTED}">- </span>'
        rows = [
            f'<div style="{_ROW}">{bullet}{_html_of(item, earlier, depth + 1)}</div>'
            for item in value.get("items", [])
        ]
        if value.get("more"):
            rows.append(f'<div style="{_MUTED}">… {_plural(value["more"], "more item")}</div>')
        return head + "".join(rows)
    return _span(str(value))


def _map_html(value: dict[str, Any], earlier: Earlier, depth: int) -> str:
    out = []
    cls, alone = _cls_label(value)
    if cls and not alone:
        out.append(f'<div style="{_KEY}">{inert_html(cls)}</div>')
    rows = []
    for item in value.get("items", []):
        if not (isinstance(item, list) and len(item) == 2):
            continue
        key, val = _scalar(item[0]), item[1]
        path, val = _single_path(_sole_item(val))
        label = inert_html(" › ".join([cls, key, *path] if alone else [key, *path]))
        inner = _sole_item(val)
        if inline(inner) is not None or _node(inner) in ("text", "obj", "cut", "media", "call"):
            rows.append(
                f'<div style="{_ROW}"><span style="{_KEY}">{label}:</span> '
                f"{_html_of(inner, earlier, depth + 1)}</div>"
            )
        else:
            state = " open" if depth < 2 or _node(inner) in ("msgs", "msg") else ""
            rows.append(
                f'<details{state} style="{_ROW}"><summary style="cursor:pointer">'
                f'<span style="{_KEY}">{label}</span></summary>'
                f'<div style="{_NEST}">{_html_of(inner, earlier, depth + 1)}</div></details>'
            )
    if value.get("more"):
        rows.append(f'<div style="{_MUTED}">… {value["more"]:,} more</div>')
    body = "".join(rows)
    if cls and not alone:
        body = f'<div style="{_NEST}">{body}</div>'
    return "".join(out) + body


def _message_html(item: Any, earlier: Earlier, depth: int) -> str:
    kind = _node(item)
    if kind in ("fold", "gap"):
        return f'<div style="{_ROW};{_MUTED}">{inert_html(fold_text(item, earlier))}</div>'
    if kind != "msg":
        return f'<div style="{_ROW}">{_html_of(item, earlier, depth + 1)}</div>'
    role = _scalar(item.get("role", "?"))
    badge = (
        f'<span style="{_ROLE.format(ROLE_COLORS.get(role, "#757575"))}">{inert_html(role)}</span>'
    )
    head = []
    for key in ("name",):
        if item.get(key):
            head.append(_span(_scalar(item[key]), _KEY))
    if item.get("status"):
        head.append(_span(f"[{_scalar(item['status'])}]", "color:var(--jp-error-color1,#d93025)"))
    if item.get("reasoning"):
        head.append(_span(f"[reasoning: {_plural(int(item['reasoning']), 'character')}]", _MUTED))
    body = []
    text = _scalar(item.get("text", ""))
    if text:
        note = _clip_note(text, item.get("len"))
        body.append(f'<div style="{_TEXT}">{inert_html(text)}</div>')
        if note:
            body.append(_span(note, _MUTED))
    for call in item.get("calls", []):
        if isinstance(call, dict):
            body.append(f'<div style="{_CODE}">→ {inert_html(call_text(call))}</div>')
    for part in item.get("parts", []):
        body.append(f"<div>{_html_of(part, earlier, depth + 1)}</div>")
    head_html = " ".join(head)
    return (
        f'<div style="{_ROW};display:flex;align-items:baseline">{badge}'
        f'<div style="flex:1;min-width:0">{head_html}{"".join(body)}</div></div>'
    )
