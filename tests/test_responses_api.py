"""LocalChatServer's /v1/responses over real HTTP: raw SSE events, the openai client, stock
ChatOpenAI(use_responses_api=True), faults and 400s; and how tokens.py reads what LangChain
hands to on_llm_new_token for the Responses API, in each output_version."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import openai
import pydantic
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import SecretStr

from lc_callbacks_nb.langchain.tokens import REASONING, TEXT, TOOL_ARGS, token_pieces
from lc_callbacks_nb.offline.server_script import responses_messages, tokenize
from lc_callbacks_nb.server import DEFAULT_REPLY, LocalChatServer, Reply, ToolCall

THOUGHTS = ("**Weighing the joke**\n\nAtoms are a classic pun.", "Keep it short.")
ANSWER = "Atoms make up everything."
WEATHER_Q = "Weather in Paris?"
SCRIPT = {
    "Tell me a joke": Reply(ANSWER, reasoning=THOUGHTS),
    "plain": "Just text.",
    WEATHER_Q: [
        Reply(
            reasoning="I should look it up.",
            tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="call_weather")],
        ),
        Reply("It is sunny in Paris.", reasoning="The tool said sunny."),
    ],
}
SUMMARY = {"effort": "low", "summary": "auto"}
EVENTS = pydantic.TypeAdapter(ResponseStreamEvent)


@pytest.fixture
def server():
    with LocalChatServer(script=SCRIPT) as srv:
        yield srv


def client(srv: LocalChatServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)


def chat_model(srv: LocalChatServer, **kw: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model="gpt-5-nano",
        base_url=srv.base_url,
        api_key=SecretStr("sk-test"),
        max_retries=0,
        use_responses_api=True,
        **kw,
    )


def raw_events(srv: LocalChatServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The SSE stream as (event line checked) JSON payloads, each validated by the SDK's types."""
    with httpx.stream("POST", f"{srv.base_url}/responses", json={**body, "stream": True}) as res:
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/event-stream")
        text = res.read().decode()
    events = []
    for block in text.strip().split("\n\n"):
        event_line, data_line = block.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {data['type']}"
        EVENTS.validate_python(data)  # every required field, right types
        events.append(data)
    return events


def squeeze(types: list[str]) -> list[str]:
    """Runs of the same event type as one entry (the deltas)."""
    return [t for i, t in enumerate(types) if i == 0 or types[i - 1] != t]


