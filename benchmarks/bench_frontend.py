"""Front-end costs (issue #12), measured by the tests that exercise them, recorded here.

* Wire bytes per board: the first board of a kernel session (it carries the renderer library)
  and later boards (only their loader and state), from ``tests/test_bundle.py``.
* Browser render times: a 100,000-token Markdown answer with code blocks streamed at full speed
  into JupyterLab in Chromium; per-update render time p50/p95 and long tasks (> 50 ms), from
  ``tests/browser/test_lab_markdown.py::test_render_benchmark_100k_tokens``.

Both print one line of figures; this script runs them, parses those lines and writes
``results/frontend.json``. Figures, not assertions: the machine is shared.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUNDLE = ROOT / "lc_callbacks_nb" / "views" / "static" / "board.bundle.js"


def _pytest(node: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", node, "-q", "-s", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{node} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def main() -> int:
    import gzip

    raw = BUNDLE.read_bytes()
    wire = _pytest("tests/test_bundle.py::test_renderer_crosses_the_wire_once_per_kernel")
    m = re.search(
        r"first board ([\d,]+) \(library ([\d,]+), board open ([\d,]+)\); "
        r"later boards ([\d,]+), ([\d,]+)",
        wire,
    )
    if m is None:
        raise SystemExit("no wire figures in the test's output")
    render = _pytest("tests/browser/test_lab_markdown.py::test_render_benchmark_100k_tokens")
    r = re.search(r"browser render benchmark: (\{.*\})", render)
    if r is None:
        raise SystemExit("no render figures in the test's output")
    results = {
        "bundle_bytes": len(raw),
        "bundle_gzip_bytes": len(gzip.compress(raw, 9)),
        "wire": {
            "first_board": _int(m.group(1)),
            "library": _int(m.group(2)),
            "board_open": _int(m.group(3)),
            "later_boards": [_int(m.group(4)), _int(m.group(5))],
        },
        "render_100k_tokens": json.loads(r.group(1)),
    }
    (HERE / "results" / "frontend.json").write_text(json.dumps(results, indent=2) + "\n")
    w, f = results["wire"], results["render_100k_tokens"]
    print("| | |\n|---|---|")
    print(f"| bundle | {len(raw):,} B ({results['bundle_gzip_bytes']:,} B gzip) |")
    print(f"| first board's widget traffic | {w['first_board']:,} B (library {w['library']:,} B) |")
    print(f"| each later board | {w['later_boards'][0]:,} B |")
    print(f"| render per update, 100k tokens | p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms |")
    longest = f["longest_task_ms"]
    print(f"| long tasks > 50 ms | {f['longtasks_over_50ms']} (longest {longest} ms) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
