"""What every wire protocol of the embedded server shares: the protocol and answer interfaces,
the request settings, the stream pump (SSE or NDJSON, token pace, faults) and error plumbing.

A protocol module (``openai_chat``, ``openai_responses``, ``anthropic_messages``,
``ollama_chat``) says how its requests are checked and read and how a reply, an error and an
injected fault look on its wire; ``server.py`` owns the one aiohttp app and calls them.
Imports nothing from ``lc_callbacks_nb`` but the fault and reply models.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from aiohttp import web

from lc_callbacks_nb.offline.faults import Fault
from lc_callbacks_nb.offline.server_script import Reply

# The errors a protocol can be asked to render, each in its own shape and status code.
ErrorKind = Literal[
    "invalid_request",
    "not_found",
    "method_not_allowed",
    "rate_limit",
    "server_error",
    "overloaded",
]


class BadRequest(Exception):
    """A request the real API would reject with a 400; ``param``/``code`` as OpenAI names them."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.param = param
        self.code = code


@dataclass(frozen=True)
class Settings:
    """The server's configuration as one request sees it (taken once, when it arrives)."""

    model_name: str
    cached_tokens: int
    cache_creation_tokens: int
    received_ns: int  # time.perf_counter_ns() when the request arrived


Event = dict[str, Any] | str


class Answer(ABC):
    """One reply in one protocol's shape: a whole JSON body, or the events of its stream.

    The stream is ``head()`` (sent at once, before the model "thinks"), then ``body()`` (each
    event flagged when it carries a generated token: those are paced by ``token_delay`` and
    counted by the ``disconnect`` and mid-stream error faults), then ``tail()``. ``encode``
    turns one event into bytes on the wire, so a protocol can number its events as they go.
    """

    content_type: ClassVar[str] = "text/event-stream"

    @abstractmethod
    def __init__(
        self,
        settings: Settings,
        body: dict[str, Any],
        messages: list[dict[str, Any]],
        reply: Reply,
    ) -> None: ...

    @abstractmethod
    def whole(self) -> dict[str, Any]: ...

    def head(self) -> Iterable[Event]:
        return ()

    @abstractmethod
    def body(self) -> Iterable[tuple[bool, Event]]: ...

    def tail(self) -> Iterable[Event]:
        return ()

    @abstractmethod
    def encode(self, event: Event) -> bytes: ...

    @abstractmethod
    def error_event(self, kind: ErrorKind, message: str) -> Event:
        """The protocol's in-stream error, for a fault that strikes after the stream began."""

    @property
    def n_chunks(self) -> int:
        return sum(1 for is_delta, _ in self.body() if is_delta)

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers (Anthropic's ``request-id``)."""
        return {}


class Protocol(ABC):
    """One wire protocol: which paths it serves, how it checks and reads a request, how it
    writes a reply, an error and an injected fault."""

    name: ClassVar[str]
    paths: ClassVar[tuple[str, ...]]  # the POST paths that generate a reply

    @abstractmethod
    def validate(self, body: Any, request: web.Request) -> None:
        """Raise ``BadRequest`` for what the real API rejects with a 400."""

    @abstractmethod
    def transcript(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The request as chat-style messages, for the script and the prompt's size."""

    def model(self, body: dict[str, Any]) -> str | None:
        model = body.get("model")
        return model if isinstance(model, str) else None

    def streaming(self, body: dict[str, Any]) -> bool:
        return bool(body.get("stream"))

    answer_class: ClassVar[type[Answer]]  # built from (settings, body, messages, reply)

    def answer(
        self,
        settings: Settings,
        body: dict[str, Any],
        messages: list[dict[str, Any]],
        reply: Reply,
    ) -> Answer:
        return self.answer_class(settings, body, messages, reply)

    def error(
        self,
        kind: ErrorKind,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        """An error response in the protocol's shape (status code chosen by ``kind``)."""
        status, body = self.error_body(kind, message, param, code)
        headers = {**self.error_headers(body), **(headers or {})}
        return web.json_response(body, status=status, headers=headers)

    @abstractmethod
    def error_body(
        self, kind: ErrorKind, message: str, param: str | None, code: str | None
    ) -> tuple[int, dict[str, Any]]:
        """The status code and JSON body of an error; ``param``/``code`` where OpenAI has them."""

    def error_headers(self, body: dict[str, Any]) -> dict[str, str]:
        return {}

    @abstractmethod
    def unknown_model(self, model: str) -> web.Response:
        """What the real API answers for a model it does not have."""

    def routes(
        self, models: Callable[[], list[str]], knows: Callable[[str], bool]
    ) -> list[web.RouteDef]:
        """Routes beside the generating ones (model listings), given the server's catalog."""
        return []

    def fault_message(self, fault: Fault) -> str:
        return FAULT_MESSAGES[fault.kind]

    def fault_response(self, fault: Fault) -> web.Response:
        """An injected ``rate_limit``, ``server_error`` or ``overloaded`` as an HTTP error."""
        headers = {"retry-after": f"{fault.retry_after:g}"} if fault.kind == "rate_limit" else None
        return self.error(fault.error_kind, self.fault_message(fault), headers=headers)


FAULT_MESSAGES: dict[str, str] = {
    "rate_limit": "Rate limit reached for requests (injected by LocalChatServer).",
    "server_error": "The server had an error while processing your request (injected).",
    "overloaded": "Overloaded (injected by LocalChatServer).",
}


def sse(data: dict[str, Any] | str, event: str | None = None) -> bytes:
    """One server-sent event: an optional ``event:`` line and one ``data:`` line."""
    payload = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def ndjson(data: dict[str, Any]) -> bytes:
    """One line of newline-delimited JSON."""
    return (json.dumps(data) + "\n").encode()


def drop_connection(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()  # flushes what was written, then FIN: the client sees a cut body


async def pump(
    request: web.Request,
    answer: Answer,
    *,
    token_delay: float,
    first_delay: float,
    stop_after: int | None = None,
    stop_with: Event | None = None,
) -> web.StreamResponse:
    """Stream ``answer`` at the server's pace.

    With ``stop_after``, the stream stops after that many token events (or before its tail):
    it sends ``stop_with`` (the protocol's error event) and ends, or, without one, closes the
    connection mid-body (a ``disconnect``).
    """
    response = web.StreamResponse(
        headers={
            "Content-Type": answer.content_type,
            "Cache-Control": "no-cache",
            **answer.headers,
        }
    )
    await response.prepare(request)

    async def send(events: Iterable[Event]) -> None:
        for event in events:
            await response.write(answer.encode(event))

    try:
        await send(answer.head())
        await asyncio.sleep(first_delay)
        deltas = 0
        for is_delta, event in answer.body():
            if is_delta:
                if stop_after is not None and deltas >= stop_after:
                    break
                if deltas and token_delay:
                    await asyncio.sleep(token_delay)
                deltas += 1
            await send([event])
        if stop_after is not None and stop_with is None:
            drop_connection(request)
            return response
        await send([stop_with] if stop_with is not None else answer.tail())
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away (a cancelled run): nothing left to say to it
    return response
