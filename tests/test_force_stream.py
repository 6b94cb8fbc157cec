"""``force_stream``: models called with invoke/ainvoke stream to the panel, and return the same
message as without it.

How it works (lc_callbacks_nb/langchain/force_stream.py): ``BaseChatModel._should_stream``
streams when one of the run's handlers is an instance of
``langchain_core.tracers._streaming._StreamingCallbackHandler``. A configure hook of ours adds
such a marker to a chat model's own run, when a handler of that run asked for ``force_stream``
and the model's stream returns what its plain call returns (per-model profiles); any other
model is left alone, and that is said once. The class and the call sites are private: the
contract tests at the top of this file fail loudly, naming them, if LangChain changes them.
The rest runs the real clients over real HTTP against the embedded server: the returned
messages with and without ``force_stream`` are compared field by field, and the panels are
read back from IOPub (tests/board_replay.py).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid

import pytest
from board_replay import ReplayedBoard, replay
from harness import KernelSession

from lc_callbacks_nb import LiveStreamHandler
from lc_callbacks_nb.server import LocalChatServer, Reply, ToolCall

REPLY = "Streaming makes long answers feel fast, one token at a time."
WEATHER_Q = "What's the weather in Paris?"
ANSWER = "It is sunny in Paris today, with a light breeze."
SCRIPT = {
    "Why stream?": REPLY,
    WEATHER_Q: [Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"})]), ANSWER],
}


# -- the LangChain contract force_stream relies on ----------------------------------------
CONTRACT = (
    "force_stream relies on langchain_core.tracers._streaming._StreamingCallbackHandler and on "
    "BaseChatModel._should_stream checking isinstance(handler, _StreamingCallbackHandler); "
    "LangChain changed this, so LiveStreamHandler(force_stream=True) must be reworked"
)


def _run_manager(*handlers):
    from langchain_core.callbacks.manager import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )

    kw = {"run_id": uuid.uuid4(), "handlers": list(handlers), "inheritable_handlers": []}
    return AsyncCallbackManagerForLLMRun(**kw), CallbackManagerForLLMRun(**kw)


@pytest.fixture(scope="module")
def model():
    from langchain_openai import ChatOpenAI

    # never called: _should_stream only looks at the model's settings and the handlers
    return ChatOpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-test", max_retries=0)


def test_private_streaming_handler_class_still_exists():
    try:
        from langchain_core.tracers._streaming import _StreamingCallbackHandler
    except ImportError as exc:  # pragma: no cover - the loud failure this test exists for
        pytest.fail(f"{CONTRACT}: {exc}")
    for method in ("tap_output_aiter", "tap_output_iter"):
        assert hasattr(_StreamingCallbackHandler, method), f"{CONTRACT}: no {method}"


def test_the_marker_is_a_streaming_handler_and_our_panel_handler_is_not():
    from langchain_core.tracers._streaming import _StreamingCallbackHandler

    from lc_callbacks_nb.langchain.force_stream import MARKER

    assert isinstance(MARKER, _StreamingCallbackHandler), CONTRACT
    # the panel handler itself never declares itself a streaming consumer: only the models
    # the per-model decision lets through get the marker, on their own run
    panel = LiveStreamHandler(mode="text", force_stream=True)
    assert not isinstance(panel, _StreamingCallbackHandler)
    # the taps pass the model's output through untouched
    marker = object()
    assert MARKER.tap_output_aiter(uuid.uuid4(), marker) is marker
    assert MARKER.tap_output_iter(uuid.uuid4(), marker) is marker


@pytest.mark.parametrize("async_api", [True, False], ids=["ainvoke", "invoke"])
def test_should_stream_consults_the_marker(model, async_api):
    from lc_callbacks_nb.langchain.force_stream import MARKER

    assert "_StreamingCallbackHandler" in inspect.getsource(type(model)._should_stream), CONTRACT
    pick = 0 if async_api else 1
    forced = _run_manager(MARKER)[pick]
    plain = _run_manager(LiveStreamHandler(mode="text", force_stream=True))[pick]
    assert model._should_stream(async_api=async_api, run_manager=forced) is True, CONTRACT
    assert model._should_stream(async_api=async_api, run_manager=plain) is False, CONTRACT
    assert model._should_stream(async_api=async_api, run_manager=None) is False


def test_the_hook_finds_the_model_where_langchain_configures_its_run():
    """The hook is handed no model: it finds LangChain's ``_configure`` and the chat model's
    ``generate``/``agenerate`` on the stack. Fails loudly if those moved."""
    from langchain_core.callbacks import manager
    from langchain_core.language_models.chat_models import BaseChatModel

    for fn in (BaseChatModel.agenerate, BaseChatModel.generate):
        src = inspect.getsource(fn)
        assert "CallbackManager.configure(" in src, f"{CONTRACT}: {fn.__qualname__}"
    src = inspect.getsource(manager._configure)
    assert "var.get()" in src and "callback_manager.handlers" in src, CONTRACT


def test_disable_streaming_wins_over_the_marker(model):
    """A model's own opt-out (disable_streaming=True) is honoured before any handler."""
    from lc_callbacks_nb.langchain.force_stream import MARKER

    explicit = model.model_copy(update={"disable_streaming": True})
    assert explicit._should_stream(async_api=True, run_manager=_run_manager(MARKER)[0]) is False


