"""Shared fixtures: a real kernel per test module, an embedded echo server per test module."""

from __future__ import annotations

import pytest
from harness import KernelSession

from lc_callbacks_nb.server import LocalChatServer


@pytest.fixture(scope="module")
def kernel():
    with KernelSession() as session:
        yield session


@pytest.fixture(scope="module")
def echo_server():
    """Replies with the prompt's own text, so concurrent runs are told apart by content."""
    with LocalChatServer(echo=True) as srv:
        yield srv
