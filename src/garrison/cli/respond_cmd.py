"""`garrison freeze|thaw|respond|evidence`: incident response by hand (the guard calls the same
playbook). Thin: parse, load config, call one function in garrison.respond, render, exit."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from garrison.cli.common import (
    config_option,
    emit,
    format_option,
    get_config,
    stderr_console,
    use_color,
    warn,
)
from garrison.errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, UsageError

if TYPE_CHECKING:
    from garrison.model import ActionRecord

STATUS_STYLE = {
    "done": "green",
    "failed": "bold red",
    "pending": "yellow",
    "skipped": "dim",
    "dry-run": "cyan",
}


def _render(
    records: Sequence[ActionRecord], fmt: str, header: str = "", extra: dict[str, Any] | None = None
) -> str:
    from garrison.model import to_jsonable

    if fmt == "json":
        return json.dumps({**(extra or {}), "records": to_jsonable(list(records))}, indent=2) + "\n"
    from rich.markup import escape
    from rich.table import Table

    from garrison.report.table import make_console

    console = make_console(use_color(None), 160)
    if header:
        console.print(escape(header))
    table = Table(box=None, pad_edge=False, show_edge=False)
    for col in ("Step", "Target", "Status", "ms", "Detail"):
        table.add_column(
            col, no_wrap=col not in ("Detail", "Target"), justify="right" if col == "ms" else "left"
        )
    for r in records:
        style = STATUS_STYLE.get(r.status.value, "")
        status = f"[{style}]{r.status.value}[/]" if style else r.status.value
        table.add_row(
            r.step, escape(r.target), status, f"{r.duration_s * 1000:.1f}", escape(r.detail)
        )
    console.print(table)
    return str(console.file.getvalue())  # type: ignore[attr-defined]


def _exit_code(records: Sequence[ActionRecord]) -> int:
    """2 when a step failed, 1 when one waits for a human, else 0."""
    statuses = {r.status.value for r in records}
    if "failed" in statuses:
        return EXIT_ERROR
    return EXIT_FINDINGS if "pending" in statuses else EXIT_OK


# -- freeze / thaw -----------------------------------------------------------------------------
@click.command(
    "freeze",
    epilog="""\b
Examples:
  garrison freeze                 freeze every [[strategies]] entry
  garrison freeze ft hb           freeze two strategies
  garrison freeze --dry-run       show what each method would do
\b
The kill switch (<paths.run_dir>/KILL_SWITCH) is engaged first; strategies should check it
before each order. Exit 2 when a strategy could not be frozen.""",
)
@click.argument("strategies", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Show the plan, change nothing.")
@format_option(("table", "json"))
@config_option
@click.pass_context
def freeze_command(
    ctx: click.Context, strategies: tuple[str, ...], dry_run: bool, fmt: str
) -> None:
    """Freeze trading strategies now (cgroup freezer, signal, systemd, docker, freqtrade...)."""
    from garrison.respond.context import ResponseContext
    from garrison.respond.freezing import freeze_all, plan_freeze, select_strategies
    from garrison.respond.secret_access import store_reader

    config = get_config(ctx)
    rctx = ResponseContext(config, store_reader(config), dry_run=dry_run)
    chosen = select_strategies(rctx, strategies)
    if not chosen:
        raise UsageError("no [[strategies]] configured: nothing to freeze")
    records = plan_freeze(rctx, chosen) if dry_run else freeze_all(rctx, chosen, "garrison freeze")
    emit(_render(records, fmt), None)
    ctx.exit(_exit_code(records))


@click.command(
    "thaw",
    epilog="""\b
Examples:
  garrison thaw                   thaw every strategy and release the kill switch
  garrison thaw ft                thaw one; the kill switch stays until --release-kill-switch
""",
)
@click.argument("strategies", nargs=-1)
@click.option("--release-kill-switch", is_flag=True, help="Also remove the kill-switch file.")
@format_option(("table", "json"))
@config_option
@click.pass_context
def thaw_command(
    ctx: click.Context, strategies: tuple[str, ...], release_kill_switch: bool, fmt: str
) -> None:
    """Let frozen strategies trade again."""
    from garrison.respond.context import ResponseContext
    from garrison.respond.freezing import select_strategies, thaw_all
    from garrison.respond.secret_access import store_reader

    config = get_config(ctx)
    rctx = ResponseContext(config, store_reader(config))
    chosen = select_strategies(rctx, strategies)
    if not chosen:
        raise UsageError("no [[strategies]] configured: nothing to thaw")
    records = thaw_all(rctx, chosen, release=release_kill_switch or not strategies)
    emit(_render(records, fmt), None)
    from garrison.respond import killswitch

    if killswitch.engaged(config) is not None:
        warn(
            f"the kill switch {killswitch.kill_switch_path(config)} is still engaged: "
            "strategies that honour it stay idle (garrison thaw --release-kill-switch)"
        )
    ctx.exit(_exit_code(records))


# -- respond -----------------------------------------------------------------------------------
@click.group(
    "respond",
    invoke_without_command=True,
    epilog="""\b
