"""What an agent's node inputs and outputs cost to show, by turns (#17): repr vs the reader.

A real ``create_agent`` with two tools (stock ``ChatOpenAI`` over HTTP to the embedded
``LocalChatServer``) runs N model turns (each of the first N - 1 calls one tool, the last
answers), in-process, with one plain callback handler that takes every chain, tool and
retriever input and output as LangChain hands it and shows it both ways, side by side:

* **repr preview**: what the panels showed before the reader, ``repr()`` redacted and clipped at
  300 characters (``live/runs.preview``); "stands for" adds what its clip marker says was cut;
* **reader**: ``live/values.read`` with one ledger for the run (a message shown earlier folds),
  as the panel, the twin and ``%lc_runs`` now do; "stands for" adds what its clip notes say.

Per N: bytes shown (JSON for the reader, UTF-8 for the preview), characters they stand for,
the median time per value and the time in all (both read every message a node is handed: the
repr writes each, the reader looks each up in its ledger). Linear growth reads as ×2 per
doubling of N; quadratic as ×4.

Run: ``.venv/bin/python benchmarks/bench_agent_values.py [OUT.json]`` (writes
results/agent_values.json unless told otherwise; about 10 s).
"""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_openai import ChatOpenAI

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from board_replay import stands_for  # (what a shown value stands for)
from chat_tools import get_time, get_weather  # the two tools the tests' agents use

from lc_callbacks_nb.live.runs import preview
from lc_callbacks_nb.live.values import Ledger, read
from lc_callbacks_nb.server import LocalChatServer, Reply, ToolCall

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "agent_values.json"
TURNS = (5, 10, 20, 40)
OLD_CLIP = 300  # what langchain/events.py clipped previews at before the reader


def question(n: int) -> str:
    return f"Plan {n} stops."


def script(n: int) -> list[Any]:
    tools = ("get_weather", "get_time")
    calls = [
        Reply(tool_calls=[ToolCall(tools[i % 2], {"city": f"City {i}"})]) for i in range(n - 1)
    ]
    return [*calls, f"Here is the plan for {n} stops."]


class BothWays(BaseCallbackHandler):
    """Shows every chain/tool/retriever input and output both ways, timing each."""

    run_inline = True

    def __init__(self) -> None:
        self.ledger = Ledger()
        self.old = {"bytes": 0, "stands_for": 0, "us": []}
        self.new = {"bytes": 0, "stands_for": 0, "us": []}

    def show(self, value: Any) -> None:
        t0 = time.perf_counter()
        old = preview(value, OLD_CLIP)
        t1 = time.perf_counter()
        new = read(value, self.ledger)
        t2 = time.perf_counter()
        self.old["bytes"] += len(old.encode())
        self.old["stands_for"] += stands_for(old)
        self.old["us"].append((t1 - t0) * 1e6)
        self.new["bytes"] += len(json.dumps(new, ensure_ascii=False).encode())
        self.new["stands_for"] += stands_for(new)
        self.new["us"].append((t2 - t1) * 1e6)

    def on_chain_start(self, serialized, inputs, **kw):  # type: ignore[no-untyped-def]
        if "langsmith:hidden" not in (kw.get("tags") or ()):
            self.show(inputs)

    def on_chain_end(self, outputs, **kw):  # type: ignore[no-untyped-def]
        self.show(outputs)

    def on_tool_start(self, serialized, input_str, *, inputs=None, **kw):  # type: ignore[no-untyped-def]
        self.show(inputs if inputs is not None else input_str)

    def on_tool_end(self, output, **kw):  # type: ignore[no-untyped-def]
        self.show(getattr(output, "content", output))


async def measure(server: LocalChatServer, n: int) -> dict[str, Any]:
    model = ChatOpenAI(base_url=server.base_url, api_key="sk-local", model="gpt-4o-mini")
    agent = create_agent(model, tools=[get_weather, get_time])
    both = BothWays()
    state = await agent.ainvoke(
        {"messages": [{"role": "user", "content": question(n)}]},
        {"callbacks": [both], "recursion_limit": 4 * n + 10},
    )
    assert state["messages"][-1].content == f"Here is the plan for {n} stops."
    row: dict[str, Any] = {"turns": n, "values": len(both.new["us"])}
    for name, side in (("repr", both.old), ("reader", both.new)):
        row[name] = {
            "bytes": side["bytes"],
            "stands_for": side["stands_for"],
            "median_us": round(statistics.median(side["us"]), 1),
            "total_ms": round(sum(side["us"]) / 1000, 2),
        }
    return row


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    async def all_turns(server: LocalChatServer) -> list[dict[str, Any]]:
        return [await measure(server, n) for n in TURNS]  # one loop: the HTTP client is shared

    with LocalChatServer(script={question(n): script(n) for n in TURNS}) as server:
        rows = asyncio.run(all_turns(server))
    print("| turns | values | repr: bytes | repr: stands for | reader: bytes | reader: stands for "
          "| µs per value (median), repr / reader | ms in all, repr / reader |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        old, new = r["repr"], r["reader"]
        print(f"| {r['turns']} | {r['values']} | {old['bytes']:,} | {old['stands_for']:,} | "
              f"{new['bytes']:,} | {new['stands_for']:,} | "
              f"{old['median_us']} / {new['median_us']} | "
              f"{old['total_ms']} / {new['total_ms']} |")  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"python": platform.python_version(), "rows": rows}, indent=1) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
