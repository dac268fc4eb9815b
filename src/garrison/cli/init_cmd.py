"""`garrison init`: write a commented garrison.toml for this host (never overwrites)."""

from __future__ import annotations

from pathlib import Path

import click

from garrison.cli.common import emit
from garrison.config.loader import DEFAULT_CONFIG_PATH

EPILOG = """\b
Examples:
  garrison init                         # writes /etc/garrison/garrison.toml
  garrison init --stdout | less         # just show what it would write
  garrison init --path ./garrison.toml --root /mnt/image
"""


@click.command("init", epilog=EPILOG)
@click.option(
    "--path",
    "path",
    metavar="FILE",
    default=str(DEFAULT_CONFIG_PATH),
    show_default=True,
    help="Where to write the config. An existing file is never overwritten.",
)
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the config instead of writing it.")
@click.option(
    "--root",
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False),
    default="/",
    help="Describe the system mounted at DIR instead of this host.",
)
def init_command(path: str, to_stdout: bool, root: str) -> None:
    """Write a fully commented config for this host.

    Finds the SSH port, the listening services and trading software (freqtrade,
    Hummingbot, MT5 under Wine: by running process and by well-known directories).
    """
    from garrison.config.init_writer import render_config, write_new_config
    from garrison.host.discovery import discover
    from garrison.host.host import Host

    text = render_config(discover(Host(root)))
    if to_stdout:
        emit(text, None)
        return
    write_new_config(Path(path), text)
    click.echo(f"wrote {path}; review it, then run: garrison audit --config {path}", err=True)


COMMANDS = [init_command]
