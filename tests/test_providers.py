"""Every provider's shapes, through the real clients, real HTTP and a real kernel.

Each test runs stock LangChain clients against the embedded server and reads the panel back
from the kernel's IOPub traffic (tests/board_replay.py), the way a browser would draw it.
"""

from __future__ import annotations

import json

import pytest
from board_replay import replay
from harness import KernelSession

from lc_callbacks_nb.langchain.tokens import REDACTED_REASONING
from lc_callbacks_nb.server import Reply, ToolCall

THOUGHT = "The user greets me. I should greet back, briefly."
ANSWER = "Hello! How can I help you today?"
THINK_REPLY = f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}"
PONDER = ("Paris is in France.", "The weather tool will know.")
WEATHER_Q = "What's the weather in Paris?"
SECRET = "EuYBCkQYAiJAopaque"
SCRIPT = {
    "Say hi": THINK_REPLY,
    "Think first": Reply("Sunny, as far as I know.", reasoning=PONDER),
    "Think in secret": Reply("Done.", reasoning="Visible part.", redacted_reasoning=SECRET),
    WEATHER_Q: [
        Reply(
            reasoning="I should call the tool.",
            tool_calls=[ToolCall("get_weather", {"city": "Paris"})],
        ),
        Reply("It is sunny in Paris.", reasoning="The tool said sunny."),
    ],
}
SERVER_OPTIONS = {"script": SCRIPT, "token_delay": 0.02}
SETUP = """
import json
from langchain_openai import ChatOpenAI
from langchain_anthropic import ChatAnthropic
from langchain_ollama import ChatOllama
from langchain_core.tools import tool
from langchain.agents import create_agent
from lc_callbacks_nb import LiveStreamHandler

def chat(**kw):
    return ChatOpenAI(base_url={base_url!r}, api_key="sk-test", model="qwen3", max_retries=0, **kw)

def claude(**kw):
    kw.setdefault("thinking", {{"type": "enabled", "budget_tokens": 1024}})
    return ChatAnthropic(base_url={base_url!r}, api_key="sk-ant-test", model="claude-sonnet-4-5",
                         max_tokens=4096, max_retries=0, **kw)

def llama(**kw):
    return ChatOllama(base_url={base_url!r}, model="qwen3", **kw)

@tool
def get_weather(city: str) -> str:
    \"\"\"Current weather for a city.\"\"\"
    return f"sunny in {{city}}"

live = lambda: {{"callbacks": [LiveStreamHandler()]}}
"""


def one_board(k: KernelSession, code: str):
    start = len(k.iopub)
    result = k.run(code)
    assert result.status == "ok", result.error
    boards = replay(k.iopub[start:])
    assert len(boards) == 1, f"one board per cell, got {len(boards)}"
    return result.stdout, boards[0]


@pytest.mark.parametrize("streaming", [True, False], ids=["streamed", "not_streamed"])
def test_a_leading_think_block_goes_to_the_reasoning_lane(k, streaming):
    """Local reasoning models (Ollama without reasoning=True, vLLM, llama.cpp) put their
    reasoning in <think>...</think> at the start of the text: the panel shows it in the
    reasoning lane, streaming, and the answer alone; the model's reply keeps its tags."""
    stdout, board = one_board(
        k,
        f"r = await chat(streaming={streaming}).ainvoke('Say hi', "
        "config={'callbacks': [LiveStreamHandler()]})\n"
        "print(json.dumps(r.content))",
    )
    assert json.loads(stdout.strip().splitlines()[-1]) == THINK_REPLY  # the reply is untouched
    (run,) = board.ordered()
    assert run.status == "done"
    assert run.text["text"] == ANSWER
    assert run.text["reasoning"].strip() == THOUGHT
    assert "<think>" not in run.text["text"] + run.text["reasoning"]
    if streaming:  # the reasoning arrived while it streamed, not at the end
        assert run.deltas > 2


def final_twin(k: KernelSession, start: int) -> str:
    """The board's static twin as last drawn (what a saved notebook keeps)."""
    texts = [
        m["content"]["data"]["text/plain"]
        for m in k.iopub[start:]
        if m["msg_type"] in ("display_data", "update_display_data")
        and "application/vnd.jupyter.widget-view+json" in m["content"]["data"]
    ]
    return texts[-1]


@pytest.mark.parametrize("streaming", [False, True], ids=["not_streamed", "streamed"])
def test_anthropic_thinking_fills_the_reasoning_lane_streamed_or_not(k, streaming):
    """ChatAnthropic(thinking=...) does not stream by default (nor under create_agent): its
    reasoning is read from the final message. Streamed, it arrives piece by piece."""
    start = len(k.iopub)
    stdout, board = one_board(
        k,
        f"r = await claude(streaming={streaming}).ainvoke('Think first', config=live())\n"
        "print(json.dumps(r.text))",
    )
    assert json.loads(stdout.strip().splitlines()[-1]) == "Sunny, as far as I know."
    (run,) = board.ordered()
    assert run.status == "done" and run.text["text"] == "Sunny, as far as I know."
    for part in PONDER:
        assert part in run.text["reasoning"]
    assert PONDER[1] in final_twin(k, start)


