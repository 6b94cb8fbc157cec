"""LocalChatServer's Anthropic Messages API over real HTTP: the raw SSE events (each checked
against the anthropic SDK's own types), the anthropic client, stock ChatAnthropic (invoke,
ainvoke, stream, astream; thinking on and off; redacted thinking; tools; create_agent;
LangGraph's messages stream), usage with cache reads and writes, faults, and 400s."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import anthropic
import httpx
import pydantic
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from chat_tools import get_time, get_weather
from langchain_anthropic import ChatAnthropic
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage

from lc_callbacks_nb.offline.anthropic_messages import seal
from lc_callbacks_nb.offline.server_script import tokenize
from lc_callbacks_nb.server import DEFAULT_REPLY, LocalChatServer, Reply, ToolCall

THOUGHT = "The user wants a joke about atoms."
HIDDEN = "Something the provider will not show."
ANSWER = "Atoms make up everything."
WEATHER_Q = "Weather and time in Paris?"
SCRIPT = {
    "Tell me a joke": Reply(ANSWER, reasoning=THOUGHT, redacted_reasoning=HIDDEN),
    "plain": "Just text.",
    WEATHER_Q: [
        Reply(
            reasoning="I should call both tools.",
            tool_calls=[
                ToolCall("get_weather", {"city": "Paris"}, id="toolu_weather"),
                ToolCall("get_time", {"city": "Paris"}),
            ],
        ),
        Reply("Sunny, and it is noon.", reasoning="Both tools answered."),
    ],
}
THINKING = {"type": "enabled", "budget_tokens": 1024}
HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-test"}
EVENTS = pydantic.TypeAdapter(RawMessageStreamEvent)


@pytest.fixture
def server():
    with LocalChatServer(script=SCRIPT) as srv:
        yield srv


def chat(srv: LocalChatServer, **kw: Any) -> ChatAnthropic:
    return ChatAnthropic(
        model="claude-sonnet-4-5", base_url=srv.base_url, api_key="sk-ant-test", max_retries=0, **kw
    )


def thinking_chat(srv: LocalChatServer, **kw: Any) -> ChatAnthropic:
    return chat(srv, max_tokens=4096, thinking=THINKING, **kw)


def client(srv: LocalChatServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=srv.base_url, api_key="sk-ant-test", max_retries=0)


def body(prompt: str = "Tell me a joke", **kw: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": prompt}],
        **kw,
    }


def raw_events(srv: LocalChatServer, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The SSE stream as JSON payloads, each validated by the SDK's own event types."""
    url = f"{srv.base_url}/messages"
    with httpx.stream("POST", url, json={**payload, "stream": True}, headers=HEADERS) as res:
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/event-stream")
        assert res.headers["request-id"].startswith("req_")
        text = res.read().decode()
    events = []
    for block in text.strip().split("\n\n"):
        event_line, data_line = block.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {data['type']}"
        if data["type"] not in ("ping", "error"):  # the SDK's union leaves these two out
            EVENTS.validate_python(data)
        events.append(data)
    return events


def squeeze(types: list[str]) -> list[str]:
    return [t for i, t in enumerate(types) if i == 0 or types[i - 1] != t]


