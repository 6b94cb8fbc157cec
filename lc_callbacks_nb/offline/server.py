"""The embedded chat server: one aiohttp app on 127.0.0.1 that speaks the chat APIs people use.

``LocalChatServer`` serves, over real HTTP, with aiohttp on its own event loop in a daemon
thread (so it works the same from a sync cell, a top-level-await cell, pytest, or the shell):

- OpenAI Chat Completions, ``POST /v1/chat/completions`` (``openai_chat.py``);
- the OpenAI Responses API, ``POST /v1/responses`` (``openai_responses.py``);
- Anthropic's Messages API, ``POST /v1/messages`` (``anthropic_messages.py``);
- Ollama's chat API, ``POST /api/chat`` with ``/api/tags`` and ``/api/show`` (``ollama_chat.py``);
- ``GET /v1/models``.

Every protocol is driven by the same scripted replies (``server_script.py``) and the same
injected faults (``faults.py``), each written in the protocol's own shape::

    with LocalChatServer(token_delay=0.01) as server:
        ChatOpenAI(base_url=server.base_url, api_key="sk-local")
        ChatAnthropic(model="claude-sonnet-4-5", base_url=server.base_url, api_key="sk-local")
        ChatOllama(model="qwen3", base_url=server.base_url)

Run ``python -m lc_callbacks_nb.server --help`` to serve from a terminal (``server_cli.py``).

Standalone: imports nothing from ``lc_callbacks_nb`` outside ``offline/``, and none of the
provider packages, so it never pulls in IPython, LangChain, openai or anthropic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from lc_callbacks_nb.offline.anthropic_messages import AnthropicMessages
from lc_callbacks_nb.offline.faults import Fault, FaultKind, FaultQueue
from lc_callbacks_nb.offline.ollama_chat import OllamaChat
from lc_callbacks_nb.offline.openai_chat import OpenAIChat
from lc_callbacks_nb.offline.openai_responses import OpenAIResponses
from lc_callbacks_nb.offline.server_script import (
    DEFAULT_REPLY,
    Reply,
    Script,
    ToolCall,
    choose_reply,
)
from lc_callbacks_nb.offline.wire import (
    Answer,
    BadRequest,
    Protocol,
    Settings,
    drop_connection,
    pump,
)

__all__ = ["DEFAULT_REPLY", "LocalChatServer", "Reply", "ToolCall"]

log = logging.getLogger(__name__)

_OPENAI, _ANTHROPIC, _OLLAMA = OpenAIChat(), AnthropicMessages(), OllamaChat()
PROTOCOLS: tuple[Protocol, ...] = (_OPENAI, OpenAIResponses(), _ANTHROPIC, _OLLAMA)


def _protocol_for_path(path: str) -> Protocol:
    """Whose error shape a request for an unknown path or method gets."""
    if "/api/" in path:
        return _OLLAMA
    if path.endswith("/messages") or "/messages/" in path:
        return _ANTHROPIC
    return _OPENAI


class LocalChatServer:
    """A chat server for OpenAI, Anthropic and Ollama clients, in a background thread.

    Replies come from ``script`` (a mapping from the last user message's text to a reply, or a
    callable taking the message list), else the user's text when ``echo`` is true, else
    ``default_reply``. A reply is a ``str``, a ``Reply`` (text, ``ToolCall``s, reasoning), or,
    in a mapping, a list of them: successive turns, picked by how many assistant messages
    follow the last user message (turn 0 calls a tool, turn 1 answers after the tool result).
    Every protocol reads its request into the same chat-style message list first (a tool
    result is a ``tool`` message whatever its wire shape), so one script drives them all.

    ``token_delay`` is slept between streamed tokens, ``first_token_delay`` before the first
    one (a non-streaming reply waits as long as its stream would take). ``start()`` picks a
    free port when ``port`` is 0 and keeps that port across ``stop()``/``start()``.

    Usage: ``cached_tokens`` prompt tokens are reported read from a cache and
    ``cache_creation_tokens`` written to it (each capped at the prompt's size), in each
    protocol's fields; reasoning tokens are counted where the protocol reports them.
    ``models``, when given, are the only model names served (listed by ``/v1/models`` and
    ``/api/tags``; any other name gets each protocol's 404); by default any name is served
    and ``model_name`` is listed.
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
        cache_creation_tokens: int = 0,
        models: Sequence[str] | None = None,
    ) -> None:
        if token_delay < 0 or first_token_delay < 0:
            raise ValueError(
                f"delays must be >= 0, got token_delay={token_delay!r}, "
                f"first_token_delay={first_token_delay!r}"
            )
        if cached_tokens < 0:
            raise ValueError(f"cached_tokens must be >= 0, got {cached_tokens!r}")
        if cache_creation_tokens < 0:
            raise ValueError(f"cache_creation_tokens must be >= 0, got {cache_creation_tokens!r}")
        if models is not None and (
            isinstance(models, str) or not all(isinstance(m, str) and m for m in models)
        ):
            raise ValueError(f"models must be a list of model names, got {models!r}")
        self.host = host
        self.token_delay = token_delay
        self.first_token_delay = first_token_delay
        self.script = script
        self.echo = echo
        self.default_reply = default_reply
        self.model_name = model_name
        self.cached_tokens = cached_tokens
        self.cache_creation_tokens = cache_creation_tokens
        self.models = list(models) if models is not None else None
        self._requested_port = port
        self._port: int | None = None
        self._lock = threading.Lock()  # guards _requests (handler thread vs callers)
        self._lifecycle = threading.Lock()  # serialises start()/stop()
        self._requests: list[dict[str, Any]] = []
        self._faults = FaultQueue()
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
        """The URL to hand to every client, e.g. ``http://127.0.0.1:PORT/v1``.

        OpenAI clients expect the ``/v1``; Anthropic's and Ollama's clients add their own paths
        (``/v1/messages``, ``/api/chat``) to it, and the server answers those under ``/v1``
        too. The real paths also answer at the root (``http://127.0.0.1:PORT``), so
        ``ANTHROPIC_BASE_URL`` or ``OLLAMA_HOST`` may name the root as for the real services.
        """
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
        for protocol in PROTOCOLS:
            for path in protocol.paths:
                app.router.add_post(path, self._generator(protocol))
            app.router.add_routes(protocol.routes(self._model_names, self._knows))
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
        """A copy of the JSON bodies received by the chat endpoints (/v1/chat/completions,
        /v1/responses, /v1/messages, /api/chat), oldest first."""
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
        mid_stream: bool = False,
    ) -> None:
        """Make the next ``count`` chat requests (any protocol) fail or misbehave.

        - ``"rate_limit"``: HTTP 429 with a ``retry-after: <retry_after>`` header.
        - ``"server_error"``: HTTP 500.
        - ``"overloaded"``: the provider's "overloaded": 529 ``overloaded_error`` on
          Anthropic, 503 on OpenAI and Ollama ("server busy").
        - ``"disconnect"``: a stream sends ``after_tokens`` token events (content, reasoning
          or tool argument pieces; on /v1/responses delta events of any kind), then the TCP
          connection is closed without the stream's end (``[DONE]``, ``response.completed``,
          ``message_stop``, Ollama's ``done``); a plain request gets no response at all.
        - ``"slow_first_token"``: ``delay`` extra seconds before the first token (after what
          a provider sends at once: ``response.created``/``in_progress``, ``message_start``).

        With ``mid_stream=True`` an error kind strikes a streaming request after the stream
        began: ``after_tokens`` token events, then the protocol's in-stream error (Anthropic's
        ``error`` event, an ``{"error": ...}`` line on Ollama, an error chunk on Chat
        Completions, the ``error`` event on /v1/responses), and the stream ends. A plain
        request gets the HTTP error instead.

        Faults queue up in call order; each request consumes one from the front.
        """
        self._faults.add(
            kind,
            count=count,
            after_tokens=after_tokens,
            delay=delay,
            retry_after=retry_after,
            mid_stream=mid_stream,
        )

    # -- models -----------------------------------------------------------------------------
    def _model_names(self) -> list[str]:
        return list(self.models) if self.models is not None else [self.model_name]

    def _knows(self, model: str) -> bool:
        if self.models is None:
            return True
        bare = model.removesuffix(":latest")
        return any(name.removesuffix(":latest") == bare for name in self.models)

    # -- HTTP -----------------------------------------------------------------------------
    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Unknown paths and methods get an error in the shape their client reads; a failing
        request never stops the server."""
        protocol = _protocol_for_path(request.path)
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return protocol.error(
                "not_found", f"Unknown request URL: {request.method} {request.path}.",
                code="unknown_url",
            )  # fmt: skip
        except web.HTTPMethodNotAllowed:
            return protocol.error(
                "method_not_allowed", f"Method {request.method} not allowed for {request.path}."
            )
        except web.HTTPException:
            raise
        except Exception as exc:
            log.debug("LocalChatServer handler failed", exc_info=True)
            return protocol.error("server_error", f"LocalChatServer error: {exc}")

    async def _models(self, request: web.Request) -> web.Response:
        models = [
            {"id": name, "object": "model", "created": 0, "owned_by": "local"}
            for name in self._model_names()
        ]
        return web.json_response({"object": "list", "data": models})

    def _generator(self, protocol: Protocol) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._generate(protocol, request)

        return handle

    async def _generate(self, protocol: Protocol, request: web.Request) -> web.StreamResponse:
        """Read, record and check a chat request, draw a fault, and answer it."""
        received = time.perf_counter_ns()
        try:
            body = json.loads(await request.text())
        except ValueError as exc:
            return protocol.error("invalid_request", f"The request body is not valid JSON: {exc}.")
        if isinstance(body, dict):
            with self._lock:
                self._requests.append(body)
        try:
            protocol.validate(body, request)
        except BadRequest as exc:
            return protocol.error("invalid_request", str(exc), param=exc.param, code=exc.code)
        model = protocol.model(body)
        if model is not None and not self._knows(model):
            return protocol.unknown_model(model)
        fault = self._faults.take()
        streaming = protocol.streaming(body)
        if fault is not None and fault.is_error and not (fault.mid_stream and streaming):
            return protocol.fault_response(fault)
        settings = Settings(
            self.model_name, self.cached_tokens, self.cache_creation_tokens, received
        )
        try:
            messages = protocol.transcript(body)
            reply = choose_reply(
                messages, script=self.script, echo=self.echo, default_reply=self.default_reply
            )
            answer = protocol.answer(settings, body, messages, reply)
        except Exception as exc:  # a failing script: the client sees a 500, the server lives
            log.debug("LocalChatServer script failed", exc_info=True)
            return protocol.error("server_error", f"LocalChatServer error: {exc}")
        return await self._send(protocol, request, answer, streaming, fault)

    async def _send(
        self,
        protocol: Protocol,
        request: web.Request,
        answer: Answer,
        streaming: bool,
        fault: Fault | None,
    ) -> web.StreamResponse:
        first_delay = self.first_token_delay
        if fault is not None and fault.kind == "slow_first_token":
            first_delay += fault.delay
        cuts = fault is not None and (fault.kind == "disconnect" or fault.is_error)
        if streaming:
            stop_with = None
            if fault is not None and fault.is_error:
                stop_with = answer.error_event(fault.error_kind, protocol.fault_message(fault))
            return await pump(
                request,
                answer,
                token_delay=self.token_delay,
                first_delay=first_delay,
                stop_after=fault.after_tokens if cuts and fault is not None else None,
                stop_with=stop_with,
            )
        if cuts:  # only a disconnect gets here: error faults answered before
            drop_connection(request)
            raise asyncio.CancelledError  # nothing more to send on a dropped connection
        await asyncio.sleep(first_delay + self.token_delay * max(0, answer.n_chunks - 1))
        return web.json_response(answer.whole(), headers=answer.headers)


if __name__ == "__main__":  # python -m lc_callbacks_nb.offline.server, as before
    import sys

    from lc_callbacks_nb.offline.server_cli import main

    sys.exit(main())
