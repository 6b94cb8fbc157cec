"""A view that opens mid-stream shows the whole text and keeps streaming (issue #16).

The kernel sends each piece of text once, as a tick; it no longer re-sends the running text into
widget state every 5 s. So a view that opens late must get the text it missed another way:

* "Create New View for Cell Output" (a second view of the same widget model): the model's store,
  shared by every view of it, already holds the whole text; the kernel is not asked. This works
  in a sync cell too, where the kernel could not answer.
* a page reload mid-stream (the notebook saved first, so the output comes back): the widget
  manager rebuilds the model from the kernel's state, which carries no live text; the store
  asks the kernel (``catch_up``) and applies the answer, then the ticks that follow. In a sync
  cell the kernel answers neither the widget manager nor us until the cell ends: the board
  comes back then, whole.

The answer is long (24,000 tokens, ~100 KB), streamed fast enough to keep the test short; the
late view is made after 10,000 tokens.
"""

from __future__ import annotations

import hashlib
import re
import time

import pytest
from labkit import CELL_TIMEOUT, NOTEBOOK, LabPage, write_notebook

from lc_callbacks_nb.offline.server_script import tokenize

pytestmark = pytest.mark.browser

TOKENS = 24_000
LATE_AT = 10_000


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def long_answer() -> str:
    from pydoc_data.topics import topics

    text = " ".join(topics[k] for k in sorted(topics))
    tokens = tokenize(text)[:TOKENS]
    assert len(tokens) == TOKENS
    return "".join(tokens)


LONG = long_answer()
# the cell checks LangChain's reply by its hash (60 KB in a cell's source would slow the editor)
SAME = f"__import__('hashlib').sha256(r.content.encode()).hexdigest() == {sha256(LONG)!r}"
LINKED = ".jp-LinkedOutputView"
TEXT_OF = """root => [...root.querySelectorAll('.lcnb-panel > pre.lcnb-text')]
                         .map(p => p.textContent)"""


@pytest.fixture(autouse=True)
def _script(chat_server):
    chat_server.script = {"long": LONG}
    chat_server.token_delay = 0.0012  # ~30 s for the whole answer
    chat_server.reset()
    yield
    chat_server.reset()


def tokens_shown(page: LabPage, i: int) -> int:
    metrics = page.cell(i).evaluate(
        "cell => (cell.querySelector('.lcnb-panel .lcnb-metrics') || {}).textContent || ''"
    )
    found = re.search(r"(\d+) tokens", metrics)
    return int(found.group(1)) if found else 0


def wait_tokens(page: LabPage, i: int, n: int) -> None:
    deadline = time.monotonic() + CELL_TIMEOUT
    while tokens_shown(page, i) < n:
        assert time.monotonic() < deadline, f"never reached {n} tokens ({tokens_shown(page, i)})"
        page.page.wait_for_timeout(100)
    assert tokens_shown(page, i) < TOKENS, "the run ended before the late view could open"


def linked_texts(page: LabPage) -> list[str]:
    return page.page.locator(LINKED).last.evaluate(TEXT_OF)


def new_output_view(page: LabPage, i: int) -> None:
    """Right-click the cell's output, "Create New View for Cell Output"."""
    page.cell(i).locator(".jp-OutputArea-output").first.click(button="right")
    page.page.locator(".lm-Menu-item", has_text="Create New View for Cell Output").click()
    page.page.locator(f"{LINKED} .lcnb-panel").last.wait_for(timeout=CELL_TIMEOUT * 1000)


def grows_to_the_end(read, before: str) -> list[str]:
    """Readings of a late view until the cell ends: each a prefix of the answer, the first at
    least as long as the original view was just before the late one opened, growing."""
    readings = []
    deadline = time.monotonic() + CELL_TIMEOUT
    while time.monotonic() < deadline:
        (text,) = read()
        readings.append(text)
        if text == LONG:
            break
        time.sleep(0.25)
    assert readings[0].startswith(before) or len(readings[0]) >= len(before)
    for text in readings:
        assert LONG.startswith(text), f"not a prefix of the answer at {len(text)} characters"
    return readings


