"""LocalChatServer's Ollama chat API over real HTTP: the raw NDJSON lines (each checked against
the ollama client's own types), the ollama client, stock ChatOllama (invoke, ainvoke, stream,
astream; reasoning on, off and unset; tools; create_agent; LangGraph's messages stream), model
listing and validation, faults, and 400s."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import ollama
import pytest
from chat_tools import get_time, get_weather
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage
from langchain_ollama import ChatOllama

from lc_callbacks_nb.offline.server_script import tokenize
from lc_callbacks_nb.server import DEFAULT_REPLY, LocalChatServer, Reply, ToolCall

THOUGHTS = ("The user wants a joke.", "Atoms it is.")
ANSWER = "Atoms make up everything."
WEATHER_Q = "Weather and time in Paris?"
SCRIPT = {
    "Tell me a joke": Reply(ANSWER, reasoning=THOUGHTS, redacted_reasoning="never shown"),
    "plain": "Just text.",
    "tagged": "<think>Hmm, tags.</think>Tagged answer.",
    WEATHER_Q: [
        Reply(
            reasoning="Call both.",
            tool_calls=[
                ToolCall("get_weather", {"city": "Paris"}),
                ToolCall("get_time", {"city": "Paris"}),
            ],
        ),
        Reply("Sunny, and it is noon.", reasoning="Both answered."),
    ],
}
THINKING = "\n\n".join(THOUGHTS)


@pytest.fixture
def server():
    with LocalChatServer(script=SCRIPT) as srv:
        yield srv


def chat(srv: LocalChatServer, **kw: Any) -> ChatOllama:
    return ChatOllama(model="qwen3", base_url=srv.base_url, **kw)


def body(prompt: str = "Tell me a joke", **kw: Any) -> dict[str, Any]:
    return {"model": "qwen3", "messages": [{"role": "user", "content": prompt}], **kw}


def raw_lines(srv: LocalChatServer, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The NDJSON stream, each line validated by the ollama client's own response type."""
    with httpx.stream("POST", f"{srv.base_url}/api/chat", json=payload) as res:
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in res.iter_lines()]
    for line in lines:
        if "error" not in line:
            ollama.ChatResponse.model_validate(line)
    return lines


# -- the wire -----------------------------------------------------------------------------
def test_stream_thinks_then_answers_then_calls_whole_tools(server):
    server.script = {
        "go": Reply(
            "Sure.", reasoning=THOUGHTS, tool_calls=[ToolCall("f", {"x": 1}), ToolCall("g")]
        )
    }
    lines = raw_lines(server, body("go"))  # stream is on by default
    *pieces, final = lines
    assert all(p["done"] is False and p["model"] == "qwen3" for p in pieces)
    thinking = [p["message"].get("thinking", "") for p in pieces]
    content = [p["message"]["content"] for p in pieces]
    assert "".join(thinking) == THINKING
    assert "".join(content) == "Sure."
    # The piece that ends the thinking carries the first piece of the answer with it.
    last_thought = max(i for i, t in enumerate(thinking) if t)
    assert content[last_thought] == "Sure" and thinking[last_thought] == "."
    calls = [p["message"]["tool_calls"] for p in pieces if p["message"].get("tool_calls")]
    assert [len(c) for c in calls] == [1, 1]  # whole calls, one piece each, never deltas
    assert [c[0]["function"] for c in calls] == [
        {"index": 0, "name": "f", "arguments": {"x": 1}},
        {"index": 1, "name": "g", "arguments": {}},
    ]
    assert calls[0][0]["id"].startswith("call_")
    assert final["done"] is True and final["done_reason"] == "stop"
    assert final["message"] == {"role": "assistant", "content": ""}
    output = sum(len(tokenize(t)) for t in THOUGHTS) + len(tokenize("Sure."))
    output += len(tokenize('f{"x": 1}')) + len(tokenize("g{}"))
    assert final["eval_count"] == output
    assert final["prompt_eval_count"] == 3 + 3 + len(tokenize("go"))
    for key in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(final[key], int) and final[key] > 0
    assert final["total_duration"] >= final["eval_duration"]


