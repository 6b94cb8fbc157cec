"""Tell LangGraph's control-flow signals from failures, without importing LangGraph.

LangGraph steers a graph by raising exceptions that derive from
``langgraph.errors.GraphBubbleUp``, and LangChain reports each one to callbacks as an
error of every run it passes through:

* ``interrupt(value)`` (human in the loop) raises ``GraphInterrupt``: the node, the tool
  that called it, and every subgraph around them get ``on_chain_error`` / ``on_tool_error``;
  the root graph swallows it and ends with ``on_chain_end`` (its outputs do *not* carry
  ``__interrupt__``, although ``invoke`` returns it). A static breakpoint
  (``interrupt_before``/``interrupt_after``) raises an empty ``GraphInterrupt`` in a subgraph
  and nothing at all in the root.
* ``Command(graph=Command.PARENT, goto=...)`` raises ``ParentCommand``: the node, its
  subgraph and the parent's node that runs the subgraph get ``on_chain_error``; the parent
  graph then runs ``goto`` and finishes normally.
* ``RunControl.request_drain()`` raises ``GraphDrained`` out of the graph: a cooperative stop
  at a step boundary, checkpoint saved, resumable.

:func:`classify` turns those into the neutral statuses ``"paused"`` and ``"handed_off"`` with a
one-line description; anything else is a real error (``None``). Classes are recognised by
name in ``type(error).__mro__`` (module ``langgraph.*``), so this module works, and costs
nothing, where LangGraph is not installed. Classify when the event arrives: LangGraph
rewrites a ``ParentCommand``'s target in place as it climbs.

Descriptions are plain text, single-line and clipped; callers redact them like any error text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

PAUSED = "paused"
HANDED_OFF = "handed_off"
MAX_CHARS = 200

INTERRUPT_KEY = "__interrupt__"  # langgraph.constants.INTERRUPT
_PARENT = "__parent__"  # langgraph.types.Command.PARENT
_MODULE = "langgraph"

_INTERRUPTS = frozenset({"GraphInterrupt", "NodeInterrupt"})
_WHITESPACE = re.compile(r"\s+")


def _langgraph_names(cls: type) -> list[str]:
    """Names of the LangGraph classes among ``cls`` and its bases, most derived first."""
    names = []
    for base in getattr(cls, "__mro__", (cls,)):
        module = getattr(base, "__module__", "") or ""
        if module == _MODULE or module.startswith(_MODULE + "."):
            names.append(base.__name__)
    return names


def _is_langgraph(obj: Any, name: str) -> bool:
    return name in _langgraph_names(type(obj))


def _line(text: str, limit: int = MAX_CHARS) -> str:
    text = _WHITESPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _show(value: Any) -> str:
    """A value as a panel shows it: strings as they are, anything else by repr."""
    if isinstance(value, str):
        return value
    try:
        return repr(value)
    except Exception:  # a repr that raises must not break the run
        return f"<{type(value).__name__}>"


def _show_interrupt_value(value: Any) -> str:
    # langchain's HumanInTheLoopMiddleware asks with {"action_requests": [{name, args}], ...}
    if isinstance(value, Mapping) and isinstance(value.get("action_requests"), list):
        actions = [
            f"{a.get('name')} {_show(a.get('args', {}))}"
            for a in value["action_requests"]
            if isinstance(a, Mapping) and a.get("name")
        ]
        if actions:
            return "review " + " | ".join(actions)
    return _show(value)


def _interrupt_values(interrupts: Any) -> list[Any]:
    """The values of a sequence of ``Interrupt`` objects (or bare values, as older LangGraph)."""
    if interrupts is None:
        return []
    if isinstance(interrupts, (str, bytes, Mapping)) or not isinstance(interrupts, Iterable):
        interrupts = [interrupts]
    values = []
    for item in interrupts:
        values.append(item.value if _is_langgraph(item, "Interrupt") else item)
    return values


def describe_interrupts(interrupts: Any) -> str:
    """``"waiting for input: <value>"`` for a sequence of ``Interrupt`` objects.

    An empty sequence is a static breakpoint (``interrupt_before`` / ``interrupt_after``).
    """
    values = _interrupt_values(interrupts)
    if not values:
        return "paused at a breakpoint"
    shown = " | ".join(_show_interrupt_value(v) for v in values)
    return _line(f"waiting for input: {shown}")


def _goto_targets(goto: Any) -> list[str]:
    """Node names from a Command's ``goto``: a name, a ``Send``, or a sequence of them."""
    if goto is None:
        return []
    if isinstance(goto, str) or _is_langgraph(goto, "Send"):
        goto = [goto]
    elif not isinstance(goto, Iterable):
        return [_show(goto)]
    targets = []
    for item in goto:
        node = getattr(item, "node", item) if _is_langgraph(item, "Send") else item
        text = _show(node)
        if text not in targets:
            targets.append(text)
    return targets


