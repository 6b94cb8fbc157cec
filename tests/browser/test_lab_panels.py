"""LiveStreamHandler's board in JupyterLab, in real Chromium, against the embedded server.

The server runs in the test process (``chat_server``) with a per-token delay, so a cell
streams for a few seconds: long enough to read the panel while the cell is still ``[*]``.
Every notebook is generated into the lab's temporary root at test time.
"""

from __future__ import annotations

import itertools
import json
import re
import time

import pytest
from labkit import CELL_TIMEOUT, LabPage, write_notebook

from lc_callbacks_nb.offline.server_script import tokenize
from lc_callbacks_nb.views.widget import saved_runs

pytestmark = pytest.mark.browser

LONG = (
    "Streaming keeps a notebook honest: every token arrives as soon as the model writes it, "
    "the panel grows line by line, and nobody stares at a frozen cell wondering whether the "
    "request died.\nThis reply is long on purpose, so that a browser test can read the panel "
    "mid-flight and check that what it saw was a prefix of what came at the end."
)
SYNC = "Why don't scientists trust atoms? Because they make up everything."
TRIO = {
    "alpha": "Alpha answers first, with a short line about apples and a few more words.",
    "beta": "Beta takes its time: bananas, bread, and a slower, longer sentence to finish.",
    "gamma": "Gamma is brief. Grapes.",
}
PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    "[click](javascript:window.__pwned=1)",
    "![x](http://evil.example/x.png)",
    "<a href='http://evil.example/'>a link</a>",
]
HOSTILE = "Payloads follow.\n" + "\n".join(f"{i}: {p}" for i, p in enumerate(PAYLOADS)) + "\nEnd."
SCRIPT = {"long": LONG, "sync": SYNC, "hostile": HOSTILE, **TRIO}
SYNC_LINE = "Sync handler being called in a `thread_pool_executor`: token: "


@pytest.fixture(autouse=True)
def _script(chat_server):
    chat_server.script = SCRIPT
    chat_server.token_delay = 0.04
    chat_server.reset()
    yield
    chat_server.reset()


def test_panel_streams_while_cell_runs_then_done_and_error(page: LabPage, lab, chat_server):
    """Claims 1 and 2: a mid-run reading is a strict prefix; streaming -> done; error shown."""
    assert len(tokenize(LONG)) >= 60  # about 3 s of streaming at 0.04 s a token
    name = write_notebook(
        lab,
        "stream.ipynb",
        [
            'res = await chat(live).agenerate([[HumanMessage("long")]])\n'
            "res.generations[0][0].text == "
            f"{LONG!r}",
            'await chat(live).agenerate([[HumanMessage("long")]])',
            'await chat(live).agenerate([[HumanMessage("long")]])',
        ],
        base_url=chat_server.base_url,
    )
    page.open(name)
    page.run_cell(0)

    page.start_cell(1)
    panel = page.panels(1).first
    panel.wait_for(timeout=CELL_TIMEOUT * 1000)
    readings: list[dict] = []  # text, prompt and status read in one JS turn
    shot_taken = False
    deadline = time.monotonic() + CELL_TIMEOUT
    while time.monotonic() < deadline:
        r = page.cell(1).evaluate(
            """cell => {
                const pre = cell.querySelector('.lcnb-panel > pre.lcnb-text');
                const st = cell.querySelector('.lcnb-panel .lcnb-status');
                return {text: pre ? pre.textContent : '',
                        status: st ? st.textContent.trim() : '',
                        prompt: cell.querySelector('.jp-InputArea-prompt').textContent.trim()};
            }"""
        )
        if r["prompt"] != "[*]:":
            break
        readings.append(r)
        if not shot_taken and len(r["text"]) > len(LONG) // 3:
            page.shot(1, "lab-mid-stream.png")
            shot_taken = True
        page.page.wait_for_timeout(100)
    page.wait_cell_done(1)

    mid = [r for r in readings if r["text"]]
    assert mid, f"no non-empty reading while the cell was [*]: {readings[-3:]}"
    texts = [r["text"] for r in mid]
    assert any(0 < len(t) < len(LONG) for t in texts), "never saw a partial text"
    for a, b in itertools.pairwise(texts):
        assert b.startswith(a), f"text shrank or changed: {a!r} -> {b!r}"
    assert len(set(texts)) >= 3, f"the text did not visibly grow while running: {texts}"
    for t in texts:
        assert (LONG.startswith(t) and len(t) < len(LONG)) or t == LONG
    assert {r["status"] for r in mid if len(r["text"]) < len(LONG)} == {"streaming"}

    assert page.panel_texts(1) == [LONG]
    assert page.statuses(1) == ["done"]
    assert page.cell(1).locator(".lcnb-board").count() == 1, "one board per cell"
    metrics = page.panels(1).first.locator(".lcnb-metrics").inner_text()
    assert re.search(r"\b\d+ tokens\b", metrics), metrics
    page.shot(1, "lab-final.png")
    # LangChain returned the same text (the cell's own result)
    assert page.cell(1).locator(".jp-OutputArea-output").last.inner_text().strip() == "True"

    # An injected server error: the panel says error, and why.
    chat_server.inject_fault("server_error")
    page.run_cell(2, allow_error=True)
    error_panel = page.panels(2).first
    assert page.statuses(2) == ["error"]
    error = error_panel.locator("div.lcnb-error")  # (the status badge has .lcnb-error too)
    assert error.is_visible()
    assert error.inner_text().strip(), "the error text is empty"
    assert "500" in error.inner_text() or "error" in error.inner_text().lower()
    # the traceback is in the cell too (the error reached the user unchanged)
    assert page.cell(2).locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() >= 1
    page.shot(2, "lab-error.png")

    # The connection drops after 12 tokens: the text so far stays, and the panel says error.
    chat_server.inject_fault("disconnect", after_tokens=12)
    page.run_cell(3, allow_error=True)
    assert page.statuses(3) == ["error"]
    [partial] = page.panel_texts(3)
    assert partial == "".join(tokenize(LONG)[:12]), partial
    assert page.panels(3).first.locator("div.lcnb-error").inner_text().strip()
    assert not page.foreign_requests(), page.foreign_requests()


