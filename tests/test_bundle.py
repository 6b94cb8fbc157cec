"""The shipped board renderer agrees with its sources, and crosses the wire once per kernel.

``lc_callbacks_nb/views/static/board.bundle.js`` is built by ``make js`` (npm ci + esbuild) and
committed, so installing the package needs no Node. Its first line records a sha256 over its
sources and package-lock.json; recomputed here in Python, a stale bundle fails without node.
With node and npm present, the bundle is also rebuilt into a temporary folder and compared
byte for byte (skipped, with the reason, when they are missing or npm cannot fetch).

The same build writes js/third-party-licenses.json (the npm packages the bundle holds, with their
licence texts), carrying the same sources hash; THIRD_PARTY_NOTICES.md is rendered from it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from lc_callbacks_nb.views import widget as w

VIEWS = Path(w.__file__).parent
JS = VIEWS / "js"
LICENSES = JS / "third-party-licenses.json"


def inputs() -> list[str]:
    """As js/build.mjs lists them: paths relative to views/, posix, sorted."""
    src = sorted(f"js/src/{p.name}" for p in (JS / "src").glob("*.js"))
    fixed = ["board.js", "board.css", "js/build.mjs", "js/package.json", "js/package-lock.json"]
    return sorted([*fixed, *src])


def sources_hash() -> str:
    h = hashlib.sha256()
    for rel in inputs():
        h.update(rel.encode() + b"\0")
        h.update((VIEWS / rel).read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def test_bundle_header_matches_its_sources():
    head = w.BUNDLE.read_bytes()[:300]
    found = re.search(rb"sources-sha256=([0-9a-f]{64})", head)
    assert found, "the bundle has no sources-sha256 header: rebuild it with `make js`"
    assert found.group(1).decode() == sources_hash(), (
        "static/board.bundle.js was not built from the current sources: run `make js`"
    )


def test_licence_report_and_notices_match_the_bundle(third_party_notices):
    """The bundle's licence report is from the same build, and the notices render it as it is."""
    report = json.loads(LICENSES.read_text())
    assert report["sourcesSha256"] == sources_hash(), (
        "js/third-party-licenses.json was not built from the current sources: run `make js`"
    )
    names = {p["name"] for p in report["packages"]}
    assert {"markdown-it", "dompurify", "highlight.js"} <= names, names
    board = third_party_notices.BUILDS[0]
    assert board.report == LICENSES
    notices = third_party_notices.NOTICES.read_text()
    assert third_party_notices.section(board) in notices, (
        "THIRD_PARTY_NOTICES.md does not list what the bundle holds: run `make js`"
    )


def test_bundle_has_one_esm_file_and_no_remote_import():
    text = w.BUNDLE.read_text()
    assert "export{" in text.replace(" ", "") or "export default" in text
    assert not re.search(r"""import\s*\(?\s*["']https?:""", text), "a remote import in the bundle"


def test_library_carries_the_bundle_once_and_boards_only_a_loader():
    code, key = w.bundle_payload()
    assert zlib.decompress(code) == w.BUNDLE.read_bytes()
    assert key == sources_hash()[:16]
    a, b = w.RunBoardWidget(), w.RunBoardWidget()
    lib = w.board_library()
    assert a.lib == b.lib == lib.model_id  # one library model per kernel session
    assert lib.code == code and lib.hash == key
    assert len(a._esm) < 3000, "a board's own _esm should be only the loader"
    assert not getattr(a, "_css", None)
    # what crosses the wire per board: the loader and the state, not the renderer
    state = a.get_state()
    assert "code" not in state and len(str(state)) < 4000


