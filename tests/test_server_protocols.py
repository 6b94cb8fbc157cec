"""One LocalChatServer, four wire protocols: the same script and the same faults through each
real client, every fault in each protocol's own shape, and the server standing alone (no
provider package imported)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

import anthropic
import httpx
import ollama
import openai
import pytest
from chat_tools import get_weather
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI

from lc_callbacks_nb.server import LocalChatServer, Reply, ToolCall

QUESTION = "What's the weather in Paris?"
SCRIPT = {
    QUESTION: [
        Reply(reasoning="Look it up.", tool_calls=[ToolCall("get_weather", {"city": "Paris"})]),
        Reply("It is sunny in Paris.", reasoning="The tool said so."),
    ],
    "plain": "Just text.",
}


def models(base_url: str) -> dict[str, Any]:
    """The four clients, as a user points them at the server."""
    return {
        "chat-completions": ChatOpenAI(
            model="gpt-x", base_url=base_url, api_key="k", max_retries=0
        ),
        "responses": ChatOpenAI(
            model="gpt-x", base_url=base_url, api_key="k", max_retries=0, use_responses_api=True
        ),
        "anthropic": ChatAnthropic(
            model="claude-x",
            base_url=base_url,
            api_key="k",
            max_retries=0,
            max_tokens=4096,
            thinking={"type": "enabled", "budget_tokens": 1024},
        ),
        "ollama": ChatOllama(model="qwen3", base_url=base_url, reasoning=True),
    }


@pytest.fixture(scope="module")
def server():
    with LocalChatServer(script=SCRIPT) as srv:
        yield srv


@pytest.mark.parametrize("name", ["chat-completions", "responses", "anthropic", "ollama"])
@pytest.mark.parametrize("streaming", [False, True])
def test_one_script_drives_every_protocol(server, name, streaming):
    model = models(server.base_url)[name]
    if streaming and name != "ollama":  # ChatOllama always streams
        model.streaming = True
        if name == "chat-completions":
            model.stream_usage = True  # else no usage: see the test below
    bound = model.bind_tools([get_weather])
    first = bound.invoke([HumanMessage(QUESTION)])
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    result = ToolMessage(
        get_weather.invoke({"city": "Paris"}), tool_call_id=first.tool_calls[0]["id"]
    )
    second = bound.invoke([HumanMessage(QUESTION), first, result])
    assert second.text == "It is sunny in Paris." and not second.tool_calls
    usage = second.usage_metadata
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0


def test_chat_completions_streams_usage_only_when_asked(server):
    """As OpenAI does: a stream carries usage only with ``stream_options.include_usage``, which
    ChatOpenAI asks for with ``stream_usage=True`` (or on api.openai.com), not for a custom
    ``base_url`` by default. Forcing a stream must therefore ask for it (issue 20)."""
    server.reset()
    quiet = ChatOpenAI(model="gpt-x", base_url=server.base_url, api_key="k", streaming=True)
    assert quiet.invoke("plain").usage_metadata is None
    assert "stream_options" not in server.requests[-1]
    asked = ChatOpenAI(
        model="gpt-x", base_url=server.base_url, api_key="k", streaming=True, stream_usage=True
    )
    assert asked.invoke("plain").usage_metadata["output_tokens"] == 3
    assert server.requests[-1]["stream_options"] == {"include_usage": True}


# Each protocol's generating request, and the status each error fault gets there.
PLAIN = [{"role": "user", "content": "plain"}]
PROTOCOLS = {
    "chat-completions": ("/chat/completions", {"model": "m", "messages": PLAIN}, {}),
    "responses": ("/responses", {"model": "m", "input": "plain"}, {}),
    "anthropic": ("/messages", {"model": "m", "max_tokens": 100, "messages": PLAIN},
                  {"anthropic-version": "2023-06-01"}),
    "ollama": ("/api/chat", {"model": "m", "messages": PLAIN, "stream": False}, {}),
}  # fmt: skip
STATUS = {"rate_limit": 429, "server_error": 500, "overloaded": 503}
ANTHROPIC_STATUS = {**STATUS, "overloaded": 529}


def error_message(name: str, payload: dict[str, Any]) -> str:
    if name == "ollama":
        return payload["error"]
    if name == "anthropic":
        assert payload["type"] == "error"
        return payload["error"]["message"]
    assert set(payload["error"]) == {"message", "type", "param", "code"}
    return payload["error"]["message"]


@pytest.mark.parametrize("name", list(PROTOCOLS))
@pytest.mark.parametrize("kind", list(STATUS))
def test_every_error_fault_in_each_protocols_shape(server, name, kind):
    path, payload, headers = PROTOCOLS[name]
    server.inject_fault(kind, retry_after=4)
    res = httpx.post(server.base_url + path, json=payload, headers=headers)
    assert res.status_code == (ANTHROPIC_STATUS if name == "anthropic" else STATUS)[kind]
    assert error_message(name, res.json())
    assert (res.headers.get("retry-after") == "4") == (kind == "rate_limit")
    assert httpx.post(server.base_url + path, json=payload, headers=headers).status_code == 200


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_mid_stream_error_in_each_protocols_shape(server, name):
    path, payload, headers = PROTOCOLS[name]
    server.inject_fault("server_error", mid_stream=True, after_tokens=1)
    with httpx.stream(
        "POST", server.base_url + path, json={**payload, "stream": True}, headers=headers
    ) as res:
        assert res.status_code == 200  # the stream began before the failure
        lines = [line for line in res.iter_lines() if line.startswith(("data: ", "{"))]
    last = json.loads(lines[-1].removeprefix("data: "))
    expected = {
        "chat-completions": lambda e: e["error"]["type"] == "server_error",
        "responses": lambda e: e["type"] == "error" and e["code"] == "server_error",
        "anthropic": lambda e: e == {"type": "error", "error": {"type": "api_error",
                                                                "message": e["error"]["message"]}},
        "ollama": lambda e: set(e) == {"error"},
    }[name]  # fmt: skip
    assert expected(last), last


def test_mid_stream_errors_raise_each_clients_own_exception(server):
    server.inject_fault("server_error", mid_stream=True, after_tokens=1)
    with pytest.raises(openai.APIError, match="injected"):
        list(openai.OpenAI(base_url=server.base_url, api_key="k").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "plain"}], stream=True))  # fmt: skip
    server.inject_fault("overloaded", mid_stream=True)
    with pytest.raises(ValueError, match="server_is_overloaded"):
        models(server.base_url)["responses"].invoke("plain", stream=True)
    server.inject_fault("overloaded", mid_stream=True)
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        list(models(server.base_url)["anthropic"].stream("plain"))
    server.inject_fault("overloaded", mid_stream=True)
    with pytest.raises(ollama.ResponseError, match="server busy"):
        models(server.base_url)["ollama"].invoke("plain")


def test_overloaded_on_openai_is_a_503():
    with LocalChatServer() as srv:
        srv.inject_fault("overloaded")
        c = openai.OpenAI(base_url=srv.base_url, api_key="k", max_retries=0)
        with pytest.raises(openai.InternalServerError) as info:
            c.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 503


def test_inject_fault_rejects_mid_stream_for_non_errors():
    with LocalChatServer() as srv:
        with pytest.raises(ValueError, match="mid_stream=True applies to error faults only"):
            srv.inject_fault("disconnect", mid_stream=True)
        srv.inject_fault("overloaded", mid_stream=True, count=2)
        srv.reset()
        c = openai.OpenAI(base_url=srv.base_url, api_key="k", max_retries=0)
        assert c.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(ValueError, match="cache_creation_tokens"):
        LocalChatServer(cache_creation_tokens=-1)
    with pytest.raises(ValueError, match="models must be a list"):
        LocalChatServer(models="qwen3")


def test_the_server_imports_no_provider_package():
    code = (
        "import sys, lc_callbacks_nb.server\n"
        "bad = {'openai', 'anthropic', 'ollama', 'langchain_openai', 'langchain_anthropic',"
        " 'langchain_ollama', 'IPython'}\n"
        "print(sorted(bad & {m.split('.')[0] for m in sys.modules}))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "[]", res.stderr


def test_cli_serves_every_protocol():
    proc = subprocess.Popen(
        [sys.executable, "-m", "lc_callbacks_nb.server", "--echo", "--cache-creation-tokens", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(30)
        base_url = lines[0].split()[3]
        reply = ChatAnthropic(model="claude-x", base_url=base_url, api_key="k").invoke("hello")
        assert reply.content == "hello"
        assert reply.usage_metadata["input_token_details"]["ephemeral_5m_input_tokens"] == 2
        assert ChatOllama(model="qwen3", base_url=base_url).invoke("hi there").content == "hi there"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err
