"""``force_stream``: make ``invoke``/``ainvoke`` callers stream into the panel, without changing
what the model returns.

``create_agent`` and most chains call models with ``ainvoke``, so ``on_llm_new_token`` never
fires unless the model streams. ``BaseChatModel._should_stream`` streams when a handler of the
run is an instance of ``langchain_core.tracers._streaming._StreamingCallbackHandler`` (the
private marker ``astream_events`` relies on). A streamed reply is only worth it if it is the
*same* reply: a model whose stream carries less than its plain call (ChatOpenAI's Chat
Completions stream has no ``token_usage``, ``logprobs`` or ``id`` in its metadata, and no usage
at all against a custom ``base_url``) would hand the caller, its agent state and every tracer a
poorer message. So the decision is made per model, when its run is configured:

* a configure hook of ours (``inheritable=False``, registered once per process) is asked by
  every callback manager LangChain configures; it answers only for a chat model's own
  ``generate``/``agenerate`` (found on the stack: LangChain passes the hook no model), and only
  when a handler of that run asked for ``force_stream``;
* :func:`stream_verdict` says whether that model's stream returns what its plain call returns
  (:data:`PROFILES`, checked by tests/test_force_stream.py through the real clients);
* if so, the hook adds :data:`MARKER`, a handler that declares itself a streaming consumer and
  ignores every event, to that one run; if not, nothing is added, the model is left alone and
  ``force_stream`` says so once per model class and reason (on stderr, so in the cell).

If LangChain renames the marker or stops consulting it, the import here fails loudly and
tests/test_force_stream.py fails; panels then show each model's final text at its end.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from .inline import InlineHandlerMixin

_SLOT_NAME = "lc_callbacks_nb.force_stream"


# -- which handlers asked for it -------------------------------------------------------------
_requesters: weakref.WeakSet[Any] = weakref.WeakSet()  # handlers created with force_stream=True


def requested_by(handler: Any) -> None:
    """Note a handler made with ``force_stream=True`` and make sure the hook is registered."""
    _requesters.add(handler)
    install()


def _asks(handler: Any) -> bool:
    return handler in _requesters and getattr(handler, "force_stream", False) is True


def _handlers_of(callbacks: Any) -> list[Any]:
    if callbacks is None:
        return []
    if isinstance(callbacks, list):
        return callbacks
    return list(getattr(callbacks, "handlers", None) or [])


# -- which models stream faithfully ----------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    faithful: bool
    reason: str = ""  # why not, and how to stream it anyway (one sentence)
    needed: bool = True  # False: the model streams to callbacks anyway (nothing to force)


def _openai(model: Any, call_kwargs: dict[str, Any]) -> Verdict:
    try:
        payload = {**model._default_params, **call_kwargs}
        responses = bool(model._use_responses_api(payload))
    except Exception:  # an older or newer langchain-openai: assume Chat Completions
        responses = False
    if responses:
        return Verdict(True)  # the Responses API streams the same message, usage included
    return Verdict(
        False,
        "with the Chat Completions API its streamed reply has no token_usage, logprobs or id "
        "in response_metadata (and no usage_metadata unless stream_usage=True); stream it "
        "yourself with streaming=True, or use the Responses API (use_responses_api=True), "
        "whose streamed reply is the same message",
    )


def _anthropic(model: Any, call_kwargs: dict[str, Any]) -> Verdict:
    return Verdict(
        False,
        "its streamed reply has no id, model, usage or stop_details in response_metadata and "
        "fewer input_token_details in usage_metadata; stream it yourself with streaming=True",
    )


def _streams_anyway(model: Any, call_kwargs: dict[str, Any]) -> Verdict:
    # ChatOllama always streams on the wire and reports every token, invoke or not
    return Verdict(True, needed=False)


# Per model class (by the name of a class in its MRO, so nothing is imported): does its streamed
# reply equal its plain one in content, tool calls, usage and response_metadata keys, and under
# which conditions. Measured through the real clients against the embedded server;
# tests/test_force_stream.py checks every entry.
PROFILES: dict[str, Callable[[Any, dict[str, Any]], Verdict]] = {
    "BaseChatOpenAI": _openai,  # ChatOpenAI, AzureChatOpenAI
    "ChatAnthropic": _anthropic,
    "ChatOllama": _streams_anyway,
}


def stream_verdict(model: Any, call_kwargs: dict[str, Any] | None = None) -> Verdict:
    """Would streaming ``model`` (called with ``call_kwargs``) return the same message?"""
    for cls in type(model).__mro__:
        profile = PROFILES.get(cls.__name__)
        if profile is not None:
            return profile(model, call_kwargs or {})
    return Verdict(
        False,
        "lc_callbacks_nb has not checked that its streamed reply is the same message as its "
        "plain one; stream it yourself with streaming=True",
    )


_said: set[tuple[str, str]] = set()
_said_lock = threading.Lock()


def _say_once(model: Any, reason: str) -> None:
    name = type(model).__name__
    with _said_lock:
        if (name, reason) in _said:
            return
        _said.add((name, reason))
    print(f"lc_callbacks_nb: force_stream leaves {name} alone: {reason}.", file=sys.stderr)


# -- the marker ------------------------------------------------------------------------------
def _marker_class() -> type:
    from langchain_core.tracers._streaming import _StreamingCallbackHandler

    class ForceStreamMarker(  # type: ignore[override]
        InlineHandlerMixin, BaseCallbackHandler, _StreamingCallbackHandler
    ):
        """Makes ``BaseChatModel._should_stream`` stream the one run it is added to. It takes no
        events (LangChain skips it for every one) and passes streamed output through untouched."""

        ignore_llm = ignore_chat_model = ignore_chain = ignore_agent = True
        ignore_retriever = ignore_retry = ignore_custom_event = True

        def tap_output_aiter(self, run_id: UUID, output: Any) -> Any:
            return output

        def tap_output_iter(self, run_id: UUID, output: Iterator[Any]) -> Iterator[Any]:
            return output

        def __repr__(self) -> str:
            return "ForceStreamMarker()"

    return ForceStreamMarker


MARKER: BaseCallbackHandler = _marker_class()()


# -- the configure hook ----------------------------------------------------------------------
def _codes() -> tuple[CodeType, frozenset[CodeType]]:
    from langchain_core.callbacks.manager import _configure
    from langchain_core.language_models.chat_models import BaseChatModel

    models = frozenset({BaseChatModel.agenerate.__code__, BaseChatModel.generate.__code__})
    return _configure.__code__, models


_CONFIGURE_CODE, _MODEL_CODES = _codes()
_SEARCH_DEPTH = 8  # get() <- _configure <- configure <- (a)generate, with room to spare


def _configuring() -> tuple[FrameType, FrameType] | None:
    """LangChain's ``_configure`` frame asking us now, and the frame of the chat model's
    ``generate``/``agenerate`` it configures for; None for any other runnable."""
    frame: FrameType | None = sys._getframe(2)
    configure: FrameType | None = None
    for _ in range(_SEARCH_DEPTH):
        if frame is None:
            return None
        if frame.f_code is _CONFIGURE_CODE:
            configure = frame
        elif frame.f_code in _MODEL_CODES:
            return (configure, frame) if configure is not None else None
        frame = frame.f_back
    return None


class ForceStreamSlot:
    """The configure hook: the ``ContextVar.get`` interface LangChain calls."""

    def __init__(self, name: str) -> None:
        self.name = name

    def get(self, default: Any = None) -> Any:
        if not _requesters:  # nobody asked: nothing to look at (every configure passes here)
            return default
        try:
            return self._decide(default)
        except Exception:  # never break a run over a streaming preference
            return default

    def _decide(self, default: Any) -> Any:
        found = _configuring()
        if found is None:
            return default
        configure, model_frame = found
        # Every handler of the run so far: inherited, the model's own, and those added by the
        # hooks registered before this one (the extension's; install() sees to the order).
        manager = configure.f_locals.get("callback_manager")
        if not any(_asks(h) for h in _handlers_of(manager)):
            return default
        local = model_frame.f_locals
        model, kwargs = local.get("self"), local.get("kwargs")
        verdict = stream_verdict(model, kwargs if isinstance(kwargs, dict) else {})
        if not verdict.needed:
            return default
        if verdict.faithful:
            return MARKER
        _say_once(model, verdict.reason)
        return default

    def __repr__(self) -> str:
        return f"<ForceStreamSlot {self.name}>"


def _find_registered() -> Any:
    try:
        from langchain_core.tracers.context import _configure_hooks
    except ImportError:  # pragma: no cover - private name moved; we simply register anew
        return None
    for var, *_ in _configure_hooks:
        if getattr(var, "name", None) == _SLOT_NAME and type(var).__name__ == "ForceStreamSlot":
            return var
    return None


_slot: ForceStreamSlot | None = None
_install_lock = threading.Lock()


def install() -> ForceStreamSlot:
    """Register the hook once per process (it survives reimports of this module)."""
    global _slot
    with _install_lock:
        if _slot is None:
            found = _find_registered()
            if found is None:
                from langchain_core.tracers.context import register_configure_hook

                # after the extension's own slots, so their handlers are in the manager we read
                from ..notebook import hooks  # noqa: F401

                found = ForceStreamSlot(_SLOT_NAME)
                # not inheritable: the marker belongs to the model's own run, never its children
                register_configure_hook(found, inheritable=False)  # type: ignore[arg-type]
            _slot = found
        return _slot
