"""Anthropic's Messages API on the wire: ``POST /v1/messages``, plain and SSE.

What the ``anthropic`` SDK and stock ``ChatAnthropic(base_url=...)`` read: a ``message``
object, or Anthropic's event stream: ``message_start`` (usage with cache reads and writes),
then per content block ``content_block_start`` / deltas / ``content_block_stop`` (``thinking``
with ``thinking_delta`` then ``signature_delta``, ``redacted_thinking`` with opaque ``data``,
``text`` with ``text_delta``, ``tool_use`` with ``input_json_delta`` pieces), a ``ping`` after
the first block opens, ``message_delta`` (stop reason, cumulative usage) and ``message_stop``.
Errors are ``{"type": "error", "error": {"type": ..., "message": ...}}`` (529 when
overloaded), and an ``error`` event when a stream fails after it began.

Requests are checked the way the real API checks them where a client bug would show (a
missing ``max_tokens``, a ``system`` role among the messages, thinking budget rules, a
``tool_result`` without its ``tool_use``, a thinking block altered or dropped in a tool loop),
each a 400 ``invalid_request_error`` naming the field. Thinking is generated only when the
request enables it (``thinking={"type": "enabled", "budget_tokens": N}`` or ``adaptive``).
Signatures and redacted data are sealed with a key of this process, so the server can tell a
block it made from one a client changed, as the real API does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from lc_callbacks_nb.offline.server_script import (
    Budget,
    Reply,
    Usage,
    message_text,
    random_id,
    split_arguments,
    tool_call_payloads,
)
from lc_callbacks_nb.offline.wire import (
    Answer,
    BadRequest,
    ErrorKind,
    Event,
    Protocol,
    Settings,
    sse,
)

# status and error type for each kind of error, as the Messages API sends them
_ERRORS: dict[str, tuple[int, str]] = {
    "invalid_request": (400, "invalid_request_error"),
    "not_found": (404, "not_found_error"),
    "method_not_allowed": (405, "invalid_request_error"),
    "rate_limit": (429, "rate_limit_error"),
    "server_error": (500, "api_error"),
    "overloaded": (529, "overloaded_error"),
}
# The request fields the Messages API knows; anything else is a 400, as there.
_FIELDS = frozenset({
    "model", "max_tokens", "messages", "system", "stream", "stop_sequences", "temperature",
    "top_k", "top_p", "tools", "tool_choice", "thinking", "metadata", "service_tier",
    "container", "mcp_servers", "context_management", "output_config", "inference_geo",
    "cache_control", "speed", "diagnostics", "user_profile_id", "workspace_id",
})  # fmt: skip
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_BLOCK_TYPES = {
    "user": {"text", "image", "document", "tool_result", "search_result"},
    "assistant": {"text", "thinking", "redacted_thinking", "tool_use", "server_tool_use",
                  "web_search_tool_result"},
}  # fmt: skip
_THINKING_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"


_KEY = secrets.token_bytes(32)  # one per process, like one per API: servers agree


def seal(text: str) -> str:
    """Opaque, authenticated data that only this process can open (nonce, cipher, tag)."""
    nonce = secrets.token_bytes(16)
    data = text.encode()
    stream = hashlib.shake_256(_KEY + nonce).digest(len(data))
    cipher = bytes(a ^ b for a, b in zip(data, stream, strict=True))
    tag = hmac.new(_KEY, nonce + cipher, hashlib.sha256).digest()[:16]
    return base64.b64encode(nonce + cipher + tag).decode()


def unseal(sealed: Any) -> str | None:
    """The text sealed in ``sealed``, or None when it was not made here or was changed."""
    try:
        raw = base64.b64decode(sealed, validate=True)
    except (ValueError, TypeError):
        return None
    if len(raw) < 32:
        return None
    nonce, cipher, tag = raw[:16], raw[16:-16], raw[-16:]
    expected = hmac.new(_KEY, nonce + cipher, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(tag, expected):
        return None
    stream = hashlib.shake_256(_KEY + nonce).digest(len(cipher))
    return bytes(a ^ b for a, b in zip(cipher, stream, strict=True)).decode(errors="replace")


# -- request checks -----------------------------------------------------------------------
def _check_int(value: Any, where: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{where}: Input should be a valid integer")
    if value < minimum:
        raise BadRequest(f"{where}: Input should be greater than or equal to {minimum}")


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise BadRequest("system: Input should be a valid string or a list of text blocks")
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise BadRequest(f"system.{i}.type: Input should be 'text'")
        if not isinstance(block.get("text"), str) or not block["text"].strip():
            raise BadRequest(f"system.{i}.text: text content blocks must be non-empty")


def _check_tools(tools: Any) -> set[str]:
    if tools is None:
        return set()
    if not isinstance(tools, list):
        raise BadRequest("tools: Input should be a valid list")
    names: set[str] = set()
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise BadRequest(f"tools.{i}: Input should be a valid dictionary")
        if tool.get("type") not in (None, "custom"):
            if isinstance(tool.get("name"), str):
                names.add(tool["name"])
            continue  # a server tool (web search, code execution...): its own schema
        name = tool.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise BadRequest(
                f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
            )
        if not isinstance(tool.get("input_schema"), dict):
            raise BadRequest(f"tools.{i}.custom.input_schema: Field required")
        if name in names:
            raise BadRequest(f"tools: Tool names must be unique. Duplicate name: {name}")
        names.add(name)
    return names


def _check_tool_choice(choice: Any, names: set[str]) -> None:
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in ("auto", "any", "tool", "none"):
        raise BadRequest("tool_choice: Input tag does not match 'auto', 'any', 'tool' or 'none'")
    if kind == "tool" and choice.get("name") not in names:
        raise BadRequest(f"tool_choice.tool.name: no tool named {choice.get('name')!r} in tools")


def _check_thinking(body: dict[str, Any]) -> bool:
    """Whether the request enables thinking; raises on the rules the real API enforces."""
    thinking = body.get("thinking")
    if thinking is None:
        return False
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "disabled", "adaptive"):
        raise BadRequest("thinking: Input tag does not match 'enabled', 'disabled' or 'adaptive'")
    if kind == "disabled":
        return False
    if thinking.get("display") not in (None, "summarized", "omitted"):
        raise BadRequest(f"thinking.{kind}.display: Input should be 'summarized' or 'omitted'")
    if kind == "enabled":
        if "budget_tokens" not in thinking:
            raise BadRequest("thinking.enabled.budget_tokens: Field required")
        _check_int(thinking["budget_tokens"], "thinking.enabled.budget_tokens", 1024)
        if thinking["budget_tokens"] >= body["max_tokens"]:
            raise BadRequest(
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult "
                f"our documentation at {_THINKING_DOCS}#max-tokens-and-context-window-size"
            )
    if body.get("temperature") not in (None, 1):
        raise BadRequest(
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our "
            f"documentation at {_THINKING_DOCS}#feature-compatibility"
        )
    if body.get("top_k") is not None:
        raise BadRequest("`top_k` must be unset when thinking is enabled.")
    if body.get("top_p") is not None and body["top_p"] < 0.95:
        raise BadRequest("`top_p` must be greater than or equal to 0.95 when thinking is enabled.")
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        raise BadRequest("Thinking may not be enabled when `tool_choice` forces tool use.")
    return True


def _check_messages(messages: Any, thinks: bool) -> None:
    # Consecutive turns of one role pass: the API merges them into one turn.
    if not isinstance(messages, list):
        raise BadRequest("messages: Input should be a valid list")
    if not messages:
        raise BadRequest("messages: at least one message is required")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest(f"messages.{i}: Input should be a valid dictionary")
        role = message.get("role")
        if role == "system":
            raise BadRequest(
                'messages: Unexpected role "system". The Messages API accepts a top-level '
                '`system` parameter, not "system" as an input message role.'
            )
        if role not in ("user", "assistant"):
            raise BadRequest(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if "content" not in message:
            raise BadRequest(f"messages.{i}.content: Field required")
        _check_content(message["content"], i, role, final=i == len(messages) - 1)
    _check_tool_pairs(messages)
    if thinks:
        _check_thinking_kept(messages)


def _check_content(content: Any, i: int, role: str, *, final: bool) -> None:
    if isinstance(content, str):
        blocks: list[Any] = [{"type": "text", "text": content}] if content else []
    elif isinstance(content, list):
        blocks = content
    else:
        raise BadRequest(f"messages.{i}.content: Input should be a valid string or list")
    if not blocks and not (final and role == "assistant"):
        raise BadRequest(
            f"messages.{i}: all messages must have non-empty content except for the optional "
            "final assistant message"
        )
    for j, block in enumerate(blocks):
        where = f"messages.{i}.content.{j}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in _BLOCK_TYPES[role]:
            raise BadRequest(
                f"{where}.type: block type {kind!r} is not allowed in a {role} message"
            )
        if kind == "text":
            if not isinstance(block.get("text"), str):
                raise BadRequest(f"{where}.text: Field required")
            if not block["text"].strip() and not (final and role == "assistant"):
                raise BadRequest(f"{where}: text content blocks must contain non-whitespace text")
        elif kind == "tool_use":
            if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                raise BadRequest(f"{where}: `tool_use` blocks need an `id` and a `name`")
            if not isinstance(block.get("input"), dict):
                raise BadRequest(f"{where}.input: Input should be a valid dictionary")
        elif kind == "tool_result":
            if not isinstance(block.get("tool_use_id"), str):
                raise BadRequest(f"{where}.tool_use_id: Field required")
        elif kind == "thinking":
            sealed = unseal(block.get("signature"))
            if sealed is None or block.get("thinking") not in ("", sealed):
                raise BadRequest(f"{where}: Invalid `signature` in `thinking` block")
        elif kind == "redacted_thinking" and unseal(block.get("data")) is None:
            raise BadRequest(f"{where}: Invalid `data` in `redacted_thinking` block")


def _blocks(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = message["content"]
    if isinstance(content, str):
        return []
    return [block for block in content if block.get("type") == kind]


def _check_tool_pairs(messages: list[dict[str, Any]]) -> None:
    """Each tool_use answered by a tool_result in the next message, and no stray results."""
    for i, message in enumerate(messages):
        if message["role"] == "user":
            asked = (
                {b["id"] for b in _blocks(messages[i - 1], "tool_use")}
                if i and messages[i - 1]["role"] == "assistant"
                else set()
            )
            for j, block in enumerate(_blocks(message, "tool_result")):
                if block["tool_use_id"] not in asked:
                    raise BadRequest(
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in "
                        f"`tool_result` blocks: {block['tool_use_id']}. Each `tool_result` block "
                        "must have a corresponding `tool_use` block in the previous message."
                    )
            continue
        ids = [b["id"] for b in _blocks(message, "tool_use")]
        if not ids or i == len(messages) - 1:
            continue
        following = messages[i + 1]
        answered = (
            {b["tool_use_id"] for b in _blocks(following, "tool_result")}
            if following["role"] == "user"
            else set()
        )
        missing = [tool_id for tool_id in ids if tool_id not in answered]
        if missing:
            raise BadRequest(
                f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message."
            )


def _check_thinking_kept(messages: list[dict[str, Any]]) -> None:
    """With thinking on, the assistant turn a tool loop continues must keep its thinking."""
    if len(messages) < 2 or messages[-1]["role"] != "user":
        return
    if not _blocks(messages[-1], "tool_result"):
        return
    turn = messages[-2]
    content = turn["content"]
    first = content[0].get("type") if isinstance(content, list) and content else "text"
    if first not in ("thinking", "redacted_thinking"):
        raise BadRequest(
            f"messages.{len(messages) - 2}.content.0.type: Expected `thinking` or "
            f"`redacted_thinking`, but found `{first}`. When `thinking` is enabled, a final "
            "`assistant` message must start with a thinking block (preceeding the lastmost set "
            "of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks "
            "from previous turns. To avoid this requirement, disable `thinking`. Please consult "
            f"our documentation at {_THINKING_DOCS}"
        )


# -- the request as a chat transcript ----------------------------------------------------
def anthropic_transcript(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A Messages API request as chat-style messages: ``system`` first, assistant ``tool_use``
    blocks as ``tool_calls``, each ``tool_result`` block as a ``tool`` message (so a tool loop
    is turn 0, then turn 1, as on the other protocols). Expects a body that passed validation.
    """
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        text = system if isinstance(system, str) else message_text({"content": system})
        messages.append({"role": "system", "content": text})
    for message in body["messages"]:
        role, content = message["role"], message["content"]
        if isinstance(content, str):
            messages.append({"role": role, "content": content})
            continue
        text = message_text({"content": [b for b in content if b.get("type") == "text"]})
        if role == "assistant":
            turn: dict[str, Any] = {"role": "assistant", "content": text}
            calls = [
                {
                    "id": block["id"],
                    "type": "function",
                    "function": {"name": block["name"], "arguments": json.dumps(block["input"])},
                }
                for block in content
                if block.get("type") == "tool_use"
            ]
            if calls:
                turn["tool_calls"] = calls
            messages.append(turn)
            continue
        results = [block for block in content if block.get("type") == "tool_result"]
        for block in results:
            output = block.get("content", "")
            output = output if isinstance(output, str) else message_text({"content": output})
            messages.append(
                {"role": "tool", "tool_call_id": block["tool_use_id"], "content": output}
            )
        if text or not results:
            messages.append({"role": "user", "content": text})
    return messages


