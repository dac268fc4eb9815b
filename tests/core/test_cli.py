"""CLI behaviour every command shares: exit codes, one-line errors, formats, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import CliResult, needs_root

Cli = Callable[..., CliResult]


def assert_one_line_error(result: CliResult) -> None:
    assert "Traceback" not in result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("garrison: ")


def test_audit_of_an_empty_root_runs_and_reports_json(cli: Cli, tmp_path: Path) -> None:
    result = cli("audit", "--root", str(tmp_path), "-f", "json")
    assert result.code in (0, 1)
    doc = json.loads(result.out)
    assert doc["live"] is False
    assert len(doc["scorecard"]) == 10


def test_root_that_is_not_a_directory_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("audit", "--root", str(tmp_path / "missing"))
    assert result.code == 64
    assert_one_line_error(result)
    assert "does not exist" in result.err


def test_root_that_is_a_file(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    result = cli("audit", "--root", str(tmp_path / "f"))
    assert result.code == 64
    assert_one_line_error(result)


def test_missing_config_file(cli: Cli, tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path / "nope.toml"), "audit", "--root", str(tmp_path))
    assert result.code == 2
    assert_one_line_error(result)
    assert "nope.toml: config file not found" in result.err


def test_config_typo_names_file_and_key(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "g.toml"
    config.write_text("[ssh]\nmin_rsa_bit = 4096\n")
    result = cli("audit", "--config", str(config), "--root", str(tmp_path))
    assert result.code == 2
    assert_one_line_error(result)
    assert f"{config}: ssh.min_rsa_bit: unknown key (did you mean 'min_rsa_bits'?)" in result.err


def test_garbled_config(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "g.toml"
    config.write_bytes(b"\xff\xfe[audit\n")
    result = cli("-c", str(config), "audit", "--root", str(tmp_path))
    assert result.code == 2
    assert_one_line_error(result)


def test_env_config_path(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GARRISON_CONFIG", str(tmp_path / "absent.toml"))
    result = cli("audit", "--root", str(tmp_path))
    assert result.code == 2
    assert "absent.toml" in result.err


def test_bad_fail_on(cli: Cli, tmp_path: Path) -> None:
    result = cli("audit", "--root", str(tmp_path), "--fail-on", "severe")
    assert result.code == 64
    assert_one_line_error(result)


def test_unknown_option_and_command(cli: Cli) -> None:
    for args in (("audit", "--bogus"), ("frobnicate",)):
        result = cli(*args)
        assert result.code == 64
        assert_one_line_error(result)


def test_output_file_is_written(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "audit.sarif"
    result = cli("audit", "--root", str(tmp_path), "-f", "sarif", "-o", str(out))
    assert result.out == ""
    assert json.loads(out.read_text())["version"] == "2.1.0"


def test_output_into_missing_directory(cli: Cli, tmp_path: Path) -> None:
    result = cli("audit", "--root", str(tmp_path), "-o", str(tmp_path / "no/such/dir/x.json"))
    assert result.code in (2, 64)
    assert_one_line_error(result)


def test_checks_list_and_explain(cli: Cli) -> None:
    listed = cli("checks", "list", "-f", "json")
    assert listed.code == 0
    ids = [c["id"] for c in json.loads(listed.out)]
    if ids:
        explained = cli("checks", "explain", ids[0].lower())
        assert explained.code == 0
        assert "Why it matters" in explained.out
    unknown = cli("checks", "explain", "GAR-NOPE-999")
    assert unknown.code == 64
    assert_one_line_error(unknown)


def test_fail_on_decides_exit_code(cli: Cli, tmp_path: Path) -> None:
    report = json.loads(cli("audit", "--root", str(tmp_path), "-f", "json").out)
    failing = [f for f in report["findings"] if f["status"] in ("fail", "error")]
    strict = cli("audit", "--root", str(tmp_path), "--fail-on", "info", "-f", "json")
    assert strict.code == (1 if failing else 0)
    if not any(f["severity"] == "critical" for f in failing):
        assert cli("audit", "--root", str(tmp_path), "--fail-on", "critical").code == 0


def test_help_has_examples_and_exit_codes(cli: Cli) -> None:
    result = cli("audit", "--help")
    assert result.code == 0
    assert "Examples:" in result.out
    assert "64  usage error" in result.out


@needs_root
def test_audit_as_an_unprivileged_user_warns_and_runs(tmp_path: Path) -> None:
    """Not root: one warning line, findings for what could not be read, never a traceback."""
    garrison = Path(sys.executable).with_name("garrison")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARRISON")}
    env["HOME"] = str(tmp_path)
    proc = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            str(garrison),
            "audit",
            "-f",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in proc.stderr
    assert proc.returncode in (0, 1), proc.stderr
    assert "not running as root" in proc.stderr
    doc = json.loads(proc.stdout)
    assert any("not running as root" in w for w in doc["warnings"])