def test_verdicts_per_model(model):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    from lc_callbacks_nb.langchain.force_stream import stream_verdict

    assert not stream_verdict(model).faithful  # Chat Completions
    assert "token_usage" in stream_verdict(model).reason
    responses = model.model_copy(update={"use_responses_api": True})
    assert stream_verdict(responses).faithful
    # a Responses-only argument in the call makes langchain-openai use the Responses API
    assert stream_verdict(model, {"reasoning": {"effort": "low"}}).faithful
    unknown = GenericFakeChatModel(messages=iter(["hi"]))
    verdict = stream_verdict(unknown)
    assert not verdict.faithful and "streaming=True" in verdict.reason


# -- the same message, through the real clients --------------------------------------------
# differ between any two calls: ids, times, Anthropic's thinking signatures, Ollama's timings
VOLATILE = {"id", "created_at", "call_id", "run_id", "signature"}


def _stable(value):
    if isinstance(value, dict):
        return {
            k: _stable(v)
            for k, v in value.items()
            # a content block's bookkeeping: its position in the stream, an empty list of
            # citations, the "completed" status of a finished item (a stream carries them
            # only when they say something)
            if k not in VOLATILE
            and not k.endswith("_duration")
            and k != "index"
            and not (k == "annotations" and v == [])
            and not (k == "status" and v == "completed")
        }
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


# One loop for the module: langchain-openai caches its async HTTP client per base URL, and a
# client may not outlive the loop it was made on.
_LOOP = asyncio.new_event_loop()


def message_facts(message) -> dict:
    """What a caller reads of an AIMessage: content, tool calls, usage, metadata (keys and
    values), extra kwargs; ids and timestamps aside, which differ between any two calls."""
    return {
        "type": message.type,
        "content": _stable(message.content),
        "tool_calls": [(c["name"], c["args"]) for c in message.tool_calls],
        "invalid_tool_calls": len(message.invalid_tool_calls),
        "usage_metadata": message.usage_metadata,
        "response_metadata_keys": sorted(message.response_metadata),
        "response_metadata": _stable(message.response_metadata),
        "additional_kwargs": _stable(message.additional_kwargs),
    }


def _openai(server, **kw):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        base_url=server.base_url, api_key="sk-test", model="gpt-4o-mini", max_retries=0, **kw
    )