# -- the reply ----------------------------------------------------------------------------
class MessageRun(Answer):
    """One reply as a Messages API ``message`` or its event stream.

    Content blocks, in order: one ``thinking`` block per reasoning part and one
    ``redacted_thinking`` block per hidden part (only when the request enables thinking;
    ``display: "omitted"`` sends thinking blocks with empty text and their signature), a
    ``text`` block when there is text or nothing else, then one ``tool_use`` block per call.
    Usage: ``input_tokens`` excludes the cached prompt tokens, reported apart as
    ``cache_read_input_tokens`` and ``cache_creation_input_tokens``; ``output_tokens``
    includes thinking, broken out in ``output_tokens_details.thinking_tokens``.
    """

    def __init__(
        self, settings: Settings, body: dict[str, Any], messages: list[dict[str, Any]], reply: Reply
    ) -> None:
        thinking = body.get("thinking") or {}
        self.thinks = thinking.get("type") in ("enabled", "adaptive")
        shown = thinking.get("display") != "omitted"
        budget = Budget(reply, body["max_tokens"], thinks=self.thinks)
        self.id = random_id("msg_01", 22)
        self.model = body["model"]
        calls = [] if budget.truncated else tool_call_payloads(reply, "toolu_01")
        # Each block: (its opening form, its deltas flagged when they carry tokens, its whole).
        self.blocks: list[tuple[dict[str, Any], list[tuple[bool, dict[str, Any]]], dict]] = []
        for part in budget.reasoning:
            text = "".join(part) if shown else ""
            signature = seal("".join(part))
            deltas = [(True, {"type": "thinking_delta", "thinking": t}) for t in part if shown]
            deltas.append((False, {"type": "signature_delta", "signature": signature}))
            self.blocks.append((
                {"type": "thinking", "thinking": "", "signature": ""},
                deltas,
                {"type": "thinking", "thinking": text, "signature": signature},
            ))  # fmt: skip
        for hidden in budget.redacted:
            block = {"type": "redacted_thinking", "data": seal(hidden)}
            self.blocks.append((block, [], block))
        if budget.text or not calls:
            self.blocks.append((
                {"type": "text", "text": ""},
                [(True, {"type": "text_delta", "text": t}) for t in budget.text],
                {"type": "text", "text": "".join(budget.text)},
            ))  # fmt: skip
        for call in calls:
            name, arguments = call["function"]["name"], call["function"]["arguments"]
            pieces = [(True, {"type": "input_json_delta", "partial_json": p})
                      for p in split_arguments(arguments)]  # fmt: skip
            self.blocks.append((
                {"type": "tool_use", "id": call["id"], "name": name, "input": {}},
                [(False, {"type": "input_json_delta", "partial_json": ""}), *pieces],
                {"type": "tool_use", "id": call["id"], "name": name,
                 "input": json.loads(arguments)},
            ))  # fmt: skip
        if budget.truncated:
            self.stop_reason = "max_tokens"
        else:
            self.stop_reason = "tool_use" if calls else "end_turn"
        counts = Usage.of(
            messages,
            budget,
            calls,
            cached_tokens=settings.cached_tokens,
            cache_creation_tokens=settings.cache_creation_tokens,
        )
        self.input = {
            "input_tokens": counts.prompt - counts.cache_read - counts.cache_creation,
            "cache_creation_input_tokens": counts.cache_creation,
            "cache_read_input_tokens": counts.cache_read,
        }
        self.output: dict[str, Any] = {"output_tokens": counts.output}
        if self.thinks:
            self.output["output_tokens_details"] = {"thinking_tokens": counts.reasoning}
        self.request_id = random_id("req_011C", 20)

    @property
    def headers(self) -> dict[str, str]:
        return {"request-id": self.request_id}

    def _usage(self, output_tokens: dict[str, Any]) -> dict[str, Any]:
        cache = self.input["cache_creation_input_tokens"]
        return {
            **self.input,
            "cache_creation": {"ephemeral_5m_input_tokens": cache, "ephemeral_1h_input_tokens": 0},
            **output_tokens,
            "service_tier": "standard",
        }

    def _message(self, content: list[dict[str, Any]], stop_reason: str | None) -> dict:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            # message_start reports the first output token; the whole reply, all of them
            "usage": self._usage(self.output if stop_reason else {"output_tokens": 1}),
        }

    def whole(self) -> dict[str, Any]:
        return self._message([whole for _, _, whole in self.blocks], self.stop_reason)

    def head(self) -> Iterable[Event]:
        yield {"type": "message_start", "message": self._message([], None)}

    def body(self) -> Iterable[tuple[bool, Event]]:
        for index, (opening, deltas, _) in enumerate(self.blocks):
            yield False, {"type": "content_block_start", "index": index, "content_block": opening}
            if index == 0:
                yield False, {"type": "ping"}
            for is_delta, delta in deltas:
                yield is_delta, {"type": "content_block_delta", "index": index, "delta": delta}
            yield False, {"type": "content_block_stop", "index": index}

    def tail(self) -> Iterable[Event]:
        yield {
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
            "usage": {**self.input, **self.output},  # cumulative, as the API sends it
        }
        yield {"type": "message_stop"}

    def encode(self, event: Event) -> bytes:
        assert isinstance(event, dict)
        return sse(event, event["type"])

    def error_event(self, kind: ErrorKind, message: str) -> Event:
        return {"type": "error", "error": {"type": _ERRORS[kind][1], "message": message}}


