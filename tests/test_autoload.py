"""Opt-in autoload: `python -m lc_callbacks_nb enable|disable`, the config merge it does, and a
fresh kernel that loads (then no longer loads) the extension under that config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness import KernelSession

from lc_callbacks_nb.notebook import autoload

ROOT = Path(__file__).resolve().parents[1]
MAGICS = (
    "print(sorted(n for n in get_ipython().magics_manager.magics['line'] if n.startswith('lc_')))"
)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lc_callbacks_nb", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_shipped_snippet_is_what_enable_merges():
    shipped = ROOT / "jupyter-config" / "lc_callbacks_nb" / "ipython_kernel_config.json"
    assert read(shipped) == autoload.SNIPPET
    # nothing that IPKernelApp reads directly: installing the wheel enables nothing
    assert not list((ROOT / "jupyter-config").glob("ipython_kernel_config.*"))


def test_enable_user_starts_kernels_with_magics_disable_stops(tmp_path):
    env = {"IPYTHONDIR": str(tmp_path)}
    done = cli("enable", "--user", env=env)
    assert done.returncode == 0, done.stderr
    config = tmp_path / "profile_default" / "ipython_kernel_config.json"
    assert done.stdout.startswith(f"lc_callbacks_nb: enabled in {config}")
    assert read(config) == autoload.SNIPPET
    assert "already enabled" in cli("enable", "--user", env=env).stdout
    with KernelSession(env=env) as k:
        assert k.run(MAGICS).stdout.strip() == "['lc_handlers', 'lc_runs', 'lc_stream']"
        assert k.run("%lc_stream status").stdout.startswith("lc_stream: on  mode=auto")
    done = cli("disable", "--user", env=env)
    assert done.returncode == 0 and "removed" in done.stdout
    assert not config.exists()
    with KernelSession(env=env) as k:
        assert k.run(MAGICS).stdout.strip() == "[]"


def test_merge_keeps_other_keys_and_entries(tmp_path):
    config = tmp_path / "ipython_kernel_config.json"
    other = {"IPKernelApp": {"extensions": ["other_ext"], "pylab": "inline"}, "X": {"y": 1}}
    config.write_text(json.dumps(other))
    autoload.enable(tmp_path)
    assert read(config)["IPKernelApp"]["extensions"] == ["other_ext", "lc_callbacks_nb"]
    autoload.enable(tmp_path)  # idempotent
    assert read(config)["IPKernelApp"]["extensions"] == ["other_ext", "lc_callbacks_nb"]
    autoload.disable(tmp_path)
    assert read(config) == other


def test_merge_uses_an_existing_interactive_shell_app_list(tmp_path):
    config = tmp_path / "ipython_kernel_config.json"
    config.write_text(json.dumps({"InteractiveShellApp": {"extensions": ["a"]}}))
    autoload.enable(tmp_path)
    assert read(config) == {"InteractiveShellApp": {"extensions": ["a", "lc_callbacks_nb"]}}
    assert autoload.is_enabled(tmp_path)
    autoload.disable(tmp_path)
    assert read(config) == {"InteractiveShellApp": {"extensions": ["a"]}}


def test_refuses_when_a_py_config_sets_extensions(tmp_path):
    py = tmp_path / "ipython_kernel_config.py"
    py.write_text("c.InteractiveShellApp.extensions = ['autoreload']\n")
    with pytest.raises(autoload.AutoloadError) as err:
        autoload.enable(tmp_path)
    assert "c.IPKernelApp.extensions.append('lc_callbacks_nb')" in str(err.value)
    assert not (tmp_path / "ipython_kernel_config.json").exists()
    assert py.read_text() == "c.InteractiveShellApp.extensions = ['autoreload']\n"


def test_py_config_without_extensions_is_fine(tmp_path):
    (tmp_path / "ipython_kernel_config.py").write_text("c.IPKernelApp.pylab = 'inline'\n")
    autoload.enable(tmp_path)
    assert read(tmp_path / "ipython_kernel_config.json") == autoload.SNIPPET


def test_invalid_json_is_left_alone(tmp_path):
    config = tmp_path / "ipython_kernel_config.json"
    config.write_text("{not json")
    with pytest.raises(autoload.AutoloadError, match="not valid JSON"):
        autoload.enable(tmp_path)
    assert config.read_text() == "{not json"


def test_disable_when_not_enabled(tmp_path):
    assert autoload.disable(tmp_path).endswith(
        "not enabled in " + str(tmp_path) + "; nothing to do"
    )


def test_sys_prefix_and_user_locations(tmp_path):
    assert autoload.sys_prefix_dir(tmp_path) == tmp_path / "etc" / "ipython"
    assert autoload.sys_prefix_dir() == Path(sys.prefix) / "etc" / "ipython"
    assert autoload.user_dir("work", tmp_path) == tmp_path / "profile_work"
    # the CLI's default is --sys-prefix: check the path it would use without writing to it
    where = [d for scope, d in autoload.search_dirs() if scope == "sys-prefix"]
    assert where == [Path(sys.prefix) / "etc" / "ipython"]


def test_cli_refusal_is_one_message_and_exit_1(tmp_path):
    profile = tmp_path / "profile_default"
    profile.mkdir()
    (profile / "ipython_kernel_config.py").write_text("c.IPKernelApp.extensions = []\n")
    done = cli("enable", "--user", env={"IPYTHONDIR": str(tmp_path)})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "sets extensions" in done.stderr
