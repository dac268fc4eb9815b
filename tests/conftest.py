"""Shared test helpers: fake roots, running the CLI in-process, root-only markers."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from garrison.cli.main import main
from garrison.config.schema import Config
from garrison.host.facts import Facts
from garrison.host.host import Host

FIXTURE_ROOTS = Path(__file__).parent / "fixtures" / "roots"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Run `garrison ARGS` in-process; returns exit code, stdout and stderr.

    GARRISON_CONFIG is cleared so the host's /etc/garrison never leaks into a test.
    """
    monkeypatch.delenv("GARRISON_CONFIG", raising=False)
    for name in list(os.environ):
        if name.startswith("GARRISON__"):
            monkeypatch.delenv(name)

    def run(*args: str) -> CliResult:
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Create files under root: {"etc/ssh/sshd_config": "...", ...}; text is dedented."""
    for rel, content in files.items():
        path = root / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))
    return root


@pytest.fixture
def make_root(tmp_path: Path) -> Callable[[Mapping[str, str | bytes]], Path]:
    """A fresh fake root directory populated from a mapping."""
    counter = iter(range(1000))

    def build(files: Mapping[str, str | bytes]) -> Path:
        root = tmp_path / f"root{next(counter)}"
        root.mkdir()
        return write_tree(root, files)

    return build


def facts_for(root: Path, config: Config | None = None) -> Facts:
    return Facts(Host(root), config or Config())


def fixture_root(name: str) -> Path:
    path = FIXTURE_ROOTS / name
    assert path.is_dir(), f"missing fixture root {path}"
    return path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/**/golden/* files from the current output instead of comparing",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare text with tests/<dir>/golden/<name>; `pytest --update-golden` rewrites it."""
    folder = Path(request.path).parent / "golden"
    update = bool(request.config.getoption("--update-golden"))

    def check(name: str, text: str) -> None:
        path = folder / name
        if update:
            folder.mkdir(exist_ok=True)
            path.write_text(text)
            return
        assert path.exists(), f"{path} missing: run pytest --update-golden once and review it"
        assert text == path.read_text(), f"{path} differs (pytest --update-golden to accept)"

    return check
