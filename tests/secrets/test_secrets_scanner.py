"""The scanner: every planted format is found (file:line, redacted), placeholders and
encrypted values are not, and a clean Debian install yields zero findings."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import CliResult, fixture_root

from garrison.config.schema import Config
from garrison.secrets.scanner.rules import scan_line, shannon_entropy
from garrison.secrets.scanner.scan import scan_paths

PLANTED = fixture_root("secrets-planted")
CLEAN = fixture_root("secrets-clean")

EXPECTED = {
    ("/etc/systemd/system/bot.service", 7, "deribit-client-secret"),
    ("/home/trader/.zsh_history", 1, "kraken-api-key"),
    ("/home/trader/.zsh_history", 2, "kraken-private-key"),
    ("/home/trader/hummingbot/conf/connectors/binance.yml", 6, "hummingbot-unencrypted"),
    ("/home/trader/hummingbot/conf/connectors/okx.yml", 4, "hummingbot-unencrypted"),
    ("/opt/bot/settings.py", 4, "key-assignment"),
    ("/opt/cdp/cdp_api_key.json", 2, "coinbase-cdp-key-name"),
    ("/opt/cdp/cdp_api_key.json", 3, "coinbase-cdp-private-key"),
    ("/opt/oanda/settings.json", 3, "oanda-token"),
    ("/opt/freqtrade/user_data/config.json", 7, "freqtrade-exchange-key"),
    ("/opt/freqtrade/user_data/config.json", 8, "freqtrade-exchange-secret"),
    ("/opt/freqtrade/user_data/config.json", 18, "freqtrade-telegram-token"),
    ("/opt/freqtrade/user_data/config.json", 25, "freqtrade-api_server-password"),
    ("/opt/freqtrade/user_data/config.json", 26, "freqtrade-api_server-jwt_secret_key"),
    ("/opt/freqtrade/user_data/config.json", 27, "freqtrade-api_server-ws_token"),
    ("/opt/keys/broker.pem", 1, "private-key-pem"),
    ("/opt/mt4/terminal.ini", 3, "ini-password"),
    ("/opt/mt5/Config/common.ini", 4, "ini-password"),
    ("/root/.bash_history", 2, "okx-api-key"),
    ("/root/.bash_history", 3, "key-assignment"),
    ("/root/.bash_history", 4, "password-assignment"),
    ("/root/.bash_history", 5, "binance-api-key"),
    ("/srv/bot/.env", 2, "bybit-api-key"),
    ("/srv/bot/.env", 3, "bybit-api-secret"),
    ("/srv/bot/docker-compose.yml", 6, "oanda-token"),
    ("/srv/bot/docker-compose.yml", 13, "binance-api-key"),
}


def planted_values() -> list[str]:
    """The raw secret values in the planted root (to prove none is ever printed)."""
    values = []
    for rel, line, _rule in EXPECTED:
        text = (PLANTED / rel.lstrip("/")).read_text().splitlines()[line - 1]
        values += [
            part
            for part in text.replace('"', " ").replace("=", " ").split()
            if len(part) >= 16 and shannon_entropy(part) > 3.5
        ]
    return values


def test_every_planted_format_is_found_and_nothing_else() -> None:
    result = scan_paths(Config(), ["/"], root=PLANTED)
    found = {(f.path, f.line, f.rule) for f in result.findings}
    assert found == EXPECTED


def test_clean_root_has_zero_findings() -> None:
    # same places as the planted root: placeholders, ${VARS}, empty values, encrypted
    # Hummingbot values, encrypted PEM, an SSH host key where it belongs, code reading env
    result = scan_paths(Config(), ["/"], root=CLEAN)
    assert result.findings == ()
    assert result.files_scanned >= 9


def test_cli_output_is_redacted(cli: Callable[..., CliResult]) -> None:
    table = cli("secrets", "scan", str(PLANTED))
    as_json = cli("secrets", "scan", str(PLANTED), "-f", "json")
    assert table.code == 1 and as_json.code == 1
    assert f"{PLANTED}/srv/bot/.env:2: bybit-api-key: " in table.out
    data = json.loads(as_json.out)
    assert {f["rule"] for f in data["findings"]} >= {"oanda-token", "private-key-pem"}
    for value in planted_values():
        assert value not in table.out and value not in as_json.out
        assert value[:12] not in table.out


@pytest.mark.parametrize(
    "line",
    [
        "API_KEY=your_api_key_here",
        "password = getpass()",
        "export SECRET=$SECRET",
        "token: ${{ secrets.TOKEN }}",
        "binance_api_key: 7b2263727970746f223a207b22636970686572223a2022616573227d",
        "# BINANCE_API_SECRET=Q2ZpZ3VyZVRoaXNOb3RBUmVhbEtleUhlcmUxMjM0NTY3",
        "private_key = /etc/ssl/private/key.pem",
        "Password=",
        "passwd=$(getent passwd root)",
        "def login(self, password=None):",
        "token = self._parse_token(data)",
    ],
)
def test_placeholders_and_code_are_not_secrets(line: str) -> None:
    assert scan_line(line) == []


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        (
            "BINANCE_API_KEY=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            "binance-api-key",
        ),
        (
            "export DERIBIT_CLIENT_SECRET=Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0hIj3",
            "deribit-client-secret",
        ),
        (
            'curl -H "OK-ACCESS-KEY: 1f3e5d7c-9b2a-4c6e-8f0a-1b3d5f7e9c2a" https://www.okx.com',
            "okx-api-key",
        ),
        (
            "Authorization: Bearer 0123456789abcdef0123456789abcdef-0123456789abcdef0123456789abcdef",
            "oanda-token",
        ),
    ],
)
def test_exchange_shapes(line: str, rule: str) -> None:
    assert [h.rule for h in scan_line(line)][:1] == [rule]


def test_binary_big_and_symlinked_files_are_skipped(tmp_path: Path) -> None:
    key = "BINANCE_API_KEY=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A\n"
    root = tmp_path / "root"
    (root / "opt").mkdir(parents=True)
    (root / "opt/blob.bin").write_bytes(b"\0\1\2" + key.encode())
    (root / "opt/big.env").write_text(key + "#" * (3 * 1024 * 1024))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ".env").write_text(key)
    os.symlink(outside, root / "opt/link-dir")
    os.symlink(outside / ".env", root / "opt/link.env")
    (root / "opt/real.env").write_text(key)
    result = scan_paths(Config(), ["/opt"], root=root)
    assert [(f.path, f.rule) for f in result.findings] == [("/opt/real.env", "binance-api-key")]
    assert result.files_skipped == 2  # the binary and the big file


def test_cli_rejects_a_missing_path(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    result = cli("secrets", "scan", str(tmp_path / "nope"))
    assert result.code == 64 and "no such file or directory" in result.err


def test_this_debian_hosts_etc_and_usr_share_are_clean() -> None:
    """Zero findings on a stock Debian /etc and /usr/share (the machine running the tests)."""
    result = scan_paths(Config(), ["/etc", "/usr/share"])
    assert [f.location for f in result.findings] == []
    assert result.files_scanned > 100


DEBOOTSTRAP = Path.home() / ".cache/garrison-test/debootstrap-bookworm"


@pytest.mark.skipif(not (DEBOOTSTRAP / "etc").is_dir(), reason="no debootstrap tree cached")
def test_debootstrap_tree_is_clean() -> None:
    result = scan_paths(Config(), ["/etc", "/usr/share", "/var/lib", "/root"], root=DEBOOTSTRAP)
    assert [f.location for f in result.findings] == []
