"""The custody log: intact verifies; a record edited, deleted, reordered or appended by hand,
or an artefact changed, is each detected; evidence collection of a real frozen process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import needs_root
from tests.respond.conftest import Counter, secrets_from

from garrison.config.schema import Config
from garrison.model import ActionStatus
from garrison.respond.context import ResponseContext
from garrison.respond.custody import (
    LOG_FILE,
    CustodyLog,
    load_or_create_key,
    trusted_public_key,
    verify_custody,
)
from garrison.respond.evidence import collect_evidence


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, str]:
    state = tmp_path / "state"
    key = load_or_create_key(state)
    evidence = tmp_path / "ev"
    log = CustodyLog(evidence, key, "inc1")
    for n in range(4):
        artefact = evidence / f"a{n}.txt"
        artefact.write_text(f"artefact {n}\n")
        log.add_file(artefact, "volatile")
    trusted = trusted_public_key(state)
    assert trusted
    return evidence, trusted


def _lines(evidence: Path) -> list[str]:
    return (evidence / LOG_FILE).read_text().splitlines(keepends=True)


def _write(evidence: Path, lines: list[str]) -> None:
    (evidence / LOG_FILE).write_text("".join(lines))


def _kinds(evidence: Path, key: str) -> set[str]:
    return {p.kind for p in verify_custody(evidence, key).problems}


def test_intact_log_verifies(sealed: tuple[Path, str]) -> None:
    evidence, key = sealed
    report = verify_custody(evidence, key)
    assert report.intact and report.records == 5 and report.artefacts == 4


def test_edited_record_detected(sealed: tuple[Path, str]) -> None:
    evidence, key = sealed
    lines = _lines(evidence)
    record = json.loads(lines[2])
    record["sha256"] = "0" * 64
    lines[2] = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    _write(evidence, lines)
    assert {"edited", "chain"} <= _kinds(evidence, key)


def test_deleted_record_detected(sealed: tuple[Path, str]) -> None:
    evidence, key = sealed
    lines = _lines(evidence)
    del lines[2]
    _write(evidence, lines)
    assert {"deleted", "chain"} <= _kinds(evidence, key)


def test_deleted_last_record_detected_by_head(sealed: tuple[Path, str]) -> None:
    evidence, key = sealed
    _write(evidence, _lines(evidence)[:-1])
    assert _kinds(evidence, key) == {"deleted"}


def test_reordered_records_detected(sealed: tuple[Path, str]) -> None:
    evidence, key = sealed
    lines = _lines(evidence)
    lines[2], lines[3] = lines[3], lines[2]
    _write(evidence, lines)
    assert {"reordered", "chain"} & _kinds(evidence, key)
    assert "chain" in _kinds(evidence, key)


def test_appended_record_detected(sealed: tuple[Path, str]) -> None:
    evidence, key = sealed
    lines = _lines(evidence)
    forged = json.loads(lines[-1])
    forged["seq"] += 1
    forged["note"] = "added by hand"
    _write(evidence, [*lines, json.dumps(forged) + "\n"])
    assert {"appended", "edited", "chain"} <= _kinds(evidence, key)


def test_changed_artefact_detected(sealed: tuple[Path, str]) -> None:
    evidence, key = sealed
    (evidence / "a1.txt").write_text("tampered\n")
    (evidence / "a3.txt").unlink()
    problems = verify_custody(evidence, key).problems
    assert {p.detail.split(":")[0] for p in problems if p.kind == "artefact"} == {
        "a1.txt",
        "a3.txt",
    }


def test_other_key_detected(sealed: tuple[Path, str], tmp_path: Path) -> None:
    evidence, _ = sealed
    other = load_or_create_key(tmp_path / "other")
    from garrison.respond.custody import public_hex

    assert "key" in _kinds(evidence, public_hex(other))


@needs_root
def test_evidence_of_a_frozen_process_is_hashed_and_secret_free(
    counter: Callable[[], Counter],
    cgroup_parent: str,
    make_config: Callable[..., Config],
    tmp_path: Path,
) -> None:
    c = counter()
    canary = "CANARY-cmdline-value-93b1"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "bot.conf").write_text("x=1\n")
    config = make_config(
        strategies=[{"name": "bot", "match": c.marker}],
        respond={
            "cgroup_parent": cgroup_parent,
            "evidence": {
                "paths": [str(tmp_path / "data")],
                "memory_limit_mb": 64,
                "commands": [["echo", f"api_key={canary}"]],
            },
        },
    )
    ctx = ResponseContext(config, secrets_from({}), incident_id="inc-test")
    evidence = tmp_path / "evidence"
    records = collect_evidence(ctx, evidence, {"bot": [c.proc.pid]})
    by_step = {r.step: r for r in records}
    assert by_step["evidence.volatile"].status == ActionStatus.DONE
    assert {"processes.json", "sockets.json", "nft-ruleset.txt", "modules.txt"} <= set(
        by_step["evidence.volatile"].data["sha256"]
    )
    memory = by_step["evidence.memory"]
    assert memory.status == ActionStatus.DONE and memory.data[str(c.proc.pid)]["bytes"] > 0
    assert by_step["evidence.disk"].data["kind"] == "archive"
    report = verify_custody(evidence, trusted_public_key(config.paths.state_dir))
    assert report.intact, report.problems
    index = (evidence / LOG_FILE).read_text()
    assert canary not in index and canary not in (evidence / "command-1.txt").read_text()
