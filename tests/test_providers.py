"""Every provider's shapes, through the real clients, real HTTP and a real kernel.

Each test runs stock LangChain clients against the embedded server and reads the panel back
from the kernel's IOPub traffic (tests/board_replay.py), the way a browser would draw it.
"""

from __future__ import annotations

import json

import pytest
from board_replay import replay
from harness import KernelSession

THOUGHT = "The user greets me. I should greet back, briefly."
ANSWER = "Hello! How can I help you today?"
THINK_REPLY = f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}"
SERVER_OPTIONS = {"script": {"Say hi": THINK_REPLY}, "token_delay": 0.02}
SETUP = """
import json
from langchain_openai import ChatOpenAI
from lc_callbacks_nb import LiveStreamHandler
def chat(**kw):
    return ChatOpenAI(base_url={base_url!r}, api_key="sk-test", model="qwen3", max_retries=0, **kw)
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
