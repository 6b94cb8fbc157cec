"""Opt-in autoload: `python -m lc_callbacks_nb enable|disable|status`.

`enable` must add lc_callbacks_nb to what new kernels load and change nothing else they load,
whatever the user configured and wherever. Each claim is checked on real kernels (jupyter_client,
tests/harness.py) with an isolated IPYTHONDIR / JUPYTER_* in tmp dirs, and `status` is checked
against what those kernels actually loaded.

Sys-prefix without touching the real venv: `throwaway_prefix` makes a venv in tmp_path
(`python -m venv --without-pip`, no packages of its own) whose one `.pth` file adds this venv's
site-packages. Its `sys.prefix`, hence the `{sys.prefix}/etc/ipython` IPython reads and
`enable --sys-prefix` writes, is in tmp_path; the CLI and the kernels run on its interpreter (the
kernel through a private kernelspec). "Uninstalled" rewrites that `.pth` to add the site-packages
folder without processing its `.pth` files, so the editable install of lc_callbacks_nb is gone
while IPython and ipykernel stay (the kernel then runs in tmp_path, not in the source tree).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from harness import KernelSession

from lc_callbacks_nb.notebook import autoload

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(sysconfig.get_paths()["purelib"])
EXT = "lc_callbacks_nb"
MAGICS = (
    "print(sorted(n for n in get_ipython().magics_manager.magics['line'] if n.startswith('lc_')))"
)
# builtin extensions are loaded as IPython.extensions.NAME; status names them as configured
LOADED = (
    "sorted(n.removeprefix('IPython.extensions.') for n in get_ipython().extension_manager.loaded)"
)


# -- an isolated setup: IPYTHONDIR and Jupyter dirs in tmp, and a sys.prefix of its own ---------


class Setup:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.ipython_dir = tmp / "ipython"
        self.profile = self.ipython_dir / "profile_default"
        self.profile.mkdir(parents=True)
        self.env = {
            "IPYTHONDIR": str(self.ipython_dir),
            "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"),
            "JUPYTER_DATA_DIR": str(tmp / "jupyter-data"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "jupyter-runtime"),
        }
        self.prefix = tmp / "prefix"
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(self.prefix)],
            check=True,
            timeout=60,
        )
        self.python = self.prefix / "bin" / "python"
        self.etc = autoload.sys_prefix_dir(self.prefix)
        self.purelib = Path(
            sysconfig.get_paths(vars={"base": str(self.prefix), "platbase": str(self.prefix)})[
                "purelib"
            ]
        )
        self.set_installed(True)
        spec = tmp / "kernelspec" / "kernels" / "python3"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [
                        str(self.python),
                        "-m",
                        "ipykernel_launcher",
                        "-f",
                        "{connection_file}",
                    ],
                    "display_name": "throwaway prefix",
                    "language": "python",
                }
            )
        )
        self.env["JUPYTER_PATH"] = str(tmp / "kernelspec")
        self.installed = True

    def set_installed(self, installed: bool) -> None:
        line = f"import site; site.addsitedir({str(SITE)!r})" if installed else str(SITE)
        (self.purelib / "_lcnb_test_site.pth").write_text(line + "\n")
        self.installed = installed

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), "-m", "lc_callbacks_nb", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            cwd=self.tmp,
            timeout=120,
        )

    def kernel(self) -> KernelSession:
        env = dict(self.env)
        if not self.installed:
            env["PYTHONPATH"] = ""  # nothing may bring the package back
        cwd = os.getcwd()
        os.chdir(self.tmp)  # the kernel puts its cwd on sys.path: not the source tree
        try:
            return KernelSession(env=env)
        finally:
            os.chdir(cwd)

    def loaded(self) -> list[str]:
        with self.kernel() as k:
            return k.eval(LOADED)

    def write(self, where: str, name: str, text: str) -> Path:
        path = (self.profile if where == "user" else self.etc) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path


@pytest.fixture
def setup(tmp_path):
    return Setup(tmp_path)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def status_loads(out: str) -> list[str]:
    """The extension names of `status`'s "extensions a new kernel loads" block."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("extensions a new kernel"))
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line.split()[0])
    return block


def read(path: Path) -> dict:
    return json.loads(path.read_text())


# -- the shipped file ----------------------------------------------------------------------