# -- raw events ---------------------------------------------------------------------------
def test_event_order_and_sequence_numbers(server):
    server.script = {
        "go": Reply("Sure.", reasoning=THOUGHTS, tool_calls=[ToolCall("f", {"x": 1})]),
    }
    events = raw_events(server, {"model": "m", "input": "go", "reasoning": SUMMARY})
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert squeeze([e["type"] for e in events]) == [
        "response.created",
        "response.in_progress",
        # reasoning item, two summary parts
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        # message item
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        # function call item
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    created, completed = events[0]["response"], events[-1]["response"]
    assert created["status"] == "in_progress" and created["output"] == []
    assert created["usage"] is None
    assert completed["status"] == "completed" and completed["id"] == created["id"]
    assert completed["id"].startswith("resp_")
    reasoning, message, call = completed["output"]
    assert reasoning["id"].startswith("rs_") and message["id"].startswith("msg_")
    assert call["id"].startswith("fc_") and call["call_id"].startswith("call_")
    assert [p["text"] for p in reasoning["summary"]] == list(THOUGHTS)
    assert message["content"][0]["text"] == "Sure."
    assert (call["name"], json.loads(call["arguments"])) == ("f", {"x": 1})

    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
    deltas = by_type["response.reasoning_summary_text.delta"]
    assert [d["summary_index"] for d in deltas] == [0] * len(tokenize(THOUGHTS[0])) + [1] * len(
        tokenize(THOUGHTS[1])
    )
    assert {d["item_id"] for d in deltas} == {reasoning["id"]}
    assert [d["text"] for d in by_type["response.reasoning_summary_text.done"]] == list(THOUGHTS)
    text_deltas = by_type["response.output_text.delta"]
    assert [d["delta"] for d in text_deltas] == tokenize("Sure.")
    assert {(d["output_index"], d["content_index"]) for d in text_deltas} == {(1, 0)}
    args = by_type["response.function_call_arguments.delta"]
    assert "".join(d["delta"] for d in args) == '{"x": 1}'
    assert {d["output_index"] for d in args} == {2}
    added = [e["item"] for e in by_type["response.output_item.added"]]
    assert added[0]["summary"] == [] and added[1]["content"] == [] and added[2]["arguments"] == ""
    assert added[1]["status"] == "in_progress" and added[2]["status"] == "in_progress"
    assert [e["item"] for e in by_type["response.output_item.done"]] == completed["output"]


def test_reasoning_without_a_summary_request_streams_no_summary(server):
    events = raw_events(server, {"model": "m", "input": "Tell me a joke"})
    types = [e["type"] for e in events]
    assert not any(t.startswith("response.reasoning_summary") for t in types)
    final = events[-1]["response"]
    reasoning = final["output"][0]
    assert reasoning == {"id": reasoning["id"], "type": "reasoning", "summary": []}
    # The model still reasoned: its tokens count.
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == sum(
        len(tokenize(t)) for t in THOUGHTS
    )


def test_encrypted_reasoning_when_included(server):
    body = {"model": "m", "input": "Tell me a joke", "include": ["reasoning.encrypted_content"]}
    events = raw_events(server, body)
    added = next(e for e in events if e["type"] == "response.output_item.added")
    done = next(e for e in events if e["type"] == "response.output_item.done")
    assert "encrypted_content" not in added["item"]  # complete only on the done event
    assert done["item"]["encrypted_content"].startswith("gAAAA")


# -- the openai client --------------------------------------------------------------------
def test_openai_client_parses_every_event(server):
    stream = client(server).responses.create(
        model="gpt-5-nano", input="Tell me a joke", stream=True, reasoning=SUMMARY
    )
    events = list(stream)
    assert type(events[0]).__name__ == "ResponseCreatedEvent"
    assert type(events[-1]).__name__ == "ResponseCompletedEvent"
    reasoning = "".join(
        e.delta for e in events if e.type == "response.reasoning_summary_text.delta"
    )
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert reasoning == "".join(THOUGHTS) and text == ANSWER
    final = events[-1].response
    assert final.output_text == ANSWER and final.model == "gpt-5-nano"
    usage = final.usage
    reasoning_tokens = sum(len(tokenize(t)) for t in THOUGHTS)
    assert usage.output_tokens_details.reasoning_tokens == reasoning_tokens
    assert usage.output_tokens == reasoning_tokens + len(tokenize(ANSWER))
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def test_async_client_streams():
    async def main(srv: LocalChatServer) -> list[str]:
        aclient = openai.AsyncOpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
        stream = await aclient.responses.create(model="m", input="Tell me a joke", stream=True)
        return [e.delta async for e in stream if e.type == "response.output_text.delta"]

    with LocalChatServer(script=SCRIPT, token_delay=0.001) as srv:
        assert asyncio.run(main(srv)) == tokenize(ANSWER)


def test_non_streaming_matches_the_stream(server):
    res = client(server).responses.create(model="m", input="Tell me a joke", reasoning=SUMMARY)
    Response.model_validate(res.model_dump())
    assert res.status == "completed" and res.object == "response"
    assert [item.type for item in res.output] == ["reasoning", "message"]
    assert res.output_text == ANSWER
    assert [s.text for s in res.output[0].summary] == list(THOUGHTS)
    body = {"model": "m", "input": "Tell me a joke", "reasoning": SUMMARY}
    streamed = raw_events(server, body)[-1]["response"]
    assert res.usage.model_dump(exclude_none=True) == streamed["usage"]
    assert server.requests[0]["input"] == "Tell me a joke"


def test_default_reply_echo_and_instructions():
    with LocalChatServer(echo=True) as srv:
        res = client(srv).responses.create(
            model="m",
            instructions="be brief",
            input=[{"role": "user", "content": [{"type": "input_text", "text": "parrot me"}]}],
        )
        assert res.output_text == "parrot me" and res.instructions == "be brief"
    with LocalChatServer() as srv:
        assert client(srv).responses.create(model="m", input="hi").output_text == DEFAULT_REPLY


def test_usage_reports_cached_and_reasoning_tokens():
    with LocalChatServer(script=SCRIPT, cached_tokens=5) as srv:
        usage = client(srv).responses.create(model="m", input="Tell me a joke").usage
        assert usage.input_tokens_details.cached_tokens == 5
        assert usage.input_tokens_details.cache_write_tokens == 0
        srv.cached_tokens = 10_000  # never more than the prompt
        usage = client(srv).responses.create(model="m", input="Tell me a joke").usage
        assert usage.input_tokens_details.cached_tokens == usage.input_tokens
        # Chat Completions: the same numbers in its own fields; reasoning text is not sent.
        chat = client(srv).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Tell me a joke"}]
        )
        assert chat.choices[0].message.content == ANSWER
        reasoning_tokens = sum(len(tokenize(t)) for t in THOUGHTS)
        assert chat.usage.completion_tokens_details.reasoning_tokens == reasoning_tokens
        assert chat.usage.completion_tokens == reasoning_tokens + len(tokenize(ANSWER))
        assert chat.usage.prompt_tokens_details.cached_tokens == chat.usage.prompt_tokens
    with pytest.raises(ValueError, match="cached_tokens"):
        LocalChatServer(cached_tokens=-1)


