"""The prebuilt JupyterLab / Notebook 7 extension ``lc-callbacks-nb`` (no node needed here).

Its sources are in ``labextension/`` (``src/index.js``, ``package.json``, ``package-lock.json``);
``make labextension`` builds them into ``lc_callbacks_nb/labextension/`` (committed) and records
a sha256 of the sources in the built ``package.json`` (``lcnb.sourcesSha256``). The wheel ships
the build once, as ``share/jupyter/labextensions/lc-callbacks-nb`` (an editable install too), and
THIRD_PARTY_NOTICES.md lists what it bundles (from the builder's third-party-licenses.json).

Checked: the build is complete and not older than its sources; pyproject ships it; and this
venv's JupyterLab finds it, enabled, and the copy it finds is this build. What the extension
does is checked in real Chromium by ``tests/browser/test_lab_saved.py``.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SOURCE = REPO / "labextension"
BUILT = REPO / "lc_callbacks_nb" / "labextension"
NAME = "lc-callbacks-nb"
REBUILD = "run `make labextension` (needs node + npm)"


def _stamp_module():
    spec = importlib.util.spec_from_file_location("lcnb_labextension_stamp", SOURCE / "stamp.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _built() -> dict:
    return json.loads((BUILT / "package.json").read_text())


def test_build_is_complete() -> None:
    built = _built()
    load = built["jupyterlab"]["_build"]["load"]
    assert (BUILT / load).is_file(), f"{load} is missing: {REBUILD}"
    chunks = [p.name for p in (BUILT / "static").glob("*.js")]
    assert any(re.fullmatch(r"\d+\.[0-9a-f]+\.js", c) for c in chunks), chunks
    # The built package.json is the source's, plus what the build and the stamp add.
    source = json.loads((SOURCE / "package.json").read_text())
    rest = json.loads(json.dumps(built))
    del rest["jupyterlab"]["_build"]
    rest.pop("lcnb", None)
    assert rest == source, f"lc_callbacks_nb/labextension/package.json is stale: {REBUILD}"
    assert built["name"] == NAME


def test_build_matches_its_sources() -> None:
    stamp = _stamp_module()
    recorded = _built().get("lcnb", {}).get("sourcesSha256")
    assert recorded == stamp.sources_sha256(), f"the build is older than its sources: {REBUILD}"
    files = [p.relative_to(SOURCE).as_posix() for p in stamp.source_files()]
    assert files[:2] == ["package.json", "package-lock.json"]
    assert "src/index.js" in files


def test_notices_list_what_the_build_bundles(third_party_notices) -> None:
    """THIRD_PARTY_NOTICES.md renders the build's own licence report (webpack's modules)."""
    build = third_party_notices.BUILDS[1]
    assert build.report == BUILT / "static" / "third-party-licenses.json"
    notices = third_party_notices.NOTICES.read_text()
    assert third_party_notices.section(build) in notices, (
        f"THIRD_PARTY_NOTICES.md does not list what the extension bundles: {REBUILD}"
    )
    assert third_party_notices.render() == notices, "THIRD_PARTY_NOTICES.md is stale"


def test_build_needs_no_network() -> None:
    """No URL in the shipped code: nothing is fetched from a CDN or anywhere else."""
    for path in (BUILT / "static").glob("*.js"):
        found = re.findall(rb"https?://[^\s\"')]+", path.read_bytes())
        assert not found, (path.name, found)


def test_wheel_ships_the_build() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    shared = wheel["shared-data"]
    target = f"share/jupyter/labextensions/{NAME}"
    assert shared["lc_callbacks_nb/labextension"] == target
    assert shared["labextension/install.json"] == f"{target}/install.json"
    assert "/lc_callbacks_nb/labextension" in wheel["exclude"], "shipped once: as shared data"
    install = json.loads((SOURCE / "install.json").read_text())
    assert install["packageName"] == config["project"]["name"]


def _installed() -> pathlib.Path:
    from jupyter_core.paths import jupyter_path

    for base in jupyter_path("labextensions"):
        candidate = pathlib.Path(base) / NAME
        if (candidate / "package.json").is_file():
            return candidate
    pytest.fail(f"{NAME} is not installed for this venv's JupyterLab: run `pip install -e .`")


def test_installed_copy_is_this_build() -> None:
    """An editable install copies the build into <venv>/share: a rebuild needs a reinstall."""
    pytest.importorskip("jupyterlab")
    installed = _installed()
    data = json.loads((installed / "package.json").read_text())
    built = _built()
    assert data.get("lcnb") == built.get("lcnb"), (
        f"{installed} is an older build: run `pip install -e .` (make labextension does)"
    )
    load = data["jupyterlab"]["_build"]["load"]
    assert load == built["jupyterlab"]["_build"]["load"]
    assert (installed / load).is_file()
    assert json.loads((installed / "install.json").read_text())["packageName"] == "lc_callbacks_nb"


def test_jupyterlab_lists_it_enabled() -> None:
    pytest.importorskip("jupyterlab")
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    listing = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    version = _built()["version"]
    line = re.search(rf"^\s*{re.escape(NAME)} v(\S+) (\w+) (\w+)(.*)$", listing, re.M)
    assert line, listing
    assert line.groups()[:3] == (version, "enabled", "OK"), line.group(0)
    assert "lc_callbacks_nb" in line.group(4), line.group(0)  # from install.json
