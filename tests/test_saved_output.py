"""Output that lasts (#11): a saved notebook keeps every board's final runs as a static twin.

A notebook is executed headless with nbclient (with and without stored widget state, as
JupyterLab saves it by default) and exported with nbconvert to HTML and Markdown: every run's
final text and status is there, outside any script, and the HTML twin is script-free.
"""

from __future__ import annotations

import html
import json
import re

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter, MarkdownExporter

from lc_callbacks_nb.server import LocalChatServer

PROMPTS = ["saved answer one", "saved answer two <b>bold?</b>", "third & last"]


def _notebook(base_url: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(
            "%load_ext lc_callbacks_nb\n"
            "from langchain_openai import ChatOpenAI\n"
            "from langchain_core.messages import HumanMessage\n"
            f"chat = ChatOpenAI(base_url={base_url!r}, api_key='sk-local', streaming=True)"
        ),
        nbformat.v4.new_code_cell(
            f"res = await chat.agenerate([[HumanMessage(p)] for p in {PROMPTS!r}])"
        ),
        nbformat.v4.new_code_cell("r = chat.invoke('a sync one')"),
    ]
    return nb


@pytest.fixture(scope="module", params=[True, False], ids=["widget_state", "no_widget_state"])
def executed(request):
    with LocalChatServer(echo=True) as srv:
        nb = _notebook(srv.base_url)
        NotebookClient(nb, timeout=120, store_widget_state=request.param).execute()
    return nb


def _twin(cell: nbformat.NotebookNode) -> dict:
    (out,) = [o for o in cell.outputs if "text/html" in o.get("data", {})]
    return out["data"]


def test_each_board_output_holds_its_final_runs(executed):
    data = _twin(executed.cells[1])
    plain = data["text/plain"]
    assert "placeholder" not in plain and "needs a Jupyter front-end" not in plain
    for prompt in PROMPTS:
        assert prompt in plain
        assert html.escape(prompt, quote=False) in data["text/html"]
    assert "LangChain runs: 3 (3 done)" in plain
    assert "a sync one" in _twin(executed.cells[2])["text/plain"]
    # the live panel is still there for a Jupyter front-end
    assert "application/vnd.jupyter.widget-view+json" in data


def test_the_html_twin_is_script_free(executed):
    page = _twin(executed.cells[1])["text/html"]
    assert "<script" not in page.lower()
    assert not re.search(r"\son\w+\s*=", page)
    assert "javascript:" not in page.lower()
    assert not re.search(r"(src|href)\s*=\s*['\"]?https?:", page)


def _outside_scripts(page: str) -> str:
    return re.sub(r"<script.*?</script>", "", page, flags=re.S | re.I)


def test_nbconvert_html_and_markdown_show_every_final_text(executed):
    page = _outside_scripts(HTMLExporter().from_notebook_node(executed)[0])
    markdown = MarkdownExporter().from_notebook_node(executed)[0]
    for prompt in [*PROMPTS, "a sync one"]:
        assert html.escape(prompt, quote=False) in page, prompt
        assert prompt in markdown, prompt
    assert "needs a Jupyter front-end with ipywidgets" not in markdown


def test_the_twin_is_valid_json_and_bounded_for_hostile_text():
    hostile = "<img src=x onerror=alert(1)> ![leak](https://evil.example/?q=1) \x1b[31m \ud800 "
    with LocalChatServer(script={"hostile": hostile * 3}) as srv:
        nb = _notebook(srv.base_url)
        nb.cells[1] = nbformat.v4.new_code_cell("r = await chat.ainvoke('hostile')")
        nb.cells = nb.cells[:2]
        NotebookClient(nb, timeout=120, store_widget_state=False).execute()
    data = _twin(nb.cells[1])
    json.dumps(data, ensure_ascii=False).encode("utf-8")  # valid UTF-8 JSON
    assert "onerror=" not in data["text/html"] and "<img" not in data["text/html"]
    assert "done" in data["text/plain"]


def test_nbval_compares_what_the_panels_show_in_a_guide_notebook(tmp_path):
    """The comparison bites: one run's saved final text changed -> nbval fails that cell."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    nb = nbformat.read(root / "notebooks" / "async_callbacks.ipynb", as_version=4)
    changed = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/html" in data and "LangChain runs:" in data.get("text/plain", ""):
                plain = data["text/plain"]
                assert "atoms" in plain
                data["text/plain"] = plain.replace("atoms", "molecules")
                changed += 1
    assert changed, "the guide notebook has no saved twin"
    target = tmp_path / "async_callbacks.ipynb"
    nbformat.write(nb, target)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(target), "--nbval", "--nbval-current-env",
         "-p", "lc_callbacks_nb.testing.nbval", "-p", "no:cacheprovider",
         "--nbval-sanitize-with", str(root / "notebooks" / "sanitize.cfg"), "-q"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "molecules" in proc.stdout and f"{changed} failed" in proc.stdout, proc.stdout[-2000:]
