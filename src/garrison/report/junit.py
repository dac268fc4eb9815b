"""JUnit XML report: one testsuite per area, one testcase per finding (for CI dashboards)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any

from garrison.model import Finding, Report, Status


def _case(parent: ET.Element, finding: Finding) -> None:
    name = finding.title + (f" [{finding.subject}]" if finding.subject else "")
    case = ET.SubElement(parent, "testcase", classname=finding.check_id, name=name, time="0")
    detail = "\n".join(
        f"{ev.source}: observed {ev.observed!r}"
        + (f", expected {ev.expected!r}" if ev.expected else "")
        for ev in finding.evidence
    )
    if finding.status == Status.FAIL:
        node = ET.SubElement(case, "failure", message=finding.message, type=finding.severity.label)
        node.text = detail or None
    elif finding.status == Status.ERROR:
        ET.SubElement(case, "error", message=finding.message, type="error")
    elif finding.status in (Status.SKIP, Status.MANUAL):
        ET.SubElement(case, "skipped", message=f"{finding.status.value}: {finding.message}")
    elif finding.status == Status.WARN:
        out = ET.SubElement(case, "system-out")
        out.text = f"WARN: {finding.message}\n{detail}".strip()


def render_junit(report: Report, **_: Any) -> str:
    by_area: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_area[finding.area].append(finding)
    root = ET.Element("testsuites", name=f"garrison audit of {report.hostname}")
    for area, findings in sorted(by_area.items()):
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"garrison.{area}",
            tests=str(len(findings)),
            failures=str(sum(f.status == Status.FAIL for f in findings)),
            errors=str(sum(f.status == Status.ERROR for f in findings)),
            skipped=str(sum(f.status in (Status.SKIP, Status.MANUAL) for f in findings)),
            timestamp=report.started.strftime("%Y-%m-%dT%H:%M:%S"),
            hostname=report.hostname,
        )
        for finding in findings:
            _case(suite, finding)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
