"""Turn what LangChain hands to ``on_llm_new_token`` into typed text pieces.

A token is a ``str`` for Chat Completions models. For the Responses API
(``ChatOpenAI(use_responses_api=True)``) LangChain passes the chunk's content, a list of
blocks, whose shape depends on the model's ``output_version`` (recorded from real runs
against ``LocalChatServer``, langchain-openai 1.7):

- default (unset, or ``"responses/v1"``): ``{"type": "text", "text": ...}``;
  ``{"type": "reasoning", "summary": [{"index": k, "type": "summary_text", "text": ...}]}``
  (an empty text at ``index`` k opens summary part k); ``{"type": "function_call",
  "name": ..., "arguments": ...}`` (name on the first block only, then argument deltas).
- ``"v1"``: ``{"type": "text", ...}``; ``{"type": "reasoning", "reasoning": ...,
  "index": "lc_rs_<hex of 'item_part'>"}``; ``{"type": "tool_call_chunk", "name": ...,
  "args": ...}``.
- ``"v0"``: text blocks as above, but reasoning arrives with an empty token (``[]``) in
  ``chunk.message.additional_kwargs["reasoning"]["summary"]``, and tool calls with an empty
  token and the pieces on ``chunk.message.tool_call_chunks``.

Chat Completions tool-call argument deltas, too, arrive with an empty token and the pieces
on ``chunk.message.tool_call_chunks``; some providers' reasoning arrives in
``additional_kwargs["reasoning_content"]`` (DeepSeek; Ollama's ``thinking``), possibly in the
same chunk as answer text, so a chunk's extra pieces are read whatever its token. Anthropic
streams content blocks: ``thinking`` (reasoning), ``redacted_thinking`` (reasoning the provider
encrypted: shown as :data:`REDACTED_REASONING`), ``text``, ``tool_use``. Everything is reduced
to ``(channel, text)`` pairs with three channels, so the views never see LangChain types.
Summary parts after the first are set apart by a blank line, as OpenAI means them to be read.

Local reasoning models served as plain chat (Ollama without ``reasoning=True``, vLLM, llama.cpp
and most OpenAI-compatible servers) put their reasoning at the start of the text, inside
``<think>…</think>``: :class:`ThinkSplitter` moves such a leading block to the reasoning channel,
as it streams (tags split across tokens included), and :func:`split_think` does the same to a
final text. The model's reply itself is never changed.
"""

from __future__ import annotations

from typing import Any

TEXT = "text"
REASONING = "reasoning"
TOOL_ARGS = "tool_args"
CHANNELS = (TEXT, REASONING, TOOL_ARGS)
PART_BREAK = "\n\n"  # between two reasoning summary parts
REDACTED_REASONING = "[reasoning redacted by the provider]"

Piece = tuple[str, str]


def _v1_part_index(block: dict[str, Any]) -> int:
    """The summary part a v1 reasoning block belongs to: its index is ``lc_rs_`` and the hex
    of ``"<item>_<part>"``; 0 when it is anything else."""
    index = block.get("index")
    if not isinstance(index, str) or not index.startswith("lc_rs_"):
        return 0
    try:
        part = bytes.fromhex(index[len("lc_rs_") :]).decode().rpartition("_")[2]
        return int(part)
    except ValueError:
        return 0


def _summary_pieces(summary: Any) -> list[Piece]:
    """Pieces of a Responses reasoning ``summary`` list (default and v0 output)."""
    out: list[Piece] = []
    if not isinstance(summary, list):
        return out
    for item in summary:
        if not isinstance(item, dict):
            continue
        text = item.get("text")
        if isinstance(text, str) and text:
            out.append((REASONING, text))
        elif text == "" and isinstance(item.get("index"), int) and item["index"] > 0:
            out.append((REASONING, PART_BREAK))  # summary part k > 0 opens
    return out


