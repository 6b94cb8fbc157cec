"""What each provider's chunks and final messages carry, read into the panel's three channels.

Unit tests over the shapes LangChain hands to callbacks (recorded from the real clients); the
same shapes go through the real clients and real HTTP in tests/test_providers.py.
"""

from __future__ import annotations

import random

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, LLMResult

from lc_callbacks_nb.langchain.payloads import final_reasoning
from lc_callbacks_nb.langchain.tokens import (
    REASONING,
    REDACTED_REASONING,
    TEXT,
    TOOL_ARGS,
    ThinkSplitter,
    has_extra_pieces,
    split_think,
    token_pieces,
)


def _chunk(content="", **kw) -> ChatGenerationChunk:
    return ChatGenerationChunk(message=AIMessageChunk(content=content, **kw))


def test_a_chunk_with_reasoning_and_text_keeps_both():
    """Ollama with think=True: one chunk may carry `thinking` and `content` together."""
    chunk = _chunk("The answer", additional_kwargs={"reasoning_content": "Let me see."})
    assert has_extra_pieces(chunk)
    assert token_pieces("The answer", chunk) == [(REASONING, "Let me see."), (TEXT, "The answer")]
    plain = _chunk("The answer")
    assert not has_extra_pieces(plain)
    assert token_pieces("The answer", plain) == [(TEXT, "The answer")]


def test_a_chunk_with_text_and_tool_call_chunks_keeps_both():
    chunk = _chunk(
        "Checking.",
        tool_call_chunks=[{"name": "get_weather", "args": '{"city"', "id": "c1", "index": 0}],
    )
    assert has_extra_pieces(chunk)
    assert token_pieces("Checking.", chunk) == [
        (TOOL_ARGS, "\nget_weather "),
        (TOOL_ARGS, '{"city"'),
        (TEXT, "Checking."),
    ]


def test_redacted_thinking_leaves_a_trace():
    pieces = token_pieces([{"type": "redacted_thinking", "data": "EuYBCkQYAiJA", "index": 0}])
    assert pieces and all(ch == REASONING for ch, _ in pieces)
    assert REDACTED_REASONING in "".join(t for _, t in pieces)
    assert "EuYBCkQYAiJA" not in "".join(t for _, t in pieces)  # the opaque data never shows


def _result(message: AIMessage) -> LLMResult:
    return LLMResult(generations=[[ChatGeneration(message=message)]])


@pytest.mark.parametrize(
    "message, expected",
    [
        (  # Anthropic thinking, not streamed (ChatAnthropic's default, create_agent's call)
            AIMessage(
                content=[
                    {"type": "thinking", "thinking": "Paris is in France.", "signature": "s1g"},
                    {"type": "text", "text": "Sunny."},
                ],
                response_metadata={"model_provider": "anthropic"},
            ),
            "Paris is in France.",
        ),
        (  # redacted thinking beside visible thinking
            AIMessage(
                content=[
                    {"type": "thinking", "thinking": "First.", "signature": "s"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "text", "text": "Done."},
                ],
                response_metadata={"model_provider": "anthropic"},
            ),
            "First.\n\n" + REDACTED_REASONING,
        ),
        (  # OpenAI Responses reasoning summary, two parts
            AIMessage(
                content=[
                    {
                        "type": "reasoning",
                        "id": "rs_1",
                        "summary": [
                            {"type": "summary_text", "text": "Part one."},
                            {"type": "summary_text", "text": "Part two."},
                        ],
                    },
                    {"type": "text", "text": "A"},
                ],
                response_metadata={"model_provider": "openai"},
            ),
            "Part one.\n\nPart two.",
        ),
        (  # DeepSeek / Ollama reasoning_content
            AIMessage(content="Answer.", additional_kwargs={"reasoning_content": "Hmm."}),
            "Hmm.",
        ),
        (AIMessage(content="No reasoning at all."), None),
    ],
    ids=["anthropic", "redacted", "openai_summary", "reasoning_content", "none"],
)
def test_final_reasoning_of_every_provider_shape(message, expected):
    assert final_reasoning(_result(message)) == expected


def test_final_reasoning_never_raises_on_odd_results():
    assert final_reasoning(object()) is None
    assert final_reasoning(LLMResult(generations=[])) is None


THINK_CASES = {
    "leading block": ("<think>I should greet.</think>\n\nHello!", "I should greet.", "Hello!"),
    "whitespace first": ("\n  <think>hmm</think>Hi", "hmm", "Hi"),
    "no block": ("Hello <think>not reasoning</think>", "", "Hello <think>not reasoning</think>"),
    "almost a tag": ("<thin>k", "", "<thin>k"),
    "unclosed": ("<think>still thinking", "still thinking", ""),
    "empty block": ("<think></think>Answer", "", "Answer"),
    "only whitespace": ("   ", "", "   "),
    "a tag in the answer": (
        "<think>a</think>Use </think> and <think> literally.",
        "a",
        "Use </think> and <think> literally.",
    ),
    "multi-line": ("<think>\nline 1\n\nline 2\n</think>\nFinal.", "line 1\n\nline 2", "Final."),
    "unclosed, trailing space": ("<think> pondering  \n", "pondering", ""),
}


@pytest.mark.parametrize("case", THINK_CASES, ids=list(THINK_CASES))
def test_split_think_whole(case):
    text, reasoning, answer = THINK_CASES[case]
    assert split_think(text) == (reasoning, answer)


@pytest.mark.parametrize("case", THINK_CASES, ids=list(THINK_CASES))
@pytest.mark.parametrize("seed", range(20))
def test_think_splitter_streamed_in_any_pieces_equals_whole(case, seed):
    """Tags split across tokens anywhere: the streamed split equals the one-shot split, and
    no piece of a tag ever reaches either channel."""
    text, reasoning, answer = THINK_CASES[case]
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(text)), k=min(len(text) - 1, rng.randint(0, 8))))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    splitter = ThinkSplitter()
    got = {TEXT: "", REASONING: ""}
    for piece in pieces:
        for channel, part in splitter.feed(piece):
            got[channel] += part
    for channel, part in splitter.flush():
        got[channel] += part
    assert (got[REASONING], got[TEXT]) == (reasoning, answer)


def test_think_splitter_passes_through_once_decided():
    splitter = ThinkSplitter()
    assert splitter.feed("Hel") == [(TEXT, "Hel")] and splitter.passthrough
    splitter = ThinkSplitter()
    splitter.feed("<think>x</think>")
    assert not splitter.passthrough  # whitespace after the block is still being dropped
    assert splitter.feed("\nA") == [(TEXT, "A")] and splitter.passthrough


def test_anthropic_tool_use_streams_its_name_then_its_arguments():
    """ChatAnthropic with tools: a tool_use block (name, empty input), then input_json_delta
    pieces of the arguments, each its own token (docs/providers-on-the-wire.md)."""
    tokens = [
        [{"type": "text", "text": "Let me check.", "index": 0}],
        [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}, "index": 1}],
        [{"type": "input_json_delta", "partial_json": "", "index": 1}],
        [{"type": "input_json_delta", "partial_json": '{"city": ', "index": 1}],
        [{"type": "input_json_delta", "partial_json": '"Paris"}', "index": 1}],
    ]
    pieces = [p for t in tokens for p in token_pieces(t)]
    assert "".join(t for c, t in pieces if c == TEXT) == "Let me check."
    assert "".join(t for c, t in pieces if c == TOOL_ARGS) == '\nget_weather {"city": "Paris"}'
