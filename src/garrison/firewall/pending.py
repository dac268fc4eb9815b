"""The pending-confirm state under run_dir: what was applied, how to undo it, and by when."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from garrison.config.schema import Config
from garrison.errors import EnforceError


@dataclass(frozen=True)
class PendingApply:
    """Written before the new ruleset goes live; removed by confirm or by the rollback."""

    token: str
    applied_at: float  # epoch seconds
    deadline: float  # epoch seconds: the watchdog restores the saved ruleset then
    timeout_s: int
    restore_file: str  # nft script that puts the previous state back
    applied_file: str  # the script that was applied (persisted on confirm)
    ssh_connection: str = ""  # SSH_CONNECTION of the applying session
    watchdog_pid: int = 0


@dataclass(frozen=True)
class Outcome:
    """The last end of a pending apply: confirmed or rolled back, when, and why."""

    result: str  # "confirmed" or "rolled-back" or "rollback-failed"
    at: float
    token: str
    detail: str = ""


class FirewallState:
    """Files of the firewall under run_dir (volatile) and state_dir (survives reboots)."""

    def __init__(self, config: Config) -> None:
        self.run = Path(config.paths.run_dir) / "firewall"
        self.state = Path(config.paths.state_dir) / "firewall"

    @property
    def pending_file(self) -> Path:
        return self.run / "pending.json"

    @property
    def outcome_file(self) -> Path:
        return self.run / "outcome.json"

    @property
    def lock_file(self) -> Path:
        return self.run / "lock"

    def ensure(self) -> None:
        try:
            self.run.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.state.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise EnforceError(f"{self.run}: cannot create ({exc.strerror or exc})") from None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise confirm and rollback: whoever takes the lock first decides."""
        self.ensure()
        with self.lock_file.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read_pending(self) -> PendingApply | None:
        data = _read_json(self.pending_file)
        return PendingApply(**data) if data is not None else None

    def write_pending(self, pending: PendingApply) -> None:
        write_atomic(self.pending_file, json.dumps(asdict(pending), indent=2) + "\n")

    def clear_pending(self) -> None:
        self.pending_file.unlink(missing_ok=True)

    def read_outcome(self) -> Outcome | None:
        data = _read_json(self.outcome_file)
        return Outcome(**data) if data is not None else None

    def write_outcome(self, outcome: Outcome) -> None:
        write_atomic(self.outcome_file, json.dumps(asdict(outcome), indent=2) + "\n")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EnforceError(f"{path}: unreadable state ({exc})") from None
    if not isinstance(data, dict):
        raise EnforceError(f"{path}: unreadable state (not an object)")
    return data


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Write a file so readers see the old or the new content, never a half."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EnforceError(f"{path}: cannot write ({exc.strerror or exc})") from None
