"""What OpenAI's two chat APIs (Chat Completions and Responses) share on the wire: the error
shape the ``openai`` client turns into its exceptions, and the parameter checks both run."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from lc_callbacks_nb.offline.wire import BadRequest, ErrorKind, Protocol

# status, error type, default code: what OpenAI sends for each kind of error
_ERRORS: dict[str, tuple[int, str, str | None]] = {
    "invalid_request": (400, "invalid_request_error", None),
    "not_found": (404, "invalid_request_error", None),
    "method_not_allowed": (405, "invalid_request_error", None),
    "rate_limit": (429, "requests", "rate_limit_exceeded"),
    "server_error": (500, "server_error", None),
    "overloaded": (503, "server_error", None),
}


class OpenAIProtocol(Protocol):
    """The error side of both OpenAI protocols."""

    def error_body(
        self, kind: ErrorKind, message: str, param: str | None, code: str | None
    ) -> tuple[int, dict[str, Any]]:
        """OpenAI's shape, which the openai client turns into the matching exception."""
        status, type_, default_code = _ERRORS[kind]
        error = {"message": message, "type": type_, "param": param, "code": code or default_code}
        return status, {"error": error}

    def unknown_model(self, model: str) -> web.Response:
        return self.error(
            "not_found",
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )


def check_int(body: dict[str, Any], key: str, minimum: int) -> None:
    value = body.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadRequest(f"Invalid '{key}': expected an integer >= {minimum}, got {value!r}.", key)


def check_type(body: dict[str, Any], key: str, types: tuple[type, ...], expected: str) -> None:
    value = body.get(key)
    if value is None:
        return
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise BadRequest(
            f"Invalid type for '{key}': expected {expected}, but got {json_type(value)} instead.",
            key,
            "invalid_type",
        )


def json_type(value: Any) -> str:
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