# -- the wire -----------------------------------------------------------------------------
def test_event_order_with_thinking_redacted_text_and_tools(server):
    server.script = {
        "go": Reply(
            "Sure.",
            reasoning=("First thought.", "Second thought."),
            redacted_reasoning=HIDDEN,
            tool_calls=[ToolCall("f", {"x": 1})],
        )
    }
    events = raw_events(server, body("go", thinking=THINKING))
    kinds = [e["type"] for e in events]
    assert squeeze(kinds) == [
        "message_start",
        "content_block_start", "ping", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_stop",  # redacted: no deltas
        "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta",
        "message_stop",
    ]  # fmt: skip
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["type"] for b in starts] == [
        "thinking", "thinking", "redacted_thinking", "text", "tool_use",
    ]  # fmt: skip
    assert [e["index"] for e in events if e["type"] == "content_block_start"] == [0, 1, 2, 3, 4]
    deltas: dict[int, list[dict[str, Any]]] = {}
    for e in events:
        if e["type"] == "content_block_delta":
            deltas.setdefault(e["index"], []).append(e["delta"])
    # A thinking block: its text in thinking_delta pieces, then one signature_delta.
    assert [d["type"] for d in deltas[0]][-1] == "signature_delta"
    assert "".join(d["thinking"] for d in deltas[0][:-1]) == "First thought."
    assert [d["thinking"] for d in deltas[0][:-1]] == tokenize("First thought.")
    assert deltas[0][-1]["signature"] != deltas[1][-1]["signature"]
    assert starts[2]["data"] and HIDDEN not in starts[2]["data"]  # opaque
    assert "".join(d["text"] for d in deltas[3]) == "Sure."
    assert deltas[4][0] == {"type": "input_json_delta", "partial_json": ""}
    assert json.loads("".join(d["partial_json"] for d in deltas[4])) == {"x": 1}
    assert len(deltas[4]) > 2
    assert starts[4]["id"].startswith("toolu_") and starts[4]["input"] == {}
    start, delta = events[0]["message"], events[-2]
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["id"].startswith("msg_") and start["model"] == "claude-sonnet-4-5"
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    thinking_tokens = sum(len(tokenize(t)) for t in ("First thought.", "Second thought.", HIDDEN))
    output = (
        thinking_tokens + len(tokenize("Sure.")) + len(tokenize("f")) + len(tokenize('{"x": 1}'))
    )
    assert delta["usage"]["output_tokens"] == output
    assert delta["usage"]["output_tokens_details"] == {"thinking_tokens": thinking_tokens}
    # message_delta's usage is cumulative: the input side again (what LangChain reads).
    assert delta["usage"]["input_tokens"] == start["usage"]["input_tokens"] > 0


def test_plain_message_matches_the_stream(server):
    res = httpx.post(f"{server.base_url}/messages", json=body(thinking=THINKING), headers=HEADERS)
    assert res.status_code == 200 and res.headers["request-id"].startswith("req_")
    message = Message.model_validate(res.json())
    assert [b.type for b in message.content] == ["thinking", "redacted_thinking", "text"]
    assert message.content[0].thinking == THOUGHT
    assert message.content[2].text == ANSWER
    assert message.stop_reason == "end_turn"
    streamed = raw_events(server, body(thinking=THINKING))[-2]["usage"]
    usage = message.usage
    assert usage.output_tokens == streamed["output_tokens"]
    assert usage.input_tokens == streamed["input_tokens"]
    # The root URL answers too: ANTHROPIC_BASE_URL=http://127.0.0.1:PORT works as for the API.
    root = server.base_url.removesuffix("/v1")
    assert httpx.post(f"{root}/v1/messages", json=body(), headers=HEADERS).status_code == 200


def test_thinking_only_when_the_request_enables_it(server):
    plain = client(server).messages.create(**body())
    assert [b.type for b in plain.content] == ["text"]
    assert plain.usage.output_tokens == len(tokenize(ANSWER))  # no thinking generated
    assert plain.usage.output_tokens_details is None
    off = client(server).messages.create(**body(thinking={"type": "disabled"}))
    assert [b.type for b in off.content] == ["text"]
    adaptive = client(server).messages.create(**body(thinking={"type": "adaptive"}))
    assert [b.type for b in adaptive.content] == ["thinking", "redacted_thinking", "text"]
    omitted = client(server).messages.create(**body(thinking={**THINKING, "display": "omitted"}))
    assert omitted.content[0].thinking == "" and omitted.content[0].signature
    events = raw_events(server, body(thinking={**THINKING, "display": "omitted"}))
    assert not any(e.get("delta", {}).get("type") == "thinking_delta" for e in events)


def test_anthropic_client_streams_every_event(server):
    with client(server).messages.stream(**body(thinking=THINKING)) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert final.content[0].thinking == THOUGHT and final.content[2].text == ANSWER
    assert final.usage.output_tokens_details.thinking_tokens == len(tokenize(THOUGHT)) + len(
        tokenize(HIDDEN)
    )


