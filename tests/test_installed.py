"""The release, built and installed the way users install it, checked outside the checkout.

``python -m build`` makes the sdist and, from it, the wheel (as a release is built), twice: the
same commit must give the same bytes. The wheel is installed with pip (its cache reused) into a
fresh venv in a temporary folder, with JupyterLab beside it, and everything below runs there,
from a folder where the checkout cannot be imported, with the Jupyter and IPython folders of
this user replaced by empty temporary ones:

- the import and the version (``__version__``, ``python -m lc_callbacks_nb --version``);
- ``jupyter labextension list`` shows ``lc-callbacks-nb`` enabled, from the venv's share folder;
- the seed notebook (notebooks/async_callbacks.ipynb) runs through nbclient offline, against the
  embedded server, and the twin it saves holds what the committed notebook's twin holds;
- ``python -m lc_callbacks_nb enable`` makes a new kernel of that venv load the extension,
  ``status`` says so, ``disable`` undoes it.

The archives themselves are read too: licence files, metadata, each file shipped once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import venv
import zipfile
from collections import Counter
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "notebooks" / "async_callbacks.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
TWIN = ("text/plain", "text/html")
LABEXTENSION = "lc-callbacks-nb"

pytestmark = pytest.mark.installed


@dataclass(frozen=True)
class Release:
    sdist: Path
    wheel: Path
    again: tuple[Path, Path]  # the same commit built a second time


def _build(outdir: Path) -> tuple[Path, Path]:
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(outdir), str(REPO)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (sdist,) = outdir.glob("*.tar.gz")
    (wheel,) = outdir.glob("*.whl")
    return sdist, wheel


@pytest.fixture(scope="session")
def release(tmp_path_factory) -> Release:
    sdist, wheel = _build(tmp_path_factory.mktemp("dist"))
    return Release(sdist, wheel, _build(tmp_path_factory.mktemp("dist-again")))


@dataclass(frozen=True)
class Installed:
    """A fresh venv holding the wheel, and a clean place to run its commands."""

    venv: Path
    work: Path  # the cwd: outside the checkout
    env: dict[str, str]

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(a) for a in args], cwd=self.work, env=self.env,
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        assert done.returncode == 0, f"{args}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        return done

    def py(self, code: str, timeout: float = 300) -> str:
        return self.run(str(self.python), "-c", textwrap.dedent(code), timeout=timeout).stdout


@pytest.fixture(scope="session")
def installed(release: Release, tmp_path_factory) -> Installed:
    root = tmp_path_factory.mktemp("as-installed")
    assert REPO not in root.parents, "the venv must live outside the checkout"
    target = root / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    work = root / "work"
    work.mkdir()
    env = {
        k: v for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "VIRTUAL_ENV", "OPENAI_API_KEY", "PYTHONHOME"}
        and not k.startswith(("JUPYTER", "IPYTHON"))
    }  # fmt: skip
    env |= {
        "PATH": f"{target / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "JUPYTER_CONFIG_DIR": str(root / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(root / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(root / "jupyter-runtime"),
        "IPYTHONDIR": str(root / "ipython"),
        "PYTHONNOUSERSITE": "1",
    }
    box = Installed(target, work, env)
    # The user's install line (the wheel with the openai extra), nbclient to run a notebook
    # (the demo extra) and JupyterLab to list its extensions. pip's cache is reused.
    box.run(
        str(box.python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
        f"lc_callbacks_nb[openai,demo] @ {release.wheel.as_uri()}", "jupyterlab", timeout=900,
    )  # fmt: skip
    return box


def test_the_same_commit_builds_the_same_bytes(release: Release) -> None:
    sdist, wheel = release.again
    assert (sdist.name, wheel.name) == (release.sdist.name, release.wheel.name)
    assert sdist.read_bytes() == release.sdist.read_bytes(), "the sdist is not reproducible"
    assert wheel.read_bytes() == release.wheel.read_bytes(), "the wheel is not reproducible"


VERSION = json.loads((REPO / "labextension" / "package.json").read_text())["version"]
DIST_INFO = f"lc_callbacks_nb-{VERSION}.dist-info"
SHARED = f"lc_callbacks_nb-{VERSION}.data/data/share/jupyter/labextensions/{LABEXTENSION}"
CLASSIFIERS = {
    "Framework :: Jupyter",
    "Framework :: Jupyter :: JupyterLab :: 4",
    "Framework :: Jupyter :: JupyterLab :: Extensions :: Prebuilt",
    "Programming Language :: Python :: 3.11",
    "Typing :: Typed",
}
URLS = {"Homepage", "Documentation", "Source", "Issues", "Changelog"}


def test_wheel_metadata_is_complete(release: Release) -> None:
    with zipfile.ZipFile(release.wheel) as whl:
        meta = HeaderParser().parsestr(whl.read(f"{DIST_INFO}/METADATA").decode())
        for name in ("LICENSE", "THIRD_PARTY_NOTICES.md"):
            assert whl.read(f"{DIST_INFO}/licenses/{name}") == (REPO / name).read_bytes()
    assert meta["Version"] == VERSION
    assert meta["License-Expression"] == "MIT"
    assert sorted(meta.get_all("License-File")) == ["LICENSE", "THIRD_PARTY_NOTICES.md"]
    classifiers = set(meta.get_all("Classifier"))
    assert classifiers >= CLASSIFIERS, CLASSIFIERS - classifiers
    # PEP 639: the licence is the expression; PyPI refuses an upload that adds a licence classifier
    assert not [c for c in classifiers if c.startswith("License ::")]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert set(urls) == URLS and all(u.startswith("https://") for u in urls.values()), urls
    assert {"jupyter", "langchain", "jupyterlab-extension"} <= set(meta["Keywords"].split(","))
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["Description-Content-Type"] == "text/markdown"


def test_wheel_ships_each_file_once_and_only_what_runs(release: Release) -> None:
    with zipfile.ZipFile(release.wheel) as whl:
        names = whl.namelist()
        content = {n: whl.read(n) for n in names if not n.endswith("/")}
    assert len(names) == len(set(names))
    # same bytes under two names (small files aside: empty __init__.py)
    twice = Counter(hashlib.sha256(b).hexdigest() for b in content.values() if len(b) > 64)
    assert not [n for n, b in content.items() if twice[hashlib.sha256(b).hexdigest()] > 1]
    assert "lc_callbacks_nb/py.typed" in content
    assert "lc_callbacks_nb/views/static/board.bundle.js" in content
    assert "lc_callbacks_nb/views/js/loader.js" in content
    # the labextension once, as shared data, where JupyterLab looks; complete
    assert not [n for n in names if n.startswith("lc_callbacks_nb/labextension")]
    built = json.loads(content[f"{SHARED}/package.json"])
    assert f"{SHARED}/{built['jupyterlab']['_build']['load']}" in content
    assert json.loads(content[f"{SHARED}/install.json"])["packageName"] == "lc_callbacks_nb"
    # the renderer once, as its bundle: not its sources, build script or npm files
    views = [n for n in names if n.startswith("lc_callbacks_nb/views/")]
    assert not [n for n in views if n.endswith((".mjs", "board.js", ".css", "package.json"))]
    assert not [n for n in views if "/js/src/" in n or "lock" in n]


def test_sdist_holds_the_sources_and_the_licences(release: Release) -> None:
    with tarfile.open(release.sdist) as sdist:
        top = f"lc_callbacks_nb-{VERSION}"
        names = {n.removeprefix(f"{top}/") for n in sdist.getnames()}
    needed = {
        "PKG-INFO", "pyproject.toml", "README.md", "LICENSE", "THIRD_PARTY_NOTICES.md",
        "CHANGELOG.md", "labextension/package.json", "labextension/package-lock.json",
        "labextension/src/index.js", "lc_callbacks_nb/views/js/package-lock.json",
        "lc_callbacks_nb/views/js/build.mjs", "lc_callbacks_nb/views/board.js",
        "tools/third_party_notices.py", "notebooks/async_callbacks.ipynb", "tests/harness.py",
        "docs/conf.py",
    }  # fmt: skip
    assert needed <= names, needed - names
    assert not [n for n in names if "node_modules" in n or n.startswith((".venv", "dist/"))]


def test_imports_from_the_venv_with_its_version(installed: Installed) -> None:
    out = installed.py("""
        import importlib.metadata, json, lc_callbacks_nb
        print(json.dumps([lc_callbacks_nb.__file__, lc_callbacks_nb.__version__,
                          importlib.metadata.version("lc_callbacks_nb")]))
    """)
    where, version, metadata = json.loads(out)
    assert Path(where).is_relative_to(installed.venv), where
    source = json.loads((REPO / "labextension" / "package.json").read_text())["version"]
    assert version == metadata == source
    cli = installed.run(str(installed.python), "-m", "lc_callbacks_nb", "--version")
    assert cli.stdout.strip() == f"lc_callbacks_nb {source}"


def test_jupyterlab_lists_the_extension_enabled(installed: Installed) -> None:
    done = installed.run(str(installed.venv / "bin" / "jupyter"), "labextension", "list")
    listing = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    share = installed.venv / "share" / "jupyter" / "labextensions"
    found, folder = [], None  # each folder's path on a line of its own, its extensions below it
    for line in listing.splitlines():
        if line.startswith(os.sep):
            folder = Path(line.strip())
        elif line.strip().startswith(f"{LABEXTENSION} "):
            found.append((folder, line.strip()))
    assert len(found) == 1, listing
    where, line = found[0]
    assert where == share, listing
    assert re.fullmatch(rf"{LABEXTENSION} v\S+ enabled OK \(python, lc_callbacks_nb\)", line), line


def _twins(nb: nbformat.NotebookNode) -> list[dict[str, str]]:
    """Each board output's static twin, in notebook order."""
    return [
        {mime: "".join(out["data"][mime]) for mime in TWIN}
        for cell in nb.cells if cell.cell_type == "code"
        for out in cell.outputs if WIDGET_VIEW in out.get("data", {})
    ]  # fmt: skip


