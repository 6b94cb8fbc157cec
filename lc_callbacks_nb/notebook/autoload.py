"""Opt-in autoload: make new kernels load the extension without ``%load_ext``.

IPKernelApp reads ``ipython_kernel_config.{py,json}`` from the profile folder, then
``{sys.prefix}/etc/ipython``, ``/usr/local/etc/ipython`` and ``/etc/ipython``. There are no ``.d``
folders, so one file per location is shared by every package and the user. Hence:

- ``enable`` merges one entry into that location's ``ipython_kernel_config.json``: it appends
  ``"lc_callbacks_nb"`` to ``IPKernelApp.extensions`` (or to ``InteractiveShellApp.extensions``
  when that list is the one already there), keeping every other key and entry.
- ``disable`` removes only that entry, then any list, section or file left empty by it.
- A ``ipython_kernel_config.py`` in the same folder that sets ``extensions`` would clash (the
  JSON file wins over the ``.py`` one, key by key, so a JSON list would silently replace its
  list). We do not edit Python: we refuse and print the line to add.

Nothing is enabled by installing the package: the wheel ships no ``ipython_kernel_config.json``
(that would clobber the file of whoever else owns it, and autoload is opt-in).
``jupyter-config/lc_callbacks_nb/ipython_kernel_config.json`` in the source tree shows the
entry ``enable`` merges; it is :data:`SNIPPET`.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

EXTENSION = "lc_callbacks_nb"
SNIPPET: dict[str, Any] = {"IPKernelApp": {"extensions": [EXTENSION]}}
BASENAME = "ipython_kernel_config"
_SECTIONS = ("IPKernelApp", "InteractiveShellApp")  # where an extensions list may live
_SETS_EXTENSIONS = re.compile(r"\bextensions\b")


class AutoloadError(Exception):
    """We will not touch this location; the message says why and what to do instead."""


def user_dir(profile: str = "default", ipython_dir: str | os.PathLike[str] | None = None) -> Path:
    if ipython_dir is None:
        from IPython.paths import get_ipython_dir

        ipython_dir = get_ipython_dir()
    return Path(ipython_dir) / f"profile_{profile}"


def sys_prefix_dir(prefix: str | os.PathLike[str] | None = None) -> Path:
    return Path(prefix if prefix is not None else sys.prefix) / "etc" / "ipython"


def search_dirs(profile: str = "default") -> list[tuple[str, Path]]:
    """Where IPKernelApp looks, highest priority first."""
    return [
        ("user", user_dir(profile)),
        ("sys-prefix", sys_prefix_dir()),
        ("system", Path("/usr/local/etc/ipython")),
        ("system", Path("/etc/ipython")),
    ]


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError) as exc:
        raise AutoloadError(f"{path} is not valid JSON ({exc}); fix or remove it first") from None
    if not isinstance(data, dict):
        raise AutoloadError(f"{path} does not hold a JSON object; fix or remove it first")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _lists(data: dict[str, Any]) -> list[list[Any]]:
    out = []
    for section in _SECTIONS:
        value = (
            data.get(section, {}).get("extensions") if isinstance(data.get(section), dict) else None
        )
        if isinstance(value, list):
            out.append(value)
    return out


def is_enabled(directory: Path) -> bool:
    try:
        data = _read_json(directory / f"{BASENAME}.json")
    except AutoloadError:
        return False
    return any(EXTENSION in lst for lst in _lists(data))


def enable(directory: Path) -> str:
    """Merge our entry into ``directory/ipython_kernel_config.json``; return what was done."""
    directory = Path(directory)
    py, js = directory / f"{BASENAME}.py", directory / f"{BASENAME}.json"
    data = _read_json(js)
    if any(EXTENSION in lst for lst in _lists(data)):
        return f"lc_callbacks_nb: already enabled in {js}"
    if py.exists() and _SETS_EXTENSIONS.search(py.read_text(errors="replace")):
        raise AutoloadError(
            f"{py} sets extensions, and a JSON file beside it would replace that list. "
            f"Add this line to it, after any line that sets extensions:\n"
            f"    c.IPKernelApp.extensions.append({EXTENSION!r})"
        )
    for section in _SECTIONS:  # extend the list that is already there, if any
        sec = data.get(section)
        if isinstance(sec, dict) and isinstance(sec.get("extensions"), list):
            sec["extensions"].append(EXTENSION)
            break
    else:
        sec = data.setdefault("IPKernelApp", {})
        if not isinstance(sec, dict):
            raise AutoloadError(f"{js}: IPKernelApp is not a JSON object; fix it first")
        sec["extensions"] = [EXTENSION]
    _write_json(js, data)
    return f"lc_callbacks_nb: enabled in {js} (new kernels load it; running ones are unchanged)"


def disable(directory: Path) -> str:
    """Remove our entry (and only what became empty because of it); return what was done."""
    directory = Path(directory)
    py, js = directory / f"{BASENAME}.py", directory / f"{BASENAME}.json"
    data = _read_json(js)
    removed = False
    for section in _SECTIONS:
        sec = data.get(section)
        if not (isinstance(sec, dict) and isinstance(sec.get("extensions"), list)):
            continue
        if EXTENSION in sec["extensions"]:
            removed = True
            sec["extensions"] = [e for e in sec["extensions"] if e != EXTENSION]
            if not sec["extensions"]:
                del sec["extensions"]
            if not sec:
                del data[section]
    msgs = []
    if removed:
        if data:
            _write_json(js, data)
            msgs.append(f"lc_callbacks_nb: disabled in {js}")
        else:
            js.unlink()
            msgs.append(f"lc_callbacks_nb: disabled; removed {js} (nothing else was in it)")
    if py.exists() and EXTENSION in py.read_text(errors="replace"):
        msgs.append(f"lc_callbacks_nb: {py} mentions lc_callbacks_nb; remove that line by hand")
    if not msgs:
        msgs.append(f"lc_callbacks_nb: not enabled in {directory}; nothing to do")
    return "\n".join(msgs)


def status(profile: str = "default") -> str:
    lines = []
    for scope, directory in search_dirs(profile):
        mark = "enabled" if is_enabled(directory) else "-"
        lines.append(f"{scope:<10} {directory}  {mark}")
    return "\n".join(lines)
