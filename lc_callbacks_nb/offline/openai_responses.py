"""The OpenAI Responses API on the wire: ``POST /v1/responses``, plain and SSE.

What ``openai.OpenAI().responses.create`` and ``ChatOpenAI(use_responses_api=True)`` read: a
``response`` object, or its event stream with OpenAI's event names and sequence numbers
(reasoning items with summary parts, messages, function calls, ``response.completed`` with
usage including cached and reasoning tokens).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from lc_callbacks_nb.offline.openai_common import OpenAIProtocol, check_int, check_type, json_type
from lc_callbacks_nb.offline.server_script import (
    Budget,
    Reply,
    Usage,
    item_id,
    message_text,
    split_arguments,
    tool_call_payloads,
)
from lc_callbacks_nb.offline.wire import Answer, BadRequest, ErrorKind, Event, Settings, sse

_INPUT_ROLES = {"system", "developer", "user", "assistant"}
_SUMMARY_MODES = {"auto", "concise", "detailed"}
_EFFORTS = {"none", "minimal", "low", "medium", "high", "xhigh"}
_ERROR_CODES = {"rate_limit": "rate_limit_exceeded", "server_error": "server_error",
                "overloaded": "server_is_overloaded"}  # fmt: skip


def _validate_input_item(item: Any, where: str) -> None:
    if not isinstance(item, dict):
        raise BadRequest(
            f"Invalid type for '{where}': expected an input item object, but got "
            f"{json_type(item)} instead.",
            where,
            "invalid_type",
        )
    kind = item.get("type", "message")
    if not isinstance(kind, str):
        raise BadRequest(f"Invalid '{where}.type': expected a string.", f"{where}.type")
    if kind == "message":
        if item.get("role") not in _INPUT_ROLES:
            raise BadRequest(
                f"Invalid value for '{where}.role': expected one of 'user', 'assistant', "
                f"'system' or 'developer', got {item.get('role')!r}.",
                f"{where}.role",
                "invalid_value",
            )
        content = item.get("content")
        if not isinstance(content, (str, list)):
            raise BadRequest(
                f"Invalid type for '{where}.content': expected one of a string or array of "
                f"input content parts, but got {json_type(content)} instead.",
                f"{where}.content",
                "invalid_type",
            )
        if isinstance(content, list):
            for j, part in enumerate(content):
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    raise BadRequest(
                        f"Invalid '{where}.content[{j}]': expected an object with a 'type'.",
                        f"{where}.content[{j}]",
                    )
    elif kind == "function_call":
        for key in ("call_id", "name", "arguments"):
            if not isinstance(item.get(key), str):
                raise BadRequest(
                    f"Missing or invalid '{where}.{key}': expected a string.", f"{where}.{key}"
                )
    elif kind == "function_call_output":
        if not isinstance(item.get("call_id"), str):
            raise BadRequest(
                f"Missing or invalid '{where}.call_id': expected a string.", f"{where}.call_id"
            )
        if not isinstance(item.get("output"), (str, list)):
            raise BadRequest(
                f"Missing or invalid '{where}.output': expected a string or an array.",
                f"{where}.output",
            )


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


class ResponseRun(Answer):
    """One reply, shaped as a Responses API ``response`` object or as its event stream.

    Output items, in order: a reasoning item when the reply has reasoning (its summary parts
    filled only when the request asks for a summary), a message with one ``output_text`` part
    when there is text or nothing else, then one ``function_call`` item per tool call. The
    stream follows OpenAI's Responses streaming reference: ``response.created``,
    ``response.in_progress``, each item's ``output_item.added`` / part and delta events /
    ``output_item.done``, then ``response.completed`` (``response.incomplete`` when
    ``max_output_tokens`` cut the reply), every event with its ``sequence_number``.
    """

    def __init__(
        self,
        settings: Settings,
        body: dict[str, Any],
        messages: list[dict[str, Any]],
        reply: Reply,
    ) -> None:
        self.request = body
        self.id = item_id("resp_")
        self.created = int(time.time())
        self.model = body.get("model") or settings.model_name
        budget = Budget(reply, body.get("max_output_tokens"))
        self.truncated = budget.truncated
        reasoning = body.get("reasoning") or {}
        self.summarize = reasoning.get("summary") is not None
        self.encrypt = "reasoning.encrypted_content" in (body.get("include") or ())
        self.reasoning = budget.reasoning
        self.text = budget.text
        calls = [] if self.truncated else tool_call_payloads(reply)
        self.calls = [(item_id("fc_"), call) for call in calls]
        self.reasoning_id = item_id("rs_") if budget.reasoning or budget.redacted else None
        self.message_id = item_id("msg_") if (self.text or not self.calls) else None
        counts = Usage.of(
            messages,
            budget,
            calls,
            cached_tokens=settings.cached_tokens,
            cache_creation_tokens=settings.cache_creation_tokens,
        )
        self.usage = {
            "input_tokens": counts.prompt,
            "input_tokens_details": {
                "cached_tokens": counts.cache_read,
                "cache_write_tokens": counts.cache_creation,
            },
            "output_tokens": counts.output,
            "output_tokens_details": {"reasoning_tokens": counts.reasoning},
            "total_tokens": counts.total,
        }
        self.sequence = 0

    # -- items ----------------------------------------------------------------------------
    def _reasoning_item(self, done: bool) -> dict[str, Any]:
        summary = (
            [{"type": "summary_text", "text": "".join(part)} for part in self.reasoning]
            if done and self.summarize
            else []
        )
        item: dict[str, Any] = {"id": self.reasoning_id, "type": "reasoning", "summary": summary}
        if done and self.encrypt:  # opaque to clients; the server never reads it back
            thought = "".join("".join(part) for part in self.reasoning)
            item["encrypted_content"] = "gAAAAB" + base64.b64encode(thought.encode()).decode()
        return item

    def _text_part(self, text: str) -> dict[str, Any]:
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def _message_item(self, done: bool) -> dict[str, Any]:
        status = ("incomplete" if self.truncated else "completed") if done else "in_progress"
        return {
            "id": self.message_id,
            "type": "message",
            "status": status,
            "content": [self._text_part("".join(self.text))] if done else [],
            "role": "assistant",
        }

    def _call_item(self, fc_id: str, call: dict[str, Any], done: bool) -> dict[str, Any]:
        return {
            "id": fc_id,
            "type": "function_call",
            "status": "completed" if done else "in_progress",
            "arguments": call["function"]["arguments"] if done else "",
            "call_id": call["id"],
            "name": call["function"]["name"],
        }

    def _output(self) -> list[dict[str, Any]]:
        items = []
        if self.reasoning_id:
            items.append(self._reasoning_item(done=True))
        if self.message_id:
            items.append(self._message_item(done=True))
        items.extend(self._call_item(fc_id, call, done=True) for fc_id, call in self.calls)
        return items

    @property
    def status(self) -> str:
        return "incomplete" if self.truncated else "completed"

    def _response(self, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
        body = self.request
        reasoning = body.get("reasoning") or {}
        finished = status != "in_progress"
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "background": False,
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"}
            if status == "incomplete"
            else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": body.get("max_tool_calls"),
            "model": self.model,
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_logprobs": 0,
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": self.usage if finished else None,
            "user": None,
            "metadata": body.get("metadata") or {},
        }

    def whole(self) -> dict[str, Any]:
        return self._response(self.status, self._output())

    # -- events ---------------------------------------------------------------------------
    def _events(self) -> list[tuple[bool, dict[str, Any]]]:
        """The events after ``response.in_progress``, each flagged when it carries a delta."""
        events: list[tuple[bool, dict[str, Any]]] = []

        def add(type_: str, is_delta: bool = False, /, **fields: Any) -> None:
            events.append((is_delta, {"type": type_, **fields}))

        index = 0
        if self.reasoning_id:
            where = {"item_id": self.reasoning_id, "output_index": index}
            add(
                "response.output_item.added",
                output_index=index,
                item=self._reasoning_item(done=False),
            )
            for n, part in enumerate(self.reasoning if self.summarize else []):
                text = "".join(part)
                add(
                    "response.reasoning_summary_part.added",
                    **where,
                    summary_index=n,
                    part={"type": "summary_text", "text": ""},
                )
                for token in part:
                    add(
                        "response.reasoning_summary_text.delta",
                        True,
                        **where,
                        summary_index=n,
                        delta=token,
                    )
                add("response.reasoning_summary_text.done", **where, summary_index=n, text=text)
                add(
                    "response.reasoning_summary_part.done",
                    **where,
                    summary_index=n,
                    part={"type": "summary_text", "text": text},
                )
            add(
                "response.output_item.done",
                output_index=index,
                item=self._reasoning_item(done=True),
            )
            index += 1
        if self.message_id:
            where = {"item_id": self.message_id, "output_index": index, "content_index": 0}
            text = "".join(self.text)
            add(
                "response.output_item.added",
                output_index=index,
                item=self._message_item(done=False),
            )
            add("response.content_part.added", **where, part=self._text_part(""))
            for token in self.text:
                add("response.output_text.delta", True, **where, delta=token, logprobs=[])
            add("response.output_text.done", **where, text=text, logprobs=[])
            add("response.content_part.done", **where, part=self._text_part(text))
            add("response.output_item.done", output_index=index, item=self._message_item(done=True))
            index += 1
        for fc_id, call in self.calls:
            where = {"item_id": fc_id, "output_index": index}
            arguments = call["function"]["arguments"]
            add(
                "response.output_item.added",
                output_index=index,
                item=self._call_item(fc_id, call, done=False),
            )
            for piece in split_arguments(arguments):
                add("response.function_call_arguments.delta", True, **where, delta=piece)
            add("response.function_call_arguments.done", **where, arguments=arguments)
            add(
                "response.output_item.done",
                output_index=index,
                item=self._call_item(fc_id, call, done=True),
            )
            index += 1
        return events

    def head(self) -> Iterable[Event]:
        yield {"type": "response.created", "response": self._response("in_progress", [])}
        yield {"type": "response.in_progress", "response": self._response("in_progress", [])}

    def body(self) -> Iterable[tuple[bool, Event]]:
        return self._events()

    def tail(self) -> Iterable[Event]:
        final = "response.incomplete" if self.truncated else "response.completed"
        yield {"type": final, "response": self.whole()}

    def encode(self, event: Event) -> bytes:
        assert isinstance(event, dict)
        event = {**event, "sequence_number": self.sequence}
        self.sequence += 1
        return sse(event, event["type"])

    def error_event(self, kind: ErrorKind, message: str) -> Event:
        # OpenAI's ``error`` streaming event; ChatOpenAI raises it as a ValueError.
        return {"type": "error", "code": _ERROR_CODES.get(kind), "message": message,
                "param": None}  # fmt: skip


class OpenAIResponses(OpenAIProtocol):
    name = "openai-responses"
    paths = ("/v1/responses",)
    answer_class = ResponseRun

    def validate(self, body: Any, request: web.Request) -> None:
        """Reject a /v1/responses body OpenAI would reject with a 400, naming the bad parameter."""
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.")
        if body.get("input") is None:
            raise BadRequest(
                "Missing required parameter: 'input'.", "input", "missing_required_parameter"
            )
        items = body["input"]
        if not isinstance(items, (str, list)):
            raise BadRequest(
                "Invalid type for 'input': expected one of a string or array of input items, "
                f"but got {json_type(items)} instead.",
                "input",
                "invalid_type",
            )
        if isinstance(items, list):
            if not items:
                raise BadRequest(
                    "Invalid 'input': expected a string or a non-empty array of input items.",
                    "input",
                    "empty_array",
                )
            for i, item in enumerate(items):
                _validate_input_item(item, f"input[{i}]")
        check_type(body, "model", (str,), "a string")
        check_type(body, "instructions", (str, list), "a string")
        check_type(body, "stream", (bool,), "a boolean")
        check_type(body, "tools", (list,), "an array of tools")
        check_type(body, "include", (list,), "an array of strings")
        check_type(body, "reasoning", (dict,), "an object")
        check_type(body, "metadata", (dict,), "an object")
        check_type(body, "temperature", (int, float), "a number")
        check_type(body, "top_p", (int, float), "a number")
        check_int(body, "max_output_tokens", 1)
        for i, tool in enumerate(body.get("tools") or ()):
            if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
                raise BadRequest(
                    f"Invalid 'tools[{i}]': expected an object with a 'type'.", f"tools[{i}]"
                )
        reasoning = body.get("reasoning") or {}
        if reasoning.get("summary") not in (*_SUMMARY_MODES, None):
            raise BadRequest(
                "Invalid value for 'reasoning.summary': expected one of 'auto', 'concise' or "
                f"'detailed', got {reasoning.get('summary')!r}.",
                "reasoning.summary",
                "invalid_value",
            )
        if reasoning.get("effort") not in (*_EFFORTS, None):
            raise BadRequest(
                f"Invalid value for 'reasoning.effort': got {reasoning.get('effort')!r}.",
                "reasoning.effort",
                "invalid_value",
            )

    def transcript(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        return responses_messages(body)
