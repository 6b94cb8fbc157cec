"""Loop traffic: many short runs in one cell, in a real kernel.

A cell that calls a model in a loop (1,000 and 2,000 short streamed runs, a few tokens each)
is the case where run starts and ends, not tokens, dominate the traffic. Ends of runs are
coalesced into the fps budget like tokens, and widget state syncs are bounded by time, so the
board's comm messages should stay within ``fps × seconds + a small constant`` however many runs
the cell makes. Counted: the board's comm messages after its open, their bytes (JSON of the
message data + binary buffers), and the cell's seconds (in the kernel, around the loop; and as
the client saw it, execute request to idle, which includes the cell-end draw).

The model is a native-async fake (``GenericFakeChatModel`` whose ``_astream`` yields on the
loop, no thread hop per chunk): the callbacks, not the model, set the pace, so the loop runs
as fast as LangChain can fire events, which is the worst case for the budget. The same loop
with no handler is timed in the same kernel for reference.

Before the ends-of-runs redesign, 2,000 runs sent 4,002 messages and 86.9 MB in 2.9 s.

Run: ``.venv/bin/python benchmarks/bench_loop_traffic.py`` (writes results/loop_traffic.json).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from board_replay import replay  # noqa: E402
from harness import KernelSession  # noqa: E402

SETUP = r"""
import itertools, json, time
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from lc_callbacks_nb import LiveStreamHandler

class NativeFake(GenericFakeChatModel):
    # yields on the loop: no run_in_executor hop per chunk (see bench_live_panels.py)
    async def _astream(self, messages, stop=None, run_manager=None, **kw):
        for chunk in self._stream(messages, stop=stop, run_manager=None, **kw):
            yield chunk

REPLY = "The answer is forty two."  # GenericFakeChatModel: words + spaces = 9 tokens
model = NativeFake(messages=itertools.repeat(AIMessage(content=REPLY)))

async def loop(n, handlers):
    t0 = time.perf_counter()
    for i in range(n):
        async for _ in model.astream(f"question {i}", config={"callbacks": handlers}):
            pass
    return time.perf_counter() - t0
"""

FPS = 20
CONSTANT = 5  # the panel's first appearance, the cell-end draw, a state sync or two


def measure(k: KernelSession, runs: int) -> dict[str, float]:
    base = k.run(f"print(json.dumps(await loop({runs}, [])))", timeout=600)
    base_seconds = json.loads(base.stdout.strip().splitlines()[-1])
    start = len(k.iopub)
    t0 = time.monotonic()
    res = k.run(
        f"h = LiveStreamHandler(fps={FPS})\nprint(json.dumps(await loop({runs}, [h])))",
        timeout=600,
    )
    cell_seconds = time.monotonic() - t0
    seconds = json.loads(res.stdout.strip().splitlines()[-1])
    time.sleep(1)  # let the tail of IOPub arrive
    msgs = k.iopub[start:]
    (board,) = replay(msgs)
    # What a browser draws: every run, done, with its whole text (state + ticks together).
    llm = board.ordered()
    assert len(llm) == runs or board.state.get("dropped"), (len(llm), runs)
    assert all(r.status == "done" for r in llm), {r.status for r in llm}
    mine = [
        m for m in msgs if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == board.comm_id
    ]
    json_bytes = sum(len(json.dumps(m["content"]["data"]).encode()) for m in mine)
    buffer_bytes = sum(len(b) for m in mine for b in m.get("buffers") or [])
    return {
        "runs": runs,
        "seconds": seconds,
        "cell_seconds": cell_seconds,
        "no_handler_seconds": base_seconds,
        "messages": len(mine),
        "ticks": board.ticks,
        "state_updates": board.state_updates,
        "message_budget": FPS * cell_seconds + CONSTANT,
        "json_bytes": json_bytes,
        "buffer_bytes": buffer_bytes,
        "bytes": json_bytes + buffer_bytes,
        "open_bytes": board.open_bytes,
        "rows_kept": len(llm),
        "dropped": board.state.get("dropped", 0),
    }


def main() -> None:
    results: dict[str, object] = {"fps": FPS, "budget": f"fps × cell seconds + {CONSTANT}"}
    with KernelSession() as k:
        k.run(SETUP)
        k.run("await loop(20, [LiveStreamHandler()])")  # warm-up: imports, first widget
        results["loops"] = [measure(k, runs) for runs in (1_000, 2_000)]
    results["before_redesign"] = {
        "runs": 2_000,
        "messages": 4_002,
        "bytes": 86_900_000,
        "seconds": 2.9,
    }
    out = HERE / "results" / "loop_traffic.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(render(results))


def render(r: dict) -> str:
    lines = [
        f"| short runs in one cell (fps={r['fps']}) | seconds in the loop (cell) "
        "| no handler s | comm messages (ticks + state) | budget fps×s+5 "
        "| bytes (JSON + buffers) |",
        "|---|---|---|---|---|---|",
    ]
    for x in r["loops"]:
        lines.append(
            f"| {x['runs']:,} | {x['seconds']:.2f} ({x['cell_seconds']:.2f}) "
            f"| {x['no_handler_seconds']:.2f} "
            f"| {x['messages']} ({x['ticks']} + {x['state_updates']}) | {x['message_budget']:.0f} "
            f"| {x['bytes']:,} ({x['json_bytes']:,} + {x['buffer_bytes']:,}) |"
        )
    b = r["before_redesign"]
    lines.append(
        f"| before the redesign: {b['runs']:,} | {b['seconds']} | | {b['messages']:,} | "
        f"| {b['bytes']:,} |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
