"""The static twin of a run board: what a saved notebook shows without a live widget.

GitHub, nbviewer, nbconvert, VS Code without a widget renderer and JupyterLab reopening a
notebook without widget state show the ``text/plain`` or ``text/html`` entry of the board's
output instead of the widget; nbval compares them. This module renders both from a list of
:class:`~lc_callbacks_nb.views.protocol.FinishedRun` dicts (rows in start order, ``parent``
links, ``final`` = ``{channel: final text}``; a running run's ``text`` holds its text so far).

One pass (:func:`_build`) turns the rows into a tree of cleaned, clipped nodes; two small
emitters write it as text (:func:`render_plain`) or HTML (:func:`render_html`), so both show the
same facts, clipped the same way. ``%lc_runs`` can render through the same code
(:func:`from_history_rows` converts its rows).

Guarantees, for any input:

* **Deterministic**: no timings unless ``timings=True`` (then in the ``· 1.52 s`` form that
  ``notebooks/sanitize.cfg`` masks), run ids never printed.
* **Bounded**: each text is clipped with a visible marker and its full length
  (``… [clipped: 20,000 of 54,321 characters]``), all texts share a ``total`` budget and at
  most ``max_runs`` runs are drawn; nothing is cut silently.
* **Clean**: lone surrogates become U+FFFD, C0 controls other than ``\\n``/``\\t`` become their
  visible Control Pictures (``\\x1b`` → ``␛``), C1 controls U+FFFD, so the result is valid UTF-8
  and JSON.
* **Script-free HTML**: no ``<script>``, no event handler attributes, no URLs, no remote
  resources, no ``<style>`` element: inline styles that use JupyterLab's CSS variables with
  fallbacks readable on light and dark backgrounds (and plain semantic markup when a viewer
  strips styles). Model text is escaped into ``<pre style="white-space:pre-wrap">``; on top of
  that, ``javascript:`` and attribute-like ``onerror=`` / ``src=`` / ``href=`` in text are
  written with character references (they read the same), so even naive scanners find nothing.
* **Never raises**: an unexpected failure yields a one-line fallback and is passed to
  ``on_error``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..live.runs import DONE, FINAL_STATUSES, INTERRUPTED, RUNNING, STOPPED
from .value_render import Earlier, FoldPlaces, inert_html, printable, value_html, value_lines

__all__ = [
    "TEXT_CLIP",
    "TOTAL_CLIP",
    "from_history_rows",
    "render_bundle",
    "render_html",
    "render_plain",
    "summary_line",
]

TEXT_CLIP = 20_000  # characters of one text (model text, reasoning, ...) before clipping
TOTAL_CLIP = 200_000  # characters of all texts of one twin together
MIN_CLIP = 100  # a text still shows this much once the total budget is spent
VALUE_CLIP = 4_000  # chain/tool inputs and outputs, as text (views/value_render.py)
SIDE_CLIP = 4_000  # reasoning, tool calls, events
ERROR_CLIP = 500
NAME_CLIP = 200
MAX_RUNS = 500
MAX_TAGS = 10
PROMPT_WORDS = 16

STATUSES = (RUNNING, *FINAL_STATUSES)  # the one vocabulary (live/runs.py), in summary order
FOLDED = (DONE, INTERRUPTED, STOPPED)  # finished nodes that fold; failures and live ones stay open
_LABEL = {"handed_off": "handed off"}
_COLOR = {
    "running": "#1a73e8",
    "done": "#188038",
    "error": "#c5221f",
    "interrupted": "#b06000",
    "paused": "#7b3fc4",
    "handed_off": "#00796b",
    "stopped": "#5f6368",
}
_LLM_KINDS = ("llm", "chat model")

# -- cleaning: valid, printable text (value_render.printable), escaped HTML (inert_html) ------
_clean = printable


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


def _clip(value: Any, limit: int) -> tuple[str, int]:
    """(cleaned text clipped to ``limit`` characters with a marker, characters shown)."""
    text = _str(value)
    n = len(text)
    if n <= limit:
        return _clean(text), n
    limit = max(limit, 0)
    return _clean(text[:limit]) + f"… [clipped: {limit:,} of {n:,} characters]", limit


def _line(value: Any, limit: int) -> str:
    """One line: newlines shown as ↵, clipped."""
    text, _ = _clip(_str(value).strip(), limit)
    return " ↵ ".join(part.strip() for part in text.split("\n") if part.strip())


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e18:
        return int(value)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value == value and abs(value) < 1e12:
        return float(value)
    return None


def format_duration(seconds: float) -> str:
    """The ``%lc_runs`` form (``129 ms``, ``1.52 s``), which notebooks/sanitize.cfg masks."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