def _reasoning_pieces(block: dict[str, Any]) -> list[Piece]:
    out: list[Piece] = []
    for key in ("reasoning", "thinking", "text"):
        value = block.get(key)
        if isinstance(value, str) and value:
            out.append((REASONING, value))
    if block.get("reasoning") == "" and _v1_part_index(block) > 0:
        out.append((REASONING, PART_BREAK))  # v1: summary part k > 0 opens
    out.extend(_summary_pieces(block.get("summary")))
    return out


def _block_pieces(block: Any) -> list[Piece]:
    if isinstance(block, str):
        return [(TEXT, block)] if block else []
    if not isinstance(block, dict):
        return []
    kind = block.get("type")
    if kind in ("text", "output_text"):
        text = block.get("text") or ""
        return [(TEXT, text)] if text else []
    if kind in ("reasoning", "thinking"):
        return _reasoning_pieces(block)
    if kind == "redacted_thinking":
        return [(REASONING, PART_BREAK + REDACTED_REASONING + PART_BREAK)]
    if kind == "input_json_delta":  # Anthropic: a piece of a tool_use block's arguments
        partial = block.get("partial_json")
        return [(TOOL_ARGS, partial)] if isinstance(partial, str) and partial else []
    if kind in ("tool_call_chunk", "function_call", "tool_call", "tool_use"):
        # (Anthropic's tool_use opens with its name and an empty input; the arguments follow
        # as input_json_delta pieces)
        args = block.get("args") or block.get("arguments") or ""
        name = block.get("name") or ""
        pieces: list[Piece] = []
        if name:
            pieces.append((TOOL_ARGS, f"\n{name} "))
        if isinstance(args, str) and args:
            pieces.append((TOOL_ARGS, args))
        return pieces
    return []


def _extra_pieces(chunk: Any) -> list[Piece]:
    """Pieces a chunk carries beside its (empty) token: reasoning in ``additional_kwargs``
    (Responses v0 output, or a provider's ``reasoning_content``) and tool-call chunks."""
    message = getattr(chunk, "message", None)
    pieces: list[Piece] = []
    extra = getattr(message, "additional_kwargs", None) or {}
    if isinstance(extra, dict):
        reasoning = extra.get("reasoning")
        if isinstance(reasoning, dict):
            pieces.extend(_summary_pieces(reasoning.get("summary")))
        content = extra.get("reasoning_content")
        if isinstance(content, str) and content:
            pieces.append((REASONING, content))
    tool_chunks = getattr(message, "tool_call_chunks", None) or []
    for tc in tool_chunks:
        name = tc.get("name") if isinstance(tc, dict) else None
        args = tc.get("args") if isinstance(tc, dict) else None
        if name:
            pieces.append((TOOL_ARGS, f"\n{name} "))  # views strip the leading newline
        if args:
            pieces.append((TOOL_ARGS, args))
    return pieces


def has_extra_pieces(chunk: Any) -> bool:
    """Whether a chunk carries pieces beside its token (reasoning, tool-call chunks): the one
    check the token fast path makes before taking a ``str`` token as all there is."""
    message = getattr(chunk, "message", None)
    if message is None:
        return False
    return bool(getattr(message, "additional_kwargs", None)) or bool(
        getattr(message, "tool_call_chunks", None)
    )


def token_pieces(token: Any, chunk: Any = None) -> list[Piece]:
    """All pieces carried by one ``on_llm_new_token`` call; empty tokens give ``[]``."""
    if isinstance(token, str):
        extra = _extra_pieces(chunk) if chunk is not None else []
        return [*extra, (TEXT, token)] if token else extra
    if isinstance(token, list):
        pieces: list[Piece] = []
        for block in token:
            pieces.extend(_block_pieces(block))
        if not pieces and chunk is not None:
            pieces = _extra_pieces(chunk)
        return pieces
    return []


