"""SARIF 2.1.0 report (validated against the OASIS schema in the tests)."""

from __future__ import annotations

import json
import re
from typing import Any

from garrison.checks.registry import find_check
from garrison.model import Finding, Report, Severity, Status

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_FILE_LINE = re.compile(r"^(/[^\s:]+)(?::(\d+))?")

_KIND = {
    Status.PASS: "pass",
    Status.FAIL: "fail",
    Status.WARN: "review",
    Status.SKIP: "notApplicable",
    Status.MANUAL: "review",
    Status.ERROR: "open",
}


def _level(severity: Severity) -> str:
    if severity >= Severity.HIGH:
        return "error"
    if severity == Severity.MEDIUM:
        return "warning"
    return "note"


def _rule(check_id: str, finding: Finding) -> dict[str, Any]:
    cls = find_check(check_id)
    rule: dict[str, Any] = {
        "id": check_id,
        "name": check_id.replace("-", ""),
        "shortDescription": {"text": finding.title},
        "properties": {"area": finding.area, "checklist-item": finding.item},
    }
    if cls is not None:
        meta = cls.meta
        rule["fullDescription"] = {"text": meta.rationale}
        rule["help"] = {"text": meta.remediation}
        rule["defaultConfiguration"] = {"level": _level(meta.severity)}
        rule["properties"]["security-severity"] = _security_severity(meta.severity)
        if meta.references:
            rule["helpUri"] = meta.references[0]
    return rule


def _security_severity(severity: Severity) -> str:
    # GitHub code scanning reads this property (0.0-10.0) to rank alerts.
    return {0: "0.0", 1: "3.0", 2: "5.5", 3: "8.0", 4: "9.5"}[int(severity)]


def _locations(finding: Finding) -> list[dict[str, Any]]:
    locations = []
    for ev in finding.evidence:
        match = _FILE_LINE.match(ev.source)
        if not match:
            continue
        physical: dict[str, Any] = {"artifactLocation": {"uri": "file://" + match.group(1)}}
        if match.group(2):
            physical["region"] = {"startLine": int(match.group(2))}
        locations.append({"physicalLocation": physical})
    return locations


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    kind = _KIND[finding.status]
    text = finding.message
    if finding.evidence:
        ev = finding.evidence[0]
        text += f" (observed {ev.observed!r} at {ev.source}"
        text += f", expected {ev.expected!r})" if ev.expected else ")"
    result: dict[str, Any] = {
        "ruleId": finding.check_id,
        "ruleIndex": rule_index,
        "kind": kind,
        "level": _level(finding.severity) if kind == "fail" else "none",
        "message": {"text": text},
        "properties": {"status": finding.status.value, "subject": finding.subject},
    }
    locations = _locations(finding)
    if locations:
        result["locations"] = locations
    return result


def render_sarif(report: Report, **_: Any) -> str:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results = []
    for finding in report.findings:
        if finding.check_id not in index:
            index[finding.check_id] = len(rules)
            rules.append(_rule(finding.check_id, finding))
        results.append(_result(finding, index[finding.check_id]))
    errors = [f for f in report.findings if f.status == Status.ERROR]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "garrison",
                        "version": report.version or "0",
                        "informationUri": "https://example.invalid/garrison",
                        "rules": rules,
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "startTimeUtc": report.started.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                        "toolExecutionNotifications": [
                            {
                                "level": "error",
                                "message": {"text": f"{f.check_id}: {f.message}"},
                            }
                            for f in errors
                        ],
                    }
                ],
                "properties": {"hostname": report.hostname, "root": report.root},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
