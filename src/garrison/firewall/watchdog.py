"""The rollback watchdog: a detached process that restores the saved ruleset at the deadline.

Started by `garrison firewall apply` in a new session (setsid) with no terminal, so a dying SSH
session (SIGHUP, closed pty) cannot take it down. Run: python -m garrison.firewall.watchdog
--state /run/garrison/firewall/pending.json. It exits early when confirm removes the state.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from garrison.errors import GarrisonError
from garrison.firewall import nft
from garrison.firewall.pending import Outcome, PendingApply, write_atomic

POLL_S = 0.2


def _read(path: Path) -> PendingApply | None:
    try:
        return PendingApply(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def rollback(state_file: Path, token: str) -> str:
    """Restore the saved ruleset if the pending apply `token` is still unconfirmed."""
    import fcntl

    run_dir = state_file.parent
    with (run_dir / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        pending = _read(state_file)
        if pending is None or pending.token != token:
            return "confirmed or replaced; nothing to do"
        restore = Path(pending.restore_file).read_text(encoding="utf-8")
        try:
            nft.load(restore, "rollback")
            outcome = Outcome("rolled-back", time.time(), token, "not confirmed in time")
        except GarrisonError as exc:
            outcome = Outcome("rollback-failed", time.time(), token, str(exc))
        write_atomic(run_dir / "outcome.json", json.dumps(outcome.__dict__, indent=2) + "\n")
        state_file.unlink(missing_ok=True)
        return f"{outcome.result}: {outcome.detail}"


def watch(state_file: Path) -> str:
    pending = _read(state_file)
    if pending is None:
        return "no pending apply"
    while time.time() < pending.deadline:
        current = _read(state_file)
        if current is None or current.token != pending.token:
            return "confirmed; exiting"
        time.sleep(min(POLL_S, max(0.0, pending.deadline - time.time())))
    return rollback(state_file, pending.token)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="garrison-firewall-watchdog")
    parser.add_argument("--state", required=True, type=Path)
    args = parser.parse_args(argv)
    log = args.state.parent / "watchdog.log"
    try:
        message = watch(args.state)
    except Exception as exc:  # the log is the only witness of a detached process
        message = f"error: {type(exc).__name__}: {exc}"
    try:
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {message}\n")
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