@pytest.mark.parametrize("streaming", [False, True], ids=["not_streamed", "streamed"])
def test_redacted_thinking_says_reasoning_was_hidden(k, streaming):
    start = len(k.iopub)
    _stdout, board = one_board(
        k, f"r = await claude(streaming={streaming}).ainvoke('Think in secret', config=live())"
    )
    (run,) = board.ordered()
    assert "Visible part." in run.text["reasoning"]
    assert REDACTED_REASONING in run.text["reasoning"]
    twin = final_twin(k, start)
    assert REDACTED_REASONING in twin
    assert SECRET not in json.dumps([m["content"] for m in k.iopub[start:]])


@pytest.mark.parametrize("call", ["await m.ainvoke", "m.invoke"])
def test_ollama_reasoning_and_text_in_one_chunk_lose_nothing(k, call):
    """ChatOllama(reasoning=True): the chunk that ends the thinking also carries the first
    answer token. The panel's lanes equal the returned message's reasoning and text."""
    stdout, board = one_board(
        k,
        "m = llama(reasoning=True)\n"
        f"r = {call}('Think first', config=live())\n"
        "print(json.dumps([r.additional_kwargs.get('reasoning_content'), r.text]))",
    )
    reasoning, text = json.loads(stdout.strip().splitlines()[-1])
    (run,) = board.ordered()
    assert run.text["text"] == text == "Sunny, as far as I know."
    assert run.text["reasoning"] == reasoning and PONDER[1] in reasoning


def test_ollama_without_a_reasoning_parser_shows_think_tags_as_reasoning(k):
    stdout, board = one_board(
        k,
        "r = await llama(reasoning=False).ainvoke('Say hi', config=live())\n"
        "print(json.dumps(r.text))",
    )
    assert json.loads(stdout.strip().splitlines()[-1]) == THINK_REPLY
    (run,) = board.ordered()
    assert run.text["text"] == ANSWER and run.text["reasoning"].strip() == THOUGHT


AGENTS = {
    "openai": "chat(use_responses_api=True, reasoning={'effort': 'low', 'summary': 'auto'})",
    "anthropic": "claude()",
    "ollama": "llama(reasoning=True)",
}


@pytest.mark.parametrize("provider", AGENTS)
def test_create_agent_on_each_provider(k, provider):
    """Two turns (a tool call, then the answer): reasoning in its lane on every turn, the tool
    call linked to its tool run, the answer as the returned state says."""
    start = len(k.iopub)
    stdout, board = one_board(
        k,
        f"agent = create_agent({AGENTS[provider]}, tools=[get_weather])\n"
        f"state = await agent.ainvoke({{'messages': [('user', {WEATHER_Q!r})]}}, config=live())\n"
        "print(json.dumps(state['messages'][-1].text))",
    )
    assert json.loads(stdout.strip().splitlines()[-1]) == "It is sunny in Paris."
    turns = board.ordered()
    assert len(turns) == 2 and all(t.status == "done" for t in turns)
    assert "call the tool" in turns[0].text["reasoning"]
    assert "tool said sunny" in turns[1].text["reasoning"]
    assert turns[1].text["text"] == "It is sunny in Paris."
    (call,) = turns[0]["tool_calls"]
    (tool_run,) = board.ordered("tool")
    assert call["name"] == "get_weather" and tool_run["tool_call_id"] == call["id"]
    twin = final_twin(k, start)
    assert "tool said sunny" in twin and "It is sunny in Paris." in twin


@pytest.mark.parametrize("provider", AGENTS)
def test_langgraph_messages_stream_on_each_provider(k, provider):
    """stream_mode="messages" makes LangGraph stream every model call: the panels fill as the
    tokens reach the caller, and end with the same texts."""
    stdout, board = one_board(
        k,
        f"agent = create_agent({AGENTS[provider]}, tools=[get_weather])\n"
        "seen = ''\n"
        f"async for msg, meta in agent.astream({{'messages': [('user', {WEATHER_Q!r})]}},\n"
        "                                      stream_mode='messages', config=live()):\n"
        "    if meta.get('langgraph_node') == 'model': seen += msg.text\n"
        "print(json.dumps(seen))",
    )
    seen = json.loads(stdout.strip().splitlines()[-1])
    turns = board.ordered()
    assert len(turns) == 2 and all(t.status == "done" for t in turns)
    assert turns[1].text["text"] == "It is sunny in Paris." and seen.endswith(turns[1].text["text"])
    assert turns[1]["tokens"] > 1  # it streamed