def test_stop_request_reaches_on_stop_only_when_well_formed():
    stops: list[str] = []
    errors: list[BaseException] = []
    view = w.WidgetView(on_stop=stops.append, on_error=errors.append)
    view.widget = w.RunBoardWidget()
    view.widget.on_msg(view._on_front_msg)
    view._rows["run-1"] = {"id": "run-1", "kind": "llm", "status": "running"}
    for bad in (
        None, "stop", [], {"k": "stop"}, {"k": "stop", "run": 3}, {"k": "tick", "run": "run-1"},
        {"k": "stop", "run": "run-unknown"}, {"run": "run-1"},
    ):  # fmt: skip
        view.widget._handle_custom_msg(bad, [])
    assert stops == []
    view.widget._handle_custom_msg({"k": "stop", "run": "run-1"}, [])
    assert stops == ["run-1"]

    def boom(_run: str) -> None:
        raise RuntimeError("stop failed")

    view.on_stop = boom
    view.widget._handle_custom_msg({"k": "stop", "run": "run-1"}, [])  # never raises
    assert [str(e) for e in errors] == ["stop failed"]
    view.on_stop = None
    view.widget._handle_custom_msg({"k": "stop", "run": "run-1"}, [])


def test_rebuild_gives_the_same_bytes(tmp_path: Path):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are not installed: only the sources hash is checked")
    views = tmp_path / "views"
    (views / "js").mkdir(parents=True)
    for rel in inputs():
        dest = views / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(VIEWS / rel, dest)
    try:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"],
            cwd=views / "js", check=True, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"npm ci could not install the pinned packages: {exc}")
    out, licenses = tmp_path / "bundle.js", tmp_path / "licenses.json"
    subprocess.run(
        [node, "build.mjs", "--out", str(out), "--licenses", str(licenses)],
        cwd=views / "js", check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    same = out.read_bytes() == w.BUNDLE.read_bytes()
    assert same, "`make js` output differs from the shipped bundle"
    assert licenses.read_bytes() == LICENSES.read_bytes(), "run `make js`: the licence report"


WIRE_SETUP = """
from langchain_openai import ChatOpenAI
from langchain_core.messages import HumanMessage
from lc_callbacks_nb import LiveStreamHandler
chat = ChatOpenAI(base_url={base_url!r}, api_key="sk-local", model="gpt-4o-mini",
                  streaming=True, max_retries=0, callbacks=[LiveStreamHandler()])
"""
CELL = 'await chat.ainvoke([HumanMessage("hello there, a short prompt")])'


def _comm_bytes(msgs: list[dict], comm_ids: set[str]) -> int:
    import json

    total = 0
    for m in msgs:
        c = m["content"]
        if m["msg_type"] in ("comm_open", "comm_msg") and c.get("comm_id") in comm_ids:
            total += len(json.dumps(c["data"])) + sum(len(b) for b in m.get("buffers") or [])
    return total


def test_renderer_crosses_the_wire_once_per_kernel(capsys):
    """First board: library + board; every later board: its loader and state only."""
    from board_replay import library_opens, replay
    from harness import KernelSession

    from lc_callbacks_nb.server import LocalChatServer

    with LocalChatServer(echo=True, token_delay=0.0) as srv, KernelSession() as k:
        k.run(WIRE_SETUP.format(base_url=srv.base_url))
        per_cell = []
        for _ in range(3):
            start = len(k.iopub)
            k.run(CELL)
            msgs = k.iopub[start:]
            boards = replay(msgs)
            libs = library_opens(msgs)
            ids = {b.comm_id for b in boards} | {lib.comm_id for lib in libs}
            per_cell.append((boards, libs, _comm_bytes(msgs, ids)))
    (b1, l1, first), (b2, l2, second), (b3, l3, third) = per_cell
    assert len(l1) == 1 and not l2 and not l3, "the library must be opened once per kernel"
    assert b1[0].lib == b2[0].lib == b3[0].lib == l1[0].comm_id
    code, _ = w.bundle_payload()
    assert l1[0].bytes < len(code) + 2000
    assert second < 8000 and third < 8000, (second, third)
    with capsys.disabled():
        print(
            f"\nwire bytes: first board {first:,} (library {l1[0].bytes:,}, "
            f"board open {b1[0].open_bytes:,}); later boards {second:,}, {third:,} "
            f"(board open {b2[0].open_bytes:,})"
        )
