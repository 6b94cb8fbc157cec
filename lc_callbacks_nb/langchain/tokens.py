"""Turn what LangChain hands to ``on_llm_new_token`` into typed text pieces.

A token is a ``str`` for Chat Completions models, or a list of content blocks for the
Responses API (``{"type": "text", "text": ...}``, ``{"type": "reasoning", ...}``, ...).
Tool-call argument deltas arrive with an empty token and the pieces on
``chunk.message.tool_call_chunks``. Everything is reduced to ``(channel, text)`` pairs
with three channels, so the views never see LangChain types.
"""

from __future__ import annotations

from typing import Any

TEXT = "text"
REASONING = "reasoning"
TOOL_ARGS = "tool_args"
CHANNELS = (TEXT, REASONING, TOOL_ARGS)

Piece = tuple[str, str]


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
        # Responses API: {"type": "reasoning", "summary": [{"text": ...}]} or "reasoning": str
        out: list[Piece] = []
        for key in ("reasoning", "thinking", "text"):
            value = block.get(key)
            if isinstance(value, str) and value:
                out.append((REASONING, value))
        for item in block.get("summary") or []:
            if isinstance(item, dict) and item.get("text"):
                out.append((REASONING, item["text"]))
        return out
    if kind in ("tool_call_chunk", "function_call", "tool_call"):
        args = block.get("args") or block.get("arguments") or ""
        name = block.get("name") or ""
        pieces: list[Piece] = []
        if name:
            pieces.append((TOOL_ARGS, f"\n{name} "))
        if isinstance(args, str) and args:
            pieces.append((TOOL_ARGS, args))
        return pieces
    return []


def _tool_chunk_pieces(chunk: Any) -> list[Piece]:
    message = getattr(chunk, "message", None)
    tool_chunks = getattr(message, "tool_call_chunks", None) or []
    pieces: list[Piece] = []
    for tc in tool_chunks:
        name = tc.get("name") if isinstance(tc, dict) else None
        args = tc.get("args") if isinstance(tc, dict) else None
        if name:
            pieces.append((TOOL_ARGS, f"\n{name} "))  # views strip the leading newline
        if args:
            pieces.append((TOOL_ARGS, args))
    return pieces


def token_pieces(token: Any, chunk: Any = None) -> list[Piece]:
    """All pieces carried by one ``on_llm_new_token`` call; empty tokens give ``[]``."""
    if isinstance(token, str):
        if token:
            return [(TEXT, token)]
        return _tool_chunk_pieces(chunk) if chunk is not None else []
    if isinstance(token, list):
        pieces: list[Piece] = []
        for block in token:
            pieces.extend(_block_pieces(block))
        if not pieces and chunk is not None:
            pieces = _tool_chunk_pieces(chunk)
        return pieces
    return []