# -- the tree ----------------------------------------------------------------------------
@dataclass
class _Node:
    depth: int
    kind: str
    name: str
    status: str
    model: str = ""
    tags: list[str] = field(default_factory=list)
    prompt: str = ""  # LLM: first words of the prompt
    tokens: int | None = None
    usage: str = ""
    elapsed: float | None = None
    text: str = ""
    reasoning: str = ""
    reasoning_chars: int = 0
    tool_calls: str = ""
    inputs: str = ""  # as text (value_render.value_lines), clipped by the budget
    outputs: str = ""
    inputs_html: str = ""  # the same value as HTML (value_render.value_html)
    outputs_html: str = ""
    events: str = ""
    error: str = ""
    failed_below: bool = False  # a descendant failed: keep this node unfolded

    @property
    def is_llm(self) -> bool:
        return self.kind in _LLM_KINDS

    @property
    def label(self) -> str:
        return _LABEL.get(self.status, self.status)

    @property
    def failed(self) -> bool:
        return self.status == "error"

    @property
    def open(self) -> bool:
        return self.status not in FOLDED or self.failed_below


@dataclass
class _Twin:
    nodes: list[_Node]
    total: int
    counts: dict[str, int]
    dropped: int
    hidden: int  # runs beyond max_runs
    title: str
    timings: bool
    max_panels: int

    @property
    def llm_count(self) -> int:
        return sum(1 for n in self.nodes if n.is_llm)


class _Budget:
    def __init__(self, clip: int, total: int):
        self.clip = max(int(clip), 0)
        self.left = max(int(total), 0)

    def fits(self, text: str, limit: int) -> bool:
        """Whether ``take(text, limit)`` keeps all of ``text``."""
        return len(text) <= max(min(limit, self.clip, self.left), min(MIN_CLIP, self.clip))

    def take(self, value: Any, limit: int | None = None) -> str:
        text = _str(value)
        if not text:
            return ""
        cap = min(self.clip if limit is None else min(limit, self.clip), self.left)
        out, shown = _clip(text, max(cap, min(MIN_CLIP, self.clip)))
        self.left = max(self.left - shown, 0)
        return out


def _channel_text(run: Mapping[str, Any], channel: str) -> str:
    for key in ("final", "text"):
        texts = run.get(key)
        if isinstance(texts, Mapping) and channel in texts:
            return _str(texts.get(channel))
    return ""


def _usage(value: Any) -> str:
    if not isinstance(value, Mapping):
        return ""
    inp = _int(value.get("input_tokens", value.get("prompt_tokens")))
    out = _int(value.get("output_tokens", value.get("completion_tokens")))
    if inp is None and out is None:
        return ""
    text = f"usage: {'?' if inp is None else inp} prompt + {'?' if out is None else out} completion"
    cached, reasoning = _int(value.get("cache_read")), _int(value.get("reasoning"))
    if cached:
        text += f" ({cached} prompt cached)"
    if reasoning:
        text += f" ({reasoning} reasoning)"
    return text


def _first_words(text: str, n: int = PROMPT_WORDS) -> str:
    words = " ".join(text.split()[:n])
    return words[:120] + "…" if len(words) > 120 else words


