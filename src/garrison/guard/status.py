"""The status file the daemon keeps in run_dir, read by `garrison guard --status`."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from garrison.errors import HostError
from garrison.guard.sources.base import SourceStatus


@dataclass(frozen=True)
class GuardStatus:
    pid: int
    started: str
    updated: str
    running: bool  # False once the daemon stopped cleanly
    sources: tuple[SourceStatus, ...]
    counters: dict[str, int]
    rules: int
    rule_files: tuple[str, ...]
    alert_db: str
    baseline: str
    missing: tuple[str, ...] = ()
    fallbacks: tuple[str, ...] = ()
    metrics: str = ""
    alive: bool = field(default=False)  # filled in by the reader


def write_status(path: Path, status: GuardStatus) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(asdict(status), indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def read_status(path: Path) -> GuardStatus | None:
    """The last status written, with `alive` telling whether that pid still runs."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise HostError(f"{path}: unreadable guard status: {exc}") from None
    sources = tuple(SourceStatus(**s) for s in data.pop("sources", []))
    data.pop("alive", None)
    pid = int(data.get("pid", 0))
    alive = data.get("running", False) and pid > 0 and Path(f"/proc/{pid}").exists()
    for key in ("rule_files", "missing", "fallbacks"):
        data[key] = tuple(data.get(key, ()))
    return GuardStatus(sources=sources, alive=bool(alive), **data)