def test_shipped_startup_file_is_what_enable_writes():
    shipped = ROOT / "jupyter-config" / "lc_callbacks_nb" / "startup" / autoload.STARTUP_NAME
    assert shipped.read_text() == autoload.STARTUP_SOURCE
    # nothing that IPython reads directly: installing the wheel enables nothing
    assert not list((ROOT / "jupyter-config").glob("ipython_*config.*"))
    assert not (ROOT / "jupyter-config" / "startup").exists()


# -- enable / disable on real kernels --------------------------------------------------------


def test_enable_user_starts_kernels_with_magics_disable_stops(setup):
    out = ok(setup.cli("enable", "--user"))
    path = autoload.startup_file(setup.profile)
    assert out.startswith(f"lc_callbacks_nb: enabled: wrote {path}")
    assert "new kernels (profile 'default') load lc_callbacks_nb" in out
    assert path.read_text() == autoload.STARTUP_SOURCE
    assert "already enabled" in ok(setup.cli("enable", "--user"))
    with setup.kernel() as k:
        assert k.run(MAGICS).stdout.strip() == "['lc_handlers', 'lc_runs', 'lc_stream']"
        assert k.run("%lc_stream status").stdout.startswith("lc_stream: on  mode=auto")
        assert EXT in k.eval(LOADED)
        # the startup file leaves no name behind in the user's namespace
        assert k.eval("[n for n in dir() if 'lc_callbacks' in n]") == []
    out = ok(setup.cli("disable", "--user"))
    assert f"deleted {path}" in out and "do NOT load" in out
    assert not path.exists()
    with setup.kernel() as k:
        assert k.run(MAGICS).stdout.strip() == "[]"


# What the user configured, in each kind of file IPKernelApp reads. Each sets a list that
# `enable` must not replace, and that must not keep lc_callbacks_nb from loading.
USER_CONFIG = {
    "profile ipython_config.py": (
        "user",
        "ipython_config.py",
        "c.InteractiveShellApp.extensions = ['autoreload']\n",
    ),
    "profile ipython_kernel_config.py": (
        "user",
        "ipython_kernel_config.py",
        "c.IPKernelApp.extensions = ['autoreload']\n",
    ),
    "profile ipython_kernel_config.json": (
        "user",
        "ipython_kernel_config.json",
        '{"IPKernelApp": {"extensions": ["autoreload"]}}\n',
    ),
    "sys-prefix ipython_kernel_config.json": (
        "sys-prefix",
        "ipython_kernel_config.json",
        '{"InteractiveShellApp": {"extensions": ["autoreload"]}}\n',
    ),
    "sys-prefix ipython_config.json extra_extensions": (
        "sys-prefix",
        "ipython_config.json",
        '{"IPKernelApp": {"extra_extensions": ["autoreload"]}}\n',
    ),
}


@pytest.mark.parametrize("scope", ["--sys-prefix", "--user"])
@pytest.mark.parametrize("config", list(USER_CONFIG))
def test_enable_composes_with_extensions_configured_anywhere(setup, config, scope):
    where, name, text = USER_CONFIG[config]
    theirs = setup.write(where, name, text)
    ok(setup.cli("enable", scope))
    assert theirs.read_text() == text  # their file is untouched
    loaded = setup.loaded()
    assert "autoreload" in loaded and EXT in loaded, loaded
    out = ok(setup.cli("status"))
    assert out.startswith("lc_callbacks_nb: new kernels (profile 'default') load lc_callbacks_nb")
    assert sorted(status_loads(out)) == loaded
    (line,) = [x for x in out.splitlines() if x.split()[:1] == ["autoreload"]]
    assert line.endswith(f" in {theirs}")  # where it comes from
    ok(setup.cli("disable", scope))
    assert setup.loaded() == ["autoreload", "storemagic"]  # disable takes back only ours


def test_status_says_when_a_list_elsewhere_replaces_ours_and_enable_fixes_it(setup):
    # what the previous `enable` (sys-prefix) wrote, and a list the user set in the profile:
    # the profile's list wins, the kernel loads no lc_callbacks_nb, and status must say so
    legacy = setup.write("sys-prefix", "ipython_kernel_config.json", "")
    legacy.write_text(json.dumps({"IPKernelApp": {"extensions": [EXT]}}, indent=2) + "\n")
    theirs = setup.write(
        "user", "ipython_kernel_config.json", '{"IPKernelApp": {"extensions": ["autoreload"]}}'
    )
    assert EXT not in setup.loaded()
    out = ok(setup.cli("status"))
    assert out.startswith("lc_callbacks_nb: new kernels (profile 'default') do NOT load")
    assert f"because {theirs} sets IPKernelApp.extensions = ['autoreload']" in out
    assert status_loads(out) == ["storemagic", "autoreload"]

    out = ok(setup.cli("enable"))
    assert f"removed lc_callbacks_nb from {legacy}" in out
    assert not legacy.exists()  # it held nothing else
    loaded = setup.loaded()
    assert loaded == ["autoreload", EXT, "storemagic"]
    assert sorted(status_loads(ok(setup.cli("status")))) == loaded