def _order(rows: list[Mapping[str, Any]]) -> list[tuple[int, Mapping[str, Any]]]:
    """Pre-order (children under parents, each level in start order) with depths.

    Runs whose parent is not in the list are roots; runs caught in a parent cycle are drawn
    as roots too, so nothing is lost and nothing loops.
    """
    keyed: list[tuple[Any, int, Mapping[str, Any]]] = []
    for i, row in enumerate(rows):
        order = _number(row.get("order"))
        keyed.append((order if order is not None else float(i), i, row))
    keyed.sort(key=lambda item: (item[0], item[1]))
    ids: dict[str, int] = {}
    for pos, (_, _, row) in enumerate(keyed):
        rid = row.get("id")
        if isinstance(rid, str) and rid and rid not in ids:
            ids[rid] = pos
    children: dict[int, list[int]] = {}
    roots: list[int] = []
    for pos, (_, _, row) in enumerate(keyed):
        parent = row.get("parent")
        ppos = ids.get(parent) if isinstance(parent, str) else None
        if ppos is None or ppos == pos:
            roots.append(pos)
        else:
            children.setdefault(ppos, []).append(pos)
    out: list[tuple[int, Mapping[str, Any]]] = []
    seen: set[int] = set()

    def walk(start: int) -> None:
        stack = [(start, 0)]
        while stack:
            pos, depth = stack.pop()
            if pos in seen:
                continue
            seen.add(pos)
            out.append((depth, keyed[pos][2]))
            for child in reversed(children.get(pos, [])):
                stack.append((child, depth + 1))

    for pos in roots:
        walk(pos)
    for pos in range(len(keyed)):  # cycles: no root leads to them
        if pos not in seen:
            walk(pos)
    return out


def _node(
    depth: int, run: Mapping[str, Any], budget: _Budget, places: FoldPlaces, at: int
) -> _Node:
    status = _line(run.get("status") or "running", 40) or "running"
    kind = _line(run.get("kind") or "run", 40) or "run"
    tags = run.get("tags")
    tag_list = [_line(t, 60) for t in tags[:MAX_TAGS]] if isinstance(tags, list) else []
    node = _Node(
        depth=depth,
        kind=kind,
        name=_line(run.get("name"), NAME_CLIP) or "?",
        status=status,
        model=_line(run.get("model"), NAME_CLIP),
        tags=[t for t in tag_list if t],
        tokens=_int(run.get("tokens")),
        usage=_usage(run.get("usage")),
        elapsed=_number(run.get("elapsed")),
    )
    if node.is_llm:
        node.prompt = _first_words(_line(_str(run.get("inputs"))[:2000], 2000))
        node.text = budget.take(_channel_text(run, "text"))
        reasoning = _channel_text(run, "reasoning")
        node.reasoning_chars = len(reasoning)
        node.reasoning = budget.take(reasoning, SIDE_CLIP)
        node.tool_calls = budget.take(_channel_text(run, "tool_args").lstrip("\n"), SIDE_CLIP)
    else:
        node.inputs, node.inputs_html = _io(run.get("inputs"), budget, places.at((at, 0)))
        node.outputs, node.outputs_html = _io(run.get("outputs"), budget, places.at((at, 1)))
    events = run.get("events")
    if isinstance(events, list) and events:
        node.events = budget.take("\n".join(_str(e) for e in events), SIDE_CLIP)
    node.error = _line(run.get("error"), ERROR_CLIP)
    return node


def _io(value: Any, budget: _Budget, earlier: Earlier) -> tuple[str, str]:
    """A chain's, tool's or retriever's input or output (a Value) as text and as HTML: the
    tree when it fits the budget, else the clipped text. Folded messages say where they are."""
    if value is None or value == "":
        return "", ""
    text = "\n".join(value_lines(value, earlier=earlier)).strip("\n")
    if not text:
        return "", ""
    whole = budget.fits(text, VALUE_CLIP)
    shown = budget.take(text, VALUE_CLIP)
    return shown, value_html(value, earlier=earlier) if whole else _pre(shown)


