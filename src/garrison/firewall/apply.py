"""apply_with_rollback, confirm, status: change the live ruleset without ever locking us out.

Order: render -> `nft -c` -> refuse if the SSH session would be cut -> save the live state ->
write the pending state -> start the detached watchdog -> load in one transaction. The watchdog
restores the saved state at the deadline unless `garrison firewall confirm` (from a new SSH
connection) got there first; only confirm persists the ruleset for the next boot.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from garrison.config.schema import Config
from garrison.errors import EnforceError, UsageError
from garrison.firewall import nft
from garrison.firewall.pending import FirewallState, Outcome, PendingApply, write_atomic
from garrison.firewall.persist import persist, persisted_block
from garrison.firewall.plan import FirewallPlan, diff_tables, make_plan, restore_script
from garrison.firewall.ssh_session import ensure_no_lockout


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise EnforceError(f"{what} needs root (it changes the kernel's ruleset); run it with sudo")


@dataclass(frozen=True)
class ApplyResult:
    plan: FirewallPlan
    ssh_note: str
    pending: PendingApply


def _start_watchdog(state: FirewallState) -> int:
    """A detached process in its own session, no terminal: it outlives our SSH session."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "garrison.firewall.watchdog", "--state", str(state.pending_file)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        cwd="/",
    )
    return proc.pid


def watchdog_alive(pid: int) -> bool:
    """Whether our rollback watchdog still runs (checked by its command line)."""
    try:
        return b"garrison.firewall.watchdog" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _stop_watchdog(pid: int) -> None:
    """Stop our watchdog (checked by its command line, so a recycled pid is never hit)."""
    if pid <= 0:
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if b"garrison.firewall.watchdog" in cmdline:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def apply_with_rollback(
    config: Config,
    *,
    timeout_s: int | None = None,
    force: bool = False,
    env: Mapping[str, str] | None = None,
) -> ApplyResult:
    """Apply the config's ruleset now; it is rolled back unless confirmed within timeout_s."""
    require_root("firewall apply")
    env = os.environ if env is None else env
    state = FirewallState(config)
    plan = make_plan(config)
    ssh_note = ensure_no_lockout(plan.policy, force=force, env=env)
    timeout = timeout_s or config.firewall.confirm_timeout_s
    state.ensure()
    with state.locked():
        pending = state.read_pending()
        if pending is not None:
            left = max(0, int(pending.deadline - time.time()))
            raise EnforceError(
                f"an apply is already waiting for confirm ({left}s left): run "
                "`garrison firewall confirm` or `garrison firewall rollback` first"
            )
        saved_table = nft.list_table()
        saved_ruleset = nft.list_ruleset()
        token = secrets.token_hex(8)
        restore_file = state.run / f"restore-{token}.nft"
        applied_file = state.run / f"applied-{token}.nft"
        write_atomic(restore_file, restore_script(config, saved_table, saved_ruleset))
        write_atomic(applied_file, plan.script)
        now = time.time()
        pending = PendingApply(
            token=token,
            applied_at=now,
            deadline=now + timeout,
            timeout_s=timeout,
            restore_file=str(restore_file),
            applied_file=str(applied_file),
            ssh_connection=env.get("SSH_CONNECTION", ""),
        )
        state.write_pending(pending)
        pid = _start_watchdog(state)
        pending = PendingApply(**{**pending.__dict__, "watchdog_pid": pid})
        state.write_pending(pending)
        try:
            nft.load(plan.script, "nft -f (apply)")
        except EnforceError:
            state.clear_pending()
            _stop_watchdog(pid)
            raise
    return ApplyResult(plan, ssh_note, pending)


@dataclass(frozen=True)
class ConfirmResult:
    persisted_to: str
    token: str


def confirm(
    config: Config, *, same_session: bool = False, env: Mapping[str, str] | None = None
) -> ConfirmResult:
    """Keep the pending ruleset: stop the watchdog and persist it for the next boot."""
    require_root("firewall confirm")
    env = os.environ if env is None else env
    state = FirewallState(config)
    with state.locked():
        pending = state.read_pending()
        if pending is None:
            outcome = state.read_outcome()
            if outcome is not None and outcome.result != "confirmed":
                when = time.strftime("%H:%M:%S", time.localtime(outcome.at))
                raise EnforceError(
                    f"nothing to confirm: the last apply was {outcome.result} at {when} "
                    f"({outcome.detail}); fix the config and apply again"
                )
            raise EnforceError("nothing to confirm: no apply is pending")
        session = env.get("SSH_CONNECTION", "")
        if session and session == pending.ssh_connection and not same_session:
            raise UsageError(
                "confirm from a NEW SSH connection: that is what proves the new rules let you "
                "in (or --same-session if you know what you are doing)"
            )
        script = Path(pending.applied_file).read_text(encoding="utf-8")
        persist(Path(config.firewall.persist_path), script)
        state.clear_pending()
        state.write_outcome(Outcome("confirmed", time.time(), pending.token))
    _stop_watchdog(pending.watchdog_pid)
    return ConfirmResult(config.firewall.persist_path, pending.token)


def rollback_now(config: Config) -> str:
    """Restore the saved state at once (the watchdog would do it at the deadline)."""
    require_root("firewall rollback")
    state = FirewallState(config)
    with state.locked():
        pending = state.read_pending()
        if pending is None:
            raise EnforceError("nothing to roll back: no apply is pending")
        nft.load(Path(pending.restore_file).read_text(encoding="utf-8"), "rollback")
        state.clear_pending()
        state.write_outcome(Outcome("rolled-back", time.time(), pending.token, "by request"))
    _stop_watchdog(pending.watchdog_pid)
    return pending.token


@dataclass(frozen=True)
class FirewallStatus:
    applied: bool  # table inet garrison exists in the live ruleset
    pending: bool
    seconds_left: int | None
    last_outcome: str
    persist_path: str
    persisted: bool
    live_matches_persisted: bool | None  # None: cannot tell (nothing persisted / not root)
    drift: str  # unified diff persisted -> live
    watchdog_running: bool | None = None  # None when nothing is pending


def status(config: Config) -> FirewallStatus:
    """What is live, what waits for confirm, and drift between live and persisted."""
    require_root("firewall status")
    state = FirewallState(config)
    pending = state.read_pending()
    outcome = state.read_outcome()
    raw_live = nft.list_table()
    live = nft.normalise(raw_live, static_only=True) if raw_live is not None else None
    block = persisted_block(Path(config.firewall.persist_path))
    matches_persisted: bool | None = None
    drift = ""
    if block is not None:
        listing = nft.canonical(block)
        if listing is not None:
            persisted = nft.normalise(listing, static_only=True)
            matches_persisted = persisted == live
            drift = diff_tables(persisted, live or "", "persisted", "live")
    last = ""
    if outcome is not None:
        last = (
            f"{outcome.result} at {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(outcome.at))}"
        )
        if outcome.detail:
            last += f" ({outcome.detail})"
    return FirewallStatus(
        applied=live is not None,
        pending=pending is not None,
        seconds_left=max(0, int(pending.deadline - time.time())) if pending else None,
        last_outcome=last,
        persist_path=config.firewall.persist_path,
        persisted=block is not None,
        live_matches_persisted=matches_persisted,
        drift=drift,
        watchdog_running=watchdog_alive(pending.watchdog_pid) if pending else None,
    )
