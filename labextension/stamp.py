"""Record which sources the prebuilt extension was built from (``make labextension`` runs this).

``jupyter labextension build`` writes ``lc_callbacks_nb/labextension/`` (``package.json`` with
``jupyterlab._build`` and ``static/``). This script adds ``lcnb.sourcesSha256`` to that
``package.json``: a sha256 over the files the build reads (``package.json``,
``package-lock.json``, ``src/**``), so ``tests/test_labextension.py`` can tell, without node,
that the committed build is not older than its sources.

    python labextension/stamp.py           # write the stamp
    python labextension/stamp.py --check   # exit 1 when the build is stale
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import sys

SOURCE = pathlib.Path(__file__).resolve().parent
BUILT = SOURCE.parent / "lc_callbacks_nb" / "labextension"
INPUTS = ("package.json", "package-lock.json")


def source_files(root: pathlib.Path = SOURCE) -> list[pathlib.Path]:
    """The files whose content decides the build, in a fixed order."""
    files = [root / name for name in INPUTS]
    files += sorted(p for p in (root / "src").rglob("*") if p.is_file())
    return files


def sources_sha256(root: pathlib.Path = SOURCE) -> str:
    """sha256 of (relative path, sha256 of content) for every source file, in order."""
    total = hashlib.sha256()
    for path in source_files(root):
        rel = path.relative_to(root).as_posix()
        total.update(f"{rel}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return total.hexdigest()


def recorded(built: pathlib.Path = BUILT) -> str | None:
    data = json.loads((built / "package.json").read_text())
    return data.get("lcnb", {}).get("sourcesSha256")


def write(built: pathlib.Path = BUILT, root: pathlib.Path = SOURCE) -> str:
    path = built / "package.json"
    data = json.loads(path.read_text())
    data["lcnb"] = {"sourcesSha256": sources_sha256(root)}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return data["lcnb"]["sourcesSha256"]


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        ok = recorded() == sources_sha256()
        print("up to date" if ok else "stale: run `make labextension`")
        sys.exit(0 if ok else 1)
    print(write())