def test_seed_notebook_runs_offline_and_saves_its_answer(installed: Installed) -> None:
    src, out = installed.work / SEED.name, installed.work / f"ran-{SEED.name}"
    shutil.copy(SEED, src)
    installed.py(f"""
        import sys
        import nbformat
        from jupyter_client.kernelspec import KernelSpecManager
        from nbclient import NotebookClient

        # this venv's kernel ("python" in a spec means the client's own interpreter)
        spec = KernelSpecManager().get_kernel_spec("python3")
        assert spec.resource_dir.startswith(sys.prefix), spec.resource_dir
        assert spec.argv[0] in ("python", sys.executable), spec.argv
        nb = nbformat.read({str(src)!r}, as_version=4)
        NotebookClient(nb, timeout=180, kernel_name="python3").execute()
        nbformat.write(nb, {str(out)!r})
    """, timeout=600)  # fmt: skip
    ran, committed = _twins(nbformat.read(out, 4)), _twins(nbformat.read(SEED, 4))
    assert committed, "the seed notebook has no saved board"
    assert ran == committed
    assert any("[done]" in t["text/plain"] and "Because they" in t["text/plain"] for t in ran)


KERNEL_LOADS = """
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        reply = kc.execute_interactive(
            "import sys; print(sys.prefix, 'lc_callbacks_nb' in "
            "get_ipython().extension_manager.loaded)",
            timeout=120, output_hook=lambda m: m["msg_type"] == "stream" and print(
                m["content"]["text"], end=""),
        )
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
"""


def test_enable_status_disable_work_in_the_venv(installed: Installed) -> None:
    cli = (str(installed.python), "-m", "lc_callbacks_nb")
    startup = installed.venv / "etc" / "ipython" / "startup" / "00-lc_callbacks_nb.py"
    assert not startup.exists()
    assert installed.py(KERNEL_LOADS).split() == [str(installed.venv), "False"]

    enabled = installed.run(*cli, "enable")
    assert startup.is_file(), enabled.stdout
    assert "new kernels (profile 'default') load lc_callbacks_nb" in enabled.stdout
    status = installed.run(*cli, "status").stdout.splitlines()[0]
    assert status.endswith(") load lc_callbacks_nb"), status
    assert installed.py(KERNEL_LOADS).split() == [str(installed.venv), "True"]

    disabled = installed.run(*cli, "disable")
    assert not startup.exists(), disabled.stdout
    status = installed.run(*cli, "status").stdout.splitlines()[0]
    assert status.endswith("do NOT load lc_callbacks_nb"), status
    assert installed.py(KERNEL_LOADS).split() == [str(installed.venv), "False"]
