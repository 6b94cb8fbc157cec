"""Ollama's native chat API on the wire: ``POST /api/chat`` (NDJSON stream or one JSON object),
with ``/api/tags``, ``/api/show``, ``/api/version`` and ``GET /`` beside it.

What the ``ollama`` client and stock ``ChatOllama(base_url=...)`` read: one JSON object per
line, each a piece of the assistant message (``message.thinking`` tokens while the model
thinks, then ``message.content`` tokens, then whole ``message.tool_calls``: Ollama sends calls
whole, never as argument deltas), and a last object with ``done: true``, ``done_reason``,
``prompt_eval_count``, ``eval_count`` and the durations in nanoseconds. ``stream`` is on
unless the request says ``false``. Errors are ``{"error": "..."}`` (404 for a model the server
does not have, 400 for a malformed request, 500); a stream that fails after it began ends with
an ``{"error": ...}`` line, which the ``ollama`` client raises as ``ResponseError``.

Reasoning: the model thinks unless the request says ``think: false`` (what current Ollama does
for a thinking model when ``think`` is unset). The chunk that ends the thinking also carries
the first piece of the answer, as Ollama's thinking parser sends it when the closing tag and
the next text arrive together.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from lc_callbacks_nb.offline.faults import Fault
from lc_callbacks_nb.offline.server_script import (
    Budget,
    Reply,
    Usage,
    tool_call_payloads,
)
from lc_callbacks_nb.offline.wire import (
    Answer,
    BadRequest,
    ErrorKind,
    Event,
    Protocol,
    Settings,
    ndjson,
)

_STATUS = {
    "invalid_request": 400,
    "not_found": 404,
    "method_not_allowed": 405,
    "rate_limit": 429,
    "server_error": 500,
    "overloaded": 503,
}
_THINK_LEVELS = ("high", "medium", "low", "max")
_BUSY = "server busy, please try again.  maximum pending requests exceeded"  # Ollama's own
_VERSION = "0.12.6"


def _unmarshal(field: str, value: Any, go_type: str) -> str:
    kind = {bool: "bool", str: "string", list: "array", dict: "object"}.get(type(value), "number")
    return (
        f"json: cannot unmarshal {kind} into Go struct field ChatRequest.{field} of type {go_type}"
    )


def _check_message(message: Any) -> None:
    if not isinstance(message, dict):
        raise BadRequest(_unmarshal("messages", message, "api.Message"))
    for key, go_type in (("role", "string"), ("content", "string"), ("thinking", "string"),
                         ("tool_name", "string"), ("tool_call_id", "string")):  # fmt: skip
        value = message.get(key)
        if value is not None and not isinstance(value, str):
            raise BadRequest(_unmarshal(f"messages.{key}", value, go_type))
    calls = message.get("tool_calls")
    if calls is None:
        return
    if not isinstance(calls, list):
        raise BadRequest(_unmarshal("messages.tool_calls", calls, "[]api.ToolCall"))
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise BadRequest(_unmarshal("messages.tool_calls", call, "api.ToolCall"))
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            # The classic mistake: OpenAI's JSON-string arguments sent to Ollama.
            raise BadRequest(
                _unmarshal("messages.tool_calls.function.arguments", arguments,
                           "api.ToolCallFunctionArguments")
            )  # fmt: skip


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _details() -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "local",
        "families": ["local"],
        "parameter_size": "0B",
        "quantization_level": "F16",
    }


def _listing(name: str) -> dict[str, Any]:
    full = name if ":" in name else f"{name}:latest"
    return {
        "name": full,
        "model": full,
        "modified_at": "2026-01-01T00:00:00Z",
        "size": 0,
        "digest": _digest(full),
        "details": _details(),
    }


def _show(name: str) -> dict[str, Any]:
    return {
        "modelfile": f"# LocalChatServer's scripted model {name}\nFROM {name}\n",
        "parameters": "",
        "template": "{{ .Prompt }}",
        "details": _details(),
        "model_info": {"general.architecture": "local", "general.parameter_count": 0},
        "capabilities": ["completion", "tools", "thinking"],
        "modified_at": "2026-01-01T00:00:00Z",
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class OllamaRun(Answer):
    """One reply as Ollama's final chat object or its NDJSON stream.

    ``eval_count`` counts thinking, text and tool call tokens; ``prompt_eval_count`` the
    prompt. The durations are measured on this server (nanoseconds): ``load_duration`` until
    the reply was chosen, ``prompt_eval_duration`` until the first piece, ``eval_duration``
    from there to the end, ``total_duration`` all of it.
    """

    content_type = "application/x-ndjson"

    def __init__(
        self, settings: Settings, body: dict[str, Any], messages: list[dict[str, Any]], reply: Reply
    ) -> None:
        self.received = settings.received_ns
        self.chosen = time.perf_counter_ns()
        self.first: int | None = None
        self.model = body["model"]
        self.load_only = not body.get("messages")  # Ollama's way to load a model
        options = body.get("options") or {}
        limit = options.get("num_predict")
        limit = limit if isinstance(limit, int) and limit > 0 else None  # -1, -2: no limit
        thinks = body.get("think") is not False
        reply = dataclasses.replace(reply, redacted_reasoning="")  # Ollama hides nothing
        budget = Budget(reply, limit, thinks=thinks)
        self.thinking: list[str] = []
        for i, part in enumerate(budget.reasoning):
            self.thinking += (["\n\n"] if i else []) + part
        self.text = budget.text
        self.calls = [] if budget.truncated else tool_call_payloads(reply, "call_")
        self.done_reason = "length" if budget.truncated else "stop"
        self.counts = Usage.of(messages, budget, self.calls)

    def _message(self, content: str = "", thinking: str = "", calls: list | None = None) -> dict:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if thinking:
            message["thinking"] = thinking
        if calls:
            message["tool_calls"] = calls
        return message

    def _calls(self) -> list[dict[str, Any]]:
        return [
            {
                "id": call["id"],
                "function": {
                    "index": index,
                    "name": call["function"]["name"],
                    "arguments": json.loads(call["function"]["arguments"]),
                },
            }
            for index, call in enumerate(self.calls)
        ]

    def _final(self, message: dict[str, Any]) -> dict[str, Any]:
        now = time.perf_counter_ns()
        first = self.first if self.first is not None else self.chosen
        if self.load_only:
            return {"model": self.model, "created_at": _now(), "message": message,
                    "done": True, "done_reason": "load"}  # fmt: skip
        return {
            "model": self.model,
            "created_at": _now(),
            "message": message,
            "done": True,
            "done_reason": self.done_reason,
            "total_duration": max(now - self.received, 1),
            "load_duration": max(self.chosen - self.received, 1),
            "prompt_eval_count": self.counts.prompt,
            "prompt_eval_duration": max(first - self.chosen, 1),
            "eval_count": self.counts.output,
            "eval_duration": max(now - first, 1),
        }

    def whole(self) -> dict[str, Any]:
        if self.load_only:
            return self._final(self._message())
        message = self._message("".join(self.text), "".join(self.thinking), self._calls())
        return self._final(message)

    def _piece(self, message: dict[str, Any]) -> dict[str, Any]:
        return {"model": self.model, "created_at": _now(), "message": message, "done": False}

    def body(self) -> Iterable[tuple[bool, Event]]:
        if self.load_only:
            return
        self.first = time.perf_counter_ns()
        text = list(self.text)
        for i, token in enumerate(self.thinking):
            last = i == len(self.thinking) - 1
            # The piece that ends the thinking carries the answer's first token with it.
            content = text.pop(0) if last and text else ""
            yield True, self._piece(self._message(content, token))
        for token in text:
            yield True, self._piece(self._message(token))
        for call in self._calls():
            yield True, self._piece(self._message(calls=[call]))

    def tail(self) -> Iterable[Event]:
        yield self._final(self._message())

    def encode(self, event: Event) -> bytes:
        assert isinstance(event, dict)
        return ndjson(event)

    def error_event(self, kind: ErrorKind, message: str) -> Event:
        return {"error": message}


class OllamaChat(Protocol):
    name = "ollama-chat"
    # The ollama client calls {host}/api/chat: the root URL gives /api/chat, and
    # server.base_url (which ends in /v1, for OpenAI clients) gives /v1/api/chat.
    paths = ("/api/chat", "/v1/api/chat")
    answer_class = OllamaRun

    def validate(self, body: Any, request: web.Request) -> None:
        # Ollama decodes into Go structs: a wrong type is a 400 naming the struct field.
        if not isinstance(body, dict):
            raise BadRequest("json: cannot unmarshal the request body into api.ChatRequest")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("model is required")
        messages = body.get("messages", [])
        if not isinstance(messages, list):
            raise BadRequest(_unmarshal("messages", messages, "[]api.Message"))
        for message in messages:
            _check_message(message)
        if not isinstance(body.get("stream", True), (bool, type(None))):
            raise BadRequest(_unmarshal("stream", body["stream"], "bool"))
        think = body.get("think")
        if isinstance(think, str) and think not in _THINK_LEVELS:
            raise BadRequest(
                f'invalid think value: "{think}" (must be "high", "medium", "low", "max", '
                "true, or false)"
            )
        if think is not None and not isinstance(think, (bool, str)):
            raise BadRequest(
                'think must be a boolean or string ("high", "medium", "low", "max", true, or false)'
            )
        options = body.get("options")
        if options is not None and not isinstance(options, dict):
            raise BadRequest(_unmarshal("options", options, "map[string]interface {}"))
        if not isinstance(body.get("tools") or [], list):
            raise BadRequest(_unmarshal("tools", body["tools"], "api.Tools"))
        top = body.get("top_logprobs") or 0
        if not isinstance(top, int) or not 0 <= top <= 20:
            raise BadRequest("top_logprobs must be between 0 and 20")

    def streaming(self, body: dict[str, Any]) -> bool:
        return body.get("stream") is not False  # on by default

    def transcript(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The messages as they came, with tool call arguments as JSON text (for counting)."""
        messages = []
        for message in body.get("messages") or ():
            message = dict(message)
            if message.get("tool_calls"):
                message["tool_calls"] = [
                    {
                        "id": call.get("id"),
                        "type": "function",
                        "function": {
                            "name": call["function"]["name"],
                            "arguments": json.dumps(call["function"].get("arguments") or {}),
                        },
                    }
                    for call in message["tool_calls"]
                ]
            messages.append(message)
        return messages

    def error_body(
        self, kind: ErrorKind, message: str, param: str | None, code: str | None
    ) -> tuple[int, dict[str, Any]]:
        return _STATUS[kind], {"error": message}

    def unknown_model(self, model: str) -> web.Response:
        return self.error("not_found", f"model '{model}' not found")

    def fault_message(self, fault: Fault) -> str:
        return _BUSY if fault.kind == "overloaded" else super().fault_message(fault)

    def routes(
        self, models: Callable[[], list[str]], knows: Callable[[str], bool]
    ) -> list[web.RouteDef]:
        """``/api/tags``, ``/api/show`` (what ``ChatOllama(validate_model_on_init=True)`` and
        the ``ollama`` client ask), ``/api/version`` and ``GET /``, at the root and under /v1."""

        async def tags(request: web.Request) -> web.Response:
            return web.json_response({"models": [_listing(name) for name in models()]})

        async def show(request: web.Request) -> web.Response:
            try:
                body = json.loads(await request.text())
            except ValueError as exc:
                return self.error("invalid_request", f"invalid JSON: {exc}")
            name = (body.get("model") or body.get("name")) if isinstance(body, dict) else None
            if not isinstance(name, str) or not name:
                return self.error("invalid_request", "model is required")
            if not knows(name):
                return self.unknown_model(name)
            return web.json_response(_show(name))

        async def version(request: web.Request) -> web.Response:
            return web.json_response({"version": _VERSION})

        async def running(request: web.Request) -> web.Response:
            return web.Response(text="Ollama is running")

        found: list[web.RouteDef] = []
        for prefix in ("", "/v1"):
            found += [
                web.get(f"{prefix}/api/tags", tags),
                web.post(f"{prefix}/api/show", show),
                web.get(f"{prefix}/api/version", version),
            ]
        found.append(web.get("/", running))  # also answers HEAD
        return found
