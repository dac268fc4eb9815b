"""`garrison init`: finds trading software and the SSH port, writes a valid config, never overwrites."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path

from tests.conftest import CliResult

from garrison.config.loader import load_config

ROOT_FILES = {
    "etc/hostname": "vps-test\n",
    "etc/passwd": "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
    "etc/ssh/sshd_config": "# comment\nPort 2222\nPermitRootLogin no\n",
    "home/alice/freqtrade/user_data/config.json": "{}",
    "home/alice/.wine/drive_c/Program Files/MetaTrader 5/terminal64.exe": "MZ",
    "opt/trading/README": "bots",
}


def test_init_stdout_describes_the_image(
    cli: Callable[..., CliResult], make_root: Callable[[Mapping[str, str]], Path]
) -> None:
    root = make_root(ROOT_FILES)
    result = cli("init", "--stdout", "--root", str(root))
    assert result.code == 0
    doc = tomllib.loads(result.out)
    names = {s["name"]: s for s in doc["strategies"]}
    assert names["freqtrade-alice"]["code_dir"] == "/home/alice/freqtrade"
    assert names["freqtrade-alice"]["user"] == "alice"
    assert names["mt5-alice"]["kind"] == "mt5"
    assert names["custom-trading"]["code_dir"] == "/opt/trading"
    assert "vps-test" in result.out
    assert "SSH (2222)" in result.out


def test_init_writes_a_valid_config_and_never_overwrites(
    cli: Callable[..., CliResult],
    make_root: Callable[[Mapping[str, str]], Path],
    tmp_path: Path,
) -> None:
    root = make_root(ROOT_FILES)
    target = tmp_path / "etc/garrison/garrison.toml"
    first = cli("init", "--root", str(root), "--path", str(target))
    assert first.code == 0, first.err
    config = load_config(str(target), env={})
    assert {s.name for s in config.strategies} >= {"freqtrade-alice", "mt5-alice"}
    target.write_text("# my edits\n")
    second = cli("init", "--root", str(root), "--path", str(target))
    assert second.code == 2
    assert "already exists; not overwritten" in second.err
    assert target.read_text() == "# my edits\n"


def test_init_on_an_empty_root_suggests_a_strategy(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    result = cli("init", "--stdout", "--root", str(tmp_path))
    assert result.code == 0
    assert "No trading software found" in result.out
    assert "strategies" not in tomllib.loads(result.out)
