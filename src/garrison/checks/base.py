"""The Check base class: metadata plus a run() that yields findings from facts.

A check never prints and never raises out of the engine: an exception becomes an ERROR finding
carrying its message (see garrison.checks.engine).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar

from garrison.host.facts import Facts
from garrison.model import CheckMeta, Evidence, Finding, Severity, Status


class Check(ABC):
    """One audit check. Subclasses set `meta` and implement `run`."""

    meta: ClassVar[CheckMeta]

    @abstractmethod
    def run(self, facts: Facts) -> Iterable[Finding]:
        """Yield one or more findings (one per subject where there are several)."""

    # -- finding constructors ----------------------------------------------------------------
    def finding(
        self,
        status: Status,
        message: str,
        *evidence: Evidence,
        subject: str = "",
        severity: Severity | None = None,
    ) -> Finding:
        meta = self.meta
        return Finding(
            check_id=meta.id,
            title=meta.title,
            area=meta.area,
            item=meta.item,
            severity=meta.severity if severity is None else severity,
            status=status,
            message=message,
            subject=subject,
            evidence=tuple(evidence),
            remediation=meta.remediation if status in (Status.FAIL, Status.WARN) else "",
        )

    def passed(self, message: str, *evidence: Evidence, subject: str = "") -> Finding:
        return self.finding(Status.PASS, message, *evidence, subject=subject)

    def failed(
        self,
        message: str,
        *evidence: Evidence,
        subject: str = "",
        severity: Severity | None = None,
    ) -> Finding:
        return self.finding(Status.FAIL, message, *evidence, subject=subject, severity=severity)

    def warned(self, message: str, *evidence: Evidence, subject: str = "") -> Finding:
        return self.finding(Status.WARN, message, *evidence, subject=subject)

    def skipped(self, message: str, subject: str = "") -> Finding:
        return self.finding(Status.SKIP, message, subject=subject)

    def manual(self, message: str, *evidence: Evidence, subject: str = "") -> Finding:
        return self.finding(Status.MANUAL, message, *evidence, subject=subject)

    def errored(self, message: str, subject: str = "") -> Finding:
        return self.finding(Status.ERROR, message, subject=subject)


class CheckSkipped(Exception):
    """Raised by a fact collector or check when the check does not apply (becomes SKIP)."""
