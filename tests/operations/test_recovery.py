"""Box 8: `garrison recovery drill` records real runs; the audit reads the record."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def _config(tmp_path: Path, command: list[str] | None, target_minutes: float = 5.0) -> str:
    path = tmp_path / "garrison.toml"
    lines = [f"[paths]\nstate_dir = '{tmp_path / 'state'}'\n", "[recovery]\n"]
    if command is not None:
        lines.append(f"drill_command = {json.dumps(command)}\n")
    lines.append(f"target_minutes = {target_minutes}\n")
    path.write_text("".join(lines))
    return str(path)


def _dr_finding(cli: Cli, config: str) -> dict[str, object]:
    result = cli("-c", config, "audit", "--check", "GAR-DR-001", "-f", "json")
    [finding] = json.loads(result.out)["findings"]
    return dict(finding)


def test_successful_drill_ticks_box_8(cli: Cli, tmp_path: Path) -> None:
    config = _config(tmp_path, ["sh", "-c", "sleep 0.2; echo rebuilt"])
    assert _dr_finding(cli, config)["status"] == "manual"  # nothing recorded yet
    drill = cli("-c", config, "recovery", "drill", "-f", "json")
    assert drill.code == 0, drill.err
    record = json.loads(drill.out)
    assert record["returncode"] == 0
    assert record["duration_s"] >= 0.2
    assert "rebuilt" in record["output_tail"]
    finding = _dr_finding(cli, config)
    assert finding["status"] == "pass"
    assert "drills.jsonl:1" in finding["evidence"][0]["source"]  # type: ignore[index]


def test_failed_drill_opens_box_8(cli: Cli, tmp_path: Path) -> None:
    config = _config(tmp_path, ["sh", "-c", "echo terraform exploded >&2; exit 3"])
    drill = cli("-c", config, "recovery", "drill")
    assert drill.code == 2
    assert "failed (exit 3)" in drill.out
    finding = _dr_finding(cli, config)
    assert finding["status"] == "fail"
    assert finding["message"] == "the last recovery drill failed"


def test_slow_drill_is_a_failure(cli: Cli, tmp_path: Path) -> None:
    config = _config(
        tmp_path, ["sleep", "0.3"], target_minutes=0.004
    )  # 0.24 s target, 0.72 s limit
    assert cli("-c", config, "recovery", "drill").code == 2
    finding = _dr_finding(cli, config)
    assert finding["status"] == "fail"
    assert str(finding["message"]).startswith("the last drill took")


def test_bad_drill_commands(cli: Cli, tmp_path: Path) -> None:
    missing = cli("-c", _config(tmp_path, ["/nonexistent/rebuild"]), "recovery", "drill")
    assert missing.code == 2
    assert missing.err.strip() == (
        "garrison: error: [recovery].drill_command: /nonexistent/rebuild: not found"
    )
    unset = cli("-c", _config(tmp_path, None), "recovery", "drill")
    assert unset.code == 64
    assert "no [recovery].drill_command configured" in unset.err
