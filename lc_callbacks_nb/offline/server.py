"""An OpenAI-compatible chat server on 127.0.0.1, for notebooks and tests that run offline.

``LocalChatServer`` serves ``GET /v1/models``, ``POST /v1/chat/completions`` (plain and SSE
streaming, usage, tool calls) and ``POST /v1/responses`` (the Responses API: plain and SSE
streaming with OpenAI's event names, reasoning summaries, function calls, usage with cached
and reasoning tokens) with aiohttp on its own event loop in a daemon thread, so it works the
same from a sync cell, a top-level-await cell, pytest, or the shell::

    with LocalChatServer(token_delay=0.01) as server:
        chat = ChatOpenAI(base_url=server.base_url, api_key="sk-local")

Run ``python -m lc_callbacks_nb.offline.server --help`` to serve from a terminal.

This module is standalone: it imports nothing from ``lc_callbacks_nb`` except its sibling
``server_script`` (the reply logic), so it never pulls in IPython or LangChain.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from lc_callbacks_nb.offline.server_script import (
    DEFAULT_REPLY,
    Reply,
    Script,
    ToolCall,
    choose_reply,
    count_tokens,
    item_id,
    prompt_tokens,
    random_id,
    reasoning_parts,
    responses_messages,
    split_arguments,
    tokenize,
    tool_call_payloads,
)

__all__ = ["DEFAULT_REPLY", "LocalChatServer", "Reply", "ToolCall"]

log = logging.getLogger(__name__)

FaultKind = Literal["rate_limit", "server_error", "disconnect", "slow_first_token"]
_FAULT_KINDS: tuple[str, ...] = ("rate_limit", "server_error", "disconnect", "slow_first_token")
_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_INPUT_ROLES = {"system", "developer", "user", "assistant"}
_SUMMARY_MODES = {"auto", "concise", "detailed"}
_EFFORTS = {"none", "minimal", "low", "medium", "high", "xhigh"}
_FINGERPRINT = "fp_local"


@dataclass
class _Fault:
    kind: str
    remaining: int
    after_tokens: int
    delay: float
    retry_after: float


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.param = param
        self.code = code


def _error_response(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An error in OpenAI's shape, which the openai client turns into the matching exception."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def _check_int(body: dict[str, Any], key: str, minimum: int) -> None:
    value = body.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _BadRequest(f"Invalid '{key}': expected an integer >= {minimum}, got {value!r}.", key)


def _check_type(body: dict[str, Any], key: str, types: tuple[type, ...], expected: str) -> None:
    value = body.get(key)
    if value is None:
        return
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise _BadRequest(
            f"Invalid type for '{key}': expected {expected}, but got {_json_type(value)} instead.",
            key,
            "invalid_type",
        )


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _validate_input_item(item: Any, where: str) -> None:
    if not isinstance(item, dict):
        raise _BadRequest(
            f"Invalid type for '{where}': expected an input item object, but got "
            f"{_json_type(item)} instead.",
            where,
            "invalid_type",
        )
    kind = item.get("type", "message")
    if not isinstance(kind, str):
        raise _BadRequest(f"Invalid '{where}.type': expected a string.", f"{where}.type")
    if kind == "message":
        if item.get("role") not in _INPUT_ROLES:
            raise _BadRequest(
                f"Invalid value for '{where}.role': expected one of 'user', 'assistant', "
                f"'system' or 'developer', got {item.get('role')!r}.",
                f"{where}.role",
                "invalid_value",
            )
        content = item.get("content")
        if not isinstance(content, (str, list)):
            raise _BadRequest(
                f"Invalid type for '{where}.content': expected one of a string or array of "
                f"input content parts, but got {_json_type(content)} instead.",
                f"{where}.content",
                "invalid_type",
            )
        if isinstance(content, list):
            for j, part in enumerate(content):
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    raise _BadRequest(
                        f"Invalid '{where}.content[{j}]': expected an object with a 'type'.",
                        f"{where}.content[{j}]",
                    )
    elif kind == "function_call":
        for key in ("call_id", "name", "arguments"):
            if not isinstance(item.get(key), str):
                raise _BadRequest(
                    f"Missing or invalid '{where}.{key}': expected a string.", f"{where}.{key}"
                )
    elif kind == "function_call_output":
        if not isinstance(item.get("call_id"), str):
            raise _BadRequest(
                f"Missing or invalid '{where}.call_id': expected a string.", f"{where}.call_id"
            )
        if not isinstance(item.get("output"), (str, list)):
            raise _BadRequest(
                f"Missing or invalid '{where}.output': expected a string or an array.",
                f"{where}.output",
            )


def _validate_responses(body: Any) -> None:
    """Reject a /v1/responses body OpenAI would reject with a 400, naming the bad parameter."""
    if not isinstance(body, dict):
        raise _BadRequest("The request body must be a JSON object.")
    if body.get("input") is None:
        raise _BadRequest(
            "Missing required parameter: 'input'.", "input", "missing_required_parameter"
        )
    items = body["input"]
    if not isinstance(items, (str, list)):
        raise _BadRequest(
            "Invalid type for 'input': expected one of a string or array of input items, "
            f"but got {_json_type(items)} instead.",
            "input",
            "invalid_type",
        )
    if isinstance(items, list):
        if not items:
            raise _BadRequest(
                "Invalid 'input': expected a string or a non-empty array of input items.",
                "input",
                "empty_array",
            )
        for i, item in enumerate(items):
            _validate_input_item(item, f"input[{i}]")
    _check_type(body, "model", (str,), "a string")
    _check_type(body, "instructions", (str, list), "a string")
    _check_type(body, "stream", (bool,), "a boolean")
    _check_type(body, "tools", (list,), "an array of tools")
    _check_type(body, "include", (list,), "an array of strings")
    _check_type(body, "reasoning", (dict,), "an object")
    _check_type(body, "metadata", (dict,), "an object")
    _check_type(body, "temperature", (int, float), "a number")
    _check_type(body, "top_p", (int, float), "a number")
    _check_int(body, "max_output_tokens", 1)
    for i, tool in enumerate(body.get("tools") or ()):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise _BadRequest(
                f"Invalid 'tools[{i}]': expected an object with a 'type'.", f"tools[{i}]"
            )
    reasoning = body.get("reasoning") or {}
    if reasoning.get("summary") not in (*_SUMMARY_MODES, None):
        raise _BadRequest(
            "Invalid value for 'reasoning.summary': expected one of 'auto', 'concise' or "
            f"'detailed', got {reasoning.get('summary')!r}.",
            "reasoning.summary",
            "invalid_value",
        )
    if reasoning.get("effort") not in (*_EFFORTS, None):
        raise _BadRequest(
            f"Invalid value for 'reasoning.effort': got {reasoning.get('effort')!r}.",
            "reasoning.effort",
            "invalid_value",
        )


def _validate(body: Any) -> None:
    """Reject what OpenAI would reject with a 400, naming the bad parameter."""
    if not isinstance(body, dict):
        raise _BadRequest("The request body must be a JSON object.")
    if "messages" not in body:
        raise _BadRequest(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise _BadRequest("Invalid 'messages': expected a non-empty array of messages.", "messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise _BadRequest(
                f"Invalid 'messages[{i}]': expected an object with a valid 'role'.",
                f"messages[{i}]",
            )
        if not isinstance(message.get("content"), (str, list, type(None))):
            raise _BadRequest(
                f"Invalid 'messages[{i}].content': expected a string or an array.",
                f"messages[{i}].content",
            )
    if not isinstance(body.get("model", ""), str):
        raise _BadRequest("Invalid 'model': expected a string.", "model")
    if not isinstance(body.get("stream", False), (bool, type(None))):
        raise _BadRequest("Invalid 'stream': expected a boolean.", "stream")
    if not isinstance(body.get("stream_options") or {}, dict):
        raise _BadRequest("Invalid 'stream_options': expected an object.", "stream_options")
    _check_int(body, "max_tokens", 1)
    _check_int(body, "max_completion_tokens", 1)
    _check_int(body, "n", 1)
    if (body.get("n") or 1) > 1:
        raise _BadRequest("n > 1 is not supported by LocalChatServer; send n=1.", "n")


class LocalChatServer:
    """An OpenAI-compatible chat completions and responses server in a background thread.

    Replies come from ``script`` (a mapping from the last user message's text to a reply, or a
    callable taking the message list), else the user's text when ``echo`` is true, else
    ``default_reply``. A reply is a ``str``, a ``Reply`` (text and/or ``ToolCall``s), or, in a
    mapping, a list of them: successive turns, picked by how many assistant messages follow
    the last user message (turn 0 calls a tool, turn 1 answers after the tool result).

    ``token_delay`` is slept between streamed chunks, ``first_token_delay`` before the first
    one (a non-streaming reply waits as long as its stream would take). ``start()`` picks a
    free port when ``port`` is 0 and keeps that port across ``stop()``/``start()``.

    ``/v1/responses`` takes the same scripts: its ``input`` items are read as chat messages
    (see ``server_script.responses_messages``). A ``Reply``'s ``reasoning`` streams there as
    a reasoning summary when the request asks for one (``reasoning.summary``). Usage reports
    ``cached_tokens`` (capped at the prompt's size) as cached input tokens and the
    reasoning's tokens as reasoning tokens, on both APIs (Chat Completions adds these details
    only when one is non-zero).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token_delay: float = 0.0,
        first_token_delay: float = 0.0,
        script: Script | None = None,
        echo: bool = False,
        default_reply: str = DEFAULT_REPLY,
        model_name: str = "gpt-4o-mini-local",
        cached_tokens: int = 0,
    ) -> None:
        if token_delay < 0 or first_token_delay < 0:
            raise ValueError(
                f"delays must be >= 0, got token_delay={token_delay!r}, "
                f"first_token_delay={first_token_delay!r}"
            )
        if cached_tokens < 0:
            raise ValueError(f"cached_tokens must be >= 0, got {cached_tokens!r}")
        self.host = host
        self.token_delay = token_delay
        self.first_token_delay = first_token_delay
        self.script = script
        self.echo = echo
        self.default_reply = default_reply
        self.model_name = model_name
        self.cached_tokens = cached_tokens
        self._requested_port = port
        self._port: int | None = None
        self._lock = threading.Lock()  # guards _requests and _faults (handler thread vs callers)
        self._lifecycle = threading.Lock()  # serialises start()/stop()
        self._requests: list[dict[str, Any]] = []
        self._faults: list[_Fault] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._startup_error: BaseException | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> LocalChatServer:
        """Start serving (no-op when already running); returns self once the port is bound."""
        with self._lifecycle:
            if self._thread is not None:
                return self
            ready = threading.Event()
            self._startup_error = None
            thread = threading.Thread(
                target=self._serve, args=(ready,), name="LocalChatServer", daemon=True
            )
            thread.start()
            if not ready.wait(timeout=30):
                raise RuntimeError("LocalChatServer did not start within 30 s")
            if self._startup_error is not None:
                thread.join(timeout=5)
                error, self._startup_error = self._startup_error, None
                raise error
            self._thread = thread
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (no-op when not running)."""
        with self._lifecycle:
            thread, loop = self._thread, self._loop
            if thread is None or loop is None:
                return
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def __enter__(self) -> LocalChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"<LocalChatServer {where}>"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LocalChatServer has no port yet: call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        """The URL to hand to OpenAI clients, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # this thread is ours; make its loop the current one
        self._loop = loop
        try:
            runner = loop.run_until_complete(self._open())
        except BaseException as exc:  # reported to start() in the caller's thread
            self._startup_error = exc
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _open(self) -> web.AppRunner:
        app = web.Application(middlewares=[self._errors])
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_post("/v1/responses", self._responses)
        # No access log: it is noise in a notebook, and headers (the API key) must never
        # be written anywhere. A short shutdown_timeout so stop() does not wait on streams.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        # Reuse the port of an earlier start() so a base_url handed out stays valid.
        port = self._port if self._port is not None else self._requested_port
        site = web.TCPSite(runner, self.host, port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = runner.addresses[0][1]
        return runner

    # -- test hooks -----------------------------------------------------------------------
    @property
    def requests(self) -> list[dict[str, Any]]:
        """A copy of the JSON bodies received by /v1/chat/completions and /v1/responses,
        oldest first."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget recorded requests and pending faults."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()

    def inject_fault(
        self,
        kind: FaultKind,
        *,
        count: int = 1,
        after_tokens: int = 0,
        delay: float = 1.0,
        retry_after: float = 1.0,
    ) -> None:
        """Make the next ``count`` requests (chat completions or responses) fail or misbehave.

        - ``"rate_limit"``: HTTP 429 with a ``retry-after: <retry_after>`` header.
        - ``"server_error"``: HTTP 500.
        - ``"disconnect"``: a stream sends ``after_tokens`` content chunks (on /v1/responses:
          delta events of any kind), then the TCP connection is closed without ``[DONE]`` or
          ``response.completed`` (a plain request gets no response at all).
        - ``"slow_first_token"``: ``delay`` extra seconds before the first chunk (on
          /v1/responses: after ``response.created`` and ``response.in_progress``, before the
          first output item).

        Faults queue up in call order; each request consumes one from the front.
        """
        if kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {_FAULT_KINDS}")
        if count < 1 or after_tokens < 0 or delay < 0 or retry_after < 0:
            raise ValueError(
                f"bad fault parameters: count={count!r}, after_tokens={after_tokens!r}, "
                f"delay={delay!r}, retry_after={retry_after!r}"
            )
        with self._lock:
            self._faults.append(_Fault(kind, count, after_tokens, delay, retry_after))

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining == 0:
                self._faults.pop(0)
            return fault

    # -- HTTP -----------------------------------------------------------------------------
    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Every error leaves in OpenAI's shape; a failing request never stops the server."""
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return _error_response(
                404, f"Unknown request URL: {request.method} {request.path}.", code="unknown_url"
            )
        except web.HTTPMethodNotAllowed:
            return _error_response(405, f"Method {request.method} not allowed for {request.path}.")
        except web.HTTPException:
            raise
        except Exception as exc:
            log.debug("LocalChatServer handler failed", exc_info=True)
            return _error_response(500, f"LocalChatServer error: {exc}", type_="server_error")

    async def _models(self, request: web.Request) -> web.Response:
        model = {"id": self.model_name, "object": "model", "created": 0, "owned_by": "local"}
        return web.json_response({"object": "list", "data": [model]})

    async def _read(self, request: web.Request, validate: Any) -> Any:
        """The request's JSON body, recorded and validated; a web.Response on a bad one."""
        try:
            body = json.loads(await request.text())
        except ValueError as exc:
            return _error_response(400, f"The request body is not valid JSON: {exc}.")
        if isinstance(body, dict):
            with self._lock:
                self._requests.append(body)
        try:
            validate(body)
        except _BadRequest as exc:
            return _error_response(400, str(exc), param=exc.param, code=exc.code)
        return body

    @staticmethod
    def _fault_response(fault: _Fault | None) -> web.Response | None:
        if fault is not None and fault.kind == "rate_limit":
            return _error_response(
                429,
                "Rate limit reached for requests (injected by LocalChatServer).",
                type_="requests",
                code="rate_limit_exceeded",
                headers={"retry-after": f"{fault.retry_after:g}"},
            )
        if fault is not None and fault.kind == "server_error":
            return _error_response(
                500,
                "The server had an error while processing your request (injected).",
                type_="server_error",
            )
        return None

    async def _reply(
        self,
        request: web.Request,
        body: dict[str, Any],
        answer: _Completion | _ResponseRun,
        fault: _Fault | None,
    ) -> web.StreamResponse:
        first_delay = self.first_token_delay
        if fault is not None and fault.kind == "slow_first_token":
            first_delay += fault.delay
        cut_after = fault.after_tokens if fault is not None and fault.kind == "disconnect" else None
        if body.get("stream"):
            return await answer.stream(request, first_delay, cut_after)
        if cut_after is not None:
            _drop_connection(request)
            raise asyncio.CancelledError  # nothing more to send on a dropped connection
        await asyncio.sleep(first_delay + self.token_delay * max(0, answer.n_chunks - 1))
        return web.json_response(answer.whole())

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request, _validate)
        if isinstance(body, web.Response):
            return body
        fault = self._take_fault()
        failed = self._fault_response(fault)
        if failed is not None:
            return failed
        messages: list[dict[str, Any]] = body["messages"]
        reply = choose_reply(
            messages, script=self.script, echo=self.echo, default_reply=self.default_reply
        )
        return await self._reply(request, body, _Completion(self, body, reply), fault)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request, _validate_responses)
        if isinstance(body, web.Response):
            return body
        fault = self._take_fault()
        failed = self._fault_response(fault)
        if failed is not None:
            return failed
        messages = responses_messages(body)
        reply = choose_reply(
            messages, script=self.script, echo=self.echo, default_reply=self.default_reply
        )
        return await self._reply(request, body, _ResponseRun(self, body, messages, reply), fault)