def test_one_object_when_not_streaming(server):
    res = httpx.post(f"{server.base_url}/api/chat", json=body(stream=False))
    assert res.headers["content-type"].startswith("application/json")
    whole = ollama.ChatResponse.model_validate(res.json())
    assert whole.done and whole.done_reason == "stop"
    assert whole.message.content == ANSWER and whole.message.thinking == THINKING
    streamed = raw_lines(server, body())[-1]
    assert whole.eval_count == streamed["eval_count"]
    # The root URL answers too (OLLAMA_HOST=http://127.0.0.1:PORT, as for a real Ollama).
    root = server.base_url.removesuffix("/v1")
    assert httpx.post(f"{root}/api/chat", json=body(stream=False)).json()["done"] is True


def test_think_false_skips_the_thinking_and_tags_in_content_are_just_text(server):
    lines = raw_lines(server, body(think=False))
    assert not any(line["message"].get("thinking") for line in lines)
    assert lines[-1]["eval_count"] == len(tokenize(ANSWER))
    lines = raw_lines(server, body("tagged", think=True))
    assert "".join(line["message"]["content"] for line in lines) == SCRIPT["tagged"]
    assert not any(line["message"].get("thinking") for line in lines)


def test_num_predict_cuts_the_reply(server):
    lines = raw_lines(server, body(options={"num_predict": 3}))
    assert lines[-1]["done_reason"] == "length" and lines[-1]["eval_count"] == 3
    assert "".join(line["message"].get("thinking", "") for line in lines) == "".join(
        tokenize(THOUGHTS[0])[:3]
    )


def test_ollama_client(server):
    client = ollama.Client(host=server.base_url)
    parts = list(client.chat(model="qwen3", messages=[{"role": "user", "content": "plain"}],
                             stream=True))  # fmt: skip
    assert "".join(p.message.content for p in parts) == "Just text."
    assert parts[-1].done and parts[-1].eval_count == len(tokenize("Just text."))
    assert client.chat(model="qwen3", messages=[{"role": "user", "content": "plain"}]).done
    assert client.show("qwen3").capabilities == ["completion", "tools", "thinking"]
    assert [m.model for m in client.list().models] == ["gpt-4o-mini-local:latest"]
    root = server.base_url.removesuffix("/v1")
    assert httpx.get(f"{root}/api/version").json()["version"]
    assert httpx.get(f"{root}/").text == "Ollama is running"


