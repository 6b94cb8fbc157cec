"""Kernel -> browser traffic at real paces, in a real kernel: stock ChatOpenAI over real HTTP to
the embedded server, one answer of real English prose (Python's own help texts), fps 20.

For each pace (full speed, 300, 100, 50 tokens/s) one 3,000-token answer; and the issue's long
case, 20,000 tokens at 50 tokens/s (400 s). Counted from IOPub as a front-end receives it: the
board's comm messages after its open, bytes = the message data as JSON (as jupyter_client packs
it) + binary buffers. Budget: bytes <= 1.3 x text + 60 B per message.

``--before PATH`` runs the same measurements on another checkout (e.g. ``git worktree add
/tmp/old f8c6ca6``, the code before issue #16) in its own kernel, side by side; without it, the
"before" figures of the previous results file are kept. ``--quick`` leaves out the 400-s case.

Run: ``.venv/bin/python benchmarks/bench_traffic.py [--before PATH] [--quick]``
(writes results/traffic.json).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from board_replay import replay, wire_bytes  # noqa: E402
from harness import KernelSession  # noqa: E402

from lc_callbacks_nb.offline.server_script import tokenize  # noqa: E402
from lc_callbacks_nb.server import LocalChatServer  # noqa: E402

FPS = 20
PACES: list[tuple[str, float, int]] = [  # label, tokens/s (0: full speed), tokens
    ("full speed", 0, 3000),
    ("300 tokens/s", 300, 3000),
    ("100 tokens/s", 100, 3000),
    ("50 tokens/s", 50, 3000),
]
LONG = ("50 tokens/s, long", 50, 20_000)

SETUP = """
import time
from langchain_openai import ChatOpenAI
from lc_callbacks_nb import LiveStreamHandler
"""


def answer(tokens: int) -> str:
    from pydoc_data.topics import topics

    return "".join(tokenize(" ".join(topics[k] for k in sorted(topics)))[:tokens])


def measure(k: KernelSession, pace: float, tokens: int, check: bool) -> dict[str, Any]:
    text = answer(tokens)
    with LocalChatServer(script={"long": text}, token_delay=1 / pace if pace else 0.0) as srv:
        start = len(k.iopub)
        res = k.run(
            f"m = ChatOpenAI(base_url={srv.base_url!r}, api_key='sk-local', model='gpt-4o-mini',"
            f" streaming=True, max_retries=0, callbacks=[LiveStreamHandler(fps={FPS})])\n"
            "t0 = time.perf_counter(); r = await m.ainvoke('long')\n"
            "print(time.perf_counter() - t0, r.content == " + repr(text) + ")",
            timeout=1200,
        )
    seconds, same = res.stdout.split()
    assert same == "True"
    time.sleep(1)  # the flush thread's last messages
    msgs = k.iopub[start:]
    board = next(
        m["content"]["comm_id"] for m in msgs
        if m["msg_type"] == "comm_open"
        and m["content"]["data"]["state"].get("_anywidget_id", "").endswith("RunBoardWidget")
    )
    mine = [m for m in msgs if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == board]
    size = sum(wire_bytes(m["content"]["data"], [bytes(b) for b in m.get("buffers") or []])
               for m in mine)
    text_bytes = len(text.encode())
    if check:  # what crossed the wire rebuilds the answer (the code of this checkout only)
        assert replay(msgs)[0].texts() == [text]
    return {
        "pace": pace,
        "tokens": tokens,
        "seconds": round(float(seconds), 2),
        "text_bytes": text_bytes,
        "messages": len(mine),
        "bytes": size,
        "ratio": round(size / text_bytes, 2),
        "budget": round(1.3 * text_bytes + 60 * len(mine)),
        "within_budget": size <= 1.3 * text_bytes + 60 * len(mine),
    }


def run_all(env: dict[str, str] | None, check: bool, long: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with KernelSession(env=env) as k:
        k.run(SETUP)
        k.run("import lc_callbacks_nb; print(lc_callbacks_nb.__file__)")
        for label, pace, tokens in PACES + ([LONG] if long else []):
            out[label] = measure(k, pace, tokens, check)
            print(label, out[label], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", help="a checkout of the code to compare with")
    parser.add_argument("--quick", action="store_true", help="leave out the 400-s case")
    args = parser.parse_args()
    path = HERE / "results" / "traffic.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    results: dict[str, Any] = {"fps": FPS, "budget": "1.3 x text + 60 B per message"}
    results["after"] = run_all(None, check=True, long=not args.quick)
    if args.before:
        commit = subprocess.run(
            ["git", "-C", args.before, "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()
        before = run_all({"PYTHONPATH": args.before}, check=False, long=not args.quick)
        results["before"] = {"commit": commit, **before}
    elif "before" in old:
        results["before"] = old["before"]
    if args.quick and LONG[0] in old.get("after", {}):  # the long case measured earlier
        results["after"][LONG[0]] = old["after"][LONG[0]]
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    print(render(results))


def render(r: dict[str, Any]) -> str:
    before = r.get("before", {})
    lines = [
        "| answer, pace | seconds | messages | bytes | bytes ÷ text | budget 1.3 × text + 60/msg "
        f"| before ({before.get('commit', '?')}): messages, bytes, ÷ text |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, x in r["after"].items():
        if not x:
            continue
        b = before.get(label)
        old = f"{b['messages']:,}, {b['bytes']:,}, {b['ratio']}" if b else ""
        ok = "within" if x["within_budget"] else "**over**"
        lines.append(
            f"| {x['tokens']:,} tokens ({x['text_bytes']:,} B), {label} | {x['seconds']} "
            f"| {x['messages']:,} | {x['bytes']:,} | {x['ratio']} | {x['budget']:,} ({ok}) "
            f"| {old} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
