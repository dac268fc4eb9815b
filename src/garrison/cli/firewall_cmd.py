"""`garrison firewall plan|apply|confirm|rollback|status|refresh`: the nftables policy."""

from __future__ import annotations

import json

import click

from garrison.cli.common import config_option, emit, format_option, get_config, output_option, warn
from garrison.errors import EnforceError
from garrison.model import to_jsonable

GROUP_EPILOG = """\b
The safe sequence:
  garrison firewall plan               show the ruleset and the diff against the live one
  garrison firewall apply              apply; rolls back by itself in 60 s ...
  garrison firewall confirm            ... unless confirmed from a NEW ssh connection
  garrison firewall status             applied? pending? drift from /etc/nftables.conf?
  garrison firewall refresh            re-resolve broker hostnames (run from a timer)
  garrison firewall updates open       let package mirrors through (close it afterwards)
"""


@click.group("firewall", epilog=GROUP_EPILOG)
def firewall_group() -> None:
    """Default-deny nftables firewall with broker allow-lists, applied without lock-out."""


@firewall_group.command(
    "plan",
    epilog="\b\nExamples:\n  garrison firewall plan\n  garrison firewall plan --diff-only"
    "\n  garrison firewall plan --no-resolve -o /tmp/garrison.nft --script",
)
@config_option
@click.option("--no-resolve", is_flag=True, help="Do not resolve hostnames (offline plan).")
@click.option("--diff-only", is_flag=True, help="Only the diff against the live table.")
@click.option("--script", is_flag=True, help="Print the exact nft script apply would load.")
@format_option(("text", "json"))
@output_option
@click.pass_context
def plan_command(
    ctx: click.Context,
    no_resolve: bool,
    diff_only: bool,
    script: bool,
    fmt: str,
    output: str | None,
) -> None:
    """Render the ruleset, validate it with `nft -c`, and diff it against the live table."""
    from garrison.firewall.plan import make_plan

    plan = make_plan(get_config(ctx), resolve=not no_resolve)
    for message in plan.policy.warnings:
        warn(message)
    if fmt == "json":
        data = {
            "script": plan.script,
            "planned": plan.planned,
            "live": plan.live,
            "diff": plan.diff,
            "changes": plan.changes,
            "warnings": list(plan.policy.warnings),
        }
        emit(json.dumps(data, indent=2) + "\n", output)
        return
    if script:
        emit(plan.script, output)
        return
    parts = [] if diff_only else [plan.planned, ""]
    if plan.diff:
        parts.append(plan.diff)
    else:
        parts.append("# no changes: the live table already matches the plan\n")
    emit("\n".join(parts), output)


@firewall_group.command(
    "apply",
    epilog="\b\nExamples:\n  garrison firewall apply\n  garrison firewall apply --timeout 120"
    "\n\b\nThen, from a NEW ssh connection within the timeout:\n  garrison firewall confirm",
)
@config_option
@click.option("--timeout", type=click.IntRange(3, 3600), help="Seconds before the rollback.")
@click.option("--force", is_flag=True, help="Apply even if your SSH session would be cut.")
@format_option(("text", "json"))
@click.pass_context
def apply_command(ctx: click.Context, timeout: int | None, force: bool, fmt: str) -> None:
    """Apply the ruleset atomically; it rolls back unless confirmed within the timeout."""
    from garrison.firewall.apply import apply_with_rollback

    result = apply_with_rollback(get_config(ctx), timeout_s=timeout, force=force)
    for message in result.plan.policy.warnings:
        warn(message)
    if result.ssh_note.startswith("FORCED"):
        warn(f"--force: {result.ssh_note}; the rollback is your only way back in")
    p = result.pending
    if fmt == "json":
        emit(json.dumps(to_jsonable(result.pending) | {"ssh": result.ssh_note}) + "\n", None)
        return
    emit(
        f"applied table inet garrison ({result.ssh_note})\n"
        f"rollback in {p.timeout_s}s (watchdog pid {p.watchdog_pid}) unless you run, "
        "from a NEW ssh connection:\n  garrison firewall confirm\n",
        None,
    )


@firewall_group.command(
    "confirm", epilog="\b\nExample (from a new ssh connection):\n  garrison firewall confirm"
)
@config_option
@click.option("--same-session", is_flag=True, help="Allow confirming from the applying session.")
@click.pass_context
def confirm_command(ctx: click.Context, same_session: bool) -> None:
    """Keep the applied ruleset: stop the rollback and persist it for the next boot."""
    from garrison.firewall.apply import confirm

    result = confirm(get_config(ctx), same_session=same_session)
    emit(f"confirmed; persisted to {result.persisted_to}\n", None)