# -- the one count of what streamed ----------------------------------------------------------
# A run's "tokens" (the panel's "N tokens", the twin's, %lc_runs' `streamed_tokens`) are the
# on_llm_new_token calls that carried something: answer text, reasoning or tool-call arguments
# (a provider's chunk may hold several of the model's tokens; the usage line has the provider's
# own counts). Per channel, how many of those calls carried that channel (a chunk with reasoning
# and text counts once in each).
def tally(by_channel: dict[str, int], pieces: list[Piece]) -> None:
    """Count one streamed call's pieces into ``by_channel``, once per channel it carried."""
    for channel in {channel for channel, text in pieces if text}:
        by_channel[channel] = by_channel.get(channel, 0) + 1


def split_pieces(think: ThinkSplitter, pieces: list[Piece]) -> list[Piece]:
    """``pieces`` with their answer text passed through a :class:`ThinkSplitter`."""
    out: list[Piece] = []
    for channel, text in pieces:
        if channel == TEXT:
            out.extend(think.feed(text))
        else:
            out.append((channel, text))
    return out


# -- a leading <think>…</think> block ---------------------------------------------------------
OPEN_THINK = "<think>"
CLOSE_THINK = "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that is a beginning of ``tag``."""
    for n in range(min(len(text), len(tag) - 1), 0, -1):
        if tag.startswith(text[-n:]):
            return n
    return 0


class ThinkSplitter:
    """Routes a model's text: a leading ``<think>…</think>`` block (after optional whitespace)
    to the reasoning channel, the rest to the text channel. Whitespace at the edges of the block
    and right after it is dropped (it only frames the reasoning). Feed text pieces in order;
    :meth:`flush` when the stream ends. Once the text is known to hold no such block (or it has
    closed), :attr:`passthrough` is True and pieces go straight through."""

    def __init__(self) -> None:
        # start -> think -> after -> text, or start -> text
        self.state = "start"
        self.buf = ""
        self.thought = False  # some reasoning was emitted (so leading whitespace is past)

    @property
    def passthrough(self) -> bool:
        return self.state == "text"

    def feed(self, text: str) -> list[Piece]:
        if self.state == "text":
            return [(TEXT, text)] if text else []
        self.buf += text
        out: list[Piece] = []
        if self.state == "start":
            head = self.buf.lstrip()
            if not head or (OPEN_THINK.startswith(head) and head != OPEN_THINK):
                return out  # only whitespace, or what may still become "<think>"
            if not head.startswith(OPEN_THINK):
                self.state, rest, self.buf = "text", self.buf, ""
                return [(TEXT, rest)]
            self.state, self.buf = "think", head[len(OPEN_THINK) :]
        if self.state == "think":
            if not self.thought:
                self.buf = self.buf.lstrip()
            end = self.buf.find(CLOSE_THINK)
            if end < 0:
                # hold back what may be the closing tag, and whitespace that may end the block
                held = self.buf[: len(self.buf) - _partial_suffix(self.buf, CLOSE_THINK)]
                cut = len(held.rstrip())
                thought, self.buf = self.buf[:cut], self.buf[cut:]
                if thought:
                    self.thought = True
                    out.append((REASONING, thought))
                return out
            thought, self.buf = self.buf[:end].rstrip(), self.buf[end + len(CLOSE_THINK) :]
            if thought:
                out.append((REASONING, thought))
            self.state = "after"
        if self.state == "after":
            rest = self.buf.lstrip()
            self.buf = ""
            if rest:
                self.state = "text"
                out.append((TEXT, rest))
        return out

    def flush(self) -> list[Piece]:
        """The stream ended: whatever was held back (an unclosed block is all reasoning)."""
        held, self.buf = self.buf, ""
        if self.state == "think":
            held = held.rstrip()
        if not held or self.state == "after":
            return []
        return [(REASONING if self.state == "think" else TEXT, held)]


def split_think(text: str) -> tuple[str, str]:
    """``(reasoning, text)`` of a whole text, as :class:`ThinkSplitter` would stream them."""
    splitter = ThinkSplitter()
    parts = {TEXT: "", REASONING: ""}
    for channel, piece in [*splitter.feed(text), *splitter.flush()]:
        parts[channel] += piece
    return parts[REASONING], parts[TEXT]