def test_status_sees_the_append_line_a_user_adds(setup):
    setup.write("user", "ipython_config.py", "c.InteractiveShellApp.extensions = ['autoreload']\n")
    py = setup.write(
        "user",
        "ipython_kernel_config.py",
        "# added by hand\nc.IPKernelApp.extensions.append('lc_callbacks_nb')\n",
    )
    out = ok(setup.cli("status"))
    assert out.startswith("lc_callbacks_nb: new kernels (profile 'default') load lc_callbacks_nb")
    assert f"IPKernelApp.extensions in {py}" in out
    loaded = setup.loaded()
    assert loaded == ["autoreload", EXT, "storemagic"]
    assert sorted(status_loads(out)) == loaded
    out = ok(setup.cli("disable", "--user"))
    assert f"{py} lists lc_callbacks_nb; remove that line by hand" in out
    assert "new kernels (profile 'default') load lc_callbacks_nb" in out  # still, and it says so


def test_a_comment_mentioning_extensions_does_not_block_enable(setup):
    text = (
        "# extensions: we load ours in ipython_config.py, not here\n"
        "# (c.IPKernelApp.extensions.append('lc_callbacks_nb') was tried once)\n"
        "c.InteractiveShellApp.exec_lines = ['marker = 42']\n"
    )
    py = setup.write("user", "ipython_kernel_config.py", text)
    ok(setup.cli("enable", "--user"))
    assert py.read_text() == text
    with setup.kernel() as k:
        assert EXT in k.eval(LOADED) and k.eval("marker") == 42
    out = ok(setup.cli("disable", "--user"))
    assert "by hand" not in out and "do NOT load" in out  # a comment lists nothing


def test_symlinked_config_stays_a_symlink_and_keeps_its_bytes(setup):
    dotfiles = setup.tmp / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "kernel.json"
    text = '{\n    "IPKernelApp": {"extensions": ["autoreload"]},\n    "X": {"y": 1}\n}\n'
    target.write_text(text)
    link = setup.profile / "ipython_kernel_config.json"
    link.symlink_to(target)
    ok(setup.cli("enable", "--user"))
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text() == text
    assert setup.loaded() == ["autoreload", EXT, "storemagic"]
    ok(setup.cli("disable", "--user"))
    assert link.is_symlink() and target.read_text() == text


def test_disable_edits_a_symlinked_json_through_to_its_target(setup):
    dotfiles = setup.tmp / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "kernel.json"
    before = (
        "{\n"
        '    "IPKernelApp": {\n'
        '        "extensions": ["autoreload", "lc_callbacks_nb"],\n'
        '        "exec_lines": ["x = \\u00e9"]\n'
        "    },\n"
        '    "InteractiveShell": {"colors": "nocolor"}\n'
        "}\n"
    )
    target.write_text(before)
    link = setup.profile / "ipython_kernel_config.json"
    link.symlink_to(target)
    out = ok(setup.cli("disable", "--user"))
    assert link.is_symlink() and link.resolve() == target
    assert f"removed lc_callbacks_nb from the extensions list in {link}" in out
    assert target.read_text() == before.replace(', "lc_callbacks_nb"', "")


@pytest.mark.parametrize("scope", ["--sys-prefix", "--user"])
def test_uninstalled_before_disable_no_traceback_at_kernel_start(setup, scope, capfd):
    # a broken entry of the user's own proves the kernel's log reaches capfd
    setup.write(
        "user",
        "ipython_config.py",
        "c.InteractiveShellApp.extensions = ['autoreload', 'no_such_ext_xyz']\n",
    )
    ok(setup.cli("enable", scope))
    setup.set_installed(False)  # `pip uninstall lc_callbacks_nb`, without `disable`
    capfd.readouterr()
    with setup.kernel() as k:
        spec = k.eval("str(__import__('importlib.util').util.find_spec('lc_callbacks_nb'))")
        loaded = k.eval(LOADED)
        leftovers = k.eval("[n for n in dir() if 'lc_callbacks' in n]")
    err = capfd.readouterr().err
    assert "lc_callbacks_nb" not in err, err
    assert "Error in loading extension: no_such_ext_xyz" in err  # the kernel's log was captured
    assert err.count("Traceback") == 1, err  # that one
    assert spec == "None"  # really uninstalled
    assert loaded == ["autoreload", "storemagic"] and leftovers == []