# -- ChatOllama -----------------------------------------------------------------------------
class Seen(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[Any] = []
        self.chunks: list[Any] = []

    def on_llm_new_token(self, token: Any, *, chunk: Any = None, **kwargs: Any) -> None:
        self.tokens.append(token)
        if chunk is not None:
            self.chunks.append(chunk.message)


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
def test_chat_ollama_with_reasoning(server, mode):
    seen = Seen()
    model = chat(server, reasoning=True, callbacks=[seen])
    if mode == "invoke":
        message = model.invoke("Tell me a joke")
    elif mode == "ainvoke":
        message = asyncio.run(model.ainvoke("Tell me a joke"))
    else:
        chunks = (
            list(model.stream("Tell me a joke"))
            if mode == "stream"
            else asyncio.run(_collect(model.astream("Tell me a joke")))
        )
        message = chunks[0]
        for chunk in chunks[1:]:
            message += chunk
        # One chunk carries reasoning and answer text together (the end of the thinking).
        both = [c for c in chunks if c.additional_kwargs.get("reasoning_content") and c.content]
        assert len(both) == 1
        assert [b["type"] for b in both[0].content_blocks] == ["reasoning", "text"]
    assert message.content == ANSWER
    assert message.additional_kwargs["reasoning_content"] == THINKING
    assert [b["type"] for b in message.content_blocks] == ["reasoning", "text"]
    output = sum(len(tokenize(t)) for t in THOUGHTS) + len(tokenize(ANSWER))
    prompt = 3 + 3 + len(tokenize("Tell me a joke"))  # the same prompt size as OpenAI's
    assert message.usage_metadata == {"input_tokens": prompt, "output_tokens": output,
                                      "total_tokens": prompt + output}  # fmt: skip
    assert server.requests[-1]["think"] is True
    # Callbacks get the chunk's text as the token (never the thinking) and the chunk itself.
    assert "".join(map(str, seen.tokens)) == ANSWER
    assert len(seen.chunks) == len(seen.tokens)
    reasoning = "".join(c.additional_kwargs.get("reasoning_content", "") for c in seen.chunks)
    assert reasoning == THINKING


async def _collect(stream: Any) -> list[Any]:
    return [chunk async for chunk in stream]


def test_chat_ollama_reasoning_unset_or_off(server):
    unset = chat(server).invoke("Tell me a joke")  # the server thinks; LangChain drops it
    assert unset.content == ANSWER and "reasoning_content" not in unset.additional_kwargs
    assert "think" not in server.requests[-1]  # the ollama client leaves None out
    off = chat(server, reasoning=False).invoke("Tell me a joke")
    assert off.usage_metadata["output_tokens"] == len(tokenize(ANSWER))


def test_two_turn_tool_loop(server):
    model = chat(server, reasoning=True).bind_tools([get_weather, get_time])
    first = model.invoke([HumanMessage(WEATHER_Q)])
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"city": "Paris"}),
    ]
    history = [
        HumanMessage(WEATHER_Q),
        first,
        *(ToolMessage("ok", tool_call_id=c["id"]) for c in first.tool_calls),
    ]
    second = model.invoke(history)
    assert second.content == "Sunny, and it is noon." and not second.tool_calls
    sent = server.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}  # an object
    assert sent[1]["thinking"] == "Call both."
    assert {t["function"]["name"] for t in server.requests[0]["tools"]} == {
        "get_weather",
        "get_time",
    }


def test_create_agent_with_two_tools_and_langgraph_messages_stream(server):
    from langchain.agents import create_agent

    agent = create_agent(chat(server, reasoning=True), tools=[get_weather, get_time])
    state = agent.invoke({"messages": [{"role": "user", "content": WEATHER_Q}]})
    results = sorted(m.content for m in state["messages"] if isinstance(m, ToolMessage))
    assert results == ["noon in Paris", "sunny in Paris"]
    assert state["messages"][-1].content == "Sunny, and it is noon."
    server.reset()
    pieces = list(
        agent.stream({"messages": [{"role": "user", "content": WEATHER_Q}]}, stream_mode="messages")
    )
    chunks = [m for m, _ in pieces if isinstance(m, AIMessageChunk)]
    assert "".join(c.additional_kwargs.get("reasoning_content", "") for c in chunks) == (
        "Call both.Both answered."
    )
    assert "".join(c.content for c in chunks) == "Sunny, and it is noon."
    assert sum(isinstance(m, ToolMessage) for m, _ in pieces) == 2
    assert len(server.requests) == 2


# -- models -------------------------------------------------------------------------------
def test_models_listed_and_validated():
    with LocalChatServer(models=["qwen3", "llama3.2:3b"]) as srv:
        names = [m["model"] for m in httpx.get(f"{srv.base_url}/api/tags").json()["models"]]
        assert names == ["qwen3:latest", "llama3.2:3b"]
        ok = ChatOllama(model="qwen3", base_url=srv.base_url, validate_model_on_init=True)
        assert ok.invoke("hi").content == DEFAULT_REPLY
        with pytest.raises(ValueError, match="Model `mistral` not found in Ollama"):
            ChatOllama(model="mistral", base_url=srv.base_url, validate_model_on_init=True)
        with pytest.raises(ollama.ResponseError) as info:
            ChatOllama(model="mistral", base_url=srv.base_url).invoke("hi")
        assert info.value.status_code == 404 and info.value.error == "model 'mistral' not found"
        res = httpx.post(f"{srv.base_url}/api/show", json={"model": "mistral"})
        assert res.status_code == 404 and res.json() == {"error": "model 'mistral' not found"}
        assert [m["id"] for m in httpx.get(f"{srv.base_url}/models").json()["data"]] == [
            "qwen3",
            "llama3.2:3b",
        ]


