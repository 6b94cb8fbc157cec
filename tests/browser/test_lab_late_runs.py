"""A run that outlives its cell, in JupyterLab (issue 18, defect 3): what the user sees.

``t = asyncio.create_task(...)`` in one cell, ``await t`` in the next: the task starts once the
first cell is over (the kernel runs it when idle). JupyterLab still shows an output whose parent
is a finished cell (its OutputArea keeps the execute future: ``requestExecute(content, false)``)
and routes an update by display id to every cell that shows it, so the panel appears in the
cell that started the run, says it was seen (``shown``), and is not drawn a second time in the
cell that awaits it; it ends there with the final text, and so does the saved twin.
"""

from __future__ import annotations

import json

import pytest
from labkit import write_notebook

pytestmark = pytest.mark.browser

ANSWER = "Hello from a task, late but whole."
VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True)
def _script(chat_server):
    chat_server.script = {"Say hi": ANSWER}
    chat_server.reset()
    yield
    chat_server.reset()


def test_a_task_awaited_in_the_next_cell_shows_one_panel_with_its_final_text(
    lab, page, chat_server
):
    name = write_notebook(
        lab,
        "late_task.ipynb",
        [
            "import asyncio\nt = asyncio.create_task(chat(live).ainvoke('Say hi'))",
            "r = await t\nprint(r.content == " + repr(ANSWER) + ")",
        ],
        base_url=chat_server.base_url,
    )
    page.open(name)
    page.run_cell(0)
    page.run_cell(1)
    page.panels(1).first.wait_for()  # the user sees the panel appear under the cell
    page.run_cell(2)
    assert "True" in page.cell(2).locator(".jp-OutputArea-output").last.inner_text()
    boards = page.notebook.locator(".lcnb-board")
    assert boards.count() == 1, "one panel in the whole notebook"
    page.page.wait_for_function(
        """([sel]) => [...document.querySelectorAll(sel + ' .lcnb-status')]
                        .some(s => s.textContent.trim() === 'done')""",
        arg=[".jp-NotebookPanel:not(.lm-mod-hidden)"],
    )
    assert page.statuses(1) == ["done"]
    assert [t.strip() for t in page.panel_texts(1)] == [ANSWER]
    page.save()
    saved = json.loads((lab.root / name).read_text())
    outs = [
        (i, o)
        for i, cell in enumerate(saved["cells"])
        for o in cell.get("outputs", [])
        if VIEW in o.get("data", {})
    ]
    assert [i for i, _ in outs] == [1], outs
    twin = "".join(outs[0][1]["data"]["text/plain"])
    assert "1 done" in twin and ANSWER in twin, twin
