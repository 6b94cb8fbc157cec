"""Read what LangChain hands to callbacks into plain values: names, models, usage, results.

Shared by the live handler and the ``%lc_runs`` recorder, so both name runs and count
tokens the same way. Nothing here raises on an odd provider payload: it returns empty.
"""

from __future__ import annotations

import json
from typing import Any

from .tokens import PART_BREAK, REDACTED_REASONING


def run_name(serialized: dict[str, Any] | None, kwargs: dict[str, Any], fallback: str) -> str:
    """The run's name: ``name=`` if given, else the serialized name or class path's last part."""
    name = kwargs.get("name")
    if not name and serialized:
        name = serialized.get("name") or (serialized.get("id") or [None])[-1]
    return str(name or fallback)


def model_name(serialized: dict[str, Any] | None, metadata: dict[str, Any] | None) -> str:
    if metadata and metadata.get("ls_model_name"):
        return str(metadata["ls_model_name"])
    kw = (serialized or {}).get("kwargs") or {}
    for key in ("model_name", "model", "model_id", "deployment_name"):
        if isinstance(kw.get(key), str):
            return kw[key]
    return ""


def usage_of(response: Any) -> dict[str, int]:
    """Token usage: input/output/total tokens, plus ``cache_read`` (input tokens served from
    the provider's cache) and ``reasoning`` (output tokens spent reasoning) when reported; the
    messages' usage_metadata, summed, else llm_output's OpenAI-style token_usage, renamed."""
    usage: dict[str, int] = {}
    try:
        for gens in response.generations or []:
            for gen in gens:
                meta = getattr(getattr(gen, "message", None), "usage_metadata", None) or {}
                for key in ("input_tokens", "output_tokens", "total_tokens"):
                    if isinstance(meta.get(key), int):
                        usage[key] = usage.get(key, 0) + meta[key]
                for details, key, name in (
                    ("input_token_details", "cache_read", "cache_read"),
                    ("output_token_details", "reasoning", "reasoning"),
                ):
                    value = (meta.get(details) or {}).get(key)
                    if isinstance(value, int) and value:
                        usage[name] = usage.get(name, 0) + value
        if not usage:
            tu = (response.llm_output or {}).get("token_usage") or {}
            for src, key in (
                ("prompt_tokens", "input_tokens"),
                ("completion_tokens", "output_tokens"),
                ("total_tokens", "total_tokens"),
            ):
                if isinstance(tu.get(src), int):
                    usage[key] = tu[src]
    except Exception:  # a provider's odd response shape must not break a run
        return usage
    return usage


def final_text(response: Any) -> str | None:
    try:
        return str(response.generations[0][0].text)
    except (AttributeError, IndexError, TypeError):
        return None


def final_reasoning(response: Any) -> str | None:
    """The final message's reasoning, for a run whose reasoning did not stream (a model called
    without streaming: ChatAnthropic's default, what create_agent calls). Read through
    LangChain's standard ``content_blocks``, so every provider's shape counts: Anthropic
    thinking, OpenAI reasoning summaries, ``reasoning_content``; Anthropic's
    ``redacted_thinking`` leaves the marker that reasoning happened and was redacted."""
    try:
        blocks = response.generations[0][0].message.content_blocks
    except (AttributeError, IndexError, TypeError, ValueError, KeyError):
        return None
    parts = []
    for block in blocks or []:
        kind = block.get("type")
        if kind == "reasoning" and isinstance(block.get("reasoning"), str) and block["reasoning"]:
            parts.append(block["reasoning"])
        elif kind == "non_standard" and (block.get("value") or {}).get("type") == (
            "redacted_thinking"
        ):
            parts.append(REDACTED_REASONING)
    return PART_BREAK.join(parts) or None


def is_finish_chunk(chunk: Any) -> bool:
    """The chunk that closes a model's stream: it carries a finish reason (Chat Completions),
    or is marked the last one (LangChain's ``chunk_position``; the Responses API has no finish
    reason, its last chunk carries the response's final status)."""
    message = getattr(chunk, "message", None)
    meta = getattr(message, "response_metadata", None) or {}
    info = getattr(chunk, "generation_info", None) or {}
    if meta.get("finish_reason") or info.get("finish_reason"):
        return True
    return getattr(message, "chunk_position", None) == "last"


def tool_call_infos(response: Any) -> list[dict[str, str]]:
    """The final message's tool calls as ``{id, name, args}`` (args as JSON text)."""
    try:
        calls = response.generations[0][0].message.tool_calls
    except (AttributeError, IndexError, TypeError):
        return []
    out = []
    for call in calls or []:
        try:
            args = json.dumps(call.get("args", {}), ensure_ascii=False)
        except (TypeError, ValueError):
            args = repr(call.get("args"))
        name = str(call.get("name") or "")
        out.append({"id": str(call.get("id") or ""), "name": name, "args": args})
    return out


def tool_calls_of(response: Any) -> str | None:
    """Tool calls of the final message, one ``name {args}`` line each, like streamed ones."""
    calls = tool_call_infos(response)
    return "".join(f"\n{c['name'] or '?'} {c['args']}" for c in calls) or None
