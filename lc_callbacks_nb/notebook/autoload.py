"""Opt-in autoload: make new kernels load the extension without ``%load_ext``.

How IPKernelApp decides what to load, and why ``enable`` does not touch any list of extensions:

- It reads ``ipython_config.{py,json}`` then ``ipython_kernel_config.{py,json}`` from
  ``/etc/ipython``, ``/usr/local/etc/ipython``, ``{sys.prefix}/etc/ipython`` and the profile
  folder, in that order (``.json`` after ``.py`` in one folder), and merges them with
  traitlets: a later file's value for a key replaces the earlier one whole. Only a lazy edit
  (``c.X.extensions.append(...)`` in a ``.py`` file) adds to an earlier list; JSON cannot express
  one (its loader builds plain values). On top of that ``IPKernelApp.extensions`` beats
  ``InteractiveShellApp.extensions`` in any file, because a class's own section wins over its
  parents'. So any list we write replaces someone's list, or is replaced by one.
- It then loads ``default_extensions + extensions + extra_extensions``, and after that runs
  every ``*.py`` in the profile's ``startup/`` folder and in ``{each config folder}/startup/``.
  Startup files are separate files: no file replaces another.

Hence ``enable`` writes one file of its own, ``<location>/startup/00-lc_callbacks_nb.py``
(:data:`STARTUP_SOURCE`), which loads the extension in kernels only, never raises (so the startup
files after it still run), and does nothing at all when the package cannot be imported: a
package uninstalled before ``disable`` leaves a file that is silent until deleted. ``disable``
deletes that file. ``enable`` removes ``lc_callbacks_nb`` from the extensions lists of that
location's ``ipython_kernel_config.json`` (where versions before this one put it, replacing the
user's lists); ``disable`` does so in its ``ipython_config.json`` too. Both edit the text in
place, through symlinks, keeping every other byte. :func:`report` (``status``) merges the config
files the way IPKernelApp does and says what a new kernel will load, where each entry comes
from, and which file replaced a list, if one did.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXTENSION = "lc_callbacks_nb"
STARTUP_NAME = "00-lc_callbacks_nb.py"
MARKER = "# lc_callbacks_nb autoload"
STARTUP_SOURCE = f'''{MARKER}: written by `python -m lc_callbacks_nb enable`, deleted by `disable`.
# In a Jupyter kernel this loads the lc_callbacks_nb IPython extension, next to every extension
# the config files list (it changes none of them). If lc_callbacks_nb cannot be imported here
# (uninstalled, or a kernel of another environment) it does nothing and prints nothing; any other
# failure is logged like a failed extension and never stops the startup files after this one.
# Delete this file to stop it.


def _lc_callbacks_nb_autoload():
    import importlib.util

    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return  # terminal IPython: autoload is for kernels
    try:
        if importlib.util.find_spec("{EXTENSION}") is None:
            return  # not installed in this environment: nothing to load, nothing to say
        shell.extension_manager.load_extension("{EXTENSION}")
    except Exception:
        import logging

        from traitlets.config import Application

        log = Application.instance().log if Application.initialized() else logging.getLogger()
        log.warning("Error in loading extension: {EXTENSION}\\nfrom %s", __file__, exc_info=True)


try:
    _lc_callbacks_nb_autoload()
finally:
    del _lc_callbacks_nb_autoload
'''

_BASES = ("ipython_config", "ipython_kernel_config")  # the order IPKernelApp loads them in
LEGACY_BASENAME = "ipython_kernel_config"  # where versions before this one wrote our entry
_SECTIONS = ("IPKernelApp", "InteractiveShellApp")
_TRAITS = ("extensions", "extra_extensions")


class AutoloadError(Exception):
    """We will not touch this location; the message says why and what to do instead."""


# -- locations -------------------------------------------------------------------------------


def user_dir(profile: str = "default", ipython_dir: str | os.PathLike[str] | None = None) -> Path:
    if ipython_dir is None:
        from IPython.paths import get_ipython_dir

        ipython_dir = get_ipython_dir()
    return Path(ipython_dir) / f"profile_{profile}"


def sys_prefix_dir(prefix: str | os.PathLike[str] | None = None) -> Path:
    return Path(prefix if prefix is not None else sys.prefix) / "etc" / "ipython"


def search_dirs(
    profile: str = "default",
    ipython_dir: str | os.PathLike[str] | None = None,
    prefix: str | os.PathLike[str] | None = None,
    system_dirs: Sequence[str | os.PathLike[str]] | None = None,
) -> list[tuple[str, Path]]:
    """The config folders IPKernelApp reads, highest priority first (IPython's own lists)."""
    from IPython.core import application

    system = [
        Path(d) for d in (application.SYSTEM_CONFIG_DIRS if system_dirs is None else system_dirs)
    ]
    if prefix is None:
        env = [Path(d) for d in application.ENV_CONFIG_DIRS]
    else:  # IPython leaves the prefix out when it is one of the system folders
        env = [d for d in [sys_prefix_dir(prefix)] if d not in system]
    return (
        [("user", user_dir(profile, ipython_dir))]
        + [("sys-prefix", d) for d in env]
        + [("system", d) for d in system]
    )


def startup_file(directory: str | os.PathLike[str]) -> Path:
    return Path(directory) / "startup" / STARTUP_NAME


# -- files: written through symlinks, unchanged bytes kept ----------------------------------


def _target(path: Path) -> Path:
    """The file an edit of ``path`` must change: the end of its symlink chain."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _write_text(path: Path, text: str) -> None:
    target = _target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _is_ours(path: Path) -> bool:
    try:
        return path.read_text(encoding="utf-8", errors="replace").startswith(MARKER)
    except OSError:
        return False


# -- JSON: remove our entry from the text, keeping everything else as it was -----------------


@dataclass
class _Node:
    kind: str  # "object" | "array" | "scalar"
    start: int
    end: int = 0
    value: Any = None
    items: list[tuple[str, int, _Node]] = field(default_factory=list)  # (key or "", start, node)


_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _parse_spans(text: str) -> _Node:
    """Parse JSON, keeping where each value and each member/element starts and ends."""

    def skip(i: int) -> int:
        m = _WS.match(text, i)
        assert m is not None
        return m.end()

    def char(i: int) -> str:
        if i >= len(text):
            raise ValueError("unexpected end of JSON")
        return text[i]

    def value(i: int) -> _Node:
        i = skip(i)
        ch = char(i)
        if ch not in "{[":
            obj, end = _DECODER.raw_decode(text, i)
            return _Node("scalar", i, end, obj)
        node = _Node("object" if ch == "{" else "array", i)
        close = "}" if ch == "{" else "]"
        i = skip(i + 1)
        if char(i) == close:
            node.end = i + 1
            return node
        while True:
            i = skip(i)
            key, start = "", i
            if node.kind == "object":
                if char(i) != '"':
                    raise ValueError(f"expected a key at {i}")
                key, i = _DECODER.raw_decode(text, i)
                i = skip(i)
                if char(i) != ":":
                    raise ValueError(f"expected ':' at {i}")
                i += 1
            child = value(i)
            node.items.append((key, start, child))
            i = skip(child.end)
            if char(i) == ",":
                i += 1
            elif char(i) == close:
                node.end = i + 1
                return node
            else:
                raise ValueError(f"expected ',' or {close!r} at {i}")

    root = value(0)
    if skip(root.end) != len(text):
        raise ValueError("extra data after JSON")
    return root


def _drop_ranges(node: _Node, drop: list[int]) -> list[tuple[int, int]]:
    """Text ranges that remove ``node``'s items at ``drop`` with their commas, nothing else."""
    if len(drop) == len(node.items):
        return [(node.start + 1, node.end - 1)]
    starts = [start for _, start, _ in node.items]
    ends = [child.end for _, _, child in node.items]
    ranges, run = [], [drop[0]]
    for k in [*drop[1:], None]:
        if k is not None and k == run[-1] + 1:
            run.append(k)
            continue
        a, b = run[0], run[-1]
        if b + 1 < len(node.items):  # from this item up to the next kept one
            ranges.append((starts[a], starts[b + 1]))
        else:  # the last items: from the end of the kept one before them
            ranges.append((ends[a - 1], ends[b]))
        if k is not None:
            run = [k]
    return ranges


def _is_us(node: _Node) -> bool:
    return node.kind == "scalar" and node.value == EXTENSION


def _without_us_text(text: str) -> str | None:
    """``text`` with our entry taken out of every extensions list; None if there is none."""
    root = _parse_spans(text)
    if root.kind != "object":
        return None
    ranges: list[tuple[int, int]] = []
    drop_sections = []
    for i, (section, _, sec) in enumerate(root.items):
        if section not in _SECTIONS or sec.kind != "object":
            continue
        drop_keys = []
        for j, (key, _, lst) in enumerate(sec.items):
            if key not in _TRAITS or lst.kind != "array":
                continue
            hits = [k for k, (_, _, el) in enumerate(lst.items) if _is_us(el)]
            if hits and len(hits) == len(lst.items):
                drop_keys.append(j)  # the list held only us: remove the key
            elif hits:
                ranges += _drop_ranges(lst, hits)
        if drop_keys and len(drop_keys) == len(sec.items):
            drop_sections.append(i)  # and the section, if that was all it held
        elif drop_keys:
            ranges += _drop_ranges(sec, drop_keys)
    if drop_sections:
        ranges += _drop_ranges(root, drop_sections)
    if not ranges:
        return None
    for a, b in sorted(ranges, reverse=True):
        text = text[:a] + text[b:]
    return text


def _without_us(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    for section in _SECTIONS:
        sec = data.get(section)
        if not isinstance(sec, dict):
            continue
        for key in _TRAITS:
            lst = sec.get(key)
            if isinstance(lst, list) and EXTENSION in lst:
                sec[key] = [e for e in lst if e != EXTENSION]
                if not sec[key]:
                    del sec[key]
        if not sec:
            del data[section]
    return data


def _remove_from_json(path: Path) -> str | None:
    """Take our entry out of ``path``'s extensions lists; say what was done (None: nothing)."""
    if not path.exists():
        return None
    try:
        text = _target(path).read_text(encoding="utf-8")
    except OSError as exc:
        return f"could not read {path} ({exc}); remove {EXTENSION} from it by hand, if it is there"
    try:
        data = json.loads(text or "{}")
    except ValueError as exc:
        if EXTENSION not in text:
            return None
        return f"{path} is not valid JSON ({exc}); left it alone: remove {EXTENSION} by hand"
    if not isinstance(data, dict) or _without_us(data) == data:
        return None
    expected = _without_us(data)
    try:
        new = _without_us_text(text)
        if new is None or json.loads(new or "{}") != expected:
            raise ValueError("in-place edit did not give the expected JSON")
    except ValueError:  # e.g. duplicate keys: write the parsed content back instead
        new = json.dumps(expected, indent=2) + "\n"
    if expected == {} and not path.is_symlink():
        path.unlink()
        return f"removed {EXTENSION} from {path} (nothing else was in it: deleted the file)"
    _write_text(path, new)
    return f"removed {EXTENSION} from the extensions list in {path}"


# -- enable / disable ------------------------------------------------------------------------


def is_enabled(directory: str | os.PathLike[str]) -> bool:
    """Whether ``enable`` was run for this location (its startup file is there)."""
    path = startup_file(directory)
    return path.is_file() and _is_ours(path)


def enable(directory: str | os.PathLike[str]) -> str:
    """Add our startup file to ``directory/startup``; return what was done."""
    directory = Path(directory)
    path = startup_file(directory)
    msgs = []
    if path.exists() and not _is_ours(path):
        raise AutoloadError(
            f"{path} exists and was not written by lc_callbacks_nb; rename or remove it first"
        )
    if path.exists() and _target(path).read_text(encoding="utf-8") == STARTUP_SOURCE:
        msgs.append(f"lc_callbacks_nb: already enabled ({path})")
    else:
        _write_text(path, STARTUP_SOURCE)
        msgs.append(
            f"lc_callbacks_nb: enabled: wrote {path}\n"
            "  new kernels load it next to the extensions they already load; running kernels"
            " are unchanged"
        )
    legacy = _remove_from_json(directory / f"{LEGACY_BASENAME}.json")
    if legacy:
        msgs.append(
            f"lc_callbacks_nb: {legacy}\n  (older versions of `enable` put it there, and a list"
            " there replaced the extensions lists of other config files)"
        )
    return "\n".join(msgs)


def disable(directory: str | os.PathLike[str]) -> str:
    """Delete our startup file and our entry in this location's JSON lists; say what was done."""
    directory = Path(directory)
    path = startup_file(directory)
    msgs = []
    if path.is_symlink() or path.exists():
        if _is_ours(path):
            path.unlink()  # a symlink is removed, not its target
            msgs.append(f"lc_callbacks_nb: disabled: deleted {path}")
        else:
            msgs.append(f"lc_callbacks_nb: {path} was not written by lc_callbacks_nb; left it")
    for base in _BASES:
        done = _remove_from_json(directory / f"{base}.json")
        if done:
            msgs.append(f"lc_callbacks_nb: {done}")
    for f in _files_listing_us(directory):
        msgs.append(f"lc_callbacks_nb: {f} lists {EXTENSION}; remove that line by hand")
    if not msgs:
        msgs.append(f"lc_callbacks_nb: not enabled in {directory}; nothing to do")
    return "\n".join(msgs)


# -- what a new kernel will load -------------------------------------------------------------


@dataclass
class ConfigFile:
    """One config file IPKernelApp reads, and the extensions lists it sets."""

    path: Path
    base: str
    config: Any  # traitlets Config
    lists: dict[str, Any]  # "Section.trait" -> a list, or a lazy edit (``.append`` in a .py)


@dataclass
class Replaced:
    """Merging ``path`` replaced lists that held ``dropped`` (entry -> the file that listed it)."""

    path: Path
    sets: dict[str, list[str]]  # the plain lists it sets
    dropped: dict[str, Path | None]

    def __str__(self) -> str:
        sets = "; ".join(f"{key} = {value}" for key, value in self.sets.items())
        held = ", ".join(f"{e} (listed in {src})" if src else e for e, src in self.dropped.items())
        return (
            f"{self.path} sets {sets}, which replaces the list read before it: not loaded: "
            f"{held}. A JSON value or a plain `=` replaces a list; only `.append(...)` in a .py"
            " config adds to it"
        )


@dataclass
class Report:
    profile: str
    loads: list[tuple[str, str]]  # (extension, where it comes from), in load order
    locations: list[tuple[str, Path, bool]]  # (scope, folder, our startup file is there)
    files: list[ConfigFile]
    replaced: list[Replaced]
    errors: list[str]

    @property
    def will_load(self) -> bool:
        return any(e == EXTENSION for e, _ in self.loads)


def _collect_logger() -> tuple[logging.Logger, list[str]]:
    errors: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                exc = record.exc_info[1] if record.exc_info else None
                errors.append(f"{record.getMessage()}: {exc!r}" if exc else record.getMessage())

    log = logging.getLogger(f"{__name__}.configload")
    log.handlers[:] = [Collect()]
    log.propagate = False
    log.setLevel(logging.DEBUG)
    return log, errors


def _is_lazy(value: Any) -> bool:
    from traitlets.config.loader import LazyConfigValue

    return isinstance(value, LazyConfigValue)


def _lists_in(config: Any, sections: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section in sections:
        if not config._has_section(section):
            continue
        for trait in _TRAITS:
            value = dict.get(config[section], trait)
            if value is not None:
                out[f"{section}.{trait}"] = value if _is_lazy(value) else list(value)
    return out


def _entries(value: Any) -> list[str]:
    if _is_lazy(value):
        return [*value._prepend, *(v for _, v in value._inserts), *value._extend]
    return list(value) if isinstance(value, list | tuple) else []


def _load_files(dirs: Sequence[Path]) -> tuple[list[ConfigFile], list[str]]:
    """Every config file IPKernelApp reads from ``dirs`` (highest priority first), in the order
    it merges them, loaded by IPKernelApp's own loaders."""
    from ipykernel.kernelapp import IPKernelApp

    log, errors = _collect_logger()
    sections = IPKernelApp.section_names()
    files = []
    for base in _BASES:
        for config, name in IPKernelApp._load_config_files(
            base, path=[str(d) for d in dirs], log=log, raise_config_file_errors=False
        ):
            files.append(ConfigFile(Path(name), base, config, _lists_in(config, sections)))
    return files, errors


def _effective(files: Sequence[ConfigFile]) -> dict[str, list[str]]:
    """The extensions lists an IPKernelApp ends up with after merging ``files`` as it does."""
    from ipykernel.kernelapp import IPKernelApp
    from traitlets import TraitError
    from traitlets.config import Config

    merged = Config()
    for base in _BASES:  # BaseIPythonApplication.load_config_file: one merge per file name
        new = Config()
        for f in files:
            if f.base == base:
                new.merge(copy.deepcopy(f.config))
        merged.merge(new)
    try:
        app = IPKernelApp(config=merged)
    except TraitError as exc:
        raise AutoloadError(
            f"the kernel config is invalid, kernels will not start: {exc}"
        ) from None
    return {
        "default_extensions": list(app.default_extensions),
        "extensions": list(app.extensions),
        "extra_extensions": list(app.extra_extensions),
    }


def _files_listing_us(directory: Path) -> list[Path]:
    """This location's config files whose loaded content lists us (comments do not count)."""
    files, _ = _load_files([directory])
    return [f.path for f in files if any(EXTENSION in _entries(v) for v in f.lists.values())]


def _listed_in(entry: str, files: Sequence[ConfigFile], key: str = "") -> Path | None:
    """The last of ``files`` that lists ``entry`` (in ``key`` lists, if given)."""
    for f in reversed(files):
        for name, value in f.lists.items():
            if name.endswith(f".{key}" if key else "") and entry in _entries(value):
                return f.path
    return None


def report(
    profile: str = "default",
    ipython_dir: str | os.PathLike[str] | None = None,
    prefix: str | os.PathLike[str] | None = None,
    system_dirs: Sequence[str | os.PathLike[str]] | None = None,
) -> Report:
    """What a new kernel of this environment, with this profile, will load, and why.

    The config files are loaded and merged by IPKernelApp's own loaders and classes (so
    ``.append`` in a .py, section precedence and file order count exactly as in a kernel); the
    startup files are the ones ``enable`` writes. Not seen: options on a kernelspec's command
    line (``--ext``, ``--profile``) and startup files that load extensions themselves.
    """
    dirs = search_dirs(profile, ipython_dir, prefix, system_dirs)
    files, errors = _load_files([d for _, d in dirs])

    replaced = []
    before = _effective([])
    for k, f in enumerate(files):
        after = _effective(files[: k + 1])
        dropped = [e for key in _TRAITS for e in before[key] if e not in after[key]]
        if dropped:
            sets = {key: v for key, v in f.lists.items() if not _is_lazy(v)}
            held = {e: _listed_in(e, files[:k]) for e in dropped}
            replaced.append(Replaced(f.path, sets, held))
        before = after

    final = before
    loads: list[tuple[str, str]] = [(e, "built in") for e in final["default_extensions"]]
    for key in _TRAITS:
        for e in final[key]:
            src = next(
                (
                    f"{name} in {f.path}"
                    for f in reversed(files)
                    for name, v in f.lists.items()
                    if name.endswith(f".{key}") and e in _entries(v)
                ),
                f"{key} (config)",
            )
            loads.append((e, src))
    locations = []
    for scope, d in dirs:
        here = is_enabled(d)
        locations.append((scope, d, here))
        if here:  # startup files run after the config's extensions are loaded
            loads.append((EXTENSION, f"startup file {startup_file(d)}"))
    seen: set[str] = set()
    once = []
    for e, src in loads:  # a second load_extension of the same name does nothing
        if e not in seen:
            seen.add(e)
            once.append((e, src))
    return Report(profile, once, locations, files, replaced, errors)


def verdict(rep: Report) -> str:
    """One line (and the reasons, if not loaded) for ``enable``/``disable``/``status``."""
    does = "load" if rep.will_load else "do NOT load"
    lines = [f"lc_callbacks_nb: new kernels (profile {rep.profile!r}) {does} lc_callbacks_nb"]
    if not rep.will_load:
        lines += [f"  because {r}" for r in rep.replaced if EXTENSION in r.dropped]
    others = [str(r) for r in rep.replaced if EXTENSION not in r.dropped or rep.will_load]
    lines += [f"  note: {r}" for r in others]
    return "\n".join(lines)


def status(
    profile: str = "default",
    ipython_dir: str | os.PathLike[str] | None = None,
    prefix: str | os.PathLike[str] | None = None,
    system_dirs: Sequence[str | os.PathLike[str]] | None = None,
) -> str:
    rep = report(profile, ipython_dir, prefix, system_dirs)
    lines = [verdict(rep), "extensions a new kernel loads, in order:"]
    width = max(len(e) for e, _ in rep.loads)
    lines += [f"  {e:<{width}}  {src}" for e, src in rep.loads]
    lines.append("lc_callbacks_nb startup file (`enable`):")
    for scope, d, here in rep.locations:
        mark = f"enabled ({startup_file(d).relative_to(d)})" if here else "-"
        lines.append(f"  {scope:<10} {d}  {mark}")
    lines.append("config files read, later ones win:" if rep.files else "config files read: none")
    lines += [f"  {f.path}" for f in rep.files]
    lines += [f"  could not load (a kernel skips it too): {e}" for e in rep.errors]
    return "\n".join(lines)
