"""A kernel that restarts or stops ends its boards' running runs, in JupyterLab and Chromium.

A slow stream (the embedded server, 0.1 s a token) runs in a cell; the kernel is restarted (or
shut down) from JupyterLab's Kernel menu while the panel streams. The panel must stop saying
``streaming``, say why (``kernel restarted`` / ``kernel gone``, a grey badge: neither green nor
red), keep the text it received, and its elapsed time must stop counting.
"""

from __future__ import annotations

import re
import time

import pytest
from labkit import CELL_TIMEOUT, KERNEL_TIMEOUT, LabPage, write_notebook

pytestmark = pytest.mark.browser

LONG = (
    "Restarting a kernel mid-stream must not leave a panel pretending: the tokens that arrived "
    "stay on screen, the clock stops, and the badge says the kernel went away, so nobody waits "
    "for a stream that can never finish. This reply is long on purpose, to be cut in the middle."
)
SCRIPT = {"long": LONG}
GREEN, RED = "rgb(24, 128, 56)", "rgb(197, 34, 31)"  # the done and error badges

ASYNC_CELL = 'await chat(live).ainvoke([HumanMessage("long")])'
SYNC_CELL = 'chat(live).invoke([HumanMessage("long")])'
FRESH_CELL = '"live" in globals()'  # False in a fresh kernel

READ = """cell => {
    const panel = cell.querySelector('.lcnb-board .lcnb-panel');
    if (!panel) return null;
    const badge = panel.querySelector('.lcnb-status');
    return {
        status: badge.textContent.trim(),
        cls: badge.className,
        bg: getComputedStyle(badge).backgroundColor,
        text: panel.querySelector(':scope > pre.lcnb-text').textContent,
        metrics: panel.querySelector('.lcnb-metrics').textContent,
        prompt: cell.querySelector('.jp-InputArea-prompt').textContent.trim(),
    };
}"""


@pytest.fixture(autouse=True)
def _script(chat_server):
    chat_server.script = SCRIPT
    chat_server.token_delay = 0.1  # about 8 s of streaming: a wide window for the restart
    chat_server.reset()
    yield
    chat_server.reset()


def read(page: LabPage, i: int) -> dict:
    return page.cell(i).evaluate(READ)


def wait_streaming(page: LabPage, i: int, min_chars: int = 20) -> None:
    """Until cell ``i``'s panel streams and shows some text (read in one JS turn)."""
    page.page.wait_for_function(
        f"""cell => {{
            const r = ({READ})(cell);
            return r && r.status === 'streaming' && r.text.length >= {min_chars};
        }}""",
        arg=page.cell(i).element_handle(),
        timeout=CELL_TIMEOUT * 1000,
    )


def wait_status(page: LabPage, i: int, status: str, timeout: float = 30) -> dict:
    try:
        page.page.wait_for_function(
            """([cell, status]) => {
                const b = cell.querySelector('.lcnb-board .lcnb-panel .lcnb-status');
                return b && b.textContent.trim() === status;
            }""",
            arg=[page.cell(i).element_handle(), status],
            timeout=timeout * 1000,
        )
    except Exception as exc:
        raise AssertionError(f"cell {i}'s panel never said {status!r}: {read(page, i)}") from exc
    return read(page, i)


def kernel_menu(page: LabPage, item: str) -> None:
    """Click ``Kernel > item`` in JupyterLab's menu bar."""
    page.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    page.page.locator(
        ".lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel",
        has_text=re.compile(f"^{re.escape(item)}$"),
    ).click()


def restart_kernel(page: LabPage) -> None:
    kernel_menu(page, "Restart Kernel…")
    accept = page.page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    assert accept.inner_text().strip() == "Restart"
    accept.click()


def elapsed(metrics: str) -> str:
    found = re.findall(r"(\d+(?:\.\d+)?) s\b", metrics)
    assert found, metrics
    return found[-1]