def test_usage_reports_cache_reads_and_writes():
    with LocalChatServer(script=SCRIPT, cached_tokens=3, cache_creation_tokens=2) as srv:
        usage = client(srv).messages.create(**body("plain")).usage
        prompt = (
            usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
        )
        assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (3, 2)
        assert usage.cache_creation.ephemeral_5m_input_tokens == 2
        assert prompt == 3 + 3 + len(tokenize("plain"))  # the same prompt size as OpenAI's
        for kw in ({}, {"streaming": True}):
            message = chat(srv, **kw).invoke("plain")
            details = message.usage_metadata["input_token_details"]
            assert details["cache_read"] == 3
            assert details.get("ephemeral_5m_input_tokens", details["cache_creation"]) == 2
            assert message.usage_metadata["input_tokens"] == prompt
            assert message.usage_metadata["output_tokens"] == len(tokenize("Just text."))


# -- ChatAnthropic ------------------------------------------------------------------------
class Seen(BaseCallbackHandler):
    """What LangChain hands a callback handler: the tokens and the standard content blocks."""

    def __init__(self) -> None:
        self.tokens: list[Any] = []
        self.blocks: list[dict[str, Any]] = []
        self.ends: list[AIMessage] = []

    def on_llm_new_token(self, token: Any, *, chunk: Any = None, **kwargs: Any) -> None:
        self.tokens.append(token)
        self.blocks.extend(chunk.message.content_blocks)

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.ends.append(response.generations[0][0].message)

    def text(self, kind: str, key: str) -> str:
        return "".join(b.get(key, "") for b in self.blocks if b["type"] == kind)


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
def test_chat_anthropic_with_thinking(server, mode):
    seen = Seen()
    model = thinking_chat(server, callbacks=[seen])
    if mode == "invoke":
        message = model.invoke("Tell me a joke")
    elif mode == "ainvoke":
        message = asyncio.run(model.ainvoke("Tell me a joke"))
    else:
        chunks: list[AIMessageChunk] = (
            list(model.stream("Tell me a joke"))
            if mode == "stream"
            else asyncio.run(_collect(model.astream("Tell me a joke")))
        )
        message = chunks[0]
        for chunk in chunks[1:]:
            message += chunk
        # Streamed: thinking, then redacted, then text, each piece to the callbacks.
        assert seen.text("reasoning", "reasoning") == THOUGHT
        assert seen.text("text", "text") == ANSWER
        kinds = squeeze([b["type"] for b in seen.blocks])
        assert kinds == ["reasoning", "non_standard", "text"]
        assert all(isinstance(t, list) for t in seen.tokens)  # content blocks, not str
    assert message.text == ANSWER
    blocks = message.content_blocks
    assert [b["type"] for b in blocks] == ["reasoning", "non_standard", "text"]
    assert blocks[0]["reasoning"] == THOUGHT and blocks[0]["extras"]["signature"]
    assert blocks[1]["value"]["type"] == "redacted_thinking"
    reasoning = len(tokenize(THOUGHT)) + len(tokenize(HIDDEN))
    assert message.usage_metadata["output_token_details"] == {"reasoning": reasoning}
    assert message.usage_metadata["output_tokens"] == reasoning + len(tokenize(ANSWER))
    assert server.requests[-1]["thinking"] == THINKING
    assert len(seen.ends) == 1


async def _collect(stream: Any) -> list[Any]:
    return [chunk async for chunk in stream]


def test_chat_anthropic_without_thinking_streams_plain_text(server):
    seen = Seen()
    message = chat(server, streaming=True, callbacks=[seen]).invoke("Tell me a joke")
    assert message.content == ANSWER  # a plain string: no thinking, no tools
    assert [t for t in seen.tokens if t] == tokenize(ANSWER)
    assert "thinking" not in server.requests[-1]
    assert "output_token_details" not in message.usage_metadata


