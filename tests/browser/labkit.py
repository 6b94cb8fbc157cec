"""What the browser tests share besides fixtures: the Lab server handle, page gestures,
notebook generation. (A plain module, so test files can import it by name.)"""

from __future__ import annotations

import http.cookiejar
import json
import os
import pathlib
import re
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import nbformat
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REPO = pathlib.Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"

# Seconds. Generous (CI machines are slow) but bounded: nothing here waits forever.
SERVER_START_TIMEOUT = 90
KERNEL_TIMEOUT = 90
CELL_TIMEOUT = 60

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'


@dataclass
class Lab:
    url: str
    root: pathlib.Path
    proc: subprocess.Popen
    log: pathlib.Path
    _opener: Any = None
    _xsrf: str = ""

    def api(self, method: str, path: str) -> Any:
        """Call the server's REST API (with the _xsrf cookie and header it wants for writes)."""
        if self._opener is None:
            jar = http.cookiejar.CookieJar()
            self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            self._opener.open(self.url + "/lab", timeout=30).read()  # sets the _xsrf cookie
            self._xsrf = next((c.value for c in jar if c.name == "_xsrf"), "")
        req = urllib.request.Request(
            self.url + path, method=method, headers={"X-XSRFToken": self._xsrf}
        )
        with self._opener.open(req, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")
        deadline = time.monotonic() + 30
        while self.api("GET", "/api/kernels") and time.monotonic() < deadline:
            time.sleep(0.2)

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def _local(url: str) -> bool:
    if url.startswith(("data:", "blob:", "about:")):
        return True
    return re.match(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?(/|$)", url) is not None


@dataclass
class LabPage:
    page: Any
    lab: Lab
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # ?reset: a clean workspace, so no tab of an earlier page reopens behind this one.
    open_path = "/lab/tree/{name}?reset"

    # -- locators
    @property
    def notebook(self) -> Any:
        return self.page.locator(NOTEBOOK)

    def cell(self, i: int) -> Any:
        return self.notebook.locator(".jp-Cell").nth(i)

    def prompt(self, i: int) -> str:
        return self.cell(i).locator(".jp-InputArea-prompt").inner_text().strip()

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if not _local(u)]

    # -- gestures
    def open(self, name: str) -> None:
        url = self.lab.url + self.open_path.format(name=name)
        self.page.goto(url, timeout=KERNEL_TIMEOUT * 1000)
        self.notebook.locator(".jp-Cell .cm-content").first.wait_for(timeout=KERNEL_TIMEOUT * 1000)
        self.wait_kernel_idle()

    def wait_kernel_idle(self) -> None:
        self.page.locator(
            f'{NOTEBOOK} .jp-Notebook-ExecutionIndicator[data-status="idle"]'
        ).first.wait_for(timeout=KERNEL_TIMEOUT * 1000)
        self.page.wait_for_timeout(500)  # the widget manager registers its comm target

    def start_cell(self, i: int) -> None:
        """Select cell ``i`` and press Shift+Enter; return once its prompt shows ``[*]``.

        On a loaded machine the click that focuses the editor can land before the notebook is
        ready for it, and the keypress is lost: nothing queues, the prompt never changes. Then
        (and only then: a cell that ran or queued has changed its prompt) it tries again."""
        before = self.prompt(i)
        attempts = 3
        for attempt in range(attempts):
            self.cell(i).locator(".cm-content").click()
            self.page.keyboard.press("Shift+Enter")
            try:
                self._wait_started(i, before, CELL_TIMEOUT / attempts)
                return
            except PlaywrightTimeout:
                if self.prompt(i) != before:
                    return  # it did start, just after the wait
                if attempt == attempts - 1:
                    raise

    def _wait_started(self, i: int, before: str, timeout: float) -> None:
        # A fast cell may go [*] -> [n] between two polls: accept a new number too.
        self.page.wait_for_function(
            """([sel, i, before]) => {
                const cell = document.querySelectorAll(sel + ' .jp-Cell')[i];
                const p = cell && cell.querySelector('.jp-InputArea-prompt');
                const t = p ? p.textContent.trim() : '';
                return t === '[*]:' || (/^\\[\\d+\\]:$/.test(t) && t !== before);
            }""",
            arg=[NOTEBOOK, i, before],
            timeout=timeout * 1000,
        )

    def wait_cell_done(self, i: int, timeout: float = CELL_TIMEOUT) -> None:
        self.page.wait_for_function(
            """([sel, i]) => {
                const cell = document.querySelectorAll(sel + ' .jp-Cell')[i];
                const p = cell && cell.querySelector('.jp-InputArea-prompt');
                return p && /^\\[\\d+\\]:$/.test(p.textContent.trim());
            }""",
            arg=[NOTEBOOK, i],
            timeout=timeout * 1000,
        )
        self.wait_kernel_idle()

    def run_cell(self, i: int, timeout: float = CELL_TIMEOUT, allow_error: bool = False) -> None:
        self.start_cell(i)
        self.wait_cell_done(i, timeout)
        if not allow_error:
            errors = self.cell(i).locator(STDERR)
            assert errors.count() == 0, f"cell {i} wrote to stderr:\n" + "\n".join(
                errors.all_inner_texts()
            )

    def save(self) -> None:
        self.notebook.locator(".jp-Cell").first.click()
        self.page.keyboard.press("Control+s")
        self.page.wait_for_function(
            """() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')""",
            timeout=30_000,
        )

    # -- reading panels
    def panels(self, i: int) -> Any:
        return self.cell(i).locator(".lcnb-board .lcnb-panel")

    def panel_texts(self, i: int) -> list[str]:
        return self.cell(i).evaluate(
            """cell => [...cell.querySelectorAll('.lcnb-panel > pre.lcnb-text')]
                         .map(p => p.textContent)"""
        )

    def statuses(self, i: int) -> list[str]:
        return [s.strip() for s in self.panels(i).locator(".lcnb-status").all_inner_texts()]

    def shot(self, i: int, name: str) -> pathlib.Path | None:
        """Screenshot cell ``i``'s board output (with its prompt gutter) into docs/screenshots.

        Only when LCNB_SCREENSHOTS=1, so an ordinary test run leaves the tree untouched.
        """
        if os.environ.get("LCNB_SCREENSHOTS") != "1":
            return None
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        target = self.cell(i).locator(".jp-OutputArea-child", has=self.page.locator(".lcnb-board"))
        self.page.mouse.move(0, 0)  # no hover highlight in the picture
        target.screenshot(path=str(path), animations="disabled")
        return path


@dataclass
class NotebookPage(LabPage):
    """The same gestures in Jupyter Notebook 7: one notebook per page, at /notebooks/NAME.

    Notebook 7 is built from JupyterLab's components, so the panel, cells, prompts and the
    execution indicator have Lab's classes (``save`` is Lab-only: it watches the tab bar)."""

    open_path = "/notebooks/{name}"


# -- notebooks ----------------------------------------------------------------------------

SETUP = """\
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

from lc_callbacks_nb import LiveStreamHandler

BASE_URL = {base_url!r}


def chat(*handlers, **kw):
    return ChatOpenAI(base_url=BASE_URL, api_key="sk-local", model="gpt-4o-mini",
                      streaming=True, max_retries=0, callbacks=list(handlers), **kw)


live = LiveStreamHandler({handler_args})
print("ready")
"""


def write_notebook(
    lab: Lab, name: str, cells: list[str], *, base_url: str, handler_args: str = ""
) -> str:
    """Write ``name`` into the lab's root: a setup cell, then ``cells``; return its name."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    setup = SETUP.format(base_url=base_url, handler_args=handler_args)
    nb.cells = [nbformat.v4.new_code_cell(src) for src in [setup, *cells]]
    nbformat.write(nb, str(lab.root / name))
    return name


# -- a static page for the Markdown renderer alone ------------------------------------------

BUNDLE = REPO / "lc_callbacks_nb" / "views" / "static" / "board.bundle.js"
MD_PAGE_JS = pathlib.Path(__file__).with_name("mdpage.js")
BOARD_CSS = REPO / "lc_callbacks_nb" / "views" / "board.css"
STATIC_ORIGIN = "http://lcnb.test"


def open_md_page(context: Any, bundles: dict[str, pathlib.Path]) -> Any:
    """A page (in ``context``) that imports each bundle and tests/browser/mdpage.js, served
    from memory by Playwright's router: no server, no JupyterLab. ``window.lcnbMd`` drives
    the renderer (see mdpage.js); ``bundles`` maps a name ("new", "old") to a built bundle."""
    files = {f"/bundle-{name}.js": path.read_text() for name, path in bundles.items()}
    files["/mdpage.js"] = MD_PAGE_JS.read_text()
    imports = "".join(
        f'bundles[{name!r}] = await import("./bundle-{name}.js");\n' for name in bundles
    )
    files["/index.html"] = (
        f'<!doctype html><meta charset="utf-8"><style>{BOARD_CSS.read_text()}</style>'
        '<body class="lcnb-board"><script type="module">\n'
        'import { install } from "./mdpage.js";\nconst bundles = {};\n'
        f"{imports}install(bundles);\nwindow.lcnbReady = true;\n</script></body>"
    )

    def serve(route: Any) -> None:
        path = route.request.url[len(STATIC_ORIGIN) :].split("?")[0]
        body = files.get(path)
        if body is None:
            route.fulfill(status=404, body="")
            return
        kind = "text/html" if path.endswith(".html") else "text/javascript"
        route.fulfill(status=200, body=body, content_type=f"{kind}; charset=utf-8")

    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route(f"{STATIC_ORIGIN}/**", serve)
    page.goto(f"{STATIC_ORIGIN}/index.html")
    page.wait_for_function("() => window.lcnbReady === true", timeout=60_000)
    page.lcnb_errors = errors
    return page


def build_bundle_at(commit: str, out: pathlib.Path) -> pathlib.Path:
    """Build the board bundle of an earlier commit into ``out``, with the renderer's names
    exported for mdpage.js (older board.js exported only the widget). Needs git, node and
    lc_callbacks_nb/views/js/node_modules (``make js``)."""
    modules = REPO / "lc_callbacks_nb" / "views" / "js" / "node_modules"
    if not modules.is_dir():
        raise RuntimeError(f"{modules} is missing: run `make js` first")
    tree = out.parent / f"views-{commit[:12]}"
    tree.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", commit, "lc_callbacks_nb/views"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    views = tree / "lc_callbacks_nb" / "views"
    board = views / "board.js"
    text = board.read_text()
    if "export { MarkdownView" not in text:
        board.write_text(
            text + '\nexport { MarkdownView, renderFragment } from "./js/src/markdown.js";\n'
        )
    link = views / "js" / "node_modules"
    if not link.exists():
        link.symlink_to(modules)
    subprocess.run(
        ["node", str(views / "js" / "build.mjs"), "--out", str(out)],
        cwd=views / "js", check=True, capture_output=True,
    )  # fmt: skip
    return out
