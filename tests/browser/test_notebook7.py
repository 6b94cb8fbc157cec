"""The same kind of notebook in Jupyter Notebook 7: the board opens and streams there too.

Notebook 7 (``python -m notebook``, fixture ``notebook7``) is built from JupyterLab's
components, so ``NotebookPage`` keeps Lab's selectors and only opens ``/notebooks/NAME``.
The embedded server runs in the test process with a per-token delay, as for the Lab tests.
"""

from __future__ import annotations

import pytest
from labkit import CELL_TIMEOUT, STDERR, NotebookPage, write_notebook

from lc_callbacks_nb.offline.server_script import tokenize

pytestmark = pytest.mark.browser

REPLY = (
    "Notebook 7 gets the same board as JupyterLab: the panel fills token by token while the "
    "cell is still running, and ends with the whole reply and a **done** badge, rendered as "
    "`Markdown` there too."
)


@pytest.fixture(autouse=True)
def _script(chat_server):
    chat_server.script = {"nb7": REPLY}
    chat_server.token_delay = 0.04
    chat_server.reset()
    yield
    chat_server.reset()


def test_notebook7_board_streams_then_done(nb7_page: NotebookPage, notebook7, chat_server):
    """A mid-run reading (prompt ``[*]``) is a strict prefix; the end is the reply, done."""
    assert len(tokenize(REPLY)) >= 25  # over a second of streaming at 0.04 s a token
    name = write_notebook(
        notebook7,
        "nb7.ipynb",
        [
            'res = await chat(live).agenerate([[HumanMessage("nb7")]])\n'
            f"res.generations[0][0].text == {REPLY!r}"
        ],
        base_url=chat_server.base_url,
    )
    page = nb7_page
    page.open(name)
    app = page.page.evaluate(
        "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).appName"
    )
    assert app == "Jupyter Notebook", f"not Notebook 7's page: appName {app!r}"
    page.run_cell(0)

    page.start_cell(1)
    page.cell(1).locator(".lcnb-board").wait_for(timeout=CELL_TIMEOUT * 1000)
    # text, status and prompt read in one JS turn, as soon as the panel has text mid-run
    mid = page.page.wait_for_function(
        """cell => {
            const pre = cell.querySelector('.lcnb-panel > pre.lcnb-text');
            const st = cell.querySelector('.lcnb-panel .lcnb-status');
            const prompt = cell.querySelector('.jp-InputArea-prompt').textContent.trim();
            if (prompt !== '[*]:') return {prompt};  // finished before any reading
            return pre && pre.textContent
                ? {prompt, text: pre.textContent, status: st ? st.textContent.trim() : ''}
                : null;
        }""",
        arg=page.cell(1).element_handle(),
        timeout=CELL_TIMEOUT * 1000,
    ).json_value()
    page.wait_cell_done(1)

    assert mid["prompt"] == "[*]:", f"the cell finished before the panel showed any text: {mid}"
    assert 0 < len(mid["text"]) < len(REPLY), f"not a partial reading: {mid}"
    assert REPLY.startswith(mid["text"]), f"not a prefix of the reply: {mid}"
    assert mid["status"] == "streaming", mid

    assert page.cell(1).locator(STDERR).count() == 0, page.cell(1).locator(STDERR).all_inner_texts()
    assert page.cell(1).locator(".lcnb-board").count() == 1, "one board per cell"
    assert page.panel_texts(1) == [REPLY]
    assert page.statuses(1) == ["done"]
    # the basics of the Markdown rendering work in Notebook 7 too
    md = page.cell(1).locator(".lcnb-md")
    assert md.locator("strong", has_text="done").count() == 1
    assert md.locator("code", has_text="Markdown").count() == 1
    # LangChain returned the same text (the cell's own result)
    assert page.cell(1).locator(".jp-OutputArea-output").last.inner_text().strip() == "True"
    assert len(chat_server.requests) == 1
    assert not page.foreign_requests(), page.foreign_requests()
