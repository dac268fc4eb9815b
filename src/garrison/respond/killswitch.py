"""The kill-switch file: while it exists, strategies must not place orders.

garrison creates it first thing on every freeze (so a strategy that checks it stops even when
its freeze method fails) and removes it on `garrison thaw` (all) or `thaw --release`. A strategy
honours it with one stat() before each order, e.g. in Python:

    if os.path.exists("/run/garrison/KILL_SWITCH"): return  # garrison froze trading
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from garrison.config.schema import Config

FILE_NAME = "KILL_SWITCH"


def kill_switch_path(config: Config) -> Path:
    return Path(config.respond.kill_switch or Path(config.paths.run_dir) / FILE_NAME)


def engage(config: Config, reason: str, incident: str = "") -> Path:
    """Create (or refresh) the kill switch atomically; returns its path."""
    path = kill_switch_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"engaged": datetime.now(UTC).isoformat(), "reason": reason, "incident": incident}
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(body) + "\n")
    os.chmod(tmp, 0o644)  # world-readable on purpose: every strategy user must see it
    tmp.replace(path)
    return path


def release(config: Config) -> bool:
    """Remove the kill switch; True when it was engaged."""
    path = kill_switch_path(config)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def engaged(config: Config) -> dict[str, Any] | None:
    """The kill switch's content when engaged, else None."""
    path = kill_switch_path(config)
    try:
        data: dict[str, Any] = json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"reason": "unreadable kill-switch file"}
    return data
