"""What the embedded chat server says: scripted replies, tool calls, and token splitting.

Pure functions and dataclasses, no I/O, so the reply logic is testable without HTTP. Like
``server.py`` this imports nothing else from ``lc_callbacks_nb``.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_REPLY = "Why don't scientists trust atoms?\n\nBecause they make up everything."


@dataclass(frozen=True)
class ToolCall:
    """One function call the model asks for. ``id`` is generated (``call_...``) when omitted."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """One assistant turn: text, tool calls, or both, optionally after some reasoning.

    ``reasoning`` is what the model "thought" before answering: a string (one summary part)
    or a sequence of strings (successive summary parts). ``/v1/responses`` streams it as a
    reasoning item's summary when the request asks for one (``reasoning.summary``); both APIs
    count its tokens as reasoning tokens in usage. Chat Completions has no standard field for
    reasoning text, so it is never sent there.
    """

    content: str = ""
    tool_calls: Sequence[ToolCall] = ()
    reasoning: str | Sequence[str] = ""


# A script entry is one turn or the successive turns of one user message.
Turn = str | Reply
ScriptEntry = Turn | Sequence[Turn]
Script = Mapping[str, ScriptEntry] | Callable[[list[dict[str, Any]]], Turn]


# OpenAI-like pre-tokenizer (in the spirit of cl100k's split pattern): English contractions,
# words with their leading space, each punctuation mark alone, newline runs alone, other
# whitespace. Deterministic, so token streams and usage counts are stable across runs.
_TOKEN_RE = re.compile(
    r"'(?:s|t|re|ve|m|ll|d)\b"  # "'t" in "don't"
    r"| ?[^\W_]+"  # " scientists", "Why", "42"
    r"| ?[^\s\w]|_"  # "?", " (", "."
    r"|[ \t]*\n+"  # "\n\n" (with trailing blanks of the line before)
    r"|[ \t]+",  # blanks not followed by a word
    re.IGNORECASE,
)


def tokenize(text: str) -> list[str]:
    """Split text into OpenAI-like tokens; ``"".join(tokenize(t)) == t`` always holds."""
    tokens = _TOKEN_RE.findall(text)
    if "".join(tokens) != text:  # pragma: no cover - the pattern covers every character
        raise AssertionError(f"tokenizer lost characters in {text!r}")
    return tokens


def count_tokens(text: str) -> int:
    return len(tokenize(text))


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of content parts."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))


def prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """A deterministic prompt size: OpenAI's per-message overhead (3) plus content tokens."""
    total = 3  # every reply is primed with <|start|>assistant<|message|>
    for message in messages:
        total += 3 + count_tokens(message_text(message))
        for call in message.get("tool_calls") or ():
            function = call.get("function", {}) if isinstance(call, Mapping) else {}
            total += count_tokens(str(function.get("name", "")))
            total += count_tokens(str(function.get("arguments", "")))
    return total


def _last_user_index(messages: Sequence[Mapping[str, Any]]) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            return i
    return None


def choose_reply(
    messages: list[dict[str, Any]],
    *,
    script: Script | None,
    echo: bool,
    default_reply: str,
) -> Reply:
    """Pick the reply for a conversation.

    A mapping script is keyed by the last user message's text; a list value gives successive
    turns, indexed by how many assistant messages follow that user message (so a tool-calling
    loop gets turn 0, then turn 1 after the tool result). Past the end of the list the last
    turn repeats. A callable script gets the whole message list.
    """
    if callable(script):
        return as_reply(script(messages))
    last_user = _last_user_index(messages)
    user_text = message_text(messages[last_user]) if last_user is not None else ""
    if script is not None and last_user is not None and user_text in script:
        entry = script[user_text]
        if isinstance(entry, (str, Reply)):
            return as_reply(entry)
        turns = list(entry)
        if not turns:
            return Reply(content=default_reply)
        turn = sum(1 for m in messages[last_user + 1 :] if m.get("role") == "assistant")
        return as_reply(turns[min(turn, len(turns) - 1)])
    if echo and last_user is not None:
        return Reply(content=user_text)
    return Reply(content=default_reply)


def as_reply(value: Any) -> Reply:
    if isinstance(value, Reply):
        return value
    if isinstance(value, str):
        return Reply(content=value)
    raise TypeError(f"a script reply must be a str or Reply, not {type(value).__name__}")


def random_id(prefix: str, length: int = 24, alphabet: str = "") -> str:
    alphabet = alphabet or string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def item_id(prefix: str) -> str:
    """A Responses API object id, e.g. ``resp_``/``rs_``/``msg_``/``fc_`` and 48 hex digits."""
    return random_id(prefix, 48, "0123456789abcdef")


def reasoning_parts(reply: Reply) -> list[str]:
    """The reply's reasoning as summary parts (empty strings dropped)."""
    parts = [reply.reasoning] if isinstance(reply.reasoning, str) else list(reply.reasoning)
    return [part for part in parts if part]


def responses_messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A Responses API request's ``instructions`` and ``input`` as chat-style messages.

    So the script, ``echo`` and usage work as for Chat Completions: input messages keep their
    role, ``function_call_output`` items become ``tool`` messages, and a run of output items
    (reasoning, an assistant message, function calls) becomes one assistant message, i.e. one
    turn, with the calls as ``tool_calls``. Expects a body that passed validation.
    """
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    items = body.get("input")
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
        return messages
    turn: dict[str, Any] | None = None  # the assistant message being gathered
    for item in items or ():
        kind = item.get("type") or "message"
        role = item.get("role")
        if kind == "message" and role != "assistant":
            messages.append({"role": role, "content": item.get("content")})
            turn = None
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else message_text({"content": output})
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": text})
            turn = None
        elif kind in ("message", "function_call", "reasoning"):
            if turn is None:
                turn = {"role": "assistant", "content": ""}
                messages.append(turn)
            if kind == "message":
                turn["content"] += message_text(item)
            elif kind == "function_call":
                function = {"name": item.get("name", ""), "arguments": item.get("arguments", "")}
                turn.setdefault("tool_calls", []).append(
                    {"id": item.get("call_id"), "type": "function", "function": function}
                )
        # Anything else (item references, built-in tool calls) says nothing to the script.
    return messages


def tool_call_payloads(reply: Reply) -> list[dict[str, Any]]:
    """OpenAI-shaped ``tool_calls`` (arguments as a JSON string), ids filled in."""
    return [
        {
            "id": call.id or random_id("call_"),
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(dict(call.arguments))},
        }
        for call in reply.tool_calls
    ]


def split_arguments(arguments: str, size: int = 4) -> list[str]:
    """Cut a JSON arguments string into small fragments, as OpenAI streams them."""
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]
