"""Every SSH check on the ssh-pass and ssh-fail fixture roots: which findings appear, and where."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from tests.conftest import facts_for, fixture_root

from garrison.checks.engine import run_check
from garrison.checks.registry import all_checks
from garrison.config.schema import Config
from garrison.model import Finding, Status

SSH_CHECKS = [c for c in all_checks() if c.meta.area == "ssh"]


def findings_for(root_name: str, config: Config | None = None) -> dict[str, list[Finding]]:
    facts = facts_for(fixture_root(root_name), config)
    out: dict[str, list[Finding]] = {}
    for check in SSH_CHECKS:
        out[check.meta.id] = run_check(check, facts)
    return out


PASS_ROOT = findings_for("ssh-pass")
FAIL_ROOT = findings_for("ssh-fail")


def statuses(findings: list[Finding]) -> set[Status]:
    return {f.status for f in findings}


def test_there_are_enough_ssh_checks_with_unique_ids() -> None:
    ids = [c.meta.id for c in SSH_CHECKS]
    assert len(ids) == len(set(ids)) >= 25
    assert all(c.meta.item == 3 for c in SSH_CHECKS)
    assert "GAR-SSH-002" in ids


@pytest.mark.parametrize("check_id", sorted(PASS_ROOT))
def test_pass_root_passes_every_check_but_the_manual_mfa(check_id: str) -> None:
    expected = {Status.MANUAL} if check_id == "GAR-SSH-028" else {Status.PASS}
    assert statuses(PASS_ROOT[check_id]) == expected, PASS_ROOT[check_id]


FAILING = {
    "GAR-SSH-002": Status.FAIL,
    "GAR-SSH-003": Status.FAIL,
    "GAR-SSH-004": Status.FAIL,
    "GAR-SSH-006": Status.FAIL,
    "GAR-SSH-007": Status.FAIL,
    "GAR-SSH-008": Status.FAIL,
    "GAR-SSH-009": Status.FAIL,
    "GAR-SSH-010": Status.FAIL,
    "GAR-SSH-011": Status.FAIL,
    "GAR-SSH-012": Status.FAIL,
    "GAR-SSH-013": Status.FAIL,
    "GAR-SSH-014": Status.FAIL,
    "GAR-SSH-015": Status.WARN,
    "GAR-SSH-016": Status.WARN,
    "GAR-SSH-017": Status.FAIL,
    "GAR-SSH-018": Status.FAIL,
    "GAR-SSH-019": Status.WARN,
    "GAR-SSH-020": Status.FAIL,
    "GAR-SSH-021": Status.FAIL,
    "GAR-SSH-022": Status.FAIL,
    "GAR-SSH-023": Status.FAIL,
    "GAR-SSH-024": Status.WARN,
    "GAR-SSH-025": Status.FAIL,
    "GAR-SSH-027": Status.WARN,
    "GAR-SSH-030": Status.WARN,
}


@pytest.mark.parametrize(("check_id", "status"), sorted(FAILING.items()))
def test_fail_root_flags(check_id: str, status: Status) -> None:
    assert status in statuses(FAIL_ROOT[check_id]), FAIL_ROOT[check_id]


def only(check_id: str, status: Status = Status.FAIL) -> list[Finding]:
    return [f for f in FAIL_ROOT[check_id] if f.status is status]


def test_root_login_evidence_points_at_the_drop_in_that_won() -> None:
    (finding,) = only("GAR-SSH-002")
    assert finding.evidence[0].source == "/etc/ssh/sshd_config.d/50-cloud-init.conf:2"
    assert finding.evidence[0].observed == "permitrootlogin yes"


def test_kbd_interactive_alias_and_pam_named() -> None:
    (finding,) = only("GAR-SSH-004")
    assert "UsePAM yes" in finding.message
    assert finding.evidence[0].observed == "ChallengeResponseAuthentication yes"


def test_weak_algorithms_listed_by_name() -> None:
    assert "aes128-cbc, 3des-cbc" in only("GAR-SSH-008")[0].message
    assert "hmac-md5, hmac-sha1-96" in only("GAR-SSH-009")[0].message
    assert "hmac-sha2-256" not in only("GAR-SSH-009")[0].message
    assert "diffie-hellman-group1-sha1" in only("GAR-SSH-010")[0].message
    assert "pubkeyacceptedalgorithms: ssh-rsa, ssh-dss" in only("GAR-SSH-011")[0].message


def test_forwarding_advisory_names_each_open_door() -> None:
    (finding,) = only("GAR-SSH-016", Status.WARN)
    for item in ("allowtcpforwarding yes", "gatewayports yes", "permittunnel yes"):
        assert item in finding.message


def test_match_block_weakening_named_with_its_lines() -> None:
    (finding,) = only("GAR-SSH-020")
    assert finding.subject == "Match Address *"
    assert {e.source for e in finding.evidence} == {
        "/etc/ssh/sshd_config:12",
        "/etc/ssh/sshd_config:13",
    }


def test_host_keys_dsa_and_short_rsa() -> None:
    subjects = {f.subject: f for f in only("GAR-SSH-021")}
    assert "DSA" in subjects["/etc/ssh/ssh_host_dsa_key"].message
    assert "2048 bits" in subjects["/etc/ssh/ssh_host_rsa_key"].message


def test_authorized_keys_flagged_with_user_file_and_line() -> None:
    bob = "/home/bob/.ssh/authorized_keys"
    (dsa,) = only("GAR-SSH-022")
    assert (dsa.subject, dsa.evidence[0].source) == ("bob", f"{bob}:3")
    (rsa,) = only("GAR-SSH-023")
    assert (rsa.subject, rsa.evidence[0].source) == ("bob", f"{bob}:2")
    assert "2048-bit" in rsa.message
    (ecdsa,) = only("GAR-SSH-024", Status.WARN)
    assert ecdsa.evidence[0].source == f"{bob}:4"  # options with quoted spaces were skipped
    garbage = {f.evidence[0].source: f.message for f in only("GAR-SSH-027", Status.WARN)}
    assert set(garbage) == {f"{bob}:5", f"{bob}:6", f"{bob}:7"}
    assert "the line says ssh-ed25519" in garbage[f"{bob}:7"]


def test_authorized_keys_file_pattern_with_percent_u_is_read() -> None:
    files = {f.evidence[0].source for f in FAIL_ROOT["GAR-SSH-026"]}
    assert "/etc/ssh/extra/carol.keys" in files


def test_unrestricted_root_key_fails_when_root_may_log_in() -> None:
    (fail,) = only("GAR-SSH-025")
    assert fail.evidence[0].source == "/root/.ssh/authorized_keys:1"
    assert "PermitRootLogin yes" in fail.message


def test_rsa_threshold_comes_from_config() -> None:
    config = Config.model_validate({"ssh": {"min_rsa_bits": 2048, "max_auth_tries": 10}})
    relaxed = findings_for("ssh-fail", config)
    assert statuses(relaxed["GAR-SSH-023"]) == {Status.PASS}
    assert statuses(relaxed["GAR-SSH-007"]) == {Status.PASS}


def test_cli_json_on_fixture_roots(cli: Callable[..., Any]) -> None:
    bad = cli("audit", "--root", str(fixture_root("ssh-fail")), "--area", "ssh", "-f", "json")
    assert bad.code == 1
    failed = {f["check_id"] for f in json.loads(bad.out)["findings"] if f["status"] == "fail"}
    assert {"GAR-SSH-002", "GAR-SSH-003", "GAR-SSH-022"} <= failed
    good = cli("audit", "--root", str(fixture_root("ssh-pass")), "--area", "ssh", "-f", "json")
    assert good.code == 0, good.out
    found = json.loads(good.out)["findings"]
    assert not [f for f in found if f["status"] in ("fail", "error")]