class AnthropicMessages(Protocol):
    name = "anthropic-messages"
    # The SDK posts to {base_url}/v1/messages: the root URL gives /v1/messages, and
    # server.base_url (which ends in /v1, for OpenAI clients) gives /v1/v1/messages.
    paths = ("/v1/messages", "/v1/v1/messages")
    answer_class = MessageRun

    def validate(self, body: Any, request: web.Request) -> None:
        if not request.headers.get("anthropic-version"):
            raise BadRequest("anthropic-version: header is required")
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.")
        for key in sorted(set(body) - _FIELDS):
            raise BadRequest(f"{key}: Extra inputs are not permitted")
        for key in ("model", "max_tokens", "messages"):
            if key not in body:
                raise BadRequest(f"{key}: Field required")
        if not isinstance(body["model"], str):
            raise BadRequest("model: Input should be a valid string")
        _check_int(body["max_tokens"], "max_tokens", 1)
        if not isinstance(body.get("stream", False), bool):
            raise BadRequest("stream: Input should be a valid boolean")
        _check_system(body.get("system"))
        for key, top in (("temperature", 1.0), ("top_p", 1.0)):
            value = body.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float))
            ):
                raise BadRequest(f"{key}: Input should be a valid number")
            if value is not None and not 0 <= value <= top:
                raise BadRequest(f"{key}: Input should be between 0 and {top:g}")
        if body.get("top_k") is not None:
            _check_int(body["top_k"], "top_k", 0)
        tool_names = _check_tools(body.get("tools"))
        _check_tool_choice(body.get("tool_choice"), tool_names)
        thinks = _check_thinking(body)
        _check_messages(body["messages"], thinks)

    def transcript(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        return anthropic_transcript(body)

    def error_body(
        self, kind: ErrorKind, message: str, param: str | None, code: str | None
    ) -> tuple[int, dict[str, Any]]:
        status, type_ = _ERRORS[kind]
        error = {"type": type_, "message": message}
        return status, {"type": "error", "error": error, "request_id": random_id("req_011C", 20)}

    def error_headers(self, body: dict[str, Any]) -> dict[str, str]:
        return {"request-id": body["request_id"]}

    def unknown_model(self, model: str) -> web.Response:
        return self.error("not_found", f"model: {model}")


# -- sealing: signatures and redacted data ----------------------------------------------