@pytest.mark.parametrize("call", ["await chat(live).ainvoke('long')", "chat(live).invoke('long')"])
def test_a_new_view_of_the_output_shows_the_whole_text_and_streams(page: LabPage, lab,
                                                                    chat_server, call):
    name = write_notebook(
        lab, f"new-view-{'async' if 'await' in call else 'sync'}.ipynb",
        [f"r = {call}\n{SAME}"], base_url=chat_server.base_url,
    )
    page.open(name)
    page.run_cell(0)
    page.start_cell(1)
    wait_tokens(page, 1, LATE_AT)
    (before,) = page.cell(1).evaluate(TEXT_OF)
    new_output_view(page, 1)
    readings = grows_to_the_end(lambda: linked_texts(page), before)
    assert len(readings[0]) >= len(before) >= LATE_AT  # the whole text at once, not the tail
    assert len(set(readings)) >= 2 or readings[0] == LONG
    page.wait_cell_done(1)
    assert linked_texts(page) == [LONG]
    assert page.panel_texts(1) == [LONG]
    assert page.cell(1).locator(".jp-OutputArea-output").last.inner_text().strip() == "True"


RELOADS = {
    # a stream in a task the cell started: the kernel is idle, the page is rebuilt at once
    "task": ["task = asyncio.ensure_future(chat(live).ainvoke('long'))", f"r = await task\n{SAME}"],
    # the cell itself runs the stream (a sync cell; an async cell is the same)
    "cell": [f"r = chat(live).invoke('long')\n{SAME}", "1"],
}


@pytest.mark.parametrize("where", list(RELOADS))
def test_a_reload_mid_stream_catches_up_and_streams(new_page, lab, chat_server, where):
    """A reload while the kernel is idle and a task streams: the page rebuilds the model, asks,
    and the panel goes on streaming from the whole text. A reload while the cell that streams
    runs: ipykernel (7.4) answers no kernel_info or comm_info request until the cell ends, in a
    sync and an async cell alike, so the page cannot rebuild its widgets before; the board
    comes back then, whole. Either way, never a text with a piece missing."""
    page = new_page()
    name = write_notebook(
        lab, f"reload-{where}.ipynb", ["import asyncio", *RELOADS[where]],
        base_url=chat_server.base_url,
    )
    page.open(name)
    page.run_cell(0)
    page.run_cell(1)
    # cell 2 streams, or starts the task that streams into cell 2's board
    (page.run_cell if where == "task" else page.start_cell)(2)
    wait_tokens(page, 2, LATE_AT)
    page.save()  # the output (a widget view of the board's model) comes back with the file
    (before,) = page.cell(2).evaluate(TEXT_OF)
    page.page.goto(lab.url + f"/lab/tree/{name}")  # a reload: same kernel, same session
    page.notebook.locator(".lcnb-board .lcnb-panel").first.wait_for(timeout=CELL_TIMEOUT * 1000)
    readings = grows_to_the_end(lambda: page.cell(2).evaluate(TEXT_OF), before)
    assert len(readings[0]) >= len(before)  # the text so far at once, not its tail
    assert readings[-1] == LONG
    if where == "task":
        assert len(set(readings)) >= 2, "the reloaded panel did not go on streaming"
    page.page.wait_for_function(
        f"() => document.querySelectorAll('{NOTEBOOK} .lcnb-status').length > 0 && "
        f"[...document.querySelectorAll('{NOTEBOOK} .lcnb-status')].every("
        "s => s.textContent.trim() === 'done')",
        timeout=CELL_TIMEOUT * 1000,
    )
    if where == "task":
        page.wait_kernel_idle()
        page.run_cell(3)  # LangChain's own reply is the same text
        assert page.cell(3).locator(".jp-OutputArea-output").last.inner_text().strip() == "True"
