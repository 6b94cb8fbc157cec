"""Run every benchmark in this folder, one after another (`make bench`).

Each script prints a Markdown table and writes its JSON to benchmarks/results/; the README's
Performance section quotes those tables.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "bench_live_panels.py",
    "bench_traffic.py",
    "bench_loop_traffic.py",
    "bench_long_session.py",
    "bench_sync_handlers.py",
    "bench_saved_size.py",
    "bench_frontend.py",
    "bench_agent_values.py",
]


def main() -> int:
    failed = 0
    for script in SCRIPTS:
        print(f"\n## {script}\n", flush=True)
        failed += subprocess.call([sys.executable, str(HERE / script)]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
