"""The 10-box go-live scorecard, derived from a report's findings."""

from __future__ import annotations

from collections import Counter

from garrison.model import CHECKLIST, Box, BoxState, Finding, Report, Status


def box_state(findings: list[Finding]) -> BoxState:
    """A box is ticked when its checks ran, at least one passed, and none failed or is pending."""
    if not findings:
        return BoxState.NOT_COVERED
    statuses = {f.status for f in findings}
    if Status.FAIL in statuses:
        return BoxState.OPEN
    if statuses & {Status.ERROR, Status.MANUAL} or Status.PASS not in statuses:
        return BoxState.UNVERIFIED
    return BoxState.TICKED


def scorecard(report: Report) -> list[Box]:
    """Boxes 1-9 from their findings; box 10 is ticked only when 1-9 all are."""
    boxes: list[Box] = []
    for item in range(1, 10):
        findings = [f for f in report.findings if f.item == item]
        counts = Counter(f.status.value for f in findings)
        boxes.append(Box(item, CHECKLIST[item], box_state(findings), dict(counts)))
    states = {b.state for b in boxes}
    if states == {BoxState.TICKED}:
        last = BoxState.TICKED
    elif BoxState.OPEN in states:
        last = BoxState.OPEN
    else:
        last = BoxState.UNVERIFIED
    boxes.append(Box(10, CHECKLIST[10], last, {}))
    return boxes