@pytest.mark.parametrize("sync", [False, True], ids=["ainvoke", "invoke"])
def test_forced_responses_api_returns_the_same_message(server, sync, capsys):
    model = _openai(server, use_responses_api=True)
    forced = {"callbacks": [LiveStreamHandler(mode="text", force_stream=True)]}

    async def both():
        return await model.ainvoke("Why stream?"), await model.ainvoke("Why stream?", forced)

    if sync:
        plain, streamed = model.invoke("Why stream?"), model.invoke("Why stream?", forced)
    else:
        plain, streamed = _LOOP.run_until_complete(both())
    assert [bool(r.get("stream")) for r in server.requests[-2:]] == [False, True]
    assert message_facts(streamed) == message_facts(plain)
    assert plain.usage_metadata and plain.usage_metadata["output_tokens"] > 0
    assert "force_stream leaves" not in capsys.readouterr().err


def test_forced_tool_call_turn_returns_the_same_message(server):
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return f"sunny in {city}"

    model = _openai(server, use_responses_api=True).bind_tools([get_weather])
    forced = {"callbacks": [LiveStreamHandler(mode="text", force_stream=True)]}
    async def both():
        return await model.ainvoke(WEATHER_Q), await model.ainvoke(WEATHER_Q, forced)

    plain, streamed = _LOOP.run_until_complete(both())
    assert [bool(r.get("stream")) for r in server.requests[-2:]] == [False, True]
    assert plain.tool_calls and message_facts(streamed) == message_facts(plain)


def test_chat_completions_is_left_alone_and_that_is_said_once(server, capsys):
    from lc_callbacks_nb.langchain import force_stream

    force_stream._said.clear()
    model = _openai(server)
    forced = {"callbacks": [LiveStreamHandler(mode="text", force_stream=True)]}
    async def both():
        return await model.ainvoke("Why stream?"), await model.ainvoke("Why stream?", forced)

    plain, first = _LOOP.run_until_complete(both())
    second = model.invoke("Why stream?", config=forced)
    # never streamed: the same message, with its token usage
    assert [bool(r.get("stream")) for r in server.requests[-3:]] == [False, False, False]
    assert message_facts(first) == message_facts(plain) == message_facts(second)
    assert "token_usage" in plain.response_metadata and plain.usage_metadata
    err = capsys.readouterr().err
    assert err.count("lc_callbacks_nb: force_stream leaves ChatOpenAI alone") == 1, err
    assert "use_responses_api=True" in err and "\n" not in err.strip()


@pytest.mark.parametrize("responses", [True, False], ids=["responses", "chat_completions"])
def test_an_agents_state_is_the_same_with_force_stream(server, responses):
    """create_agent calls its model with ainvoke: every AI message in the final state (what
    the caller, a checkpointer and every tracer get) reads the same with force_stream."""
    from langchain.agents import create_agent
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return f"sunny in {city}"

    agent = create_agent(_openai(server, use_responses_api=responses), tools=[get_weather])
    question = {"messages": [{"role": "user", "content": WEATHER_Q}]}
    forced = {"callbacks": [LiveStreamHandler(mode="text", force_stream=True)]}

    async def both():
        return await agent.ainvoke(question), await agent.ainvoke(question, forced)

    plain, streamed = _LOOP.run_until_complete(both())
    assert [bool(r.get("stream")) for r in server.requests[-4:]] == [False, False] + [
        responses
    ] * 2
    ai = [[message_facts(m) for m in s["messages"] if m.type == "ai"] for s in (plain, streamed)]
    assert len(ai[0]) == 2 and ai[1] == ai[0]
    assert all(m["usage_metadata"] for m in ai[0])


def _anthropic(server, **kw):
    from langchain_anthropic import ChatAnthropic

    return ChatAnthropic(
        base_url=server.base_url, api_key="sk-ant-test", model="claude-sonnet-4-5",
        max_tokens=2048, max_retries=0, **kw,
    )


def _ollama(server, **kw):
    from langchain_ollama import ChatOllama

    return ChatOllama(base_url=server.base_url, model="qwen3", **kw)


