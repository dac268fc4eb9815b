"""GAR-SSH-028: provider-console MFA is MANUAL until attested, PASS until it expires."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import fixture_root

TODAY = datetime.now(UTC).date()


def mfa_finding(cli: Callable[..., Any], tmp_path: Path, toml: str) -> dict[str, Any]:
    config = tmp_path / "garrison.toml"
    config.write_text(toml)
    result = cli(
        "audit",
        "--config",
        str(config),
        "--root",
        str(fixture_root("ssh-pass")),
        "--check",
        "GAR-SSH-028",
        "-f",
        "json",
    )
    assert result.code in (0, 1), result.err
    (finding,) = json.loads(result.out)["findings"]
    return finding  # type: ignore[no-any-return]


def test_without_attestation_it_is_manual(cli: Callable[..., Any], tmp_path: Path) -> None:
    finding = mfa_finding(cli, tmp_path, "")
    assert finding["status"] == "manual"
    assert finding["evidence"][0]["observed"] == "no attestation"


def test_fresh_attestation_passes(cli: Callable[..., Any], tmp_path: Path) -> None:
    day = TODAY - timedelta(days=10)
    finding = mfa_finding(
        cli, tmp_path, f'[attestations.provider_mfa]\ndate = {day}\nby = "Dana Ops"\n'
    )
    assert finding["status"] == "pass"
    assert finding["evidence"][0]["observed"] == f"attested by Dana Ops on {day}"
    assert str(day + timedelta(days=90)) in finding["message"]


def test_expired_attestation_fails_saying_when(cli: Callable[..., Any], tmp_path: Path) -> None:
    day = TODAY - timedelta(days=40)
    finding = mfa_finding(
        cli,
        tmp_path,
        f'[attestations.provider_mfa]\ndate = {day}\nby = "Dana"\nvalid_days = 30\n',
    )
    assert finding["status"] == "fail"
    assert f"expired on {day + timedelta(days=30)} (10 days ago)" in finding["message"]


def test_future_attestation_fails(cli: Callable[..., Any], tmp_path: Path) -> None:
    day = TODAY + timedelta(days=5)
    finding = mfa_finding(cli, tmp_path, f'[attestations.provider_mfa]\ndate = {day}\nby = "x"\n')
    assert finding["status"] == "fail"
    assert "future" in finding["message"]


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[attestations.provider_mfa]\ndate = "yesterday"\nby = "x"\n', "date"),
        ("[attestations.provider_mfa]\ndate = 2026-01-01\n", "by"),
        ('[attestations.provider_mfa]\ndate = 2026-01-01\nby = "x"\nvalid = 3\n', "valid"),
    ],
)
def test_bad_attestation_is_one_line_exit_2(
    cli: Callable[..., Any], tmp_path: Path, toml: str, key: str
) -> None:
    config = tmp_path / "garrison.toml"
    config.write_text(toml)
    result = cli("audit", "--config", str(config), "--area", "ssh")
    assert result.code == 2
    assert "Traceback" not in result.err
    assert f"attestations.provider_mfa.{key}" in result.err
    assert len(result.err.strip().splitlines()) == 1