def _build(
    runs: Iterable[Mapping[str, Any]] | None,
    *,
    dropped: Any,
    clip: int,
    total: int,
    max_runs: int,
    title: Any,
    timings: bool,
    max_panels: int,
) -> _Twin:
    rows = [r for r in (runs or []) if isinstance(r, Mapping)]
    ordered = _order(rows)
    budget = _Budget(clip, total)
    shown = ordered[: max(int(max_runs), 0)]
    places = FoldPlaces()  # where each message is written in full, top to bottom
    for at, (_, run) in enumerate(shown):
        places.add((at, 0), run.get("inputs"))
        places.add((at, 1), run.get("outputs"))
    nodes = [_node(depth, run, budget, places, at) for at, (depth, run) in enumerate(shown)]
    # A failure unfolds its ancestors (as the live board does).
    stack: list[_Node] = []
    for node in nodes:
        del stack[node.depth :]
        if node.failed:
            for up in stack:
                up.failed_below = True
        stack.append(node)
    counts: dict[str, int] = {}
    for _, run in ordered:
        status = _line(run.get("status") or "running", 40) or "running"
        counts[status] = counts.get(status, 0) + 1
    return _Twin(
        nodes=nodes,
        total=len(ordered),
        counts=counts,
        dropped=max(_int(dropped) or 0, 0),
        hidden=len(ordered) - len(shown),
        title=_line(title, NAME_CLIP),
        timings=bool(timings),
        max_panels=int(max_panels),
    )


def _summary(twin: _Twin) -> list[str]:
    n = twin.total
    head = "LangChain runs: "
    if twin.title:
        head = f"{twin.title} · {head}"
    if n == 0:
        line = head + "none"
    else:
        order = [s for s in STATUSES if s in twin.counts]
        order += sorted(s for s in twin.counts if s not in STATUSES)
        parts = ", ".join(_count(twin.counts[s], s) for s in order)
        line = f"{head}{n} ({parts})"
    lines = [line]
    if twin.dropped:
        d = twin.dropped
        lines.append(f"{d:,} earlier finished run{'s' if d != 1 else ''} not kept")
    return lines


def _count(n: int, status: str) -> str:
    label = _LABEL.get(status, status)
    return f"{n} {label}s" if status == "error" and n != 1 else f"{n} {label}"


def _facts(node: _Node, timings: bool) -> list[str]:
    """The header's figures: model, tags, tokens, usage (and duration if asked)."""
    parts = []
    if node.model:
        parts.append(node.model)
    if node.tags:
        parts.append(" ".join(f"#{t}" for t in node.tags))
    if node.is_llm:
        tokens = node.tokens or 0
        parts.append(f"{tokens:,} token{'s' if tokens != 1 else ''}")
    if node.usage:
        parts.append(node.usage)
    if timings and node.elapsed is not None:
        parts.append(format_duration(node.elapsed))
    return parts


def _status_line(node: _Node) -> str:
    """The error line: ``error: …`` for failures, the bare reason for paused / handed off."""
    if not node.error:
        return ""
    if node.status in ("paused", "handed_off"):
        return node.error
    return f"error: {node.error}" if node.status == "error" else node.error


# -- plain text --------------------------------------------------------------------------
def _plain(twin: _Twin) -> str:
    out = _summary(twin)
    for node in twin.nodes:
        pad = "  " * node.depth
        body = pad + "  "
        head = f"{pad}[{node.label}] {node.kind} {node.name}"
        facts = _facts(node, twin.timings)
        out.append(" · ".join([head, *facts]))
        if node.prompt:
            out.append(f"{body}prompt: {node.prompt}")
        _labelled(out, body, "in", node.inputs)
        _labelled(out, body, "out", node.outputs)
        if node.text:
            out.extend(_prefixed(body, "│", node.text))
        if node.reasoning:
            out.append(f"{body}reasoning ({node.reasoning_chars:,} characters):")
            out.extend(_prefixed(body, "┆", node.reasoning))
        if node.tool_calls:
            out.append(f"{body}tool calls:")
            out.extend(_prefixed(body, "→", node.tool_calls))
        if node.events:
            out.extend(f"{body}event: {line}" for line in node.events.split("\n"))
        status_line = _status_line(node)
        if status_line:
            out.append(body + status_line)
    if twin.hidden:
        out.append(f"… {twin.hidden:,} more runs not shown")
    return "\n".join(out)


