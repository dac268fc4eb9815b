"""Alerts from outside: Falco's JSON output, Wazuh's integration JSON, garrison's own Alert
JSON, or a hand-made one (`garrison respond --rule ID --summary TEXT`)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from garrison.errors import UsageError
from garrison.model import Alert, Event, Severity

FALCO_PRIORITY = {
    "emergency": Severity.CRITICAL,
    "alert": Severity.CRITICAL,
    "critical": Severity.CRITICAL,
    "error": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "notice": Severity.LOW,
    "informational": Severity.INFO,
    "info": Severity.INFO,
    "debug": Severity.INFO,
}


def _time(value: Any) -> datetime:
    if isinstance(value, str) and value:
        text = value.replace("Z", "+00:00")
        # Wazuh writes +0000 and Falco nanoseconds: keep what fromisoformat can read
        if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
            text = text[:-2] + ":" + text[-2:]
        if "." in text:
            head, _, rest = text.partition(".")
            digits = "".join(c for c in rest if c.isdigit())
            tz = rest[len(digits) :]
            text = f"{head}.{digits[:6]}{tz}"
        try:
            parsed = datetime.fromisoformat(text)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


def _alert_id(source: str, raw: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    return f"{source[:3]}{digest[:13]}"


def falco_alert(raw: Mapping[str, Any]) -> Alert:
    """Falco json_output: {"rule", "priority", "output", "time", "output_fields", "tags"}."""
    fields = raw.get("output_fields") or {}
    rule = str(raw.get("rule") or "falco")
    tags = [str(t) for t in raw.get("tags") or []]
    technique = next((t.upper() for t in tags if t.upper().startswith("T1")), "")
    pid = fields.get("proc.pid")
    event = Event(
        source="falco",
        kind=rule,
        time=_time(raw.get("time")),
        path=str(fields.get("fd.name") or ""),
        pid=pid if isinstance(pid, int) else None,
        exe=str(fields.get("proc.exepath") or fields.get("proc.name") or ""),
        detail={k: v for k, v in fields.items() if isinstance(v, str | int | float | bool)},
    )
    return Alert(
        id=_alert_id("falco", raw),
        rule_id=f"falco:{rule}",
        severity=FALCO_PRIORITY.get(str(raw.get("priority", "")).lower(), Severity.MEDIUM),
        title=rule,
        time=event.time,
        summary=str(raw.get("output") or rule)[:2000],
        events=(event,),
        technique=technique,
        dedup_key=f"falco:{rule}:{event.path}",
    )


def wazuh_severity(level: int) -> Severity:
    if level >= 12:
        return Severity.CRITICAL
    if level >= 10:
        return Severity.HIGH
    if level >= 7:
        return Severity.MEDIUM
    if level >= 4:
        return Severity.LOW
    return Severity.INFO


def wazuh_alert(raw: Mapping[str, Any]) -> Alert:
    """Wazuh integration JSON: {"rule": {"level", "id", "description", "mitre"}, ...}."""
    rule = raw.get("rule") or {}
    level = int(rule.get("level") or 0)
    mitre = (rule.get("mitre") or {}).get("id") or []
    syscheck = raw.get("syscheck") or {}
    path = str(syscheck.get("path") or "")
    event = Event(
        source="wazuh",
        kind=str(rule.get("id", "")),
        time=_time(raw.get("timestamp")),
        path=path,
        detail={"agent": str((raw.get("agent") or {}).get("name", ""))},
    )
    description = str(rule.get("description") or "wazuh alert")
    return Alert(
        id=_alert_id("wazuh", raw),
        rule_id=f"wazuh:{rule.get('id', '?')}",
        severity=wazuh_severity(level),
        title=description,
        time=event.time,
        summary=str(raw.get("full_log") or description)[:2000],
        events=(event,),
        technique=str(mitre[0]) if mitre else "",
        dedup_key=f"wazuh:{rule.get('id')}:{path}",
    )


def garrison_alert(raw: Mapping[str, Any]) -> Alert:
    severity = raw.get("severity", "high")
    return Alert(
        id=str(raw.get("id") or uuid.uuid4().hex),
        rule_id=str(raw["rule_id"]),
        severity=Severity.parse(str(severity))
        if isinstance(severity, str)
        else Severity(int(severity)),
        title=str(raw.get("title") or raw["rule_id"]),
        time=_time(raw.get("time")),
        summary=str(raw.get("summary") or ""),
        technique=str(raw.get("technique") or ""),
        dedup_key=str(raw.get("dedup_key") or ""),
    )


def alert_from_json(raw: Any, label: str) -> Alert:
    """Recognise the shape (garrison, Falco, Wazuh); a usage error names what is wrong."""
    if not isinstance(raw, dict):
        raise UsageError(f"{label}: expected a JSON object")
    try:
        if "rule_id" in raw:
            return garrison_alert(raw)
        if isinstance(raw.get("rule"), dict):
            return wazuh_alert(raw)
        if "rule" in raw and ("priority" in raw or "output" in raw):
            return falco_alert(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{label}: not a valid alert ({exc})") from None
    raise UsageError(f"{label}: not a garrison, Falco or Wazuh alert (no rule_id/rule)")


def manual_alert(rule_id: str, summary: str, severity: Severity = Severity.HIGH) -> Alert:
    now = datetime.now(UTC)
    return Alert(
        id=uuid.uuid4().hex,
        rule_id=rule_id,
        severity=severity,
        title=summary or rule_id,
        time=now,
        summary=summary,
        dedup_key=rule_id,
    )
