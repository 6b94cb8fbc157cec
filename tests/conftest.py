"""Shared fixtures: a real kernel per test module, an embedded server per test."""

from __future__ import annotations

import pytest
from harness import KernelSession


@pytest.fixture(scope="module")
def kernel():
    with KernelSession() as session:
        yield session
