"""Per-token cost of a no-op sync callback handler, four ways, in one async run each.

    no handler · plain (LangChain's run_in_executor) · threadsafe() · threadsafe(inline=True)

10,000 tokens per run from LangChain's GenericFakeChatModel through ``astream``, on a plain
asyncio loop (not a kernel), the four configurations alternating for several repetitions.
Reported: median microseconds per token and the median ratio to "no handler" (ratios are
taken within each repetition, so drifts of the machine cancel out).

Two models, both GenericFakeChatModel:
* ``native``: a subclass whose ``_astream`` walks ``_stream`` on the loop, so a token costs
  only LangChain's callback path: this isolates the handler's overhead;
* ``stock``: the class as shipped, whose async path fetches every chunk with
  ``run_in_executor(next)``, i.e. a thread hop per token even with no handler at all.

Usage: python benchmarks/bench_sync_handlers.py [--tokens 10000] [--reps 7]
Writes benchmarks/results/sync_handlers.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator
from itertools import cycle
from pathlib import Path
from typing import Any

import langchain_core
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.outputs import ChatGenerationChunk

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lc_callbacks_nb.langchain.threadsafe import threadsafe

RESULTS = Path(__file__).resolve().parent / "results" / "sync_handlers.json"


class StockFake(GenericFakeChatModel):
    streaming: bool = True


class NativeFake(StockFake):
    async def _astream(self, messages: Any, stop: Any = None, run_manager: Any = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._stream(messages, stop=stop, **kwargs):
            yield chunk


class Noop(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens = 0

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens += 1


CONFIGS = ("no handler", "plain (executor)", "threadsafe()", "threadsafe(inline=True)")


def make_callbacks(config: str) -> tuple[list[BaseCallbackHandler], Noop | None]:
    if config == "no handler":
        return [], None
    noop = Noop()
    handler = {
        "plain (executor)": noop,
        "threadsafe()": threadsafe(noop),
        "threadsafe(inline=True)": threadsafe(noop, inline=True),
    }[config]
    return [handler], noop


async def one_run(model_cls: type, text: str, config: str) -> tuple[float, int]:
    model = model_cls(messages=cycle([text]))
    callbacks, noop = make_callbacks(config)
    chunks = 0
    start = time.perf_counter()
    async for _ in model.astream("go", config={"callbacks": callbacks}):
        chunks += 1
    elapsed = time.perf_counter() - start
    if noop is not None and noop.tokens != chunks:
        raise AssertionError(f"{config}: handler saw {noop.tokens} tokens, stream had {chunks}")
    return elapsed, chunks


async def bench(model_cls: type, tokens: int, reps: int) -> dict[str, Any]:
    text = " ".join(["w"] * ((tokens + 1) // 2))  # "w", " ", "w", ... : `tokens` pieces
    await one_run(model_cls, text, "no handler")  # warm up imports and pools
    per_token: dict[str, list[float]] = {c: [] for c in CONFIGS}
    ratios: dict[str, list[float]] = {c: [] for c in CONFIGS}
    seen = 0
    for rep in range(reps):
        order = CONFIGS if rep % 2 == 0 else tuple(reversed(CONFIGS))
        times = {}
        for config in order:
            elapsed, seen = await one_run(model_cls, text, config)
            times[config] = elapsed
            per_token[config].append(elapsed / seen * 1e6)
        for config in CONFIGS:
            ratios[config].append(times[config] / times["no handler"])
    return {
        "tokens_per_run": seen,
        "us_per_token_median": {c: statistics.median(v) for c, v in per_token.items()},
        "ratio_median": {c: statistics.median(v) for c, v in ratios.items()},
        "us_per_token_all": per_token,
    }


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| handler | native: µs/token | native: × no handler | stock: µs/token | "
        "stock: × no handler |",
        "|---|---:|---:|---:|---:|",
    ]
    for config in CONFIGS:
        cells = []
        for model in ("native", "stock"):
            r = results[model]
            cells += [f"{r['us_per_token_median'][config]:.1f}", f"{r['ratio_median'][config]:.2f}"]
        lines.append(f"| {config} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args(argv)

    results = {
        "native": asyncio.run(bench(NativeFake, args.tokens, args.reps)),
        "stock": asyncio.run(bench(StockFake, args.tokens, args.reps)),
    }
    report = {
        "benchmark": "sync handler per-token cost",
        "where": "plain asyncio loop (asyncio.run), not a Jupyter kernel",
        "reps": args.reps,
        "python": platform.python_version(),
        "langchain_core": langchain_core.__version__,
        "machine": platform.platform(),
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{results['native']['tokens_per_run']} tokens per run, {args.reps} alternating "
          f"repetitions, medians; plain asyncio loop\n")
    print(table(results))
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
