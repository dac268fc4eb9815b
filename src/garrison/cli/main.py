"""The `garrison` entry point: the command group and the mapping of errors to exit codes."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import traceback

import click

import garrison
import garrison.cli
from garrison.cli.common import _store_config
from garrison.errors import EXIT_ERROR, EXIT_USAGE, GarrisonError

EPILOG = """\b
Start here:
  garrison init            write /etc/garrison/garrison.toml for this host
  garrison audit           check every box of the go-live checklist
  garrison checks list     what is checked, and why

\b
Exit codes:
  0   success, nothing at or above the --fail-on threshold
  1   findings at or above the threshold (audit, verify)
  2   error: bad config, unreadable input, a failed step
  64  usage error: unknown option, bad argument
"""


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(garrison.__version__, prog_name="garrison")
@click.option(
    "--config",
    "-c",
    metavar="FILE",
    expose_value=False,
    is_eager=True,
    callback=_store_config,
    help="garrison.toml to use (default $GARRISON_CONFIG, then /etc/garrison/garrison.toml).",
)
def cli() -> None:
    """garrison: harden, audit, watch and recover a VPS that runs trading bots."""


def _register_commands() -> None:
    """Add every command exported as COMMANDS by a garrison.cli.*_cmd module.

    Command modules keep heavy imports inside their functions so `garrison --help` stays fast.
    """
    for info in sorted(pkgutil.iter_modules(garrison.cli.__path__), key=lambda i: i.name):
        if info.name.endswith("_cmd"):
            module = importlib.import_module(f"garrison.cli.{info.name}")
            for command in getattr(module, "COMMANDS", ()):
                cli.add_command(command)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error becomes one line on stderr and a documented exit code."""
    try:
        result = cli.main(args=argv, prog_name="garrison", standalone_mode=False)
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:
            click.echo(exc.ctx.get_help())  # bare `garrison` or `garrison checks`: show help
            return 0
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        click.echo(f"garrison: usage error: {exc.format_message()}{hint}", err=True)
        return EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("garrison: aborted", err=True)
        return 130
    except GarrisonError as exc:
        click.echo(f"garrison: error: {exc}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"garrison: error: {exc.format_message()}", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("garrison: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if os.environ.get("GARRISON_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"garrison: internal error: {type(exc).__name__}: {exc} "
            "(set GARRISON_DEBUG=1 for the traceback, and please report it)",
            err=True,
        )
        return EXIT_ERROR
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
