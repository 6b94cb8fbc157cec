"""A long session: 200 cells of runs in one real kernel with the extension loaded (%lc_stream on:
every run gets the panel, every run is recorded for %lc_runs).

Each cell streams two answers at once (``agenerate``, a native-async fake model, 200 tokens each).
Every 50 cells: the kernel's resident memory (after a garbage collection), the widget models
alive in the kernel (ipywidgets' instances: one board per cell, plus the renderer library) and
the open comms. ``--before PATH`` runs the same on another checkout, side by side.

Run: ``.venv/bin/python benchmarks/bench_long_session.py [--before PATH]``
(writes results/long_session.json).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from harness import KernelSession  # noqa: E402

CELLS = 200
EVERY = 50

SETUP = r"""
import gc, itertools, json, psutil
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
import ipywidgets.widgets.widget as _w
from comm import get_comm_manager

class NativeFake(GenericFakeChatModel):
    async def _astream(self, messages, stop=None, run_manager=None, **kw):
        for chunk in self._stream(messages, stop=stop, run_manager=None, **kw):
            yield chunk

from pydoc_data.topics import topics
REPLY = " ".join(" ".join(topics[k] for k in sorted(topics)).split()[:100])  # 200 tokens
model = NativeFake(messages=itertools.repeat(AIMessage(content=REPLY)))

def figures():
    gc.collect()
    return {"rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
            "widgets": len(_w._instances), "comms": len(get_comm_manager().comms)}
"""

CELL = "r = await model.agenerate([[HumanMessage('a')], [HumanMessage('b')]])"


def run(env: dict[str, str] | None) -> list[dict[str, Any]]:
    rows = []
    with KernelSession(env=env) as k:
        k.run(SETUP)
        k.run("%load_ext lc_callbacks_nb\n%lc_stream on --mode widget")
        rows.append({"cells": 0, **k.eval("figures()")})
        for i in range(1, CELLS + 1):
            k.run(CELL)
            if i % EVERY == 0:
                rows.append({"cells": i, **k.eval("figures()")})
                print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", help="a checkout of the code to compare with")
    args = parser.parse_args()
    path = HERE / "results" / "long_session.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    results: dict[str, Any] = {"cells": CELLS, "cell": CELL, "after": run(None)}
    if args.before:
        commit = subprocess.run(
            ["git", "-C", args.before, "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()
        results["before"] = {"commit": commit, "rows": run({"PYTHONPATH": args.before})}
    elif "before" in old:
        results["before"] = old["before"]
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    print(render(results))


def render(r: dict[str, Any]) -> str:
    before = {row["cells"]: row for row in r.get("before", {}).get("rows", [])}
    commit = r.get("before", {}).get("commit", "?")
    lines = [
        f"| cells run | kernel RSS, MB | widget models | open comms | before ({commit}): RSS, "
        "models, comms |",
        "|---|---|---|---|---|",
    ]
    for row in r["after"]:
        b = before.get(row["cells"])
        old = f"{b['rss_mb']}, {b['widgets']}, {b['comms']}" if b else ""
        lines.append(
            f"| {row['cells']} | {row['rss_mb']} | {row['widgets']} | {row['comms']} | {old} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