# -- the JSON edit, without kernels ----------------------------------------------------------

JSON_EDITS = [
    # (before, after): only our entry and its comma go; "" after = the file is deleted
    ('{"IPKernelApp": {"extensions": ["lc_callbacks_nb"]}}', ""),
    (
        '{\n  "IPKernelApp": {\n    "extensions": [\n      "a",\n      "lc_callbacks_nb"\n    ]\n'
        "  }\n}\n",
        '{\n  "IPKernelApp": {\n    "extensions": [\n      "a"\n    ]\n  }\n}\n',
    ),
    (
        '{"IPKernelApp":{"extensions":["lc_callbacks_nb", "a",  "b"],"pylab":"inline"}}',
        '{"IPKernelApp":{"extensions":["a",  "b"],"pylab":"inline"}}',
    ),
    (
        '{"X": 1,\n "IPKernelApp": {"pylab": "inline", "extensions": ["lc_callbacks_nb"]}}\n',
        '{"X": 1,\n "IPKernelApp": {"pylab": "inline"}}\n',
    ),
    (
        '{"IPKernelApp": {"extensions": ["lc_callbacks_nb"]},\n "X": {"y": [1, 2]}}',
        '{"X": {"y": [1, 2]}}',
    ),
    (
        '{"InteractiveShellApp": {"extra_extensions": ["a", "lc_callbacks_nb", "b"]}, "Y": {}}',
        '{"InteractiveShellApp": {"extra_extensions": ["a", "b"]}, "Y": {}}',
    ),
    # not in an extensions list of a kernel section: left alone
    ('{"Other": {"extensions": ["lc_callbacks_nb"]}}', None),
    ('{"IPKernelApp": {"exec_lines": ["import lc_callbacks_nb"]}}', None),
]


@pytest.mark.parametrize(("before", "after"), JSON_EDITS)
def test_disable_removes_only_our_entry_from_json_text(tmp_path, before, after):
    path = tmp_path / "ipython_kernel_config.json"
    path.write_text(before)
    autoload.disable(tmp_path)
    if after is None:
        assert path.read_text() == before
    elif after == "":
        assert not path.exists()
    else:
        assert path.read_text() == after


def test_emptied_symlinked_json_is_kept_as_an_empty_object(tmp_path):
    target = tmp_path / "target.json"
    target.write_text('{"IPKernelApp": {"extensions": ["lc_callbacks_nb"]}}\n')
    (tmp_path / "ipython_kernel_config.json").symlink_to(target)
    autoload.disable(tmp_path)
    assert (tmp_path / "ipython_kernel_config.json").is_symlink()
    assert target.read_text() == "{}\n"


def test_duplicate_keys_fall_back_to_the_parsed_content(tmp_path):
    path = tmp_path / "ipython_kernel_config.json"
    path.write_text('{"X": 1, "X": 2, "IPKernelApp": {"extensions": ["a", "lc_callbacks_nb"]}}')
    autoload.disable(tmp_path)
    assert read(path) == {"X": 2, "IPKernelApp": {"extensions": ["a"]}}


def test_invalid_json_is_left_alone(tmp_path):
    config = tmp_path / "ipython_kernel_config.json"
    config.write_text('{not json "lc_callbacks_nb"')
    out = autoload.disable(tmp_path)
    assert "not valid JSON" in out and "by hand" in out
    assert config.read_text() == '{not json "lc_callbacks_nb"'
    autoload.enable(tmp_path)  # enable does not need it
    assert config.read_text() == '{not json "lc_callbacks_nb"'


def test_enable_writes_a_symlinked_startup_file_through(tmp_path):
    target = tmp_path / "dotfiles" / "autoload.py"
    target.parent.mkdir()
    target.write_text(autoload.MARKER + ": an older version\n")
    link = autoload.startup_file(tmp_path)
    link.parent.mkdir()
    link.symlink_to(target)
    autoload.enable(tmp_path)
    assert link.is_symlink() and target.read_text() == autoload.STARTUP_SOURCE
    autoload.disable(tmp_path)
    assert not link.exists() and not link.is_symlink()
    assert target.read_text() == autoload.STARTUP_SOURCE  # the link goes, the target stays