def _prefixed(body: str, mark: str, text: str) -> list[str]:
    return [f"{body}{mark} {line}" if line else f"{body}{mark}" for line in text.split("\n")]


def _labelled(out: list[str], body: str, label: str, text: str) -> None:
    if not text:
        return
    lines = text.split("\n")
    out.append(f"{body}{label}: {lines[0]}")
    cont = body + " " * (len(label) + 2)
    out.extend(cont + line for line in lines[1:])


# -- HTML --------------------------------------------------------------------------------
_h = inert_html  # text as HTML text content: escaped, attribute/URL look-alikes inert


_MUTED = "color:var(--jp-ui-font-color2,#888)"
_BORDER = "1px solid var(--jp-border-color2,rgba(128,128,128,.35))"
_BOX = f"border:{_BORDER};border-radius:4px;padding:4px 8px;margin:4px 0"
_FAILED_BOX = "border:1px solid #c5221f;border-radius:4px;padding:4px 8px;margin:4px 0"
_PRE = (
    "white-space:pre-wrap;word-break:break-word;margin:4px 0;max-height:24em;overflow:auto;"
    "font-family:var(--jp-code-font-family,monospace);font-size:12.5px;"
    "color:var(--jp-content-font-color1,inherit);background:transparent"
)
_ERROR = "color:var(--jp-error-color1,#d93025);font-weight:600"
_SUMMARY = "cursor:pointer"


def _badge(node: _Node) -> str:
    color = _COLOR.get(node.status, "#757575")
    style = (
        f"background:{color};color:#fff;border-radius:3px;padding:0 5px;font-size:11px;"
        "font-weight:600"
    )
    return f'<strong style="{style}">{_h(node.label)}</strong>'


def _span(text: str, style: str = _MUTED) -> str:
    return f'<span style="{style}">{_h(text)}</span>' if text else ""


def _pre(text: str) -> str:
    return f'<pre style="{_PRE}">{_h(text)}</pre>'


def _head(node: _Node, twin: _Twin) -> str:
    parts = [_badge(node)]
    if not node.is_llm:
        parts.append(_span(node.kind))
    parts.append(f"<b>{_h(node.name)}</b>")
    facts = _facts(node, twin.timings)
    if facts:
        parts.append(_span(" · ".join(facts)))
    return " ".join(parts)


def _llm_html(node: _Node, twin: _Twin) -> str:
    box = _FAILED_BOX if node.failed else _BOX
    body = []
    if node.prompt:
        body.append(f'<div style="{_MUTED};font-size:12px">› {_h(node.prompt)}</div>')
    if node.text:
        body.append(_pre(node.text))
    if node.reasoning:
        body.append(
            f'<details><summary style="{_SUMMARY};{_MUTED}">reasoning '
            f"({node.reasoning_chars:,} characters)</summary>{_pre(node.reasoning)}</details>"
        )
    if node.tool_calls:
        body.append(
            f'<details><summary style="{_SUMMARY};{_MUTED}">tool calls</summary>'
            f"{_pre(node.tool_calls)}</details>"
        )
    body.append(_events_and_error(node))
    if twin.llm_count > twin.max_panels >= 0:
        # Many model runs: one folded line each (as the live board's table), failures open.
        words = _first_words(node.text, 12)
        summary = _head(node, twin) + (" " + _span(words) if words else "")
        state = " open" if node.failed else ""
        return (
            f'<details{state} style="{box}"><summary style="{_SUMMARY}">{summary}</summary>'
            f"{''.join(body)}</details>"
        )
    return f'<div style="{box}"><div>{_head(node, twin)}</div>{"".join(body)}</div>'


def _events_and_error(node: _Node) -> str:
    out = []
    if node.events:
        out.append(f'<div style="{_MUTED};font-size:12px;white-space:pre-wrap">')
        out.append(_h(node.events))
        out.append("</div>")
    status_line = _status_line(node)
    if status_line:
        style = _ERROR if node.status == "error" else "font-weight:600"
        out.append(f'<div style="{style}">{_h(status_line)}</div>')
    return "".join(out)


