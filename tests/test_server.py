"""LocalChatServer over real HTTP, through the real openai client and stock ChatOpenAI."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import openai
import pytest
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from lc_callbacks_nb.offline.server_script import tokenize
from lc_callbacks_nb.server import DEFAULT_REPLY, LocalChatServer, Reply, ToolCall

JOKE_TOKENS = ["Why", " don", "'t", " scientists", " trust", " atoms", "?", "\n\n",
               "Because", " they", " make", " up", " everything", "."]  # fmt: skip
USER = [{"role": "user", "content": "Tell me a joke"}]


@pytest.fixture
def server():
    with LocalChatServer() as srv:
        yield srv


def client(srv: LocalChatServer, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0, **kw)


def chat_model(srv: LocalChatServer, **kw: Any) -> ChatOpenAI:
    return ChatOpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0, **kw)


# -- tokens -------------------------------------------------------------------------------
def test_tokenizer_is_openai_like_and_lossless():
    assert tokenize(DEFAULT_REPLY) == JOKE_TOKENS
    text = "It's 42, isn't it?\n  Yes_no  (x)\n"
    assert "".join(tokenize(text)) == text
    assert tokenize("they're here") == ["they", "'re", " here"]


# -- plain OpenAI client ------------------------------------------------------------------
def test_streaming_reassembles_reply(server):
    chunks = list(client(server).chat.completions.create(model="gpt-x", messages=USER, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    tokens = [c.choices[0].delta.content for c in chunks[1:-1]]
    assert tokens == JOKE_TOKENS
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].choices[0].delta.content is None
    assert {c.id for c in chunks} == {chunks[0].id} and chunks[0].id.startswith("chatcmpl-")
    assert {c.model for c in chunks} == {"gpt-x"}  # the requested model is echoed back
    assert all(c.usage is None for c in chunks)


def test_usage_chunk_when_asked(server):
    chunks = list(
        client(server).chat.completions.create(
            model="gpt-x", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.completion_tokens == len(JOKE_TOKENS)
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])


def test_non_streaming(server):
    res = client(server).chat.completions.create(model="gpt-x", messages=USER)
    assert res.object == "chat.completion"
    assert res.choices[0].message.content == DEFAULT_REPLY
    assert res.choices[0].finish_reason == "stop"
    assert res.usage.completion_tokens == len(JOKE_TOKENS)
    # Deterministic usage: the same prompt costs the same every time.
    again = client(server).chat.completions.create(model="gpt-x", messages=USER)
    assert again.usage == res.usage
    assert server.requests[0]["messages"] == USER


def test_async_client_streams():
    async def main(srv: LocalChatServer) -> list[str]:
        aclient = openai.AsyncOpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
        stream = await aclient.chat.completions.create(model="m", messages=USER, stream=True)
        return [c.choices[0].delta.content async for c in stream if c.choices[0].delta.content]

    with LocalChatServer(token_delay=0.001) as srv:
        assert asyncio.run(main(srv)) == JOKE_TOKENS


def test_max_tokens_truncates(server):
    res = client(server).chat.completions.create(model="m", messages=USER, max_tokens=3)
    assert res.choices[0].message.content == "Why don't"
    assert res.choices[0].finish_reason == "length"
    chunks = list(
        client(server).chat.completions.create(
            model="m", messages=USER, stream=True, max_completion_tokens=2
        )
    )
    assert [c.choices[0].delta.content for c in chunks[1:-1]] == ["Why", " don"]
    assert chunks[-1].choices[0].finish_reason == "length"


def test_echo():
    with LocalChatServer(echo=True) as srv:
        res = client(srv).chat.completions.create(
            model="m",
            messages=[
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "parrot me"}]},
            ],
        )
    assert res.choices[0].message.content == "parrot me"


def test_script_mapping_and_callable():
    with LocalChatServer(script={"Tell me a joke": "No."}) as srv:
        c = client(srv)
        assert (
            c.chat.completions.create(model="m", messages=USER).choices[0].message.content == "No."
        )
        other = [{"role": "user", "content": "something else"}]
        reply = c.chat.completions.create(model="m", messages=other).choices[0].message.content
        assert reply == DEFAULT_REPLY

    seen: list[int] = []

    def script(messages: list[dict[str, Any]]) -> str:
        seen.append(len(messages))
        return f"{len(messages)} messages"

    with LocalChatServer(script=script) as srv:
        res = client(srv).chat.completions.create(model="m", messages=USER * 2)
    assert res.choices[0].message.content == "2 messages" and seen == [2]


def test_failing_script_is_a_500_and_server_keeps_serving():
    def script(messages: list[dict[str, Any]]) -> str:
        if messages[-1]["content"] == "boom":
            raise KeyError("no such reply")
        return "fine"

    with LocalChatServer(script=script) as srv:
        with pytest.raises(openai.InternalServerError):
            client(srv).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "boom"}]
            )
        assert (
            client(srv).chat.completions.create(model="m", messages=USER).choices[0].message.content
            == "fine"
        )


# -- LangChain ----------------------------------------------------------------------------
def test_chat_openai_streams_tokens_to_callbacks(server):
    tokens: list[str] = []

    class Collect(AsyncCallbackHandler):
        async def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            tokens.append(token)

    chat = chat_model(server, streaming=True, callbacks=[Collect()])
    result = asyncio.run(chat.agenerate([[HumanMessage(content="Tell me a joke")]]))
    assert result.generations[0][0].text == DEFAULT_REPLY
    # '' for the role chunk, then the content tokens, then '' for the finish chunk and (from
    # langchain-core 1.x) one more '' for LangChain's own closing chunk_position="last" chunk.
    assert tokens[: len(JOKE_TOKENS) + 1] == ["", *JOKE_TOKENS]
    assert set(tokens[len(JOKE_TOKENS) + 1 :]) == {""}
    msg = chat_model(server).invoke("Tell me a joke")
    assert msg.content == DEFAULT_REPLY
    assert msg.usage_metadata["output_tokens"] == len(JOKE_TOKENS)


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


@tool
def get_time(city: str) -> str:
    """Local time in a city."""
    return f"noon in {city}"


WEATHER_Q = "What's the weather and time in Paris?"
WEATHER_SCRIPT = {
    WEATHER_Q: [
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"city": "Paris"}, id="call_weather"),
                ToolCall("get_time", {"city": "Paris"}),
            ]
        ),
        "It is sunny and noon in Paris.",
    ]
}


@pytest.mark.parametrize("streaming", [False, True])
def test_bind_tools_multi_turn(streaming):
    with LocalChatServer(script=WEATHER_SCRIPT) as srv:
        model = chat_model(srv, streaming=streaming).bind_tools([get_weather, get_time])
        first = model.invoke([HumanMessage(WEATHER_Q)])
        assert [(c["name"], c["args"]) for c in first.tool_calls] == [
            ("get_weather", {"city": "Paris"}),
            ("get_time", {"city": "Paris"}),
        ]
        assert first.tool_calls[0]["id"] == "call_weather"
        assert first.tool_calls[1]["id"].startswith("call_")
        assert first.response_metadata["finish_reason"] == "tool_calls"
        history = [
            HumanMessage(WEATHER_Q),
            first,
            *(ToolMessage("ok", tool_call_id=c["id"]) for c in first.tool_calls),
        ]
        second = model.invoke(history)
        assert isinstance(second, AIMessage)
        assert second.content == "It is sunny and noon in Paris." and not second.tool_calls
        # The request carried the tool schemas the way OpenAI expects them.
        assert {t["function"]["name"] for t in srv.requests[0]["tools"]} == {
            "get_weather",
            "get_time",
        }


def test_streamed_tool_call_arguments_arrive_in_fragments(server):
    server.script = {"go": Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"})])}
    chunks = list(
        client(server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "go"}], stream=True
        )
    )
    deltas = [c.choices[0].delta.tool_calls for c in chunks if c.choices[0].delta.tool_calls]
    assert deltas[0][0].function.name == "get_weather" and deltas[0][0].id.startswith("call_")
    pieces = [d[0].function.arguments for d in deltas[1:]]
    assert len(pieces) > 2 and "".join(pieces) == '{"city": "Paris"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_create_agent_runs_offline_to_a_final_answer():
    from langchain.agents import create_agent

    with LocalChatServer(script=WEATHER_SCRIPT) as srv:
        agent = create_agent(chat_model(srv), tools=[get_weather, get_time])
        state = agent.invoke({"messages": [{"role": "user", "content": WEATHER_Q}]})
        requests = srv.requests
    messages = state["messages"]
    tool_results = sorted(m.content for m in messages if isinstance(m, ToolMessage))
    assert tool_results == ["noon in Paris", "sunny in Paris"]
    assert messages[-1].content == "It is sunny and noon in Paris."
    assert len(requests) == 2  # one model call per turn
    assert [m["role"] for m in requests[1]["messages"]] == ["user", "assistant", "tool", "tool"]


# -- faults -------------------------------------------------------------------------------
def test_rate_limit_fault(server):
    server.inject_fault("rate_limit", retry_after=2)
    with pytest.raises(openai.RateLimitError) as info:
        client(server).chat.completions.create(model="m", messages=USER)
    assert info.value.response.headers["retry-after"] == "2"
    assert info.value.body["code"] == "rate_limit_exceeded"
    assert set(info.value.body) == {"message", "type", "param", "code"}
    # Consumed: the next request succeeds.
    assert client(server).chat.completions.create(model="m", messages=USER).choices


def test_server_error_fault_counts_requests_and_client_retries(server):
    server.inject_fault("server_error", count=2)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            client(server).chat.completions.create(model="m", messages=USER, stream=True)
    server.inject_fault("server_error")
    retrying = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=1)
    res = retrying.chat.completions.create(model="m", messages=USER)
    assert res.choices[0].message.content == DEFAULT_REPLY
    assert len(server.requests) == 4


def test_disconnect_mid_stream(server):
    server.inject_fault("disconnect", after_tokens=3)
    seen: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        stream = client(server).chat.completions.create(model="m", messages=USER, stream=True)
        for chunk in stream:
            seen.append(chunk.choices[0].delta.content)
    assert seen == ["", *JOKE_TOKENS[:3]]
    # A plain request with a disconnect fault gets no response at all.
    server.inject_fault("disconnect")
    with pytest.raises(openai.APIConnectionError):
        client(server).chat.completions.create(model="m", messages=USER)
    assert client(server).chat.completions.create(model="m", messages=USER).choices


def test_disconnect_reaches_langchain_callbacks(server):
    errors: list[BaseException] = []
    tokens: list[str] = []

    class Watch(AsyncCallbackHandler):
        async def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            tokens.append(token)

        async def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
            errors.append(error)

    server.inject_fault("disconnect", after_tokens=2)
    chat = chat_model(server, streaming=True, callbacks=[Watch()])
    with pytest.raises(openai.APIConnectionError):
        asyncio.run(chat.agenerate([[HumanMessage(content="Tell me a joke")]]))
    assert tokens == ["", "Why", " don"]
    assert len(errors) == 1


def test_slow_first_token(server):
    server.inject_fault("slow_first_token", delay=0.3)
    start = time.monotonic()
    stream = client(server).chat.completions.create(model="m", messages=USER, stream=True)
    first = next(iter(stream))
    waited = time.monotonic() - start
    rest = [c.choices[0].delta.content for c in stream]
    assert first.choices[0].delta.role == "assistant"
    assert waited >= 0.25  # a lower bound only: the delay really happened
    assert rest[:-1] == JOKE_TOKENS


def test_chat_completions_never_send_reasoning_text_but_count_it(server):
    server.script = {"think": Reply("Done.", reasoning="Let me think about it.")}
    chunks = list(
        client(server).chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "think"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join(d.content or "" for d in deltas) == "Done."
    assert all("reasoning" not in (d.model_extra or {}) for d in deltas)  # no non-standard field
    usage = chunks[-1].usage
    assert usage.completion_tokens_details.reasoning_tokens == len(
        tokenize("Let me think about it.")
    )
    assert usage.completion_tokens == 6 + len(tokenize("Done."))
    assert usage.prompt_tokens_details.cached_tokens == 0


def test_inject_fault_rejects_bad_arguments(server):
    with pytest.raises(ValueError, match="unknown fault kind 'timeout'"):
        server.inject_fault("timeout")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="count=0"):
        server.inject_fault("rate_limit", count=0)


# -- bad requests -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b'{"model": "m"}', "messages"),
        (b'{"model": "m", "messages": []}', "messages"),
        (b'{"model": "m", "messages": "hi"}', "messages"),
        (b'{"model": "m", "messages": [{"role": "wizard", "content": "x"}]}', "messages[0]"),
        (b'{"model": "m", "messages": [{"role": "user", "content": 3}]}', "messages[0].content"),
        (b'{"model": 7, "messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": "5"}', "max_tokens"),
        (b'{"messages": [{"role": "user", "content": "x"}], "stream": "yes"}', "stream"),
        (b'{"messages": [{"role": "user", "content": "x"}], "n": 2}', "n"),
    ],
)
def test_bad_requests_get_400_and_server_keeps_serving(server, body, param):
    res = httpx.post(
        f"{server.base_url}/chat/completions",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-test"},
    )
    assert res.status_code == 400
    error = res.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert error["message"]
    assert client(server).chat.completions.create(model="m", messages=USER).choices


def test_openai_client_raises_bad_request_for_n(server):
    with pytest.raises(openai.BadRequestError, match="n > 1"):
        client(server).chat.completions.create(model="m", messages=USER, n=2)


def test_unknown_path_and_models(server):
    res = httpx.get(f"{server.base_url}/embeddings")
    assert res.status_code == 404 and res.json()["error"]["code"] == "unknown_url"
    res = httpx.get(f"{server.base_url}/chat/completions")
    assert res.status_code == 405 and "error" in res.json()
    assert [m.id for m in client(server).models.list()] == ["gpt-4o-mini-local"]


def test_api_key_is_never_logged_or_recorded(server, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "sk-very-secret-123"
    c = openai.OpenAI(base_url=server.base_url, api_key=secret, max_retries=0)
    c.chat.completions.create(model="m", messages=USER)
    with pytest.raises(openai.BadRequestError):
        c.chat.completions.create(model="m", messages=[{"role": "nobody", "content": "x"}])
    assert secret not in caplog.text
    assert secret not in repr(server.requests)


# -- lifecycle ----------------------------------------------------------------------------
def test_lifecycle_is_idempotent():
    srv = LocalChatServer()
    with pytest.raises(RuntimeError, match="start"):
        _ = srv.base_url
    assert srv.start() is srv
    port = srv.port
    assert srv.start() is srv and srv.port == port
    assert srv.base_url == f"http://127.0.0.1:{port}/v1"
    srv.stop()
    srv.stop()
    assert not srv.running
    with pytest.raises(openai.APIConnectionError):
        client(srv).chat.completions.create(model="m", messages=USER)
    with srv:  # restarts on the same port, so a base_url handed out earlier still works
        assert srv.port == port
        assert client(srv).chat.completions.create(model="m", messages=USER).choices
    assert not srv.running
    names = [t.name for t in threading.enumerate()]
    assert "LocalChatServer" not in names


def test_reset_forgets_requests_and_faults(server):
    client(server).chat.completions.create(model="m", messages=USER)
    server.inject_fault("server_error")
    server.reset()
    assert server.requests == []
    assert client(server).chat.completions.create(model="m", messages=USER).choices


def test_port_in_use_is_a_clear_error(server):
    with pytest.raises(OSError):
        LocalChatServer(port=server.port).start()


def test_works_from_inside_a_running_event_loop(server):
    """A notebook's top-level await: the caller's loop is busy, the server has its own."""

    async def main() -> str:
        aclient = openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        res = await aclient.chat.completions.create(model="m", messages=USER)
        return res.choices[0].message.content

    assert asyncio.run(main()) == DEFAULT_REPLY


# -- command line -------------------------------------------------------------------------
def test_cli_serves_until_terminated():
    proc = subprocess.Popen(
        [sys.executable, "-m", "lc_callbacks_nb.server", "--port", "0", "--echo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _readline_within(proc, timeout=30)
        assert line.startswith("LocalChatServer serving at http://127.0.0.1:"), line
        base_url = line.split()[3]
        c = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
        res = c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert res.choices[0].message.content == "hi"
        assert c.responses.create(model="m", input="hello").output_text == "hello"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "abc"], "argument --port: invalid int value: 'abc'"),
        (["--token-delay", "-1"], "expected seconds >= 0"),
    ],
)
def test_cli_bad_arguments_give_one_line(args, expected):
    res = subprocess.run(
        [sys.executable, "-m", "lc_callbacks_nb.server", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and expected in res.stderr


def test_cli_port_in_use(server):
    res = subprocess.run(
        [sys.executable, "-m", "lc_callbacks_nb.server", "--port", str(server.port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and "cannot listen" in res.stderr


def _readline_within(proc: subprocess.Popen[str], timeout: float) -> str:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not lines:
        raise TimeoutError(f"the CLI printed nothing in {timeout}s")
    return lines[0].strip()
