"""Fixtures for the guard tests: a running guard in a private mount namespace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.guard.harness import GuardRun, have_tools, make_run

requires_guard_env = pytest.mark.skipif(
    not have_tools("unshare", "nsenter", "mount"), reason="needs root, unshare and nsenter"
)


@pytest.fixture
def guard(tmp_path: Path) -> Iterator[GuardRun]:
    run = make_run(tmp_path)
    run.start()
    try:
        yield run
    finally:
        run.stop()
