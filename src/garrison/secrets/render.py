"""Text and JSON renderings of secrets metadata, status, rotations and scans (pure functions:
they return strings; the CLI prints them). Nothing here ever sees a secret value."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from garrison.model import to_jsonable
from garrison.secrets.backends.interface import SecretInfo
from garrison.secrets.rotation import OverdueSecret, RotationRecord
from garrison.secrets.scanner.scan import ScanResult


def info_dict(info: SecretInfo) -> dict[str, object]:
    return {
        "name": info.name,
        "version": info.version,
        "updated": info.updated.isoformat(timespec="seconds") if info.updated else None,
    }


def render_info(info: SecretInfo, length: int, where: str, fmt: str) -> str:
    data = {**info_dict(info), "length": length, "backend": where}
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return "\n".join(f"{k:<8} {v}" for k, v in data.items()) + "\n"


def render_list(infos: Sequence[SecretInfo], where: str, fmt: str) -> str:
    if fmt == "json":
        return json.dumps([info_dict(i) for i in infos], indent=2) + "\n"
    lines = []
    for info in infos:
        version = f"v{info.version}" if info.version is not None else "-"
        updated = info.updated.isoformat(timespec="seconds") if info.updated else "-"
        lines.append(f"{info.name:<32} {version:>6}  {updated}")
    return "\n".join([*lines, f"{len(infos)} secrets in {where}"]) + "\n"


def render_rotation(record: RotationRecord, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(to_jsonable(record), indent=2) + "\n"
    version = f" version {record.version}" if record.version is not None else ""
    lines = [f"rotated {record.secret}{version} ({record.backend})", *record.restarts]
    return "\n".join(lines) + "\n"


def render_status(
    ok: bool, backend_line: str, late: Sequence[OverdueSecret], now: datetime, fmt: str
) -> str:
    if fmt == "json":
        data = {
            "backend": {"ok": ok, "status": backend_line},
            "overdue": [
                {
                    "name": o.name,
                    "cadence_days": o.cadence_days,
                    "source": o.source,
                    "last_rotated": o.last_rotated.isoformat() if o.last_rotated else None,
                }
                for o in late
            ],
        }
        return json.dumps(data, indent=2) + "\n"
    lines = [f"backend: {'ok' if ok else 'FAIL'}: {backend_line}"]
    for item in late:
        age = item.age_days(now)
        since = f"{age:.1f} days ago" if age is not None else "never on record"
        lines.append(f"overdue: {item.name}: cadence {item.cadence_days:g} d, last {since}")
    if not late:
        lines.append("rotation: nothing overdue")
    return "\n".join(lines) + "\n"


def render_scan(result: ScanResult, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(to_jsonable(result), indent=2) + "\n"
    lines = [f"{f.location}: {f.rule}: {f.redacted}  ({f.detail})" for f in result.findings]
    partial = " (stopped early)" if result.partial else ""
    summary = (
        f"{len(result.findings)} secrets found in {result.files_scanned} files "
        f"({result.files_skipped} skipped){partial}"
    )
    return "\n".join([*lines, summary]) + "\n"
