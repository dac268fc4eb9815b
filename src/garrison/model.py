"""The values that flow through garrison: severities, statuses, evidence, findings, reports.

Everything here is a frozen dataclass that serialises to plain JSON with :func:`to_jsonable`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Severity(enum.IntEnum):
    """How bad a failed check or an alert is; ordered so thresholds compare."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse a severity name case-insensitively; raise ValueError naming the choices."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose from {choices})") from None

    @property
    def label(self) -> str:
        return self.name.lower()


class Status(enum.StrEnum):
    """The outcome of one check on one subject."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"
    ERROR = "error"
    MANUAL = "manual"


#: The go-live checklist of the seed, box by box.
CHECKLIST: Mapping[int, str] = {
    1: "Kernel patched within the last 30 days, live-patch enabled",
    2: "Default-deny inbound and outbound; explicit allow-list for broker IPs",
    3: "Root login disabled, MFA on provider console",
    4: "Secrets vaulted in memory, rotated automatically",
    5: "Containerized strategies with dropped capabilities",
    6: "File-integrity monitoring linked to real-time alerts",
    7: "Daily encrypted backups off-site",
    8: "Disaster recovery proven to redeploy in <5 minutes",
    9: "Quarterly red-team or at least an automated penetration scan",
    10: "Tick every box",
}


@dataclass(frozen=True)
class Evidence:
    """What was observed, where, and what was expected instead."""

    source: str  # file:line, command, or kernel interface the observation came from
    observed: str
    expected: str = ""


@dataclass(frozen=True)
class CheckMeta:
    """The stable, user-facing description of a check (shown by `garrison checks explain`)."""

    id: str
    area: str
    item: int
    title: str  # states the secure state
    severity: Severity
    rationale: str
    remediation: str
    references: tuple[str, ...] = ()
    needs_live: bool = False  # only meaningful on the running host, never under --root


@dataclass(frozen=True)
class Finding:
    """One result of one check, about one subject."""

    check_id: str
    title: str
    area: str
    item: int
    severity: Severity
    status: Status
    message: str
    subject: str = ""
    evidence: tuple[Evidence, ...] = ()
    remediation: str = ""


class BoxState(enum.StrEnum):
    """Where one checklist box stands after an audit."""

    TICKED = "ticked"
    OPEN = "open"  # at least one check failed
    UNVERIFIED = "unverified"  # manual items pending, errors, or everything skipped
    NOT_COVERED = "not covered"  # no check for this box yet


@dataclass(frozen=True)
class Box:
    item: int
    title: str
    state: BoxState
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """The outcome of one audit run."""

    hostname: str
    root: str
    live: bool
    started: datetime
    duration_s: float
    findings: tuple[Finding, ...]
    warnings: tuple[str, ...] = ()
    version: str = ""

    def worst_failure(self) -> Severity | None:
        """The highest severity among FAIL and ERROR findings, or None when there are none."""
        bad = [f.severity for f in self.findings if f.status in (Status.FAIL, Status.ERROR)]
        return max(bad) if bad else None


def to_jsonable(value: Any) -> Any:
    """Turn model values (dataclasses, enums, datetimes, tuples) into plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Severity):
        return value.label
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return value


# -- watch and respond ----------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One observation from a guard source (a file write, a dropped packet, an exec...)."""

    source: str  # "fanotify", "inotify", "nflog", "audit", "log", "rescan", ...
    kind: str  # "write", "create", "delete", "attrib", "connect", "exec", "auth_failure", ...
    time: datetime
    path: str = ""
    pid: int | None = None
    exe: str = ""
    uid: int | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    """A rule matched one or more events; responders act on it."""

    id: str  # unique per alert (e.g. uuid4 hex)
    rule_id: str
    severity: Severity
    title: str
    time: datetime
    summary: str
    events: tuple[Event, ...] = ()
    technique: str = ""  # MITRE ATT&CK technique id, e.g. T1543.002
    dedup_key: str = ""


class ActionStatus(enum.StrEnum):
    DONE = "done"
    FAILED = "failed"
    PENDING = "pending"  # needs a human (e.g. a broker without an API to lock the key)
    SKIPPED = "skipped"
    DRY_RUN = "dry-run"


@dataclass(frozen=True)
class ActionRecord:
    """What one response step did, how long it took, and why it failed if it did."""

    step: str  # "freeze", "broker.lock", "evidence", "notify", "rebuild", ...
    target: str
    status: ActionStatus
    started: datetime
    duration_s: float
    detail: str = ""
    alert_id: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