@pytest.mark.parametrize("streaming", [False, True])
def test_two_turn_tool_loop_keeps_thinking(server, streaming):
    model = thinking_chat(server, streaming=streaming).bind_tools([get_weather, get_time])
    first = model.invoke([HumanMessage(WEATHER_Q)])
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"city": "Paris"}),
    ]
    assert first.tool_calls[0]["id"] == "toolu_weather"
    assert first.tool_calls[1]["id"].startswith("toolu_")
    assert first.response_metadata["stop_reason"] == "tool_use"
    history = [
        HumanMessage(WEATHER_Q),
        first,
        ToolMessage("sunny", tool_call_id=first.tool_calls[0]["id"]),
        ToolMessage("noon", tool_call_id=first.tool_calls[1]["id"]),
    ]
    second = model.invoke(history)
    assert second.text == "Sunny, and it is noon." and not second.tool_calls
    # Turn two went out in Anthropic's shape: the signed thinking block first, the results
    # as tool_result blocks of one user message.
    sent = server.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"][0]["type"] == "thinking"
    assert [b["type"] for b in sent[2]["content"]] == ["tool_result", "tool_result"]
    assert [t["name"] for t in server.requests[0]["tools"]] == ["get_weather", "get_time"]


def test_create_agent_with_two_tools_and_langgraph_messages_stream(server):
    from langchain.agents import create_agent

    agent = create_agent(thinking_chat(server), tools=[get_weather, get_time])
    state = agent.invoke({"messages": [{"role": "user", "content": WEATHER_Q}]})
    results = sorted(m.content for m in state["messages"] if isinstance(m, ToolMessage))
    assert results == ["noon in Paris", "sunny in Paris"]
    assert state["messages"][-1].text == "Sunny, and it is noon."
    assert len(server.requests) == 2
    # LangGraph's messages stream: the model's chunks as they come, then the tool messages.
    server.reset()
    pieces = list(
        agent.stream({"messages": [{"role": "user", "content": WEATHER_Q}]}, stream_mode="messages")
    )
    chunks = [m for m, meta in pieces if isinstance(m, AIMessageChunk)]
    reasoning = "".join(
        b.get("reasoning", "") for c in chunks for b in c.content_blocks if b["type"] == "reasoning"
    )
    assert reasoning == "I should call both tools.Both tools answered."
    assert "".join(c.text for c in chunks) == "Sunny, and it is noon."
    assert sum(isinstance(m, ToolMessage) for m, _ in pieces) == 2
    assert {meta["langgraph_node"] for _, meta in pieces} == {"model", "tools"}


# -- faults -------------------------------------------------------------------------------
def test_rate_limit_server_error_and_overloaded(server):
    server.inject_fault("rate_limit", retry_after=2)
    with pytest.raises(anthropic.RateLimitError) as info:
        chat(server).invoke("plain")
    assert info.value.response.headers["retry-after"] == "2"
    assert info.value.body["error"]["type"] == "rate_limit_error"
    assert info.value.body["type"] == "error" and info.value.request_id.startswith("req_")
    server.inject_fault("server_error")
    with pytest.raises(anthropic.InternalServerError) as info:
        chat(server, streaming=True).invoke("plain")
    assert info.value.body["error"]["type"] == "api_error"
    server.inject_fault("overloaded")
    with pytest.raises(anthropic.OverloadedError) as info:
        chat(server).invoke("plain")
    assert info.value.status_code == 529
    assert info.value.body["error"]["type"] == "overloaded_error"
    assert type(info.value).__name__ == "AnthropicOverloadedError"  # LangChain's own class
    assert chat(server).invoke("plain").content == "Just text."


def test_client_retries_an_overloaded_server(server):
    server.inject_fault("overloaded")
    retrying = ChatAnthropic(model="claude-x", base_url=server.base_url, api_key="k", max_retries=1)
    assert retrying.invoke("plain").content == "Just text."
    assert len(server.requests) == 2


