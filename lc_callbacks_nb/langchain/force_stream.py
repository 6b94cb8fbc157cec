"""``force_stream``: make ``invoke``/``ainvoke`` callers stream into the panel.

``create_agent`` and most chains call models with ``ainvoke``, so ``on_llm_new_token`` never
fires unless the model streams. ``BaseChatModel._should_stream`` streams when a handler of the
run is an instance of ``langchain_core.tracers._streaming._StreamingCallbackHandler`` (the
private marker ``astream_events`` relies on). A handler created with ``force_stream=True``
becomes an instance of a subclass that declares the same, with pass-through taps. If LangChain
renames the marker, the import fails loudly here and tests/test_force_stream.py fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar
from uuid import UUID

T = TypeVar("T", bound=type)


class StreamingMarker:
    """Mixed into the classes :func:`streaming_subclass` makes."""


_made: dict[type, type] = {}


def streaming_subclass(cls: T) -> T:
    """``cls`` declared as a streaming consumer (cached per class). ImportError if LangChain
    no longer has the marker."""
    from langchain_core.tracers._streaming import _StreamingCallbackHandler

    if cls in _made:
        return _made[cls]  # type: ignore[return-value]

    def tap_output_aiter(self: Any, run_id: UUID, output: Any) -> Any:
        return output

    def tap_output_iter(self: Any, run_id: UUID, output: Iterator[Any]) -> Iterator[Any]:
        return output

    made = type(
        f"Streaming{cls.__name__}",
        (cls, StreamingMarker, _StreamingCallbackHandler),
        {
            "__module__": cls.__module__,
            "__doc__": cls.__doc__,
            "tap_output_aiter": tap_output_aiter,
            "tap_output_iter": tap_output_iter,
        },
    )
    _made[cls] = made
    return made  # type: ignore[return-value]
