"""`garrison guard` (the real-time daemon, --status, install-unit, alerts) and `garrison rules`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from garrison.cli.common import config_option, emit, format_option, get_config
from garrison.errors import EXIT_FINDINGS, UsageError

GUARD_EPILOG = """\b
Examples:
  garrison guard                      run in the foreground (JSON log lines on stderr)
  garrison guard --for 60             run for 60 seconds, then print a summary
  garrison guard --once               start every source, verify, rescan, stop
  garrison guard --status             sources, fallbacks, missing kernel features, counters
  garrison guard alerts -n 20         the newest stored alerts with their events
  garrison guard install-unit /etc/systemd/system/
"""


@click.group(
    "guard",
    invoke_without_command=True,
    epilog=GUARD_EPILOG,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@config_option
@click.option(
    "--for",
    "duration",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="Stop after SECONDS (tests, benchmarks).",
)
@click.option("--once", is_flag=True, help="Start, verify and rescan, then stop.")
@click.option(
    "--status",
    "show_status",
    is_flag=True,
    help="Show the running guard's status instead of starting one.",
)
@format_option(("table", "json"))
@click.pass_context
def guard_group(
    ctx: click.Context, duration: float | None, once: bool, show_status: bool, fmt: str
) -> None:
    """Watch files, connections and privilege changes in real time; alert on rule matches."""
    if ctx.invoked_subcommand is not None:
        return
    config = get_config(ctx)
    if show_status:
        from garrison.guard.render import render_status
        from garrison.guard.setup import status_path
        from garrison.guard.status import read_status

        path = status_path(config)
        status = read_status(path)
        emit(render_status(status, path, fmt), None)
        if status is None or not status.alive:
            ctx.exit(EXIT_FINDINGS)
        return
    if duration is not None and once:
        raise UsageError("--for and --once cannot be combined")
    from garrison.guard.setup import load_guard_rules

    load_guard_rules(config)  # rule errors (file:line) before anything starts
    _run_daemon(ctx, duration, once, fmt)


def _run_daemon(ctx: click.Context, duration: float | None, once: bool, fmt: str) -> None:
    """Run the daemon: exec the lean `python -m garrison.guard` from the real CLI (smaller
    resident set); in-process when garrison is used as a library (tests)."""
    import os
    import sys

    args = ["--format", fmt]
    if duration is not None:
        args += ["--for", str(duration)]
    if once:
        args.append("--once")
    path = ctx.meta.get("garrison.config_path") or ctx.find_root().meta.get("garrison.config_path")
    if path:
        args += ["--config", str(path)]
    if os.path.basename(sys.argv[0]) == "garrison":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", "garrison.guard", *args])  # noqa: S606
    from garrison.cli.guard_main import main

    code = main(args)
    if code:
        ctx.exit(code)


@guard_group.command(
    "install-unit",
    epilog="\b\nExamples:\n"
    "  garrison guard install-unit /etc/systemd/system/\n"
    "  garrison guard install-unit ./garrison-guard.service --print",
)
@config_option
@click.argument("target", type=click.Path(path_type=Path), required=False)
@click.option("--print", "print_only", is_flag=True, help="Print the unit instead of writing it.")
@click.pass_context
def install_unit_command(ctx: click.Context, target: Path | None, print_only: bool) -> None:
    """Write the hardened systemd unit to TARGET (a file or a directory). Never enables it."""
    from garrison.guard.unit import install_unit, render_unit

    config = get_config(ctx)
    path = ctx.meta.get("garrison.config_path") or ctx.find_root().meta.get("garrison.config_path")
    text = render_unit(config, path)
    if print_only:
        emit(text, None)
        return
    if target is None:
        raise UsageError("install-unit needs TARGET (e.g. /etc/systemd/system/) or --print")
    written = install_unit(text, target)
    emit(
        f"wrote {written}\nenable it with: systemctl daemon-reload && "
        f"systemctl enable --now {written.name}\n",
        None,
    )


@guard_group.command(
    "alerts",
    epilog="\b\nExamples:\n  garrison guard alerts\n"
    "  garrison guard alerts --rule GRD-PERS-001 -f json",
)
@config_option
@click.option(
    "-n",
    "limit",
    type=click.IntRange(1, 100000),
    default=20,
    show_default=True,
    help="How many alerts (newest first).",
)
@click.option("--rule", metavar="ID", help="Only alerts of this rule.")
@format_option(("table", "json"))
@click.pass_context
def alerts_command(ctx: click.Context, limit: int, rule: str | None, fmt: str) -> None:
    """List stored alerts (from the SQLite alert store) with the events behind them."""
    from garrison.guard.render import render_alerts
    from garrison.guard.setup import alert_db_path
    from garrison.guard.store import read_alerts

    config = get_config(ctx)
    emit(render_alerts(read_alerts(alert_db_path(config), limit=limit, rule=rule), fmt), None)


@click.group("rules", context_settings={"help_option_names": ["-h", "--help"]})
def rules_group() -> None:
    """The guard's detection rules (TOML): list them, replay recorded events against them."""


@rules_group.command(
    "list", epilog="\b\nExamples:\n  garrison rules list\n  garrison rules list -f json"
)
@config_option
@format_option(("table", "json"))
@click.pass_context
def rules_list_command(ctx: click.Context, fmt: str) -> None:
    """List every loaded rule: id, severity, ATT&CK technique, title and where it is defined."""
    from garrison.guard.render import render_rules
    from garrison.guard.setup import load_guard_rules

    emit(render_rules(load_guard_rules(get_config(ctx)), fmt), None)


@rules_group.command(
    "test",
    epilog="\b\nExamples:\n  garrison rules test events.jsonl\n"
    "  garrison rules test events.jsonl --rules extra.toml -f json\n\n"
    "Each line of FILE is one model.Event as JSON, e.g.\n"
    '  {"source": "fanotify", "kind": "write", "path": "/usr/bin/ls"}',
)
@config_option
@click.argument("events_file", metavar="FILE", type=click.Path(path_type=Path))
@click.option(
    "--rules",
    "extra",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="RULEFILE",
    help="Also load this rule file (after the configured ones).",
)
@format_option(("table", "json"))
@click.pass_context
def rules_test_command(
    ctx: click.Context, events_file: Path, extra: tuple[Path, ...], fmt: str
) -> None:
    """Replay recorded events (JSON lines) against the rules; show which rule each one hits."""
    from garrison.guard.render import render_replay
    from garrison.guard.replay import read_events, replay
    from garrison.guard.rules.ruleset import load_ruleset
    from garrison.guard.scope import build_scope
    from garrison.guard.setup import rule_paths

    config = get_config(ctx)
    scope = build_scope(config)
    rules = load_ruleset([*rule_paths(config), *extra], scope.macros)
    results = replay(rules, read_events(events_file))
    emit(render_replay(results, fmt), None)


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


COMMANDS = [guard_group, rules_group]