def test_error_event_mid_stream(server):
    server.inject_fault("overloaded", mid_stream=True, after_tokens=2)
    events = raw_events(server, body(thinking=THINKING))
    assert events[-1] == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": events[-1]["error"]["message"]},
    }
    assert [e["delta"]["thinking"] for e in events if e["type"] == "content_block_delta"] == (
        tokenize(THOUGHT)[:2]
    )
    assert "message_stop" not in [e["type"] for e in events]
    seen = Seen()
    server.inject_fault("overloaded", mid_stream=True, after_tokens=3)
    with pytest.raises(anthropic.APIStatusError) as info:
        thinking_chat(server, streaming=True, callbacks=[seen]).invoke("Tell me a joke")
    assert info.value.body["error"]["type"] == "overloaded_error"
    assert seen.text("reasoning", "reasoning") == "".join(tokenize(THOUGHT)[:3])
    # A plain request drawing a mid-stream fault gets the HTTP error instead.
    server.inject_fault("rate_limit", mid_stream=True)
    with pytest.raises(anthropic.RateLimitError):
        chat(server).invoke("plain")


def test_disconnect_and_slow_first_token(server):
    server.inject_fault("disconnect", after_tokens=2)
    with pytest.raises(anthropic.APIConnectionError):
        chat(server, streaming=True).invoke("Tell me a joke")
    server.inject_fault("disconnect")
    with pytest.raises(anthropic.APIConnectionError):
        chat(server).invoke("Tell me a joke")
    server.inject_fault("slow_first_token", delay=0.3)
    start = time.monotonic()
    with client(server).messages.stream(**body()) as stream:
        events = iter(stream)
        assert next(events).type == "message_start"
        started = time.monotonic() - start
        assert next(events).type == "content_block_start"
        waited = time.monotonic() - start
        assert [e.type for e in events][-1] == "message_stop"
    assert waited >= 0.25 and started < waited  # message_start at once, then the wait


def test_unknown_model_is_a_404_when_the_server_lists_its_models():
    with LocalChatServer(models=["claude-sonnet-4-5"]) as srv:
        assert chat(srv).invoke("hi").content == DEFAULT_REPLY
        with pytest.raises(anthropic.NotFoundError) as info:
            ChatAnthropic(model="claude-nope", base_url=srv.base_url, api_key="k").invoke("hi")
    assert info.value.body["error"] == {"type": "not_found_error", "message": "model: claude-nope"}


