"""The words of an incident notification: frozen, locked, what needs a human, evidence hashes."""

from __future__ import annotations

import socket
from collections.abc import Iterable

from garrison.model import ActionRecord, ActionStatus, Alert
from garrison.respond.incident import open_items, step_key
from garrison.respond.notify import Message


def _line(record: ActionRecord) -> str:
    took = f"{record.duration_s * 1000:.0f} ms"
    return f"  - {record.target or record.step}: {record.status.value}, {record.detail} ({took})"


def incident_message(
    incident: str, alert: Alert, records: Iterable[ActionRecord], *, evidence_done: bool
) -> Message:
    records = list(records)
    host = socket.gethostname()
    freeze = [r for r in records if r.step == "freeze"]
    cancel = [r for r in records if r.step == "broker.cancel"]
    lock = [r for r in records if r.step == "broker.lock"]
    lines = [
        f"Incident {incident} on {host}",
        f"Alert: [{alert.severity.label}] {alert.rule_id}: {alert.title}",
    ]
    if alert.summary and alert.summary != alert.title:
        lines.append(alert.summary)
    if freeze:
        lines += ["", "Frozen:", *(_line(r) for r in freeze)]
    if cancel:
        lines += ["", "Orders cancelled:", *(_line(r) for r in cancel)]
    if lock:
        lines += ["", "Keys locked:", *(_line(r) for r in lock)]
    items = [i for i in open_items(records) if not i.record.step.startswith("notify")]
    if items:
        lines += ["", "NEEDS A HUMAN:"]
        for item in items:
            manual = item.record.data.get("manual_step")
            link = item.record.data.get("link")
            how = f" -> {manual} ({link})" if manual else ""
            lines.append(f"  - {item.key}: {item.record.status.value}: {item.record.detail}{how}")
        lines.append(f"  then: garrison respond ack {incident} STEP")
    evidence = [r for r in records if r.step.startswith("evidence")]
    if evidence_done:
        lines += ["", "Evidence (SHA-256):"]
        for record in evidence:
            hashes = record.data.get("sha256")
            if isinstance(hashes, dict):
                lines += [f"  {name}: {digest}" for name, digest in hashes.items()]
            for pid, info in record.data.items():
                if isinstance(info, dict) and "sha256" in info and pid.isdigit():
                    lines.append(f"  memory pid {pid}: {info['sha256']}")
            if record.status != ActionStatus.DONE:
                lines.append(f"  {step_key(record)}: {record.status.value}: {record.detail}")
    else:
        lines += ["", "Evidence: being collected (hashes follow in a second message)"]
    state = "needs a human" if items else "contained"
    title = f"garrison: {alert.severity.label.upper()} {alert.rule_id} on {host}: {state}"
    if evidence_done:
        title = f"garrison: evidence sealed for incident {incident}"
    return Message(incident, title, "\n".join(lines), alert.dedup_key or alert.rule_id)
