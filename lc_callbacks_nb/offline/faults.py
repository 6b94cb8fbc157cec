"""The embedded server's faults on demand: what ``LocalChatServer.inject_fault`` queues and
what each kind does to the request that draws it. Every protocol renders them in its own shape
(see ``wire.Protocol.fault_response`` and ``wire.Answer.error_event``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal, cast, get_args

FaultKind = Literal["rate_limit", "server_error", "overloaded", "disconnect", "slow_first_token"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
ErrorFault = Literal["rate_limit", "server_error", "overloaded"]


@dataclass
class Fault:
    kind: FaultKind
    remaining: int
    after_tokens: int
    delay: float
    retry_after: float
    mid_stream: bool

    @property
    def error_kind(self) -> ErrorFault:
        """The error this fault answers with (only for the three error kinds)."""
        if not self.is_error:
            raise ValueError(f"a {self.kind!r} fault is not an error")
        return cast(ErrorFault, self.kind)

    @property
    def is_error(self) -> bool:
        return self.kind in get_args(ErrorFault)


class FaultQueue:
    """Faults in call order; each request that reaches a model takes one from the front."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # inject_fault (caller thread) vs take (server thread)
        self._faults: list[Fault] = []

    def add(
        self,
        kind: FaultKind,
        *,
        count: int,
        after_tokens: int,
        delay: float,
        retry_after: float,
        mid_stream: bool,
    ) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if count < 1 or after_tokens < 0 or delay < 0 or retry_after < 0:
            raise ValueError(
                f"bad fault parameters: count={count!r}, after_tokens={after_tokens!r}, "
                f"delay={delay!r}, retry_after={retry_after!r}"
            )
        if mid_stream and kind not in get_args(ErrorFault):
            raise ValueError(f"mid_stream=True applies to error faults only, not {kind!r}")
        with self._lock:
            self._faults.append(Fault(kind, count, after_tokens, delay, retry_after, mid_stream))

    def take(self) -> Fault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining == 0:
                self._faults.pop(0)
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