@firewall_group.command("rollback", epilog="\b\nExample:\n  garrison firewall rollback")
@config_option
@click.pass_context
def rollback_command(ctx: click.Context) -> None:
    """Undo a pending apply now instead of waiting for the timeout."""
    from garrison.firewall.apply import rollback_now

    rollback_now(get_config(ctx))
    emit("rolled back to the ruleset saved before apply\n", None)


@firewall_group.command(
    "status", epilog="\b\nExamples:\n  garrison firewall status\n  garrison firewall status -f json"
)
@config_option
@format_option(("text", "json"))
@click.pass_context
def status_command(ctx: click.Context, fmt: str) -> None:
    """Applied or not, pending confirm and seconds left, drift between live and persisted."""
    from garrison.firewall.apply import status

    st = status(get_config(ctx))
    if fmt == "json":
        emit(json.dumps(to_jsonable(st), indent=2) + "\n", None)
        return
    same = {True: "yes", False: "NO (drift below)", None: "unknown"}[st.live_matches_persisted]
    lines = [
        f"applied:       {'yes' if st.applied else 'no'} (table inet garrison)",
        "pending:       "
        + (f"yes, rollback in {st.seconds_left}s unless confirmed" if st.pending else "no"),
        f"last outcome:  {st.last_outcome or '-'}",
        f"persisted:     {'yes' if st.persisted else 'no'} ({st.persist_path})",
        f"live == persisted: {same if st.persisted else '-'}",
    ]
    text = "\n".join(lines) + "\n"
    if st.watchdog_running is False:
        warn(
            "the rollback watchdog is NOT running: nothing will undo the pending apply; "
            "run `garrison firewall confirm` or `garrison firewall rollback`"
        )
    if st.drift:
        text += "\n" + st.drift
    emit(text, None)


@firewall_group.command(
    "refresh",
    epilog="\b\nExamples:\n  garrison firewall refresh\n  garrison firewall refresh --dry-run"
    "\n\b\nA systemd timer running it every minute keeps broker addresses current.",
)
@config_option
@click.option("--dry-run", is_flag=True, help="Resolve and show, change nothing.")
@format_option(("text", "json"))
@click.pass_context
def refresh_command(ctx: click.Context, dry_run: bool, fmt: str) -> None:
    """Re-resolve broker hostnames and reset their set elements' TTL timers in one transaction."""
    from garrison.firewall.refresh import refresh_sets

    result = refresh_sets(get_config(ctx), dry_run=dry_run)
    if fmt == "json":
        emit(json.dumps(to_jsonable(result.elements), indent=2) + "\n", None)
    else:
        verb = "would refresh" if dry_run else "refreshed"
        lines = [f"{verb} {len(result.elements)} address(es)"]
        lines += [
            f"  {e.set_name:24} {e.address:40} ttl {e.ttl}s  ({e.hostname})"
            for e in result.elements
        ]
        emit("\n".join(lines) + "\n", None)
    if result.failed:
        for failure in result.failed[1:]:
            warn(failure)
        raise EnforceError(
            f"{result.failed[0]}"
            + (f" (and {len(result.failed) - 1} more above)" if len(result.failed) > 1 else "")
            + "; every other hostname was refreshed, the live addresses of those that failed "
            "expire by their own TTL"
        )


@firewall_group.command(
    "updates",
    epilog="\b\nExamples:\n  garrison firewall updates open && apt-get upgrade"
    "\n  garrison firewall updates close\n  garrison firewall updates status",
)
@config_option
@click.argument("action", type=click.Choice(["open", "close", "status"]))
@click.pass_context
def updates_command(ctx: click.Context, action: str) -> None:
    """Let the package mirrors ([[firewall.egress]] during_updates = true) through, or not."""
    from garrison.firewall.updates import set_updates_window, updates_window_open

    config = get_config(ctx)
    if action == "status":
        state = "open" if updates_window_open() else "closed"
        emit(f"updates window: {state}\n", None)
        return
    gated = set_updates_window(config, open_window=action == "open")
    if not gated:
        warn("no [[firewall.egress]] entry has during_updates = true; the window gates nothing")
    state = "open: package mirrors reachable" if action == "open" else "closed"
    emit(f"updates window {state}\n", None)


COMMANDS = [firewall_group]