Examples:
  garrison respond --dry-run                          show the playbook, touch nothing
  garrison respond --rule manual --summary "key leaked in a paste"
  garrison respond --alert-file falco-event.json      a Falco, Wazuh or garrison alert
  garrison respond show                               the latest incident and what is open
  garrison respond ack 20261124T220000Z-ab12cd34 broker.lock:binance-main
  garrison respond serve                              Falco/Wazuh webhook on 127.0.0.1:8095
\b
Steps: freeze + broker (concurrently), evidence, notify, rebuild ([respond].steps).
Exit: 0 all done, 1 something pending a human, 2 a step failed.""",
)
@click.option("--dry-run", is_flag=True, help="Show the plan, change nothing.")
@click.option(
    "--alert-file",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Alert JSON (garrison, Falco json_output or Wazuh integration), '-' = stdin.",
)
@click.option("--rule", "rule_id", metavar="ID", help="Rule id of a hand-made alert.")
@click.option("--summary", metavar="TEXT", default="", help="What happened (hand-made alert).")
@click.option(
    "--severity",
    default="high",
    show_default=True,
    type=click.Choice(["info", "low", "medium", "high", "critical"]),
)
@click.option(
    "--wait-notify",
    type=float,
    metavar="SECONDS",
    help="Wait this long for notifications (default respond.timeouts.notify).",
)
@format_option(("table", "json"))
@config_option
@click.pass_context
def respond_group(
    ctx: click.Context,
    dry_run: bool,
    alert_file: str | None,
    rule_id: str | None,
    summary: str,
    severity: str,
    wait_notify: float | None,
    fmt: str,
) -> None:
    """Run the incident playbook: freeze, cancel + lock keys, evidence, notify, rebuild."""
    if ctx.invoked_subcommand is not None:
        return
    from garrison.model import Severity
    from garrison.respond.intake import alert_from_json, manual_alert
    from garrison.respond.playbook import execute_playbook

    config = get_config(ctx)
    if alert_file and rule_id:
        raise UsageError("use --alert-file or --rule, not both")
    if alert_file:
        alert = alert_from_json(_read_json(alert_file), alert_file)
    elif rule_id or dry_run:
        alert = manual_alert(rule_id or "manual", summary, Severity.parse(severity))
    else:
        raise UsageError(
            "say what happened: --rule ID --summary TEXT, --alert-file F, or --dry-run"
        )
    if wait_notify is None:
        wait_notify = config.respond.timeouts.notify
    if sys.stderr.isatty() and not dry_run:  # evidence and rebuild can take minutes
        with stderr_console.status(f"responding to {alert.rule_id}: freeze, broker, evidence..."):
            result = execute_playbook(alert, config, wait_notify_s=wait_notify)
    else:
        result = execute_playbook(alert, config, dry_run=dry_run, wait_notify_s=wait_notify)
    header = (
        "Plan (dry run): nothing was changed"
        if dry_run
        else f"Incident {result.incident_id}: records in "
        f"{Path(config.paths.state_dir) / 'incidents' / result.incident_id}"
    )
    records = result.records
    if not dry_run:  # include delivery records written by the notifier meanwhile
        from garrison.respond.incident import Incident

        records = Incident.open(config.paths.state_dir, result.incident_id).records()
    emit(_render(records, fmt, header, {"incident": result.incident_id}), None)
    if not dry_run:
        ctx.exit(_exit_code(_latest(records)))


def _latest(records: Sequence[ActionRecord]) -> list[ActionRecord]:
    from garrison.respond.incident import step_key

    latest: dict[str, ActionRecord] = {}
    for record in records:
        latest[step_key(record)] = record
    return list(latest.values())


def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path}: not JSON ({exc})") from None


@respond_group.command(
    "ack",
    epilog="""\b
Example:
  garrison respond ack 20261124T220000Z-ab12cd34 broker.lock:binance-main --note "key deleted"
""",
)
@click.argument("incident")
@click.argument("step")
@click.option("--note", default="", help="What was done.")
@click.option("--by", "who", default=None, help="Who did it (default: $SUDO_USER or $USER).")
@config_option
@click.pass_context
def ack_command(ctx: click.Context, incident: str, step: str, note: str, who: str | None) -> None:
    """Mark a pending (manual) or failed step of an incident as done by a human."""
    import getpass
    import os

    from garrison.respond.incident import Incident, acknowledge

    config = get_config(ctx)
    who = who or os.environ.get("SUDO_USER") or getpass.getuser()
    record = acknowledge(Incident.open(config.paths.state_dir, incident), step, who, note)
    click.echo(f"{incident}: {record.step}:{record.target} acknowledged by {who}")


@respond_group.command(
    "show",
    epilog="""\b