@pytest.mark.parametrize("thinking", [False, True], ids=["plain", "thinking"])
def test_anthropic_is_left_alone_and_keeps_its_metadata(server, thinking, capsys):
    """ChatAnthropic's streamed reply lacks response_metadata keys its plain reply has (id,
    model, usage, stop_details): force_stream leaves it alone, says so once, and the caller
    gets the very message it gets without the extension."""
    from lc_callbacks_nb.langchain import force_stream

    force_stream._said.clear()
    kw = {"thinking": {"type": "enabled", "budget_tokens": 1024}} if thinking else {}
    model = _anthropic(server, **kw)
    forced = {"callbacks": [LiveStreamHandler(mode="text", force_stream=True)]}

    async def both():
        return await model.ainvoke("Why stream?"), await model.ainvoke("Why stream?", forced)

    plain, streamed = _LOOP.run_until_complete(both())
    assert [bool(r.get("stream")) for r in server.requests[-2:]] == [False, False]
    assert message_facts(streamed) == message_facts(plain)
    assert "usage" in plain.response_metadata
    err = capsys.readouterr().err
    assert err.count("force_stream leaves ChatAnthropic alone") == 1, err


@pytest.mark.parametrize("reasoning", [None, True], ids=["default", "reasoning"])
def test_ollama_needs_no_forcing_and_returns_the_same_message(server, reasoning, capsys):
    """ChatOllama streams every call on the wire and reports each token: force_stream adds
    nothing to it and says nothing; the panel streams either way."""
    model = _ollama(server, reasoning=reasoning)
    handler = LiveStreamHandler(mode="text", force_stream=True)

    async def both():
        return await model.ainvoke("Why stream?"), await model.ainvoke(
            "Why stream?", {"callbacks": [handler]}
        )

    plain, streamed = _LOOP.run_until_complete(both())
    assert message_facts(streamed) == message_facts(plain)
    printed = capsys.readouterr()
    assert printed.err == ""  # nothing left alone, nothing to say
    assert REPLY in printed.out and handler.internal_errors == []  # the text view streamed it


def test_without_a_force_stream_handler_the_hook_adds_nothing(server):
    LiveStreamHandler(mode="text", force_stream=True)  # exists, but not on this run
    model = _openai(server, use_responses_api=True)
    panel_only = {"callbacks": [LiveStreamHandler(mode="text")]}
    _LOOP.run_until_complete(model.ainvoke("Why stream?", config=panel_only))
    assert [bool(r.get("stream")) for r in server.requests[-1:]] == [False]


def test_force_stream_in_a_chain_reaches_the_model_only(server):
    """Inherited through a chain, the request still reaches the model's run (and the chain
    itself is not turned into a streaming consumer)."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | _openai(
        server, use_responses_api=True
    ) | StrOutputParser()
    forced = {"callbacks": [LiveStreamHandler(mode="text", force_stream=True)]}
    async def both():
        q = {"q": "Why stream?"}
        return await chain.ainvoke(q), await chain.ainvoke(q, forced)

    plain, streamed = _LOOP.run_until_complete(both())
    assert [bool(r.get("stream")) for r in server.requests[-2:]] == [False, True]
    assert streamed == plain == REPLY


# -- in a real kernel --------------------------------------------------------------------
SERVER_OPTIONS = {"script": SCRIPT, "token_delay": 0.01}  # conftest's server
SETUP = """
import json
from langchain_openai import ChatOpenAI
from langchain_core.tools import tool
from langchain.agents import create_agent
from lc_callbacks_nb import LiveStreamHandler

def chat(**kw):  # no streaming=True: only force_stream can make these stream
    # the Responses API: its streamed reply is the same message, so force_stream streams it
    kw.setdefault("use_responses_api", True)
    return ChatOpenAI(base_url={base_url!r}, api_key="sk-test", model="gpt-4o-mini",
                      max_retries=0, **kw)

@tool
def get_weather(city: str) -> str:
    \"\"\"Current weather for a city.\"\"\"
    return f"sunny in {{city}}"