async def _open_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    return response


def _drop_connection(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()  # flushes what was written, then FIN: the client sees a cut body


class _Budget:
    """A reply's reasoning and text tokens within an output limit (reasoning comes first)."""

    def __init__(self, reply: Reply, limit: int | None) -> None:
        parts = [tokenize(part) for part in reasoning_parts(reply)]
        text = tokenize(reply.content)
        wanted = sum(len(p) for p in parts) + len(text)
        self.truncated = limit is not None and wanted > limit
        room = limit if self.truncated and limit is not None else wanted
        self.reasoning: list[list[str]] = []  # summary parts, as tokens
        for part in parts:
            if room <= 0:
                break
            self.reasoning.append(part[:room])
            room -= len(self.reasoning[-1])
        self.text = text[: max(room, 0)]
        self.reasoning_tokens = sum(len(p) for p in self.reasoning)


def _tool_tokens(calls: list[dict[str, Any]]) -> int:
    return sum(
        count_tokens(c["function"]["name"]) + count_tokens(c["function"]["arguments"])
        for c in calls
    )


class _Completion:
    """One reply, shaped as a chat.completion object or as a chat.completion.chunk stream.

    Chat Completions has no standard field for reasoning text (``ChatOpenAI`` reads none), so
    a reply's reasoning is never sent here: only its tokens count, in ``completion_tokens``
    and ``completion_tokens_details.reasoning_tokens``, as OpenAI's reasoning models do.
    """

    def __init__(self, server: LocalChatServer, body: dict[str, Any], reply: Reply) -> None:
        self.server = server
        self.id = random_id("chatcmpl-", 29)
        self.created = int(time.time())
        self.model = body.get("model") or server.model_name
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        budget = _Budget(reply, limit)
        self.truncated = budget.truncated
        self.tokens = budget.text
        self.tool_calls = tool_call_payloads(reply)
        self.include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        tool_tokens = 0 if self.truncated else _tool_tokens(self.tool_calls)
        completion_tokens = budget.reasoning_tokens + len(self.tokens) + tool_tokens
        prompt = prompt_tokens(body["messages"])
        cached = min(server.cached_tokens, prompt)
        self.usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
        }
        if cached or budget.reasoning_tokens:  # OpenAI always sends them; kept quiet at 0
            self.usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
            self.usage["completion_tokens_details"] = {
                "reasoning_tokens": budget.reasoning_tokens,
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

    @property
    def n_chunks(self) -> int:
        return len(self._deltas())

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

    async def stream(
        self, request: web.Request, first_delay: float, cut_after: int | None
    ) -> web.StreamResponse:
        response = await _open_stream(request)

        async def send(payload: dict[str, Any] | str) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            await response.write(f"data: {data}\n\n".encode())

        delay = self.server.token_delay
        try:
            await asyncio.sleep(first_delay)
            await send(self._chunk({"role": "assistant", "content": ""}))
            for i, delta in enumerate(self._deltas()):
                if cut_after is not None and i >= cut_after:
                    break
                if i and delay:
                    await asyncio.sleep(delay)
                await send(self._chunk(delta))
            if cut_after is not None:
                _drop_connection(request)
                return response
            await send(self._chunk({}, self.finish_reason))
            if self.include_usage:
                await send(self._chunk(None))
            await send("[DONE]")
            await response.write_eof()
        except ConnectionError:
            pass  # the client went away (a cancelled run): nothing left to say to it
        return response


class _ResponseRun:
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
        server: LocalChatServer,
        body: dict[str, Any],
        messages: list[dict[str, Any]],
        reply: Reply,
    ) -> None:
        self.server = server
        self.body = body
        self.id = item_id("resp_")
        self.created = int(time.time())
        self.model = body.get("model") or server.model_name
        budget = _Budget(reply, body.get("max_output_tokens"))
        self.truncated = budget.truncated
        reasoning = body.get("reasoning") or {}
        self.summarize = reasoning.get("summary") is not None
        self.encrypt = "reasoning.encrypted_content" in (body.get("include") or ())
        self.reasoning = budget.reasoning
        self.text = budget.text
        calls = [] if self.truncated else tool_call_payloads(reply)
        self.calls = [(item_id("fc_"), call) for call in calls]
        self.reasoning_id = item_id("rs_") if budget.reasoning else None
        self.message_id = item_id("msg_") if (self.text or not self.calls) else None
        prompt = prompt_tokens(messages)
        cached = min(server.cached_tokens, prompt)
        output = budget.reasoning_tokens + len(self.text) + _tool_tokens(calls)
        self.usage = {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": budget.reasoning_tokens},
            "total_tokens": prompt + output,
        }

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
        body = self.body
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

    @property
    def n_chunks(self) -> int:
        return sum(1 for delta, _ in self._events() if delta)

    async def stream(
        self, request: web.Request, first_delay: float, cut_after: int | None
    ) -> web.StreamResponse:
        response = await _open_stream(request)
        sequence = 0

        async def send(event: dict[str, Any]) -> None:
            nonlocal sequence
            event = {**event, "sequence_number": sequence}
            sequence += 1
            data = json.dumps(event)
            await response.write(f"event: {event['type']}\ndata: {data}\n\n".encode())

        delay = self.server.token_delay
        try:
            await send({"type": "response.created", "response": self._response("in_progress", [])})
            await send(
                {"type": "response.in_progress", "response": self._response("in_progress", [])}
            )
            await asyncio.sleep(first_delay)
            deltas = 0
            for is_delta, event in self._events():
                if is_delta:
                    if cut_after is not None and deltas >= cut_after:
                        _drop_connection(request)
                        return response
                    if deltas and delay:
                        await asyncio.sleep(delay)
                    deltas += 1
                await send(event)
            if cut_after is not None:
                _drop_connection(request)
                return response
            final = "response.incomplete" if self.truncated else "response.completed"
            await send({"type": final, "response": self.whole()})
            await response.write_eof()
        except ConnectionError:
            pass  # the client went away (a cancelled run): nothing left to say to it
        return response