def describe_command(command: Any) -> str:
    """``"handed off to <node>"`` for the ``Command`` a ``ParentCommand`` carries."""
    targets = _goto_targets(getattr(command, "goto", None))
    if not targets:
        return "handed off to the parent graph"
    return _line("handed off to " + ", ".join(targets))


def _first_arg(error: BaseException) -> Any:
    return error.args[0] if error.args else None


def classify(error: BaseException) -> tuple[str, str] | None:
    """``(status, one-line description)`` for a LangGraph control-flow signal, else ``None``.

    * ``GraphInterrupt`` / ``NodeInterrupt``: ``("paused", "waiting for input: approve?")``
      (``"paused at a breakpoint"`` when it carries no interrupt).
    * ``ParentCommand``: ``("handed_off", "handed off to other")``. Once LangGraph has found
      no parent graph for it (its target rewritten to ``""`` at the root), it escapes to
      the caller: a real error, ``None``.
    * ``GraphDrained``: ``("paused", "drained (shutdown): resumable from its checkpoint")``.
    * Any other ``GraphBubbleUp``: LangGraph's contract is "a signal, not an error":
      ``("paused", "<ClassName>: <message>")``.
    """
    names = _langgraph_names(type(error))
    for name in names:
        if name in _INTERRUPTS:
            return PAUSED, describe_interrupts(_first_arg(error))
        if name == "ParentCommand":
            command = _first_arg(error)
            if getattr(command, "graph", None) == "":
                return None  # a PARENT command raised in the root graph: nowhere to go
            return HANDED_OFF, describe_command(command)
        if name == "GraphDrained":
            reason = getattr(error, "reason", None) or "shutdown"
            return PAUSED, _line(f"drained ({_show(reason)}): resumable from its checkpoint")
    if "GraphBubbleUp" not in names:
        return None
    message = str(error).strip()
    kind = type(error).__name__
    return PAUSED, _line(f"{kind}: {message}" if message else kind)


def paused_outputs(outputs: Any) -> str | None:
    """The pause description if a chain's outputs carry LangGraph's ``__interrupt__``.

    A graph's own ``on_chain_end`` never does (LangGraph adds the key after the callback);
    a runnable that wraps ``graph.invoke`` returns it, and so does ``invoke(version="v2")``
    (a ``GraphOutput`` with ``interrupts``).
    """
    if isinstance(outputs, Mapping):
        interrupts = outputs.get(INTERRUPT_KEY)
    elif _is_langgraph(outputs, "GraphOutput"):
        interrupts = getattr(outputs, "interrupts", None)
    else:
        return None
    if not interrupts:
        return None
    return describe_interrupts(interrupts)


def paused_event(event: Any) -> str | None:
    """The description of a ``langgraph.callbacks.GraphInterruptEvent`` (``on_interrupt``).

    The one signal that reaches the root graph's run (``event.run_id``) and the only one
    for a static breakpoint (``event.status`` ``"interrupt_before"``/``"interrupt_after"``).
    """
    if not _is_langgraph(event, "GraphInterruptEvent"):
        return None
    interrupts = getattr(event, "interrupts", ())
    if interrupts:
        return describe_interrupts(interrupts)
    status = getattr(event, "status", "")
    if status == "interrupt_before":
        return "paused at a breakpoint (before a node)"
    if status == "interrupt_after":
        return "paused at a breakpoint (after a node)"
    return "paused at a breakpoint"


def thread_of(metadata: Mapping[str, Any] | None) -> str | None:
    """The LangGraph thread a run belongs to, from the ``metadata`` of its start event.

    LangGraph copies ``config["configurable"]["thread_id"]`` into the metadata of the graph
    run and every run inside it (``ensure_config``), so ``on_chain_start`` of the root graph
    already has it; a later cell resuming the thread reports the same id.
    """
    if not isinstance(metadata, Mapping):
        return None
    thread = metadata.get("thread_id")
    if thread is None or thread == "" or isinstance(thread, bool):
        return None
    try:
        text = str(thread)  # LangGraph itself uses str(thread_id) (a UUID, an int)
    except Exception:
        return None
    return _line(text, 100) or None


def resumed_with(inputs: Any) -> str | None:
    """``"resumed with: yes"`` when a run's input is ``Command(resume=...)``, else ``None``.

    A resume by interrupt id (``{id: value}``) shows the values.
    """
    if not _is_langgraph(inputs, "Command"):
        return None
    resume = getattr(inputs, "resume", None)
    if resume is None:
        return None
    if (
        isinstance(resume, Mapping)
        and resume
        and all(isinstance(k, str) and re.fullmatch(r"[0-9a-f]{32}", k) for k in resume)
    ):
        shown = " | ".join(_show(v) for v in resume.values())
    else:
        shown = _show(resume)
    return _line(f"resumed with: {shown}")
