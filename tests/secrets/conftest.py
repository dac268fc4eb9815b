"""Fixtures for the secrets tests: a real OpenBao dev server, temp garrison setups."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.secrets.secrets_support import Bao, Env, start_bao, stop_bao


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    """One real OpenBao dev server for the session (KV v2 at secret/)."""
    server = start_bao(tmp_path_factory.mktemp("bao"))
    try:
        yield server
    finally:
        stop_bao(server)


@pytest.fixture
def fresh_bao(tmp_path: Path) -> Iterator[Bao]:
    """A private OpenBao server for tests that seal or break it."""
    server = start_bao(tmp_path)
    try:
        yield server
    finally:
        stop_bao(server)


@pytest.fixture
def genv(tmp_path: Path) -> Env:
    state = tmp_path / "state"
    state.mkdir()
    return Env(tmp_path, tmp_path / "garrison.toml", state)


@pytest.fixture
def age_env(genv: Env) -> Callable[..., Env]:
    """A garrison config with an initialised age store (identity file outside state_dir)."""

    def make(extra: str = "") -> Env:
        identity = genv.root / "keys" / "age.key"
        genv.write(
            f'[secrets]\nbackend = "age"\n[secrets.age]\nidentity_file = "{identity}"\n'
            + textwrap.dedent(extra)
        )
        result = genv.garrison("secrets", "init")
        assert result.returncode == 0, result.stderr
        return genv

    return make
