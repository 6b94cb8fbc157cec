"""Live panel benchmarks, side by side in one real kernel. Ratios, not absolute times.

1. Overhead: 10,000 streamed tokens from LangChain's GenericFakeChatModel, time with each
   handler / time with no handler (median of alternating repetitions).
   "extension" is what ``%load_ext`` + ``%lc_stream on`` gives every run: one handler of ours,
   feeding the panel and the ``%lc_runs`` recorder; LangChain's inline no-op handler is the
   floor any handler pays.
2. Traffic: one 20,000-token stream at full speed: comm messages and bytes of our board
   vs the naive ``ipywidgets.HTML.value += token`` (other paces: bench_traffic.py).
3. Latency: token (kernel clock when LangChain emitted it) → IOPub message received by
   the client (same machine, same clock), at a steady 200 and 50 tokens/s of real words.

Run: ``.venv/bin/python benchmarks/bench_live_panels.py`` (writes results/live_panels.json).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from board_replay import replay  # noqa: E402
from harness import KernelSession  # noqa: E402

SETUP = r"""
import asyncio, itertools, time, json
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from lc_callbacks_nb import LiveStreamHandler

N_TOKENS = {n_tokens}
# Real English prose (Python's own help texts, in every install), so the compressed final
# state is measured on text that compresses like model output, not on a repeated token.
from pydoc_data.topics import topics as _topics
_WORDS = " ".join(_topics[k] for k in sorted(_topics)).split()
CONTENT = " ".join(_WORDS[: N_TOKENS // 2])  # GenericFakeChatModel: words + spaces = N tokens

class NoopAsync(AsyncCallbackHandler):
    async def on_llm_new_token(self, token, **kw): pass

class NoopSync(BaseCallbackHandler):
    def on_llm_new_token(self, token, **kw): pass

class NoopSyncInline(BaseCallbackHandler):
    run_inline = True
    def on_llm_new_token(self, token, **kw): pass

class NativeFake(GenericFakeChatModel):
    # Stock GenericFakeChatModel streams asynchronously through run_in_executor(next): a
    # thread hop per token even with no handler. This one yields on the loop, so the
    # ratio shows the callback cost alone.
    async def _astream(self, messages, stop=None, run_manager=None, **kw):
        for chunk in self._stream(messages, stop=stop, run_manager=None, **kw):
            yield chunk

def fake(native=False):
    cls = NativeFake if native else GenericFakeChatModel
    return cls(messages=itertools.repeat(AIMessage(content=CONTENT)))

async def timed(handlers, native=False):
    model = fake(native)
    c0 = time.process_time()  # CPU of the whole kernel process: every thread, ours included
    t0 = time.perf_counter()
    n = 0
    async for _ in model.astream("go", config={{"callbacks": handlers}}):
        n += 1
    return time.perf_counter() - t0, n, time.process_time() - c0
"""

CONFIGS = {
    "no handler": "[]",
    "LiveStreamHandler (widget)": "[LiveStreamHandler()]",
    "extension: %lc_stream on (panel + %lc_runs)": "[]",
    "LiveStreamHandler (text, to a null stream)": "[text_handler]",
    "no-op AsyncCallbackHandler": "[NoopAsync()]",
    "no-op sync handler (executor)": "[NoopSync()]",
    "no-op sync handler, run_inline": "[NoopSyncInline()]",
}


# The configure hook's handler for each configuration: the extension's only for its own row.
EXTENSION = "extension: %lc_stream on (panel + %lc_runs)"
HOOK_ON = "hooks.set_global(_ctl.handler)\n"
HOOK_OFF = "hooks.set_global(None)\n"


def bench_overhead(k: KernelSession, reps: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Wall-clock and CPU ratios (CPU: the kernel process's, all threads; on a shared machine
    it moves less than wall time, which other processes' load inflates)."""
    k.run(
        "%load_ext lc_callbacks_nb\n%lc_stream on --mode widget\n"
        "from lc_callbacks_nb.notebook import extension as _ext, hooks\n"
        "_ctl = _ext.current()\n" + HOOK_OFF
    )
    k.run(
        "import io\n"
        "from lc_callbacks_nb.views.text import TextView\n"
        "text_handler = LiveStreamHandler(mode='text')\n"
        "_null = io.StringIO()\n"
        "import lc_callbacks_nb.views.text as _tv\n"
        "_orig = _tv.TextView.stream\n"
        "_tv.TextView.stream = property(lambda self: _null)\n"
    )
    wall: dict[str, dict[str, float]] = {}
    cpu: dict[str, dict[str, float]] = {}
    samples: dict[str, dict[str, dict[str, list[float]]]] = {}
    for native in (False, True):
        kind = "native" if native else "stock"
        ratios: dict[str, list[float]] = {name: [] for name in CONFIGS}
        cpu_ratios: dict[str, list[float]] = {name: [] for name in CONFIGS}
        k.run(f"await timed([], native={native})")  # warm-up
        for rep in range(reps):
            # each repetition times every configuration back to back; the ratio to the same
            # repetition's baseline cancels most of the machine's drift. The order rotates so
            # no configuration always runs right after the baseline.
            names = list(CONFIGS)
            names = names[rep % len(names) :] + names[: rep % len(names)]
            times, cpus = {}, {}
            for name in names:
                k.run(HOOK_ON if name == EXTENSION else HOOK_OFF)
                code = f"_t, _n, _c = await timed({CONFIGS[name]}, native={native})\n"
                res = k.run(code + "print(json.dumps([_t, _n, _c]))")
                times[name], n, cpus[name] = json.loads(res.stdout.strip().splitlines()[-1])
                assert n > 9_000, n
            for name in CONFIGS:
                ratios[name].append(times[name] / times["no handler"])
                cpu_ratios[name].append(cpus[name] / cpus["no handler"])
        wall[kind] = {name: statistics.median(r) for name, r in ratios.items()}
        cpu[kind] = {name: statistics.median(r) for name, r in cpu_ratios.items()}
        samples[kind] = {"wall": ratios, "cpu": cpu_ratios}
    k.run("_tv.TextView.stream = _orig\n%unload_ext lc_callbacks_nb")
    return {"wall": wall, "cpu": cpu, "samples": samples}  # type: ignore[dict-item]


def bench_traffic(k: KernelSession, fps: int) -> dict[str, float]:
    start = len(k.iopub)
    res = k.run(
        f"h = LiveStreamHandler(fps={fps})\n"
        "t0 = time.perf_counter()\n"
        "chunks = [c.content async for c in fake().astream('go', config={'callbacks': [h]})]\n"
        "print(json.dumps([time.perf_counter() - t0, len(''.join(chunks).encode())]))"
    )
    seconds, text_bytes = json.loads(res.stdout.strip().splitlines()[-1])
    (board,) = replay(k.iopub[start:])
    assert board.texts() == [json.loads(json.dumps(board.texts()[0]))]
    ours = {
        "seconds": seconds,
        "text_bytes": text_bytes,
        "messages": board.messages,
        "bytes": board.bytes,  # JSON as jupyter_client packs it + buffers
        "open_bytes": board.open_bytes,
        "message_budget": fps * seconds + 5,
        "byte_budget": 1.3 * text_bytes + 60 * board.messages,
    }
    # The naive way: one ipywidgets.HTML whose value grows by each token.
    start = len(k.iopub)
    res = k.run(
        "import ipywidgets\n"
        "from IPython.display import display\n"
        "class Naive(BaseCallbackHandler):\n"
        "    run_inline = True\n"
        "    def __init__(self): self.w = ipywidgets.HTML(); display(self.w)\n"
        "    def on_llm_new_token(self, token, **kw): self.w.value += token\n"
        "t0 = time.perf_counter()\n"
        "chunks = [c async for c in fake().astream('go', config={'callbacks': [Naive()]})]\n"
        "print(json.dumps(time.perf_counter() - t0))",
        timeout=900,
    )
    naive_seconds = json.loads(res.stdout.strip().splitlines()[-1])
    time.sleep(2)  # let the tail of IOPub arrive
    msgs = [m for m in k.iopub[start:] if m["msg_type"] == "comm_msg"]
    naive_bytes = sum(len(json.dumps(m["content"]["data"]).encode()) for m in msgs)
    ours["naive_messages"] = len(msgs)
    ours["naive_bytes"] = naive_bytes
    ours["naive_seconds"] = naive_seconds
    return ours


def bench_latency(k: KernelSession, fps: int, pace: int, tokens: int = 600) -> dict[str, float]:
    """Real words (Python's help texts) at ``pace`` tokens/s; each token's latency is from the
    kernel's clock when LangChain emitted it to the client's receipt of the message whose text
    first holds it."""
    start = len(k.iopub)
    k.run(
        "from langchain_core.outputs import ChatGenerationChunk\n"
        "from langchain_core.messages import AIMessageChunk\n"
        "from lc_callbacks_nb.offline.server_script import tokenize\n"
        "class Stamp(BaseCallbackHandler):\n"
        "    run_inline = True\n"
        "    def __init__(self): self.at = []\n"
        "    def on_llm_new_token(self, token, **kw):\n"
        "        if token: self.at.append([time.time(), token])\n"
        "WORDS = tokenize(' '.join(_WORDS[:2000]))\n"
        "class Paced(GenericFakeChatModel):\n"
        "    async def _astream(self, messages, stop=None, run_manager=None, **kw):\n"
        f"        for token in WORDS[:{tokens}]:\n"
        f"            await asyncio.sleep({1 / pace})\n"
        "            yield ChatGenerationChunk(message=AIMessageChunk(content=token))\n"
        "stamp = Stamp()\n"
        "model = Paced(messages=iter([]))\n"
        f"handlers = [stamp, LiveStreamHandler(fps={fps})]\n"
        "async for _ in model.astream('go', config={'callbacks': handlers}):\n"
        "    pass\n"
        "print(json.dumps(stamp.at))",
        timeout=300,
    )
    time.sleep(1)
    msgs = k.iopub[start:]
    stamps = json.loads(
        next(
            m["content"]["text"]
            for m in reversed(msgs)
            if m["msg_type"] == "stream" and m["content"]["text"].startswith("[")
        )
    )
    ends, total = [], 0  # the text length at which each token is complete
    for _, token in stamps:
        total += len(token)
        ends.append(total)
    board = replay([m for m in msgs if m["msg_type"] == "comm_open"])[0]
    received: list[float] = []  # client receipt time of each token
    for m in msgs:
        if m["msg_type"] != "comm_msg" or m["content"]["comm_id"] != board.comm_id:
            continue
        board.apply(m)
        shown = len(board.texts()[0]) if board.runs else 0
        while len(received) < len(ends) and ends[len(received)] <= shown:
            received.append(m["_wall"])
    lat = sorted(r - s for r, (s, _) in zip(received, stamps, strict=False))
    q = statistics.quantiles(lat, n=100)
    return {
        "pace": pace,
        "tokens": len(lat),
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * q[98],
        "budget_ms": 1000 / fps + 150 + 20,  # + the most a slow stream's text is held
    }


def main() -> None:
    fps = 20
    results: dict[str, object] = {}
    with KernelSession() as k:
        k.run(SETUP.format(n_tokens=10_000))
        overhead = bench_overhead(k, reps=11)
        results["overhead_ratio"] = overhead["wall"]
        results["overhead_ratio_cpu"] = overhead["cpu"]
        results["overhead_samples"] = overhead["samples"]
    with KernelSession() as k:
        k.run(SETUP.format(n_tokens=20_000))
        results["traffic"] = bench_traffic(k, fps)
    with KernelSession() as k:
        k.run(SETUP.format(n_tokens=4000))
        results["latency"] = [bench_latency(k, fps, pace) for pace in (200, 50)]
    out = HERE / "results" / "live_panels.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(render(results))


def render(r: dict) -> str:
    lines = [
        "| overhead, 10,000 tokens: time ÷ no handler (median) | stock GenericFakeChatModel "
        "| native-async fake |",
        "|---|---|---|",
    ]
    for name, ratio in r["overhead_ratio"]["stock"].items():
        lines.append(f"| {name} | {ratio:.2f} | {r['overhead_ratio']['native'][name]:.2f} |")
    if "overhead_ratio_cpu" in r:
        c = r["overhead_ratio_cpu"]
        lines += [
            "",
            "| same runs, kernel CPU time ÷ no handler (median) | stock | native-async |",
            "|---|---|---|",
        ]
        for name, ratio in c["stock"].items():
            lines.append(f"| {name} | {ratio:.2f} | {c['native'][name]:.2f} |")
    t = r["traffic"]
    lines += [
        "",
        "| 20,000-token stream at full speed | ours | naive `HTML.value += token` |",
        "|---|---|---|",
        f"| seconds | {t['seconds']:.2f} | {t['naive_seconds']:.2f} |",
        f"| comm messages (budget fps×s+5 = {t['message_budget']:.0f}) | {t['messages']} "
        f"| {t['naive_messages']} |",
        f"| bytes (budget 1.3×text+60/msg = {t['byte_budget']:,.0f}) | {t['bytes']:,} "
        f"| {t['naive_bytes']:,} |",
        f"| text bytes | {t['text_bytes']:,} | |",
        f"| widget open (JS+CSS, once per cell) | {t['open_bytes']:,} | |",
    ]
    lines += ["", "| token → IOPub latency, real words | p50 ms | p99 ms | bound ms |"]
    lines.append("|---|---|---|---|")
    for lat in r["latency"]:
        lines.append(
            f"| {lat['tokens']} tokens at {lat['pace']}/s | {lat['p50_ms']:.1f} "
            f"| {lat['p99_ms']:.1f} | {lat['budget_ms']:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
