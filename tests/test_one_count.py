"""One count of what streamed, named the same in the panel, the twin and ``%lc_runs``.

Regressions (issue 18, "two token counts for one run"; issue 20, "``%lc_runs`` hides what the
panel shows for a tool-call-only turn"): the panel counted every streamed piece (reasoning, text,
tool-call arguments), ``%lc_runs`` only answer text, so a reasoning model's run read "40 tokens"
in its panel and "12 chunks" in the history, and a turn that only called a tool read
``llm · done · 56 ms`` with no count and no call. Each provider's real client streams from the
embedded server into a kernel with the extension loaded; the panel is read back from IOPub.
"""

from __future__ import annotations

import json
import re

import pytest
from board_replay import replay
from harness import KernelSession

from lc_callbacks_nb.server import Reply, ToolCall

THINK_REPLY = "<think>\nThe user greets me. I should greet back.\n</think>\n\nHello there, friend!"
SCRIPT = {
    "Say hi": THINK_REPLY,
    "Think first": Reply("Sunny, as far as I know.", reasoning=("Paris is in France.", "Sun.")),
    "Call the tool": Reply(
        reasoning="I should call the tool.",
        tool_calls=[ToolCall("get_weather", {"city": "Paris"})],
    ),
    "Only call": Reply(tool_calls=[ToolCall("get_weather", {"city": "Oslo"})]),
}
SERVER_OPTIONS = {"script": SCRIPT, "token_delay": 0.005}
SETUP = """
import json
from langchain_openai import ChatOpenAI
from langchain_anthropic import ChatAnthropic
from langchain_ollama import ChatOllama
from langchain_core.tools import tool

@tool
def get_weather(city: str) -> str:
    \"\"\"Current weather for a city.\"\"\"
    return f"sunny in {{city}}"

MODELS = {{
    "openai": lambda: ChatOpenAI(base_url={base_url!r}, api_key="sk-test", model="qwen3",
                                 max_retries=0, streaming=True),
    "anthropic": lambda: ChatAnthropic(
        base_url={base_url!r}, api_key="sk-ant-test", model="claude-sonnet-4-5", max_tokens=4096,
        max_retries=0, streaming=True, thinking={{"type": "enabled", "budget_tokens": 1024}}),
    "ollama": lambda: ChatOllama(base_url={base_url!r}, model="qwen3", reasoning=True),
}}
"""
AFTER_SETUP = ["%load_ext lc_callbacks_nb"]


def run_cell(k: KernelSession, code: str):
    start = len(k.iopub)
    result = k.run(code)
    assert result.status == "ok", result.error
    (board,) = replay(k.iopub[start:])
    (run,) = board.ordered()
    twin = ""
    for msg in k.iopub[start:]:
        if msg["msg_type"] in ("display_data", "update_display_data"):
            twin = msg["content"]["data"].get("text/plain", twin)
    return result, run, twin


def history_text(k: KernelSession, n: int) -> str:
    return k.eval(f"repr(get_ipython().run_line_magic('lc_runs', '{n}'))")


def recorded(k: KernelSession, n: int) -> dict:
    (row,) = k.eval(f"get_ipython().run_line_magic('lc_runs', '{n} --json')")
    return row


CASES = [
    # (provider, prompt, bind tools?, the channels that streamed)
    ("openai", "Say hi", False, {"reasoning", "text"}),  # a <think> block in the text
    ("anthropic", "Think first", False, {"reasoning", "text"}),
    ("ollama", "Think first", False, {"reasoning", "text"}),  # one chunk carries both
    ("anthropic", "Call the tool", True, {"reasoning", "tool_args"}),
    ("ollama", "Call the tool", True, {"reasoning", "tool_args"}),
]


@pytest.mark.parametrize(
    ("provider", "prompt", "tools", "channels"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_panel_twin_and_history_count_the_same(k, provider, prompt, tools, channels):
    model = f"MODELS[{provider!r}]()" + (".bind_tools([get_weather])" if tools else "")
    result, run, twin = run_cell(k, f"r = await {model}.ainvoke({prompt!r})")
    n = result.reply["content"]["execution_count"]
    row = recorded(k, n)
    shown = run["tokens"]
    assert shown > 0
    assert row["streamed_tokens"] == shown  # one count
    by_channel = row["streamed_tokens_by_channel"]
    assert {c for c, v in by_channel.items() if v} == channels, by_channel
    # a call counts once in each channel it carried (a call holding only a <think> tag, none)
    assert all(0 < v <= shown for v in by_channel.values())
    assert f"{shown:,} tokens" in twin  # the twin says the same, with the same word
    assert f"{shown} tokens streamed" in history_text(k, n)
    if run.text["text"]:  # the history's first words are the panel's (no <think> tag)
        assert row["preview"] == run.text["text"][: len(row["preview"])] != ""


@pytest.mark.parametrize("provider", ["openai", "anthropic", "ollama"])
def test_a_tool_call_only_turn_lists_its_call(k, provider):
    code = f"r = await MODELS[{provider!r}]().bind_tools([get_weather]).ainvoke('Only call')"
    result, run, _ = run_cell(k, code)
    n = result.reply["content"]["execution_count"]
    row = recorded(k, n)
    assert row["streamed_tokens"] == run["tokens"] > 0
    assert [(c["name"], json.loads(c["args"])) for c in row["tool_calls"]] == [
        ("get_weather", {"city": "Oslo"})
    ]
    text = history_text(k, n)
    assert re.search(r'→ get_weather\(\{"city": "Oslo"\}\)', text), text
    html = k.eval(f"get_ipython().run_line_magic('lc_runs', '{n}')._repr_html_()")
    assert "→ <code>get_weather({&quot;city&quot;: &quot;Oslo&quot;})</code>" in html, html