def assert_ended(page: LabPage, i: int, status: str, before: str) -> dict:
    """Cell ``i``'s panel says ``status`` in grey, kept its text, and its clock stopped."""
    r = wait_status(page, i, status)
    assert "lcnb-st-lost" in r["cls"], r
    assert r["bg"] not in (GREEN, RED), r
    # The text received so far stays: at least what was there before, a strict prefix of
    # the reply (the stream was cut), never replaced.
    assert r["text"].startswith(before) and LONG.startswith(r["text"]), r
    assert len(r["text"]) < len(LONG), r
    page.page.wait_for_timeout(1500)
    later = read(page, i)
    assert later["status"] == status, later
    assert elapsed(later["metrics"]) == elapsed(r["metrics"]), (r["metrics"], later["metrics"])
    # Shut Down says "terminating" before the kernel stops: text it sent until then may still
    # be on its way and is drawn (appended, never replacing what was there); a cut stream all
    # the same.
    assert later["text"].startswith(r["text"]) and len(later["text"]) < len(LONG), later
    return later


def check_fresh_kernel(page: LabPage, i: int) -> None:
    page.wait_kernel_idle()
    page.run_cell(i)
    out = page.cell(i).locator(".jp-OutputArea-output").last.inner_text().strip()
    assert out == "False", f"the kernel was not restarted: {out!r}"


def test_restart_ends_an_async_stream(page: LabPage, lab, chat_server):
    """Kernel > Restart while `await chat.ainvoke(...)` streams: the panel says so and stops."""
    name = write_notebook(
        lab, "restart_async.ipynb", [ASYNC_CELL, FRESH_CELL], base_url=chat_server.base_url
    )
    page.open(name)
    page.run_cell(0)
    page.start_cell(1)
    wait_streaming(page, 1)
    before = read(page, 1)["text"]
    restart_kernel(page)
    after = assert_ended(page, 1, "kernel restarted", before)
    assert after["prompt"] != "[*]:", after
    check_fresh_kernel(page, 2)
    # Nothing from the new kernel touches the old board.
    assert read(page, 1) == after


def test_restart_ends_a_sync_stream(page: LabPage, lab, chat_server):
    """The same with a sync `chat.invoke(...)`, which blocks the kernel: the restart happens."""
    name = write_notebook(
        lab, "restart_sync.ipynb", [SYNC_CELL, FRESH_CELL], base_url=chat_server.base_url
    )
    page.open(name)
    page.run_cell(0)
    page.start_cell(1)
    wait_streaming(page, 1)
    before = read(page, 1)["text"]
    restart_kernel(page)
    after = assert_ended(page, 1, "kernel restarted", before)
    check_fresh_kernel(page, 2)
    assert page.prompt(1) != "[*]:"
    assert read(page, 1)["text"] == after["text"]


def test_shutdown_ends_streams_as_kernel_gone(page: LabPage, lab, chat_server):
    """Kernel > Shut Down fires no widget event; the board still ends its run ("kernel gone").
    A board ended by an earlier restart keeps its own wording."""
    name = write_notebook(
        lab, "shutdown.ipynb", [ASYNC_CELL, ASYNC_CELL], base_url=chat_server.base_url
    )
    page.open(name)
    page.run_cell(0)
    page.start_cell(1)
    wait_streaming(page, 1)
    restart_kernel(page)
    first = assert_ended(page, 1, "kernel restarted", "")
    page.wait_kernel_idle()

    page.run_cell(0)
    page.start_cell(2)
    wait_streaming(page, 2)
    before = read(page, 2)["text"]
    [kernel_id] = [s["kernel"]["id"] for s in lab.api("GET", "/api/sessions") if s["path"] == name]
    kernel_menu(page, "Shut Down Kernel")
    assert_ended(page, 2, "kernel gone", before)
    deadline = time.monotonic() + KERNEL_TIMEOUT
    while kernel_id in [k["id"] for k in lab.api("GET", "/api/kernels")]:
        assert time.monotonic() < deadline, "the kernel is still running"
        time.sleep(0.2)
    assert read(page, 1) == first, "the earlier board changed"
