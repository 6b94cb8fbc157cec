"""The docs site (``make docs``) in real Chromium: each guide page shows its runs, offline.

The site is built here, as ``make docs`` builds it (docs/conf.py: README.md and notebooks/*.ipynb,
rendered from their saved outputs), with every proxy variable pointing at a closed port so a
build step that reached for the network would fail. It is served from 127.0.0.1 and opened in
Chromium; every request the pages make is recorded and anything not for that server is aborted
and reported.

On each notebook's page: one static twin per board the notebook saved, each showing the text of
the twin saved in the notebook, and the final text of every model run (read from the notebook's
saved widget state) among them; the first line of every printed output; no widget renderer, no
widget error. The pages are the notebooks nbval reruns: the site copies nothing.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest

from lc_callbacks_nb.views.widget import saved_runs

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
CLOSED = "http://127.0.0.1:9"  # discard port: nothing answers


def _words(text: str) -> str:
    return " ".join(text.split())


class _Text(HTMLParser):
    """An HTML fragment's text, as the DOM's textContent has it (comments aside)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _text_of(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return _words("".join(parser.parts))


def _saved(path: Path) -> tuple[list[str], list[str], list[str]]:
    """(each board's twin as text, each model run's final text, each print's first line)."""
    nb = nbformat.read(path, as_version=4)
    twins, prints = [], []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if WIDGET_VIEW in out.get("data", {}):
                twins.append(_text_of(out["data"]["text/html"]))
            elif out.output_type == "stream" and out.text.strip():
                prints.append(_words(out.text.strip().splitlines()[0]))
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    answers = [
        _words(row["text"]["text"])
        for model in state.values() if "runs" in model.get("state", {})
        for row in saved_runs(model)
        if row.get("kind") == "llm" and (row.get("text") or {}).get("text", "").strip()
    ]  # fmt: skip
    return twins, answers, prints


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs-site") / "html"
    offline = {k: CLOSED for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")}
    env = {k: v for k, v in os.environ.items() if k.lower() not in {"no_proxy", "all_proxy"}}
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-W", "--keep-going",
         "-c", str(REPO / "docs"), str(REPO), str(out)],
        env=env | offline, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}"
        finally:
            httpd.shutdown()
            thread.join()


@pytest.fixture
def open_page(browser: Any, served: str) -> Iterator[Any]:
    """Open a path of the site; returns (page, requests made, requests refused)."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    made: list[str] = []
    refused: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        made.append(url)
        if url.startswith(f"{served}/"):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    ctx.route("**/*", guard)

    def open_(path: str) -> tuple[Any, list[str], list[str]]:
        page = ctx.new_page()
        page.goto(f"{served}/{path}", wait_until="networkidle")
        return page, made, refused

    yield open_
    ctx.close()


def test_front_door_leads_to_every_guide_page(open_page: Any) -> None:
    page, made, refused = open_page("index.html")
    page.wait_for_url("**/README.html")
    assert page.locator("h1").first.text_content().strip().startswith("lc_callbacks_nb")
    links = {a.get_attribute("href") for a in page.locator("a").all()}
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.stem}.html" in links, nb.stem
    assert refused == [], refused
    assert made


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_guide_page_shows_every_run_offline(open_page: Any, notebook: Path) -> None:
    twins, answers, prints = _saved(notebook)
    page, made, refused = open_page(f"notebooks/{notebook.stem}.html")
    shown = [_words(t) for t in page.locator(".lcnb-twin").all_text_contents()]
    assert len(shown) == len(twins), (len(shown), len(twins))
    for got, saved in zip(shown, twins, strict=True):
        assert got == saved, (got[:300], saved[:300])
    for twin in page.locator(".lcnb-twin").all():
        assert twin.is_visible()
    everything = " ".join(shown)
    missing = [a for a in answers if a not in everything]
    assert not missing, missing
    body = _words(page.locator("body").text_content())
    assert not [p for p in prints if p not in body], "printed output missing from the page"
    for sign in ("Error displaying widget", "Loading widget", "model not found"):
        assert sign not in body
    assert not [u for u in made if "widget" in u or "require" in u], made
    assert refused == [], f"requests that would have left the machine: {refused}"
    assert any(u.endswith(f"notebooks/{notebook.stem}.html") for u in made)