def _node_open(node: _Node, twin: _Twin) -> str:
    """A chain, tool or retriever: a foldable box; its children go inside (closed later)."""
    box = _FAILED_BOX if node.failed else _BOX
    state = " open" if node.open else ""
    parts = [
        f'<details{state} style="{box}"><summary style="{_SUMMARY}">{_head(node, twin)}</summary>'
    ]
    for label, html in (("in", node.inputs_html), ("out", node.outputs_html)):
        if html:
            parts.append(
                f'<div style="margin:4px 0;display:flex;gap:6px;align-items:baseline">'
                f'<span style="{_MUTED}">{label}:</span>'
                f'<div style="flex:1;min-width:0;font-size:12.5px">{html}</div></div>'
            )
    parts.append(_events_and_error(node))
    parts.append(_CHILDREN)
    return "".join(parts)


_NODE_CLOSE = "</div></details>"
_CHILDREN = '<div style="margin-left:14px">'
_NO_CHILDREN = _CHILDREN + _NODE_CLOSE


def _html_doc(twin: _Twin) -> str:
    summary = _summary(twin)
    out = [
        '<div class="lcnb-twin" style="font-family:var(--jp-ui-font-family,system-ui,sans-serif);'
        'font-size:13px;line-height:1.4">',
        f"<div><b>{_h(summary[0])}</b></div>",
    ]
    out.extend(f'<div style="{_MUTED}">{_h(line)}</div>' for line in summary[1:])
    open_nodes: list[int] = []  # depths of chain/tool nodes whose children box is open
    for node in twin.nodes:
        while open_nodes and open_nodes[-1] >= node.depth:
            open_nodes.pop()
            out.append(_NODE_CLOSE)
        if node.is_llm:
            out.append(_llm_html(node, twin))
        else:
            out.append(_node_open(node, twin))
            open_nodes.append(node.depth)
    out.extend(_NODE_CLOSE for _ in open_nodes)
    if twin.hidden:
        out.append(f'<div style="{_MUTED}">… {twin.hidden:,} more runs not shown</div>')
    out.append("</div>")
    return "".join(out).replace(_NO_CHILDREN, "</details>")


# -- public API --------------------------------------------------------------------------
def _report(on_error: Callable[[BaseException], Any] | None, exc: BaseException) -> None:
    if on_error is not None:
        try:
            on_error(exc)
        except Exception:
            pass


def _fallback(runs: Any, dropped: Any) -> str:
    try:
        n: Any = len(runs)
    except Exception:
        n = "?"
    line = f"LangChain runs: {n} (summary unavailable)"
    try:
        d = int(dropped)
        if d > 0:
            line += f"; {d} earlier finished runs not kept"
    except Exception:
        pass
    return line


def _render(
    emits: Sequence[Callable[[_Twin], str]],
    runs: Any,
    *,
    dropped: Any,
    on_error: Callable[[BaseException], Any] | None,
    **build: Any,
) -> list[str]:
    """Build the tree once, write it with each of ``emits``; a failure falls back per writer."""
    try:
        twin = _build(runs, dropped=dropped, **build)
    except Exception as exc:
        _report(on_error, exc)
        return [_fallback(runs, dropped)] * len(emits)
    out = []
    for emit in emits:
        try:
            out.append(emit(twin))
        except Exception as exc:
            _report(on_error, exc)
            out.append(_fallback(runs, dropped))
    return out


