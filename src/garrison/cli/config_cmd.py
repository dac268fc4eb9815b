"""`garrison config check|show|reference`: validate and inspect the configuration."""

from __future__ import annotations

import json

import click

from garrison.cli.common import config_option, emit, get_config


@click.group("config")
def config_group() -> None:
    """Validate and inspect garrison.toml."""


@config_group.command(
    "check",
    epilog="\b\nExamples:\n  garrison config check\n  garrison -c ./garrison.toml config check",
)
@config_option
@click.pass_context
def check_command(ctx: click.Context) -> None:
    """Validate the config; exit 2 with the file and key on the first error."""
    get_config(ctx)
    click.echo("config ok", err=True)


@config_group.command("show", epilog="\b\nExample:\n  garrison config show | jq .firewall")
@config_option
@click.pass_context
def show_command(ctx: click.Context) -> None:
    """Print the effective config (file, env overrides and defaults) as JSON."""
    config = get_config(ctx)
    emit(json.dumps(config.model_dump(mode="json"), indent=2) + "\n", None)


@config_group.command("reference")
def reference_command() -> None:
    """Print the reference of every key as Markdown (docs/config.md)."""
    from garrison.config.reference import render_reference

    emit(render_reference(), None)


COMMANDS = [config_group]