# -- faults -------------------------------------------------------------------------------
def test_http_faults_in_ollama_shape(server):
    server.inject_fault("rate_limit", retry_after=3)
    with pytest.raises(ollama.ResponseError) as info:
        chat(server).invoke("plain")
    assert info.value.status_code == 429 and "Rate limit" in info.value.error
    server.inject_fault("server_error")
    with pytest.raises(ollama.ResponseError) as info:
        chat(server).invoke("plain")
    assert info.value.status_code == 500
    server.inject_fault("overloaded")
    res = httpx.post(f"{server.base_url}/api/chat", json=body())
    assert res.status_code == 503 and res.json()["error"].startswith("server busy")
    assert chat(server).invoke("plain").content == "Just text."


def test_error_line_mid_stream(server):
    server.inject_fault("server_error", mid_stream=True, after_tokens=2)
    lines = raw_lines(server, body(think=False))
    assert [line["message"]["content"] for line in lines[:-1]] == tokenize(ANSWER)[:2]
    assert set(lines[-1]) == {"error"}
    seen = Seen()
    server.inject_fault("server_error", mid_stream=True, after_tokens=3)
    with pytest.raises(ollama.ResponseError) as info:
        chat(server, reasoning=False, callbacks=[seen]).invoke("Tell me a joke")
    assert "injected" in info.value.error
    assert "".join(map(str, seen.tokens)) == "".join(tokenize(ANSWER)[:3])


def test_disconnect_and_slow_first_token(server):
    server.inject_fault("disconnect", after_tokens=2)
    with pytest.raises(httpx.RemoteProtocolError):
        chat(server).invoke("Tell me a joke")
    server.inject_fault("disconnect")
    with pytest.raises(httpx.RemoteProtocolError):
        chat(server).invoke("Tell me a joke", stream=False)
    server.inject_fault("slow_first_token", delay=0.3)
    start = time.monotonic()
    with httpx.stream("POST", f"{server.base_url}/api/chat", json=body("plain")) as res:
        lines = res.iter_lines()
        next(lines)
        waited = time.monotonic() - start
        assert json.loads(list(lines)[-1])["done"] is True
    assert waited >= 0.25


# -- bad requests -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model is required"),
        ({"model": "qwen3", "messages": "hi"}, "cannot unmarshal string"),
        ({"model": "qwen3", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
         "cannot unmarshal array into Go struct field ChatRequest.messages.content"),
        ({"model": "qwen3", "messages": [{"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "f", "arguments": '{"x": 1}'}}]}]},
         "messages.tool_calls.function.arguments"),
        ({"model": "qwen3", "messages": [], "think": "very"}, 'invalid think value: "very"'),
        ({"model": "qwen3", "messages": [], "think": 3}, "think must be a boolean or string"),
        ({"model": "qwen3", "messages": [], "top_logprobs": 30}, "top_logprobs must be between"),
        ({"model": "qwen3", "messages": [], "options": "x"}, "ChatRequest.options"),
    ],
)  # fmt: skip
def test_bad_requests_get_400_in_ollama_shape(server, payload, message):
    res = httpx.post(f"{server.base_url}/api/chat", json=payload)
    assert res.status_code == 400
    assert set(res.json()) == {"error"} and message in res.json()["error"]
    assert chat(server).invoke("plain").content == "Just text."


def test_bad_json_load_only_and_unknown_paths(server):
    res = httpx.post(f"{server.base_url}/api/chat", content=b"{nope")
    assert res.status_code == 400 and "not valid JSON" in res.json()["error"]
    load = httpx.post(f"{server.base_url}/api/chat", json={"model": "qwen3", "stream": False})
    assert load.json()["done_reason"] == "load"
    res = httpx.post(f"{server.base_url}/api/generate", json=body())
    assert res.status_code == 404 and set(res.json()) == {"error"}
