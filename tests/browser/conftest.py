"""Fixtures for driving JupyterLab in real Chromium (Playwright, sync API).

- ``chromium``: the path of Debian's Chromium; installed with apt-get when missing and we are
  root (never downloaded by Playwright), else every browser test is skipped with the reason.
- ``lab``: ``jupyter lab`` from this venv on 127.0.0.1 and a free port, with a temporary root
  dir, workspaces dir, config/runtime/data/IPython/settings dirs, and user settings that keep
  the news pop-up away and make a save write widget state. Killed (process group) at the end.
- ``notebook7``: ``python -m notebook`` (Jupyter Notebook 7), started the same way.
- ``chat_server``: the embedded OpenAI-compatible server, run in *this* process, so tests can
  inject faults and count requests; the notebooks' kernels reach it over HTTP.
- ``browser`` / ``new_page``: one Chromium per session, a fresh context per page, recording
  every request URL, console error and page error. ``nb7_page``: one such page on ``notebook7``.
- ``LabPage``: the few notebook gestures the tests need (open, run a cell, save, read panels).
- ``md_page``: a static page with the built renderer and tests/browser/mdpage.js, no
  JupyterLab: the streaming renderer's tests drive it through ``window.lcnbMd``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from labkit import (
    BUNDLE,
    CELL_TIMEOUT,
    CHROMIUM,
    CHROMIUM_ARGS,
    SERVER_START_TIMEOUT,
    Lab,
    LabPage,
    NotebookPage,
    open_md_page,
)

from lc_callbacks_nb.server import LocalChatServer

USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings": {"saveState": True},
    # Every cell stays in the DOM: no virtualised cells to scroll into existence.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = pathlib.Path(__file__).parent
    # The first test pays for installing Chromium (apt-get) when it is missing.
    slow_setup = not os.path.exists(CHROMIUM)
    for item in items:
        if here in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if slow_setup:
                item.add_marker(pytest.mark.timeout(1500))


# -- Chromium ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.geteuid() != 0:
        pytest.skip(f"{CHROMIUM} is missing and we are not root: run `apt-get install chromium`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"apt-get install chromium succeeded but {CHROMIUM} does not exist")
    return CHROMIUM


# Module scope, not session: Playwright's sync API keeps an event loop running on the main
# thread while it is open, which would break asyncio.run() in every test collected after
# this folder. Closed at the end of each browser test module, it leaves no loop behind.
@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


# -- JupyterLab -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(app: str) -> Iterator[Lab]:
    """Run ``python -m <app>`` (``jupyterlab`` or ``notebook``) from this venv until closed."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"lcnb-{app}-"))
    dirs = {
        name: tmp / name
        for name in ("root", "workspaces", "config", "runtime", "data", "ipython", "settings")
    }
    for d in dirs.values():
        d.mkdir()
    for rel, value in USER_SETTINGS.items():
        path = dirs["settings"] / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("OPENAI_API_KEY", None)  # the notebooks must talk to the embedded server only
    app_class, home = {
        "jupyterlab": ("LabApp", "/lab"),
        "notebook": ("JupyterNotebookApp", "/tree"),
    }[app]
    port = _free_port()
    log = tmp / f"{app}.log"
    cmd = [
        sys.executable, "-m", app,
        "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=", "--ServerApp.password=",
        f"--ServerApp.root_dir={dirs['root']}",
        f"--{app_class}.workspaces_dir={dirs['workspaces']}",
        f"--{app_class}.user_settings_dir={dirs['settings']}",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=dirs["root"], env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kernels die with it
        )  # fmt: skip
    server = Lab(url=f"http://127.0.0.1:{port}", root=dirs["root"], proc=proc, log=log)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"python -m {app} exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                urllib.request.urlopen(server.url + "/api/status", timeout=10).read()
                urllib.request.urlopen(server.url + home, timeout=10).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"python -m {app} did not answer in time:\n{server.log_tail()}")
                time.sleep(0.25)
        yield server
    finally:
        _kill_group(proc)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from _serve("jupyterlab")


@pytest.fixture(scope="module")
def notebook7() -> Iterator[Lab]:
    """Jupyter Notebook 7 (``python -m notebook``), set up like ``lab``."""
    yield from _serve("notebook")


def _kill_group(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The server is gone; kernels in its group may linger a moment.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return


# -- the chat server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def chat_server() -> Iterator[LocalChatServer]:
    with LocalChatServer(token_delay=0.04, echo=True) as srv:
        yield srv


# -- pages --------------------------------------------------------------------------------


@contextlib.contextmanager
def _pages(browser: Any, server: Lab, page_class: type[LabPage]) -> Iterator[Any]:
    """A factory of fresh pages (own context: no shared storage); all closed at the end."""
    contexts = []
    pages: list[LabPage] = []

    def make() -> LabPage:
        ctx = browser.new_context(viewport={"width": 1100, "height": 900}, device_scale_factor=1)
        ctx.set_default_timeout(CELL_TIMEOUT * 1000)
        contexts.append(ctx)
        page = ctx.new_page()
        lp = page_class(page=page, lab=server)
        pages.append(lp)
        page.on("request", lambda r: lp.requests.append(r.url))
        page.on("pageerror", lambda e: lp.errors.append(f"pageerror: {e}"))
        page.on(
            "console",
            lambda m: lp.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        return lp

    yield make
    for ctx in contexts:
        ctx.close()
    for lp in pages:
        if lp.errors:  # shown with the captured output of a failing test
            print("browser errors:", *lp.errors, sep="\n  ")


@pytest.fixture
def new_page(browser: Any, lab: Lab) -> Iterator[Any]:
    with _pages(browser, lab, LabPage) as make:
        yield make


@pytest.fixture
def nb7_page(browser: Any, notebook7: Lab) -> Iterator[NotebookPage]:
    """One page of Jupyter Notebook 7 (same gestures as ``page``; opens /notebooks/NAME)."""
    with _pages(browser, notebook7, NotebookPage) as make:
        yield make()


@pytest.fixture
def page(new_page: Any) -> LabPage:
    return new_page()


@pytest.fixture(scope="module")
def md_page(browser: Any) -> Iterator[Any]:
    """The built bundle's renderer on a static page (see labkit.open_md_page)."""
    ctx = browser.new_context()
    try:
        page = open_md_page(ctx, {"new": BUNDLE})
        yield page
        assert not page.lcnb_errors, page.lcnb_errors
    finally:
        ctx.close()