# -- command line -------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="python -m lc_callbacks_nb.offline.server",
        description="Serve an OpenAI-compatible chat API (/v1/chat/completions, /v1/responses) "
        "on localhost until Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--token-delay", type=_seconds, default=0.0, metavar="S")
    parser.add_argument("--first-token-delay", type=_seconds, default=0.0, metavar="S")
    parser.add_argument("--echo", action="store_true", help="reply with the last user message")
    parser.add_argument("--reply", default=DEFAULT_REPLY, help="the reply when not echoing")
    parser.add_argument("--model", default="gpt-4o-mini-local", help="listed by /v1/models")
    parser.add_argument(
        "--cached-tokens", type=int, default=0, metavar="N", help="prompt tokens reported cached"
    )
    args = parser.parse_args(argv)

    server = LocalChatServer(
        args.host,
        args.port,
        token_delay=args.token_delay,
        first_token_delay=args.first_token_delay,
        echo=args.echo,
        default_reply=args.reply,
        model_name=args.model,
        cached_tokens=max(args.cached_tokens, 0),
    )
    try:
        server.start()
    except OSError as exc:
        print(
            f"{parser.prog}: error: cannot listen on {args.host}:{args.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    # SIGTERM stops as cleanly as Ctrl-C (tests and process managers send it).
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"LocalChatServer serving at {server.base_url} (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
