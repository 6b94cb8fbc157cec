"""Shared fixtures: one embedded server and one kernel per test module.

A module configures them with module-level names instead of redefining the fixtures:

* ``SERVER_OPTIONS``: keyword arguments of ``LocalChatServer`` (default: ``{"echo": True}``, each
  reply repeats its prompt, so concurrent runs are told apart by content);
* ``SETUP``: code run in the kernel once it is up, after ``BASE_URL`` (the server's URL) is
  defined; a ``{base_url}`` field in it is filled in with ``str.format``;
* ``AFTER_SETUP``: further cells to run, in order (e.g. ``"%load_ext lc_callbacks_nb"``).
"""

from __future__ import annotations

import pytest
from harness import KernelSession

from lc_callbacks_nb.server import LocalChatServer


@pytest.fixture(scope="module")
def server(request):
    options = getattr(request.module, "SERVER_OPTIONS", {"echo": True})
    with LocalChatServer(**options) as srv:
        yield srv


@pytest.fixture(scope="module")
def k(request, server):
    setup = getattr(request.module, "SETUP", "")
    with KernelSession() as session:
        session.run(f"BASE_URL = {server.base_url!r}")
        if setup:
            session.run(setup.format(base_url=server.base_url) if "{base_url" in setup else setup)
        for code in getattr(request.module, "AFTER_SETUP", ()):
            session.run(code)
        yield session


@pytest.fixture(scope="module")
def kernel():
    """A bare kernel, no setup."""
    with KernelSession() as session:
        yield session


# --- release: the build tools under tools/ (not a package), loaded by path ---------------------
@pytest.fixture(scope="session")
def third_party_notices():
    """tools/third_party_notices.py: renders THIRD_PARTY_NOTICES.md from the licence reports."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "tools" / "third_party_notices.py"
    spec = importlib.util.spec_from_file_location("third_party_notices", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