def agent():
    return create_agent(chat(), tools=[get_weather])
"""


def one_board(k: KernelSession, code: str) -> tuple[str, ReplayedBoard]:
    start = len(k.iopub)
    result = k.run(code)
    boards = replay(k.iopub[start:])
    assert len(boards) == 1, f"one board per cell, got {len(boards)}"
    return result.stdout, boards[0]


def requested_stream(server: LocalChatServer, n: int) -> list[bool]:
    """Whether each of the last n requests asked the server for a stream."""
    return [bool(r.get("stream")) for r in server.requests[-n:]]


@pytest.mark.parametrize("force", [True, False], ids=["force_stream", "default"])
@pytest.mark.parametrize("call", ["await m.ainvoke", "m.invoke"])
def test_invoke_streams_into_the_panel_only_with_force_stream(k, server, call, force):
    stdout, board = one_board(
        k,
        f"h = LiveStreamHandler(force_stream={force})\n"
        "m = chat()\n"
        f"r = {call}('Why stream?', config={{'callbacks': [h]}})\n"
        "print(json.dumps(r.text))",
    )
    assert json.loads(stdout.strip().splitlines()[-1]) == REPLY
    assert requested_stream(server, 1) == [force]
    (run,) = board.ordered()
    assert run.status == "done"
    # either way the panel ends with the model's reply ...
    assert run.text["text"] == REPLY
    if force:
        # ... streamed token by token, in several live deltas
        assert run["tokens"] > 1 and run.deltas > 1
    else:
        # ... or all at once when the run ends
        assert run["tokens"] == 0 and run.deltas <= 1


@pytest.mark.parametrize("force", [True, False])
def test_agent_turns_stream_only_with_force_stream(k, server, force):
    stdout, board = one_board(
        k,
        f"h = LiveStreamHandler(force_stream={force})\n"
        f"question = {{'messages': [{{'role': 'user', 'content': {WEATHER_Q!r}}}]}}\n"
        "state = await agent().ainvoke(question, config={'callbacks': [h]})\n"
        "print(json.dumps(state['messages'][-1].text))",
    )
    assert json.loads(stdout.strip().splitlines()[-1]) == ANSWER
    assert requested_stream(server, 2) == [force, force]
    turns = board.ordered()
    assert len(turns) == 2 and all(t.status == "done" for t in turns)
    # turn 1 is a tool call: its arguments arrive as deltas too when streamed
    assert '"Paris"' in turns[0].text["tool_args"]
    assert turns[1].text["text"] == ANSWER
    if force:
        assert all(t["tokens"] > 1 for t in turns)
        assert turns[1].deltas > 1
    else:
        assert all(t["tokens"] == 0 for t in turns)


def test_lc_stream_magic_force_stream(k, server):
    k.run("%load_ext lc_callbacks_nb")
    try:
        out, board = one_board(
            k, "%lc_stream on --mode widget --force-stream\nr = await chat().ainvoke('Why stream?')"
        )
        assert "force_stream=True" in out
        (run,) = board.ordered()
        assert run["tokens"] > 1 and run.text["text"] == REPLY
        assert requested_stream(server, 1) == [True]

        out, board = one_board(
            k, "%lc_stream on --no-force-stream\nr = await chat().ainvoke('Why stream?')"
        )
        assert "force_stream=False" in out
        (run,) = board.ordered()
        assert run["tokens"] == 0 and run.text["text"] == REPLY
        assert requested_stream(server, 1) == [False]

        # one cell only, with %%lc_stream while the kernel-wide panels are off
        k.run("%lc_stream off")
        _out, board = one_board(
            k, "%%lc_stream --force-stream\nr = await chat().ainvoke('Why stream?')"
        )
        (run,) = board.ordered()
        assert run["tokens"] > 1 and run.text["text"] == REPLY
    finally:
        k.run("%unload_ext lc_callbacks_nb")
