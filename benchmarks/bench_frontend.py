"""Front-end costs (issue #12), measured by the tests that exercise them, recorded here.

* Wire bytes per board: the first board of a kernel session (it carries the renderer library)
  and later boards (only their loader and state), from ``tests/test_bundle.py``.
* Browser render times: a 100,000-token Markdown answer with code blocks streamed at full speed
  into JupyterLab in Chromium; per-update render time p50/p95 and long tasks (> 50 ms), from
  ``tests/browser/test_lab_markdown.py::test_render_benchmark_100k_tokens``.
* Render cost by answer shape (issue #16): 100,000-token answers of five shapes (prose with
  blank lines, prose without, a tight list, a table, one fenced code block) streamed into the
  renderer on a static page in Chromium, one update per frame; per-update time p50/p95 in the
  first vs the last 10% of the stream and the page's long tasks, side by side with the renderer
  of the base commit (built from git into a temp file), from
  ``tests/browser/test_markdown_stream.py::test_render_benchmark_shapes`` (needs node and
  ``make js``'s node_modules).

Each prints one line of figures; this script runs them, parses those lines and writes
``results/frontend.json``. Figures, not assertions: the machine is shared.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUNDLE = ROOT / "lc_callbacks_nb" / "views" / "static" / "board.bundle.js"


def _pytest(node: str, timeout: int = 900, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", node, "-q", "-s", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
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
    shapes = _pytest(
        "tests/browser/test_markdown_stream.py::test_render_benchmark_shapes",
        timeout=3600,
        env={"LCNB_BENCH": "1"},
    )
    b = re.search(r"markdown stream benchmark: (\{.*\})", shapes)
    if b is None:
        raise SystemExit("no shape figures in the test's output")
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
        "render_shapes_100k_tokens": json.loads(b.group(1)),
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
    _print_shapes(results["render_shapes_100k_tokens"])
    return 0


def _print_shapes(figures: dict) -> None:
    base = figures["base_commit"][:7]
    print(
        f"\nRender per update by shape, 100,000 tokens, {figures['tokens_per_update']} tokens per"
        f" update (one per frame); before = {base}\n"
    )
    head = "| shape | renderer | first 10%: p50 / p95 | last 10%: p50 / p95 | slowest |"
    print(head + " long tasks (longest) |")
    print("|---|---|---|---|---|---|")
    for shape, row in figures["shapes"].items():
        for name, label in (("old", "before"), ("new", "now")):
            f = row[name]
            print(
                f"| {shape} ({row['chars']:,} chars) | {label} | {f['early_p50']} / {f['early_p95']} ms "  # noqa: E501
                f"| {f['late_p50']} / {f['late_p95']} ms | {f['max_ms']} ms "
                f"| {f['longtasks']} ({f['longest_task_ms']} ms) |"
            )
    for kind, c in figures["control"].items():
        print(
            f"\nControl, Blink alone: the same {c['parts']:,} {'rows' if kind == 'table' else 'lines'}"  # noqa: E501
            f" appended to a plain <{'table' if kind == 'table' else 'p'}> over {c['frames']} frames:"  # noqa: E501
            f" {c['longtasks']} long tasks (longest {c['longest_task_ms']} ms)."
        )


if __name__ == "__main__":
    raise SystemExit(main())