def test_chat_completions_usage_details_only_when_non_zero(server):
    res = httpx.post(
        f"{server.base_url}/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "plain"}]},
    ).json()
    assert set(res["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_max_output_tokens_makes_an_incomplete_response(server):
    reasoning_tokens = sum(len(tokenize(t)) for t in THOUGHTS)
    limit = reasoning_tokens + 2  # room for two answer tokens after the reasoning
    events = raw_events(
        server,
        {"model": "m", "input": "Tell me a joke", "reasoning": SUMMARY, "max_output_tokens": limit},
    )
    assert events[-1]["type"] == "response.incomplete"
    final = events[-1]["response"]
    assert final["status"] == "incomplete"
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["output"][1]["content"][0]["text"] == "".join(tokenize(ANSWER)[:2])
    assert final["output"][1]["status"] == "incomplete"
    assert final["usage"]["output_tokens"] == limit
    res = client(server).responses.create(model="m", input="Tell me a joke", max_output_tokens=3)
    assert res.status == "incomplete" and res.output_text == ""
    assert [s for s in res.output[0].summary] == []  # no summary asked for


# -- ChatOpenAI(use_responses_api=True) ---------------------------------------------------
class Pieces(BaseCallbackHandler):
    """What a panel would get: tokens.py's pieces for every on_llm_new_token call."""

    def __init__(self) -> None:
        self.pieces: list[tuple[str, str]] = []
        self.tokens: list[Any] = []

    def on_llm_new_token(self, token: Any, *, chunk: Any = None, **kwargs: Any) -> None:
        self.tokens.append(token)
        self.pieces.extend(token_pieces(token, chunk))

    def channel(self, name: str) -> str:
        return "".join(text for channel, text in self.pieces if channel == name)


@pytest.mark.parametrize("output_version", [None, "responses/v1", "v0", "v1"])
def test_chat_openai_streams_reasoning_then_text(server, output_version):
    server.cached_tokens = 4
    seen = Pieces()
    extra = {} if output_version is None else {"output_version": output_version}
    chat = chat_model(server, reasoning=SUMMARY, streaming=True, callbacks=[seen], **extra)
    message = asyncio.run(chat.ainvoke("Tell me a joke"))
    assert message.text == ANSWER
    assert seen.channel(REASONING) == "\n\n".join(THOUGHTS)
    assert seen.channel(TEXT) == ANSWER
    assert seen.channel(TOOL_ARGS) == ""
    # All reasoning pieces come before the first text piece: the reasoning lane fills first.
    channels = [channel for channel, _ in seen.pieces]
    assert channels.index(TEXT) > max(i for i, c in enumerate(channels) if c == REASONING)
    assert all(isinstance(t, list) for t in seen.tokens)  # never a str on this API
    reasoning_tokens = sum(len(tokenize(t)) for t in THOUGHTS)
    usage = message.usage_metadata
    assert usage["input_token_details"] == {"cache_read": 4, "cache_creation": 0}
    assert usage["output_token_details"] == {"reasoning": reasoning_tokens}
    assert usage["output_tokens"] == reasoning_tokens + len(tokenize(ANSWER))
    assert message.response_metadata["status"] == "completed"
    request = server.requests[-1]
    assert request["stream"] is True and request["reasoning"] == SUMMARY


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


@pytest.mark.parametrize("output_version", [None, "v0", "v1"])
def test_chat_openai_tool_call_round_trip(server, output_version):
    seen = Pieces()
    extra = {} if output_version is None else {"output_version": output_version}
    model = chat_model(
        server, reasoning=SUMMARY, streaming=True, callbacks=[seen], **extra
    ).bind_tools([get_weather])
    first = model.invoke([HumanMessage(WEATHER_Q)])
    assert [(c["name"], c["args"], c["id"]) for c in first.tool_calls] == [
        ("get_weather", {"city": "Paris"}, "call_weather")
    ]
    assert seen.channel(REASONING) == "I should look it up."
    assert seen.channel(TOOL_ARGS) == '\nget_weather {"city": "Paris"}'
    assert seen.channel(TEXT) == ""
    history = [
        HumanMessage(WEATHER_Q),
        first,
        ToolMessage(get_weather.invoke({"city": "Paris"}), tool_call_id="call_weather"),
    ]
    second = model.invoke(history)
    assert isinstance(second, AIMessage)
    assert second.text == "It is sunny in Paris." and not second.tool_calls
    # LangChain sent the tools and, on turn two, the whole turn one back as input items.
    first_request, second_request = server.requests
    assert [t["name"] for t in first_request["tools"]] == ["get_weather"]
    kinds = [item.get("type", "message") for item in second_request["input"]]
    assert kinds[0] == "message" and kinds[-2:] == ["function_call", "function_call_output"]
    assert second_request["input"][-1]["output"] == "sunny in Paris"


def test_create_agent_runs_on_the_responses_api(server):
    from langchain.agents import create_agent

    agent = create_agent(chat_model(server), tools=[get_weather])
    state = agent.invoke({"messages": [{"role": "user", "content": WEATHER_Q}]})
    messages = state["messages"]
    assert [m.content for m in messages if isinstance(m, ToolMessage)] == ["sunny in Paris"]
    assert messages[-1].text == "It is sunny in Paris."
    assert len(server.requests) == 2


def test_chat_openai_non_streaming(server):
    message = chat_model(server, reasoning=SUMMARY).invoke("Tell me a joke")
    assert message.text == ANSWER
    assert message.content[0]["type"] == "reasoning"
    assert [s["text"] for s in message.content[0]["summary"]] == list(THOUGHTS)
    assert message.usage_metadata["output_token_details"]["reasoning"] > 0
    assert server.requests[0].get("stream") in (None, False)


# -- tokens.py on recorded token shapes ---------------------------------------------------
# Recorded from ChatOpenAI(use_responses_api=True, reasoning={"summary": "auto"}, streaming)
# against this server (langchain-openai 1.7, langchain-core 1.8): (token, additional_kwargs,
# tool_call_chunks) for each on_llm_new_token call, ids shortened.
RS, MSG, FC = "rs_0a1b", "msg_0a1b", "fc_0a1b"
Recorded = list[tuple[list[Any], dict[str, Any], list[dict[str, Any]]]]
RECORDED_DEFAULT: Recorded = [
    ([], {}, []),  # response.created
    ([{"id": RS, "summary": [], "type": "reasoning", "index": 0}], {}, []),
    ([{"summary": [{"index": 0, "type": "summary_text", "text": ""}], "index": 0,
       "type": "reasoning", "id": RS}], {}, []),
    ([{"summary": [{"index": 0, "type": "summary_text", "text": "Need"}], "index": 0,
       "type": "reasoning"}], {}, []),
    ([{"summary": [{"index": 0, "type": "summary_text", "text": " weather."}], "index": 0,
       "type": "reasoning"}], {}, []),
    ([{"summary": [{"index": 1, "type": "summary_text", "text": ""}], "index": 0,
       "type": "reasoning", "id": RS}], {}, []),
    ([{"summary": [{"index": 1, "type": "summary_text", "text": "Go."}], "index": 0,
       "type": "reasoning"}], {}, []),
    ([], {}, []),  # the message item opens
    ([{"type": "text", "text": "Hello", "index": 1}], {}, []),
    ([{"type": "text", "text": "", "id": MSG, "index": 1}], {}, []),
    ([{"type": "function_call", "name": "get_weather", "arguments": "", "call_id": "call_1",
       "id": FC, "index": 2}], {},
     [{"name": "get_weather", "args": "", "id": "call_1", "index": 2}]),
    ([{"type": "function_call", "arguments": '{"ci', "index": 2}], {},
     [{"name": None, "args": '{"ci', "id": None, "index": 2}]),
    ([{"type": "function_call", "arguments": 'ty": 1}', "index": 2}], {},
     [{"name": None, "args": 'ty": 1}', "id": None, "index": 2}]),
    ([], {}, []),  # response.completed: usage, chunk_position="last"
]  # fmt: skip
RECORDED_V0: Recorded = [
    ([], {}, []),
    ([], {"reasoning": {"id": RS, "summary": [], "type": "reasoning"}}, []),
    ([], {"reasoning": {"summary": [{"index": 0, "type": "summary_text", "text": ""}]}}, []),
    ([], {"reasoning": {"summary": [{"index": 0, "type": "summary_text", "text": "Need"}]}}, []),
    ([], {"reasoning": {"summary": [{"index": 0, "type": "summary_text",
                                     "text": " weather."}]}}, []),
    ([], {"reasoning": {"summary": [{"index": 1, "type": "summary_text", "text": ""}]}}, []),
    ([], {"reasoning": {"summary": [{"index": 1, "type": "summary_text", "text": "Go."}]}}, []),
    ([], {}, []),
    ([{"type": "text", "text": "Hello", "index": 1}], {}, []),
    ([{"type": "text", "text": "", "index": 1}], {}, []),
    ([], {"__openai_function_call_ids__": {"call_1": FC}},
     [{"name": "get_weather", "args": "", "id": "call_1", "index": 2}]),
    ([], {"__openai_function_call_ids__": {}},
     [{"name": None, "args": '{"ci', "id": None, "index": 2}]),
    ([], {"__openai_function_call_ids__": {}},
     [{"name": None, "args": 'ty": 1}', "id": None, "index": 2}]),
    ([], {}, []),
]  # fmt: skip
RECORDED_V1: Recorded = [
    ([], {}, []),
    ([{"id": RS, "type": "reasoning", "index": "lc_rs_305f30"}], {}, []),
    ([{"index": "lc_rs_305f30", "type": "reasoning", "id": RS, "reasoning": ""}], {}, []),
    ([{"index": "lc_rs_305f30", "type": "reasoning", "reasoning": "Need"}], {}, []),
    ([{"index": "lc_rs_305f30", "type": "reasoning", "reasoning": " weather."}], {}, []),
    ([{"index": "lc_rs_305f31", "type": "reasoning", "id": RS, "reasoning": ""}], {}, []),
    ([{"index": "lc_rs_305f31", "type": "reasoning", "reasoning": "Go."}], {}, []),
    ([], {}, []),
    ([{"type": "text", "text": "Hello", "index": "lc_txt_1"}], {}, []),
    ([{"type": "text", "text": "", "id": MSG, "index": "lc_txt_1"}], {}, []),
    ([{"name": "get_weather", "args": "", "id": "call_1", "index": "lc_tc_2",
       "type": "tool_call_chunk", "extras": {"item_id": FC}}], {},
     [{"name": "get_weather", "args": "", "id": "call_1", "index": 2}]),
    ([{"name": None, "args": '{"ci', "id": None, "index": "lc_tc_2",
       "type": "tool_call_chunk"}], {}, [{"name": None, "args": '{"ci', "id": None, "index": 2}]),
    ([{"name": None, "args": 'ty": 1}', "id": None, "index": "lc_tc_2",
       "type": "tool_call_chunk"}], {},
     [{"name": None, "args": 'ty": 1}', "id": None, "index": 2}]),
    ([], {}, []),
]  # fmt: skip


@pytest.mark.parametrize(
    "recorded", [RECORDED_DEFAULT, RECORDED_V0, RECORDED_V1], ids=["default", "v0", "v1"]
)
def test_token_pieces_for_recorded_responses_tokens(recorded):
    pieces: list[tuple[str, str]] = []
    for token, additional_kwargs, tool_call_chunks in recorded:
        chunk = ChatGenerationChunk(
            message=AIMessageChunk(
                content=token,
                additional_kwargs=additional_kwargs,
                tool_call_chunks=tool_call_chunks,
            )
        )
        pieces.extend(token_pieces(token, chunk))
    assert pieces == [
        (REASONING, "Need"),
        (REASONING, " weather."),
        (REASONING, "\n\n"),  # summary part 1 opens
        (REASONING, "Go."),
        (TEXT, "Hello"),
        (TOOL_ARGS, "\nget_weather "),
        (TOOL_ARGS, '{"ci'),
        (TOOL_ARGS, 'ty": 1}'),
    ]


def test_token_pieces_other_reasoning_shapes():
    chunk = ChatGenerationChunk(
        message=AIMessageChunk(content="", additional_kwargs={"reasoning_content": "hmm"})
    )
    assert token_pieces("", chunk) == [(REASONING, "hmm")]
    odd = [{"type": "reasoning", "index": "lc_rs_zz", "reasoning": ""}]
    assert token_pieces(odd) == []  # an index it cannot read is part 0


# -- faults -------------------------------------------------------------------------------
def test_rate_limit_and_server_error(server):
    server.inject_fault("rate_limit", retry_after=2)
    with pytest.raises(openai.RateLimitError) as info:
        client(server).responses.create(model="m", input="hi", stream=True)
    assert info.value.response.headers["retry-after"] == "2"
    server.inject_fault("server_error")
    with pytest.raises(openai.InternalServerError):
        client(server).responses.create(model="m", input="hi")
    assert client(server).responses.create(model="m", input="hi").output_text == DEFAULT_REPLY


def test_disconnect_mid_stream(server):
    server.inject_fault("disconnect", after_tokens=3)
    seen: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for event in client(server).responses.create(
            model="m", input="Tell me a joke", stream=True, reasoning=SUMMARY
        ):
            seen.append(event.type)
    assert seen[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert seen.count("response.reasoning_summary_text.delta") == 3
    assert "response.completed" not in seen
    server.inject_fault("disconnect")
    with pytest.raises(openai.APIConnectionError):
        client(server).responses.create(model="m", input="hi")
    assert client(server).responses.create(model="m", input="hi").output_text


def test_disconnect_reaches_chat_openai(server):
    errors: list[BaseException] = []
    seen = Pieces()

    class Watch(BaseCallbackHandler):
        def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
            errors.append(error)

    server.inject_fault("disconnect", after_tokens=2)
    chat = chat_model(server, reasoning=SUMMARY, streaming=True, callbacks=[seen, Watch()])
    with pytest.raises(openai.APIConnectionError):
        chat.invoke("Tell me a joke")
    assert seen.channel(REASONING) == "".join(tokenize(THOUGHTS[0])[:2])
    assert len(errors) == 1


def test_slow_first_token(server):
    server.inject_fault("slow_first_token", delay=0.3)
    start = time.monotonic()
    stream = client(server).responses.create(model="m", input="Tell me a joke", stream=True)
    events = iter(stream)
    assert next(events).type == "response.created"
    created_after = time.monotonic() - start
    assert next(events).type == "response.in_progress"
    first_item = next(events)
    waited = time.monotonic() - start
    assert first_item.type == "response.output_item.added"
    assert waited >= 0.25 and created_after < waited  # the model "thinks" after accepting
    rest = [e.type for e in events]
    assert rest[-1] == "response.completed"


# -- bad requests -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        (b"{not json", None, None),
        (b"[1, 2]", None, None),
        (b'{"model": "m"}', "input", "missing_required_parameter"),
        (b'{"model": "m", "input": null}', "input", "missing_required_parameter"),
        (b'{"model": "m", "input": 3}', "input", "invalid_type"),
        (b'{"model": "m", "input": []}', "input", "empty_array"),
        (b'{"input": ["hi"]}', "input[0]", "invalid_type"),
        (b'{"input": [{"role": "wizard", "content": "x"}]}', "input[0].role", "invalid_value"),
        (b'{"input": [{"role": "user", "content": 3}]}', "input[0].content", "invalid_type"),
        (b'{"input": [{"role": "user", "content": ["x"]}]}', "input[0].content[0]", None),
        (b'{"input": [{"type": "function_call_output", "output": "x"}]}', "input[0].call_id", None),
        (b'{"input": [{"type": "function_call", "call_id": "c", "name": "f"}]}',
         "input[0].arguments", None),
        (b'{"input": "hi", "model": 7}', "model", "invalid_type"),
        (b'{"input": "hi", "stream": "yes"}', "stream", "invalid_type"),
        (b'{"input": "hi", "max_output_tokens": "5"}', "max_output_tokens", None),
        (b'{"input": "hi", "max_output_tokens": 0}', "max_output_tokens", None),
        (b'{"input": "hi", "temperature": true}', "temperature", "invalid_type"),
        (b'{"input": "hi", "tools": {}}', "tools", "invalid_type"),
        (b'{"input": "hi", "tools": [{"name": "f"}]}', "tools[0]", None),
        (b'{"input": "hi", "reasoning": "high"}', "reasoning", "invalid_type"),
        (b'{"input": "hi", "reasoning": {"summary": "verbose"}}', "reasoning.summary",
         "invalid_value"),
        (b'{"input": "hi", "reasoning": {"effort": "max"}}', "reasoning.effort", "invalid_value"),
    ],
)  # fmt: skip
def test_bad_requests_get_400_and_server_keeps_serving(server, body, param, code):
    res = httpx.post(
        f"{server.base_url}/responses",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-test"},
    )
    assert res.status_code == 400
    error = res.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert error["code"] == code and error["message"]
    assert client(server).responses.create(model="m", input="hi").output_text


def test_openai_client_raises_bad_request(server):
    with pytest.raises(openai.BadRequestError, match=r"reasoning\.summary"):
        bad: Any = {"summary": "loud"}
        client(server).responses.create(model="m", input="hi", reasoning=bad)


def test_get_is_not_allowed(server):
    res = httpx.get(f"{server.base_url}/responses")
    assert res.status_code == 405 and "error" in res.json()


# -- input items as chat messages ---------------------------------------------------------
def test_responses_messages_groups_one_turn_of_output_items():
    body = {
        "instructions": "be brief",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "q"}]},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "message", "role": "assistant", "content": [
                {"type": "output_text", "text": "let me see", "annotations": []}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {"type": "function_call_output", "call_id": "c2",
             "output": [{"type": "input_text", "text": "two"}]},
            {"type": "item_reference", "id": "x"},
        ],
    }  # fmt: skip
    messages = responses_messages(body)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "tool"]
    assert messages[2]["content"] == "let me see"
    assert [c["function"]["name"] for c in messages[2]["tool_calls"]] == ["f", "g"]
    assert [m["content"] for m in messages[3:]] == ["one", "two"]
    assert responses_messages({"input": "hi"}) == [{"role": "user", "content": "hi"}]