# -- bad requests -------------------------------------------------------------------------
USER = {"role": "user", "content": "hi"}
TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
TOOL_RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}
TOOL = {"name": "f", "input_schema": {"type": "object"}}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"model": "m", "messages": [USER]}, "max_tokens: Field required"),
        ({"max_tokens": 10, "messages": [USER]}, "model: Field required"),
        ({"model": "m", "max_tokens": 10}, "messages: Field required"),
        ({"model": "m", "max_tokens": 0, "messages": [USER]}, "greater than or equal to 1"),
        ({"model": "m", "max_tokens": "10", "messages": [USER]}, "max_tokens: Input should be"),
        ({"model": "m", "max_tokens": 10, "messages": []}, "at least one message is required"),
        ({"model": "m", "max_tokens": 10, "messages": [USER], "stream_options": {}},
         "stream_options: Extra inputs are not permitted"),
        ({"model": "m", "max_tokens": 10,
          "messages": [{"role": "system", "content": "be brief"}, USER]},
         'Unexpected role "system"'),
        ({"model": "m", "max_tokens": 10, "messages": [{"role": "tool", "content": "x"}]},
         "messages.0.role: Input should be 'user' or 'assistant'"),
        ({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": ""}]},
         "messages.0: all messages must have non-empty content"),
        ({"model": "m", "max_tokens": 10,
          "messages": [{"role": "user", "content": [{"type": "text", "text": " "}]}]},
         "non-whitespace text"),
        ({"model": "m", "max_tokens": 10, "messages": [USER], "system": 3}, "system: Input should"),
        ({"model": "m", "max_tokens": 10, "messages": [USER], "system": [{"type": "image"}]},
         "system.0.type: Input should be 'text'"),
        ({"model": "m", "max_tokens": 2048, "messages": [USER],
          "thinking": {"type": "enabled", "budget_tokens": 512}},
         "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
        ({"model": "m", "max_tokens": 1024, "messages": [USER], "thinking": THINKING},
         "`max_tokens` must be greater than `thinking.budget_tokens`"),
        ({"model": "m", "max_tokens": 4096, "messages": [USER], "thinking": THINKING,
          "temperature": 0.5}, "`temperature` may only be set to 1 when thinking is enabled"),
        ({"model": "m", "max_tokens": 4096, "messages": [USER], "thinking": THINKING,
          "tools": [TOOL], "tool_choice": {"type": "any"}}, "forces tool use"),
        ({"model": "m", "max_tokens": 10, "messages": [USER], "tools": [{"name": "f"}]},
         "tools.0.custom.input_schema: Field required"),
        ({"model": "m", "max_tokens": 10, "messages": [USER],
          "tools": [{"name": "bad name", "input_schema": {}}]}, "tools.0.custom.name"),
        ({"model": "m", "max_tokens": 10, "messages": [
            USER, {"role": "assistant", "content": [TOOL_USE]}, USER]},
         "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1"),
        ({"model": "m", "max_tokens": 10, "messages": [
            USER, {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [TOOL_RESULT]}]},
         "unexpected `tool_use_id` found in `tool_result` blocks: toolu_1"),
        ({"model": "m", "max_tokens": 4096, "thinking": THINKING, "tools": [TOOL], "messages": [
            USER, {"role": "assistant", "content": [TOOL_USE]},
            {"role": "user", "content": [TOOL_RESULT]}]},
         "Expected `thinking` or `redacted_thinking`, but found `tool_use`"),
        ({"model": "m", "max_tokens": 10, "messages": [USER, {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "changed", "signature": seal("original")}]}]},
         "Invalid `signature` in `thinking` block"),
        ({"model": "m", "max_tokens": 10, "messages": [USER, {"role": "assistant", "content": [
            {"type": "redacted_thinking", "data": "bm90IG91cnM="}]}]},
         "Invalid `data` in `redacted_thinking` block"),
    ],
)  # fmt: skip
def test_bad_requests_get_400_in_anthropic_shape(server, payload, message):
    res = httpx.post(f"{server.base_url}/messages", json=payload, headers=HEADERS)
    assert res.status_code == 400, res.text
    error = res.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert message in error["error"]["message"]
    assert res.headers["request-id"] == error["request_id"]
    assert client(server).messages.create(**body("plain")).content[0].text == "Just text."


def test_bad_json_missing_version_and_unknown_paths(server):
    url = f"{server.base_url}/messages"
    res = httpx.post(url, content=b"{nope", headers=HEADERS)
    assert res.status_code == 400 and "not valid JSON" in res.json()["error"]["message"]
    res = httpx.post(url, json=body(), headers={"x-api-key": "k"})
    assert res.json()["error"]["message"] == "anthropic-version: header is required"
    res = httpx.get(url, headers=HEADERS)
    assert res.status_code == 405 and res.json()["type"] == "error"
    res = httpx.post(f"{url}/batches", json=body(), headers=HEADERS)
    assert res.status_code == 404 and res.json()["error"]["type"] == "not_found_error"


def test_chat_anthropic_raises_its_own_bad_request(server):
    bad = chat(server, max_tokens=4096, thinking=THINKING, temperature=0.5)
    with pytest.raises(anthropic.BadRequestError, match="temperature") as info:
        bad.invoke("hi")
    assert type(info.value).__name__ == "AnthropicInvalidRequestError"


def test_a_tool_loop_that_drops_the_thinking_block_is_refused(server):
    """The client bug the real API catches: thinking stripped from the turn a loop continues."""
    model = thinking_chat(server).bind_tools([get_weather, get_time])
    first = model.invoke([HumanMessage(WEATHER_Q)])
    stripped = AIMessage(
        content=[b for b in first.content if b["type"] != "thinking"], tool_calls=first.tool_calls
    )
    results = [ToolMessage("ok", tool_call_id=c["id"]) for c in first.tool_calls]
    with pytest.raises(anthropic.BadRequestError, match="must start with a thinking block"):
        model.invoke([HumanMessage(WEATHER_Q), stripped, *results])
    assert model.invoke([HumanMessage(WEATHER_Q), first, *results]).text


def test_api_key_is_never_recorded(server):
    chat(server).invoke("plain")
    assert "sk-ant-test" not in repr(server.requests)