Examples:
  garrison respond show                      the latest incident
  garrison respond show 20261124T220000Z-ab12cd34 -f json
""",
)
@click.argument("incident", required=False)
@format_option(("table", "json"))
@config_option
@click.pass_context
def show_command(ctx: click.Context, incident: str | None, fmt: str) -> None:
    """Show an incident's records and what still needs a human."""
    from garrison.respond.incident import Incident, open_items

    config = get_config(ctx)
    found = (
        Incident.open(config.paths.state_dir, incident)
        if incident
        else Incident.latest(config.paths.state_dir)
    )
    if found is None:
        raise UsageError(f"no incidents under {config.paths.state_dir}/incidents")
    records = found.records()
    items = open_items(records)
    from garrison.respond import killswitch

    switch = "engaged" if killswitch.engaged(config) is not None else "released"
    header = f"Incident {found.id} (kill switch {switch}): " + (
        "open: " + ", ".join(i.key for i in items) if items else "nothing open"
    )
    emit(
        _render(records, fmt, header, {"incident": found.id, "open": [i.key for i in items]}), None
    )


@respond_group.command(
    "serve",
    epilog="""\b
Examples:
  garrison respond serve                         listen on respond.webhook.listen
  garrison respond serve --listen 127.0.0.1:9000
\b
Falco:  http_output: {enabled: true, url: "http://127.0.0.1:8095/falco"} with json_output
Wazuh:  an <integration> whose script POSTs the alert JSON to http://127.0.0.1:8095/wazuh
With respond.webhook.hmac_secret set, send X-Garrison-Signature: sha256=<HMAC of body>.""",
)
@click.option("--listen", metavar="HOST:PORT", help="Override respond.webhook.listen.")
@config_option
@click.pass_context
def serve_command(ctx: click.Context, listen: str | None) -> None:
    """Serve the Falco/Wazuh webhook: each alert runs the playbook."""
    from garrison.respond.playbook import run_playbook
    from garrison.respond.secret_access import store_reader
    from garrison.respond.webhook import AlertIntake

    config = get_config(ctx)
    host = port = None
    if listen:
        h, _, p = listen.rpartition(":")
        if not h or not p.isdigit():
            raise UsageError(f"--listen {listen}: expected HOST:PORT")
        host, port = h, int(p)
    secret_name = config.respond.webhook.hmac_secret
    secret = bytes(store_reader(config)(secret_name)) if secret_name else None
    try:
        intake = AlertIntake(
            config, lambda alert: run_playbook(alert, config), secret, host=host, port=port
        )
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {listen or config.respond.webhook.listen}: {exc.strerror or exc}"
        ) from None
    hmac_note = "HMAC required" if secret else "no HMAC (set respond.webhook.hmac_secret)"
    click.echo(f"garrison: respond webhook on http://{intake.address}/ ({hmac_note})", err=True)
    try:
        intake.serve_forever()
    except KeyboardInterrupt:
        click.echo("garrison: webhook stopped", err=True)


# -- evidence ----------------------------------------------------------------------------------
@click.group("evidence")
def evidence_group() -> None:
    """Incident evidence and its chain of custody."""


@evidence_group.command(
    "verify",
    epilog="""\b
Examples:
  garrison evidence verify                        the latest incident's evidence
  garrison evidence verify /var/lib/garrison/incidents/ID/evidence -f json
\b
Exit 1 when a record was edited, deleted, reordered or appended, or an artefact changed.""",
)
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@format_option(("table", "json"))
@config_option
@click.pass_context
def verify_command(ctx: click.Context, directory: str | None, fmt: str) -> None:
    """Check the custody log's signatures and hash chain, and every artefact's SHA-256."""
    from garrison.model import to_jsonable
    from garrison.respond.custody import trusted_public_key, verify_custody
    from garrison.respond.incident import Incident

    config = get_config(ctx)
    if directory is None:
        latest = Incident.latest(config.paths.state_dir)
        if latest is None:
            raise UsageError(f"no incidents under {config.paths.state_dir}/incidents")
        target = latest.evidence_dir
    else:
        target = Path(directory)
        if (target / "evidence").is_dir():
            target = target / "evidence"
    report = verify_custody(target, trusted_public_key(config.paths.state_dir))
    if fmt == "json":
        emit(json.dumps(to_jsonable(report) | {"intact": report.intact}, indent=2) + "\n", None)
    else:
        lines = [
            f"{report.directory}: {report.records} records, {report.artefacts} artefacts, "
            f"key: {report.key}"
        ]
        lines += [f"  {p.kind:<9} {p.where:<18} {p.detail}" for p in report.problems]
        lines.append("intact" if report.intact else f"TAMPERED: {len(report.problems)} problem(s)")
        emit("\n".join(lines) + "\n", None)
    ctx.exit(EXIT_OK if report.intact else EXIT_FINDINGS)


COMMANDS = [freeze_command, thaw_command, respond_group, evidence_group]
