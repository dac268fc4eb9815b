"""Golden files for every formatter (`pytest --update-golden` rewrites them; review the diff)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from garrison.model import Evidence, Finding, Report, Severity, Status
from garrison.report import FORMATS


def _finding(check_id: str, item: int, status: Status, severity: Severity, **kw: str) -> Finding:
    evidence = (
        (Evidence(kw["source"], kw["observed"], kw.get("expected", "")),) if "source" in kw else ()
    )
    return Finding(
        check_id=check_id,
        title=kw.get("title", f"The state {check_id} verifies holds"),
        area=kw.get("area", "test"),
        item=item,
        severity=severity,
        status=status,
        message=kw.get("message", "message"),
        subject=kw.get("subject", ""),
        evidence=evidence,
        remediation=kw.get("remediation", ""),
    )


REPORT = Report(
    hostname="vps-golden",
    root="/",
    live=True,
    started=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    duration_s=0.25,
    version="0.0.0-golden",
    warnings=("not running as root: some files cannot be read",),
    findings=(
        _finding("GAR-TEST-001", 1, Status.PASS, Severity.HIGH, message="kernel built 3 days ago"),
        _finding(
            "GAR-TEST-002",
            3,
            Status.FAIL,
            Severity.HIGH,
            message="root may log in",
            source="/etc/ssh/sshd_config:14",
            observed="yes",
            expected="no",
            remediation="PermitRootLogin no",
        ),
        _finding(
            "GAR-TEST-003",
            3,
            Status.WARN,
            Severity.LOW,
            subject="alice",
            message="ECDSA key",
            source="/home/alice/.ssh/authorized_keys:2",
            observed="ecdsa-sha2-nistp256",
            remediation="use ed25519",
        ),
        _finding("GAR-TEST-004", 3, Status.MANUAL, Severity.MEDIUM, message="attest MFA"),
        _finding("GAR-TEST-005", 2, Status.ERROR, Severity.CRITICAL, message="nft hung"),
        _finding("GAR-TEST-006", 6, Status.SKIP, Severity.MEDIUM, message="needs live host"),
    ),
)

EXTENSIONS = {"table": "txt", "json": "json", "sarif": "sarif", "junit": "xml"}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_formatter_output_matches_golden(fmt: str, golden: Callable[[str, str], None]) -> None:
    golden(f"report.{EXTENSIONS[fmt]}", FORMATS[fmt](REPORT, color=False, width=100))