def test_sync_handler_lines_in_same_cell(page: LabPage, lab, chat_server):
    """Claim 3: the reference page's sync handler prints per token, in the same cell."""
    handler = (
        "from langchain_core.callbacks import BaseCallbackHandler\n\n\n"
        "class MyCustomSyncHandler(BaseCallbackHandler):\n"
        "    def on_llm_new_token(self, token: str, **kwargs) -> None:\n"
        '        print(f"Sync handler being called in a `thread_pool_executor`: token: {token}")\n'
    )
    name = write_notebook(
        lab,
        "sync.ipynb",
        [handler, 'await chat(live, MyCustomSyncHandler()).agenerate([[HumanMessage("sync")]])'],
        base_url=chat_server.base_url,
    )
    page.open(name)
    page.run_cell(0)
    page.run_cell(1)
    page.run_cell(2)

    assert page.panel_texts(2) == [SYNC]
    assert page.statuses(2) == ["done"]
    out = page.cell(2).evaluate(
        """cell => [...cell.querySelectorAll(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stdout"]')]
             .map(o => o.textContent).join('')"""
    )
    lines = [ln for ln in out.split("\n") if ln.startswith(SYNC_LINE)]
    tokens = [ln[len(SYNC_LINE) :] for ln in lines]
    assert "".join(tokens) == SYNC, out
    assert len([t for t in tokens if t]) == len(tokenize(SYNC))
    # and in no other cell
    for i in (0, 1):
        assert SYNC_LINE not in page.cell(i).locator(".jp-Cell-outputWrapper").inner_text()


def test_three_concurrent_generations(page: LabPage, lab, chat_server):
    """Claim 4: three concurrent runs, three panels, each with its own text."""
    # LangChain ends every run of a batch together, when the longest (18 tokens) is done:
    # a slower stream leaves a wide window to see all three panels streaming at once.
    chat_server.token_delay = 0.08
    name = write_notebook(
        lab,
        "trio.ipynb",
        [
            "res = await chat(live).agenerate([[HumanMessage(p)] for p in "
            f"{list(TRIO)!r}])\n"
            "[g[0].text for g in res.generations]"
        ],
        base_url=chat_server.base_url,
    )
    page.open(name)
    page.run_cell(0)
    page.start_cell(1)
    # all three panels exist, and stream, before any finishes
    # one reading, in one JS turn: three panels, all with text, all streaming, cell still [*]
    page.page.wait_for_function(
        """cell => {
            const texts = [...cell.querySelectorAll('.lcnb-panel > pre.lcnb-text')];
            const status = [...cell.querySelectorAll('.lcnb-panel .lcnb-status')];
            return texts.length === 3 && texts.every(p => p.textContent.length > 0)
                && status.every(s => s.textContent.trim() === 'streaming')
                && cell.querySelector('.jp-InputArea-prompt').textContent.trim() === '[*]:';
        }""",
        arg=page.cell(1).element_handle(),
        timeout=CELL_TIMEOUT * 1000,
    )
    page.shot(1, "lab-three-streaming.png")
    page.wait_cell_done(1)
    assert page.panel_texts(1) == list(TRIO.values())
    assert page.statuses(1) == ["done"] * 3
    names = page.panels(1).locator(".lcnb-name").all_inner_texts()
    assert len(names) == 3
    page.shot(1, "lab-three-panels.png")