def test_enable_refuses_to_overwrite_a_startup_file_it_did_not_write(tmp_path):
    path = autoload.startup_file(tmp_path)
    path.parent.mkdir()
    path.write_text("print('mine')\n")
    with pytest.raises(autoload.AutoloadError, match="not written by lc_callbacks_nb"):
        autoload.enable(tmp_path)
    assert "left it" in autoload.disable(tmp_path)
    assert path.read_text() == "print('mine')\n"


def test_cli_refusal_is_one_message_and_exit_1(tmp_path):
    startup = tmp_path / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / autoload.STARTUP_NAME).write_text("print('mine')\n")
    done = subprocess.run(
        [sys.executable, "-m", "lc_callbacks_nb", "enable", "--user"],
        capture_output=True,
        text=True,
        env={**os.environ, "IPYTHONDIR": str(tmp_path)},
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "not written by lc_callbacks_nb" in done.stderr


def test_disable_when_not_enabled(tmp_path):
    assert autoload.disable(tmp_path).endswith(
        "not enabled in " + str(tmp_path) + "; nothing to do"
    )


# -- report(): the merge as IPKernelApp does it, without kernels ------------------------------

MERGES = [
    # ({(where, file): text}, what the kernel's extensions + extra_extensions end up as)
    (
        {
            (
                "sys",
                "ipython_kernel_config.json",
            ): '{"IPKernelApp": {"extensions": ["lc_callbacks_nb"]}}',
            ("user", "ipython_config.py"): "c.InteractiveShellApp.extensions = ['a']",
        },
        ["lc_callbacks_nb"],  # the class's own section wins over its parent's, in any file
    ),
    (
        {
            ("sys", "ipython_kernel_config.json"): '{"InteractiveShellApp": {"extensions": ["a"]}}',
            ("user", "ipython_kernel_config.py"): "c.IPKernelApp.extensions.append('b')",
        },
        ["a", "b"],  # a lazy append adds to the list it is merged onto
    ),
    (
        {
            ("user", "ipython_kernel_config.py"): "c.IPKernelApp.extensions.append('b')",
            ("user", "ipython_kernel_config.json"): '{"IPKernelApp": {"extensions": ["a"]}}',
        },
        ["a"],  # .json after .py in one folder: a plain list replaces the lazy one
    ),
    (
        {
            ("user", "ipython_kernel_config.py"): "# c.IPKernelApp.extensions.append('x')\n",
            ("sys", "ipython_config.json"): '{"InteractiveShellApp": {"extra_extensions": ["e"]}}',
        },
        ["e"],  # comments are not config
    ),
]


@pytest.mark.parametrize(("files", "expected"), MERGES)
def test_report_merges_like_ipkernelapp(tmp_path, files, expected):
    ipython_dir, prefix = tmp_path / "ipython", tmp_path / "prefix"
    dirs = {
        "user": autoload.user_dir("default", ipython_dir),
        "sys": autoload.sys_prefix_dir(prefix),
    }
    for (where, name), text in files.items():
        dirs[where].mkdir(parents=True, exist_ok=True)
        (dirs[where] / name).write_text(text)
    rep = autoload.report("default", ipython_dir, prefix, system_dirs=[])
    assert [e for e, _ in rep.loads] == ["storemagic", *expected]
    assert rep.will_load == (EXT in expected)


def test_sys_prefix_and_user_locations(tmp_path):
    assert autoload.sys_prefix_dir(tmp_path) == tmp_path / "etc" / "ipython"
    assert autoload.sys_prefix_dir() == Path(sys.prefix) / "etc" / "ipython"
    assert autoload.user_dir("work", tmp_path) == tmp_path / "profile_work"
    assert autoload.startup_file(tmp_path) == tmp_path / "startup" / "00-lc_callbacks_nb.py"
    # the CLI's default is --sys-prefix: check the path it would use without writing to it
    where = [d for scope, d in autoload.search_dirs() if scope == "sys-prefix"]
    assert where == [Path(sys.prefix) / "etc" / "ipython"]
    dirs = autoload.search_dirs("p", tmp_path, "/usr/local", ["/usr/local/etc/ipython"])
    assert dirs == [("user", tmp_path / "profile_p"), ("system", Path("/usr/local/etc/ipython"))]
