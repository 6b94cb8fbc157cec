"""OpenAI Chat Completions on the wire: ``POST /v1/chat/completions``, plain and SSE.

What ``openai.OpenAI().chat.completions.create`` and stock ``ChatOpenAI`` read: a
``chat.completion`` object, or ``chat.completion.chunk`` events (a role chunk, content tokens,
tool call pieces, a finish chunk, a usage chunk when ``stream_options.include_usage`` asks for
one, then ``[DONE]``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from lc_callbacks_nb.offline.openai_common import OpenAIProtocol, check_int
from lc_callbacks_nb.offline.server_script import (
    Budget,
    Reply,
    Usage,
    random_id,
    split_arguments,
    tool_call_payloads,
)
from lc_callbacks_nb.offline.wire import Answer, BadRequest, ErrorKind, Event, Settings, sse

_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_FINGERPRINT = "fp_local"
_ERROR_TYPES = {
    "rate_limit": "requests",
    "server_error": "server_error",
    "overloaded": "server_error",
}


class Completion(Answer):
    """One reply, shaped as a chat.completion object or as a chat.completion.chunk stream.

    Chat Completions has no standard field for reasoning text (``ChatOpenAI`` reads none), so
    a reply's reasoning is never sent here: only its tokens count, in ``completion_tokens``
    and ``completion_tokens_details.reasoning_tokens``, as OpenAI's reasoning models do.
    """

    def __init__(
        self, settings: Settings, body: dict[str, Any], messages: list[dict[str, Any]], reply: Reply
    ) -> None:
        self.id = random_id("chatcmpl-", 29)
        self.created = int(time.time())
        self.model = body.get("model") or settings.model_name
        budget = Budget(reply, body.get("max_completion_tokens") or body.get("max_tokens"))
        self.truncated = budget.truncated
        self.tokens = budget.text
        self.tool_calls = tool_call_payloads(reply)
        self.include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        counts = Usage.of(messages, budget, self.tool_calls, cached_tokens=settings.cached_tokens)
        self.usage: dict[str, Any] = {
            "prompt_tokens": counts.prompt,
            "completion_tokens": counts.output,
            "total_tokens": counts.total,
        }
        if counts.cache_read or counts.reasoning:  # OpenAI always sends them; kept quiet at 0
            self.usage["prompt_tokens_details"] = {
                "cached_tokens": counts.cache_read,
                "audio_tokens": 0,
            }
            self.usage["completion_tokens_details"] = {
                "reasoning_tokens": counts.reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            }

    @property
    def finish_reason(self) -> str:
        if self.truncated:
            return "length"
        return "tool_calls" if self.tool_calls else "stop"

    def _deltas(self) -> list[dict[str, Any]]:
        """The streamed deltas after the role chunk: content tokens, then tool call pieces."""
        deltas: list[dict[str, Any]] = [{"content": token} for token in self.tokens]
        if self.truncated:
            return deltas  # the length limit stops generation before any tool call
        for index, call in enumerate(self.tool_calls):
            function = call["function"]
            head = {"index": index, "id": call["id"], "type": "function"}
            deltas.append(
                {"tool_calls": [{**head, "function": {"name": function["name"], "arguments": ""}}]}
            )
            deltas.extend(
                {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                for piece in split_arguments(function["arguments"])
            )
        return deltas

    def whole(self) -> dict[str, Any]:
        text = "".join(self.tokens)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": text if (text or not self.tool_calls) else None,
            "refusal": None,
        }
        if self.tool_calls and not self.truncated:
            message["tool_calls"] = self.tool_calls
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": _FINGERPRINT,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": self.finish_reason,
                }
            ],
            "usage": self.usage,
        }

    def _chunk(
        self, delta: dict[str, Any] | None, finish_reason: str | None = None
    ) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": _FINGERPRINT,
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if self.include_usage:  # OpenAI sends usage: null on every chunk but the last
            chunk["usage"] = self.usage if delta is None else None
        return chunk

    # The role chunk goes after the first-token delay: it is the model's first output.
    def body(self) -> Iterable[tuple[bool, Event]]:
        yield False, self._chunk({"role": "assistant", "content": ""})
        for delta in self._deltas():
            yield True, self._chunk(delta)

    def tail(self) -> Iterable[Event]:
        yield self._chunk({}, self.finish_reason)
        if self.include_usage:
            yield self._chunk(None)
        yield "[DONE]"

    def encode(self, event: Event) -> bytes:
        return sse(event)

    def error_event(self, kind: ErrorKind, message: str) -> Event:
        # What OpenAI sends when a stream fails after it began; the openai client raises
        # APIError from it.
        return {"error": {"message": message, "type": _ERROR_TYPES.get(kind, kind),
                          "param": None, "code": None}}  # fmt: skip


class OpenAIChat(OpenAIProtocol):
    name = "openai-chat"
    paths = ("/v1/chat/completions",)
    answer_class = Completion

    def validate(self, body: Any, request: web.Request) -> None:
        """Reject what OpenAI would reject with a 400, naming the bad parameter."""
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.")
        if "messages" not in body:
            raise BadRequest(
                "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
            )
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise BadRequest(
                "Invalid 'messages': expected a non-empty array of messages.", "messages"
            )
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in _ROLES:
                raise BadRequest(
                    f"Invalid 'messages[{i}]': expected an object with a valid 'role'.",
                    f"messages[{i}]",
                )
            if not isinstance(message.get("content"), (str, list, type(None))):
                raise BadRequest(
                    f"Invalid 'messages[{i}].content': expected a string or an array.",
                    f"messages[{i}].content",
                )
        if not isinstance(body.get("model", ""), str):
            raise BadRequest("Invalid 'model': expected a string.", "model")
        if not isinstance(body.get("stream", False), (bool, type(None))):
            raise BadRequest("Invalid 'stream': expected a boolean.", "stream")
        if not isinstance(body.get("stream_options") or {}, dict):
            raise BadRequest("Invalid 'stream_options': expected an object.", "stream_options")
        check_int(body, "max_tokens", 1)
        check_int(body, "max_completion_tokens", 1)
        check_int(body, "n", 1)
        if (body.get("n") or 1) > 1:
            raise BadRequest("n > 1 is not supported by LocalChatServer; send n=1.", "n")

    def transcript(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        return list(body["messages"])