def test_hostile_tokens_are_literal_text(page: LabPage, lab, chat_server):
    """Claim 5: HTML/Markdown in tokens stays text; no script runs; no request leaves."""
    name = write_notebook(
        lab,
        "hostile.ipynb",
        ['_ = await chat(live).agenerate([[HumanMessage("hostile")]] + [[HumanMessage(p)] '
         f"for p in {PAYLOADS!r}])"],
        base_url=chat_server.base_url,
    )  # fmt: skip
    page.open(name)
    page.run_cell(0)
    page.run_cell(1)
    page.page.wait_for_timeout(1000)  # room for a late onerror / fetch to show itself

    texts = page.panel_texts(1)
    assert texts == [HOSTILE, *PAYLOADS]
    assert page.statuses(1) == ["done"] * (1 + len(PAYLOADS))
    board = page.cell(1).locator(".lcnb-board")
    for tag in ("img", "script", "iframe", "object", "embed", "svg", "style"):
        assert board.locator(tag).count() == 0, f"a <{tag}> element inside the board"
    # Markdown links survive only as safe http(s)/mailto links that open in a new tab
    for link in board.locator("a").all():
        href = link.get_attribute("href") or ""
        assert href.startswith(("http://", "https://", "mailto:")), href
        assert link.get_attribute("target") == "_blank"
        assert link.get_attribute("rel") == "noopener noreferrer"
    full = board.evaluate("b => b.textContent")
    for p in PAYLOADS:
        assert p in full
    assert page.page.evaluate("() => window.__pwned") is None
    assert page.page.evaluate("() => typeof window.__pwned") == "undefined"
    assert not page.foreign_requests(), page.foreign_requests()
    assert not [u for u in page.requests if "evil.example" in u or u.endswith("/x")]
    page.shot(1, "lab-hostile.png")


def test_saved_notebook_reopens_with_final_text(new_page, lab, chat_server):
    """Claim 6: saved with widget state, reopened in a new page: text without re-running."""
    name = write_notebook(
        lab,
        "saved.ipynb",
        ['_ = await chat(live).agenerate([[HumanMessage(p)] for p in ["alpha", "beta", "long"]])'],
        base_url=chat_server.base_url,
    )
    first = new_page()
    first.open(name)
    first.run_cell(0)
    first.run_cell(1)
    expected = [TRIO["alpha"], TRIO["beta"], LONG]
    assert first.panel_texts(1) == expected
    first.save()

    saved = json.loads((lab.root / name).read_text())
    state = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    boards = [m for m in state.values() if "runs" in m["state"]]
    assert len(boards) == 1
    rows = saved_runs(boards[0])  # the widget's own reader of its saved state
    assert [r.get("text", {}).get("text") for r in rows] == expected, json.dumps(rows, indent=1)
    saved_count = saved["cells"][1]["execution_count"]

    first.page.context.close()
    lab.shutdown_kernels()  # nothing left in any kernel: only the file can show the panels
    requests_before = len(chat_server.requests)

    second = new_page()
    second.open(name)
    second.panels(1).first.wait_for(timeout=CELL_TIMEOUT * 1000)
    second.page.wait_for_function(
        """cell => cell.querySelectorAll('.lcnb-panel').length === 3""",
        arg=second.cell(1).element_handle(),
    )
    assert second.panel_texts(1) == expected
    assert second.statuses(1) == ["done"] * 3
    assert second.prompt(1) == f"[{saved_count}]:", "the cell ran again"
    assert len(chat_server.requests) == requests_before, "the model was called again"
    second.shot(1, "lab-reopened.png")


def test_table_mode(page: LabPage, lab, chat_server):
    """Above max_panels the board is a table; a click on a row shows the run's full text."""
    chat_server.token_delay = 0.005
    prompts = [f"row {i}: " + " ".join(f"word{i}x{j}" for j in range(12)) for i in range(6)]
    name = write_notebook(
        lab,
        "table.ipynb",
        [f"_ = await chat(live).agenerate([[HumanMessage(p)] for p in {prompts!r}])"],
        base_url=chat_server.base_url,
        handler_args="max_panels=3",
    )
    page.open(name)
    page.run_cell(0)
    page.run_cell(1)
    board = page.cell(1).locator(".lcnb-board")
    assert board.locator(".lcnb-panel").count() == 0
    rows = board.locator("table.lcnb-table tr.lcnb-row")
    assert rows.count() == 6
    assert [s.strip() for s in rows.locator(".lcnb-status").all_inner_texts()] == ["done"] * 6
    rows.nth(2).click()
    detail = board.locator("tr.lcnb-detail").nth(2)
    assert detail.is_visible()
    assert detail.locator("pre.lcnb-text").inner_text() == prompts[2]
    page.shot(1, "lab-table.png")
