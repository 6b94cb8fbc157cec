"""``LiveStreamHandler(force_stream=True)``: models called with invoke/ainvoke stream to the panel.

How it works: ``BaseChatModel._should_stream`` streams when one of the run's handlers is an
instance of ``langchain_core.tracers._streaming._StreamingCallbackHandler`` (that is how
``astream_events`` gets tokens out of an ``ainvoke``). With ``force_stream=True`` our handler
is one. The class is private: the contract tests at the top of this file fail loudly, naming
it, if LangChain renames it or stops consulting it. The rest runs a real kernel against the
embedded server over real HTTP and reads the panels back from IOPub (tests/board_replay.py).
"""

from __future__ import annotations

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


def test_force_stream_handler_is_a_streaming_handler_and_the_default_is_not():
    from langchain_core.tracers._streaming import _StreamingCallbackHandler

    forced = LiveStreamHandler(mode="text", force_stream=True)
    plain = LiveStreamHandler(mode="text")
    assert isinstance(forced, _StreamingCallbackHandler)
    assert isinstance(forced, LiveStreamHandler)
    assert not isinstance(plain, _StreamingCallbackHandler)
    # the taps pass the model's output through untouched
    marker = object()
    assert forced.tap_output_aiter(uuid.uuid4(), marker) is marker
    assert forced.tap_output_iter(uuid.uuid4(), marker) is marker


@pytest.mark.parametrize("async_api", [True, False], ids=["ainvoke", "invoke"])
def test_should_stream_consults_our_handler(model, async_api):
    assert "_StreamingCallbackHandler" in inspect.getsource(type(model)._should_stream), CONTRACT
    pick = 0 if async_api else 1
    forced = _run_manager(LiveStreamHandler(mode="text", force_stream=True))[pick]
    plain = _run_manager(LiveStreamHandler(mode="text"))[pick]
    assert model._should_stream(async_api=async_api, run_manager=forced) is True, CONTRACT
    assert model._should_stream(async_api=async_api, run_manager=plain) is False, CONTRACT
    assert model._should_stream(async_api=async_api, run_manager=None) is False


def test_disable_streaming_wins_over_force_stream(model):
    """A model's own opt-out (disable_streaming=True) is honoured before any handler."""
    explicit = model.model_copy(update={"disable_streaming": True})
    forced = _run_manager(LiveStreamHandler(mode="text", force_stream=True))[0]
    assert explicit._should_stream(async_api=True, run_manager=forced) is False


# -- in a real kernel --------------------------------------------------------------------
SERVER_OPTIONS = {"script": SCRIPT, "token_delay": 0.01}  # conftest's server
SETUP = """
import json
from langchain_openai import ChatOpenAI
from langchain_core.tools import tool
from langchain.agents import create_agent
from lc_callbacks_nb import LiveStreamHandler

def chat(**kw):  # no streaming=True: only force_stream can make these stream
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
        "print(json.dumps(r.content))",
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
        "print(json.dumps(state['messages'][-1].content))",
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
