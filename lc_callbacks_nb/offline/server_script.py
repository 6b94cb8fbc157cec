"""What the embedded chat server says, whatever the wire: scripted replies, tool calls, token
splitting and token counts.

The reply and usage model shared by every wire protocol (``openai_chat``, ``openai_responses``,
``anthropic_messages``, ``ollama_chat``): each protocol reads its request into one chat-style
transcript (roles ``system``/``user``/``assistant``/``tool``, text content, assistant
``tool_calls``), the script picks a ``Reply`` from it, and the protocol writes that reply in its
own shape. Pure functions and dataclasses, no I/O, so the reply logic is testable without HTTP.
Like ``server.py`` this imports nothing else from ``lc_callbacks_nb``.
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

    ``content`` is sent verbatim by every protocol (a ``<think>...</think>`` block in it, as
    vLLM or llama.cpp send one, is just text). ``reasoning`` is what the model "thought" before
    answering: a string (one part) or a sequence of strings (successive parts). Each protocol
    shows it its own way, and only when the request lets the model think:

    - ``/v1/responses``: a reasoning item, its summary parts filled when the request asks for
      a summary (``reasoning.summary``); always counted as reasoning tokens.
    - ``/v1/chat/completions``: never sent (no standard field), counted as reasoning tokens.
    - ``/v1/messages`` (Anthropic): one signed ``thinking`` block per part, when the request
      enables thinking; not generated (nor counted) otherwise.
    - ``/api/chat`` (Ollama): ``message.thinking`` (parts joined by a blank line), unless the
      request sets ``think: false``.

    ``redacted_reasoning`` is reasoning the provider hides: Anthropic sends each part as a
    ``redacted_thinking`` block whose ``data`` is opaque (encrypted); the OpenAI APIs count it
    as reasoning tokens; Ollama, which never hides reasoning, ignores it.
    """

    content: str = ""
    tool_calls: Sequence[ToolCall] = ()
    reasoning: str | Sequence[str] = ""
    redacted_reasoning: str | Sequence[str] = ""


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
    return _parts(reply.reasoning)


def redacted_parts(reply: Reply) -> list[str]:
    """The reply's hidden reasoning, one string per redacted block (empty strings dropped)."""
    return _parts(reply.redacted_reasoning)


def _parts(value: str | Sequence[str]) -> list[str]:
    parts = [value] if isinstance(value, str) else list(value)
    return [part for part in parts if part]


def tool_call_payloads(reply: Reply, id_prefix: str = "call_") -> list[dict[str, Any]]:
    """OpenAI-shaped ``tool_calls`` (arguments as a JSON string), ids filled in."""
    return [
        {
            "id": call.id or random_id(id_prefix),
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(dict(call.arguments))},
        }
        for call in reply.tool_calls
    ]


def split_arguments(arguments: str, size: int = 4) -> list[str]:
    """Cut a JSON arguments string into small fragments, as OpenAI streams them."""
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


def tool_tokens(calls: Sequence[Mapping[str, Any]]) -> int:
    """What OpenAI-shaped tool calls cost in output tokens: their names and arguments."""
    return sum(
        count_tokens(c["function"]["name"]) + count_tokens(c["function"]["arguments"])
        for c in calls
    )


class Budget:
    """A reply's reasoning and text tokens within an output limit (reasoning comes first).

    ``thinks=False`` leaves the reasoning out altogether (a request that turned thinking off).
    Visible reasoning parts come first, then the redacted ones, then the text; a part cut by
    the limit keeps its first tokens (a redacted part is kept whole or dropped: its data is
    sealed). Tool calls come after the text, so a truncated reply makes none.
    """

    def __init__(self, reply: Reply, limit: int | None, *, thinks: bool = True) -> None:
        parts = [tokenize(part) for part in reasoning_parts(reply)] if thinks else []
        hidden = [tokenize(part) for part in redacted_parts(reply)] if thinks else []
        text = tokenize(reply.content)
        wanted = sum(len(p) for p in parts) + sum(len(p) for p in hidden) + len(text)
        self.truncated = limit is not None and wanted > limit
        room = limit if self.truncated and limit is not None else wanted
        self.reasoning: list[list[str]] = []  # visible parts, as tokens
        for part in parts:
            if room <= 0:
                break
            self.reasoning.append(part[:room])
            room -= len(self.reasoning[-1])
        self.redacted: list[str] = []  # hidden parts, whole
        hidden_tokens = 0
        for part in hidden:
            if len(part) > room:
                room = 0
                break
            self.redacted.append("".join(part))
            hidden_tokens += len(part)
            room -= len(part)
        self.text = text[: max(room, 0)]
        self.reasoning_tokens = sum(len(p) for p in self.reasoning) + hidden_tokens


@dataclass(frozen=True)
class Usage:
    """One reply's token counts, before each protocol names them its own way.

    ``cache_read`` and ``cache_creation`` are parts of ``prompt`` (never more than it);
    ``reasoning`` is a part of ``output``.
    """

    prompt: int
    output: int
    reasoning: int = 0
    cache_read: int = 0
    cache_creation: int = 0

    @classmethod
    def of(
        cls,
        messages: Sequence[Mapping[str, Any]],
        budget: Budget,
        calls: Sequence[Mapping[str, Any]],
        *,
        cached_tokens: int = 0,
        cache_creation_tokens: int = 0,
    ) -> Usage:
        prompt = prompt_tokens(messages)
        read = min(cached_tokens, prompt)
        created = min(cache_creation_tokens, prompt - read)
        made_calls = 0 if budget.truncated else tool_tokens(calls)
        output = budget.reasoning_tokens + len(budget.text) + made_calls
        return cls(prompt, output, budget.reasoning_tokens, read, created)

    @property
    def total(self) -> int:
        return self.prompt + self.output


def __getattr__(name: str) -> Any:
    # The Responses API's reader moved to openai_responses with the rest of that protocol;
    # ``from lc_callbacks_nb.offline.server_script import responses_messages`` still works.
    if name == "responses_messages":
        from lc_callbacks_nb.offline.openai_responses import responses_messages

        return responses_messages
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
