"""`garrison recovery drill`: run the rebuild drill and record how long it took (box 8)."""

from __future__ import annotations

import json

import click

from garrison.cli.common import config_option, emit, format_option, get_config
from garrison.errors import EXIT_ERROR, EXIT_OK


@click.group("recovery")
def recovery_group() -> None:
    """Prove that the golden-image rebuild works (checklist box 8)."""


@recovery_group.command(
    "drill",
    epilog="\b\nExamples:\n  garrison recovery drill\n  garrison recovery drill -f json",
)
@config_option
@format_option(("table", "json"))
@click.pass_context
def drill_command(ctx: click.Context, fmt: str) -> None:
    """Run [recovery].drill_command, time it, and record the result.

    The record is what `garrison audit` reads for box 8. Exit 0 when the drill
    succeeded within [recovery].target_minutes, 2 otherwise.
    """
    from dataclasses import asdict

    from garrison.recovery.drill import run_drill

    config = get_config(ctx)
    record = run_drill(config)
    target_s = config.recovery.target_minutes * 60
    within = record.ok and record.duration_s <= target_s
    if fmt == "json":
        emit(json.dumps(asdict(record) | {"within_target": within}, indent=2) + "\n", None)
    else:
        verdict = "within" if within else "NOT within"
        state = "succeeded" if record.ok else f"failed (exit {record.returncode})"
        emit(
            f"drill {state} in {record.duration_s:.1f} s, {verdict} the {target_s:.0f} s target\n",
            None,
        )
    ctx.exit(EXIT_OK if within else EXIT_ERROR)


COMMANDS = [recovery_group]