def render_plain(
    runs: Sequence[Mapping[str, Any]],
    *,
    dropped: int = 0,
    clip: int = TEXT_CLIP,
    total: int = TOTAL_CLIP,
    max_runs: int = MAX_RUNS,
    title: str = "",
    timings: bool = False,
    on_error: Callable[[BaseException], Any] | None = None,
) -> str:
    """The runs as text: a summary line, then one block per run in tree order.

    ``runs``: FinishedRun dicts (``id``, ``parent``, ``kind``, ``name``, ``order``, ``status``,
    ``model``, ``tags``, ``inputs``, ``outputs``, ``tokens``, ``usage``, ``events``, ``error``,
    ``final`` or ``text``); missing or odd fields are tolerated. ``dropped``: finished runs
    the view no longer keeps. Never raises (``on_error`` receives what went wrong).
    """
    return _render(
        [_plain],
        runs,
        dropped=dropped,
        clip=clip,
        total=total,
        max_runs=max_runs,
        title=title,
        timings=timings,
        max_panels=-1,
        on_error=on_error,
    )[0]


def render_html(
    runs: Sequence[Mapping[str, Any]],
    *,
    dropped: int = 0,
    clip: int = TEXT_CLIP,
    total: int = TOTAL_CLIP,
    max_runs: int = MAX_RUNS,
    title: str = "",
    timings: bool = False,
    max_panels: int = 8,
    on_error: Callable[[BaseException], Any] | None = None,
) -> str:
    """The runs as self-contained, script-free HTML (see the module docstring).

    Same arguments as :func:`render_plain`; above ``max_panels`` model runs, each model run is
    one folded line (failures open), like the live board's table.
    """
    return _render(
        [_html_doc],
        runs,
        dropped=dropped,
        clip=clip,
        total=total,
        max_runs=max_runs,
        title=title,
        timings=timings,
        max_panels=max_panels,
        on_error=on_error,
    )[0]


def render_bundle(
    runs: Sequence[Mapping[str, Any]],
    *,
    dropped: int = 0,
    clip: int = TEXT_CLIP,
    total: int = TOTAL_CLIP,
    max_runs: int = MAX_RUNS,
    title: str = "",
    timings: bool = False,
    max_panels: int = 8,
    on_error: Callable[[BaseException], Any] | None = None,
) -> dict[str, str]:
    """``{"text/plain": ..., "text/html": ...}`` for a display's mimebundle. Never raises.

    The tree (cleaned, clipped texts) is built once for both (``max_panels`` only changes how
    the HTML writer folds model runs; the plain writer ignores it)."""
    plain, page = _render(
        [_plain, _html_doc],
        runs,
        dropped=dropped,
        clip=clip,
        total=total,
        max_runs=max_runs,
        title=title,
        timings=timings,
        max_panels=max_panels,
        on_error=on_error,
    )
    return {"text/plain": plain, "text/html": page}


def summary_line(runs: Sequence[Mapping[str, Any]], *, dropped: int = 0) -> str:
    """Just the title, e.g. ``LangChain runs: 3 (2 done, 1 error)``. Never raises."""
    return render_plain(runs, dropped=dropped, max_runs=0).split("\n", 1)[0]


def from_history_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``%lc_runs`` rows (``RunsView.data()``) as FinishedRun dicts, to render them here.

    ``status`` ``ok`` becomes ``done``; an LLM run's ``preview`` its final text (another run's
    ``preview`` its output, unless it has ``outputs``); ``inputs`` and ``outputs`` (Values)
    pass as they are; ``duration_s`` ``elapsed``; ``streamed_tokens`` ``tokens``.
    """
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        status = row.get("status")
        run: dict[str, Any] = {
            "id": _str(row.get("run_id")),
            "parent": row.get("parent_run_id"),
            "kind": row.get("kind"),
            "name": row.get("name"),
            "order": i,
            "status": "done" if status == "ok" else status,
            "tokens": row.get("streamed_tokens"),
            "usage": row.get("usage") or {},
            "error": row.get("error") or "",
        }
        if row.get("duration_s") is not None:
            run["elapsed"] = row["duration_s"]
        for key in ("inputs", "outputs"):
            if row.get(key) not in (None, ""):
                run[key] = row[key]
        preview = row.get("preview") or ""
        if preview:
            if row.get("kind") in _LLM_KINDS:
                run["final"] = {"text": preview}
            elif "outputs" not in run:
                run["outputs"] = preview
        out.append(run)
    return out
