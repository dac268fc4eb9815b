"""Options and helpers shared by every command: --config, --format, --output, colour, exits."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from garrison.config import Config, load_config
from garrison.errors import ConfigError, UsageError
from garrison.model import Severity

F = TypeVar("F", bound=Callable[..., Any])

#: Console for progress and messages on stderr; stdout carries only the report.
stderr_console = Console(stderr=True, highlight=False)


def _store_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta["garrison.config_path"] = value


def config_option(func: F) -> F:
    """--config FILE on a subcommand (also accepted before the subcommand)."""
    return click.option(
        "--config",
        "-c",
        metavar="FILE",
        expose_value=False,
        is_eager=True,
        callback=_store_config,
        help="garrison.toml to use (default $GARRISON_CONFIG, then /etc/garrison/garrison.toml).",
    )(func)


def get_config(ctx: click.Context) -> Config:
    """Load the config once per invocation (cached on the context)."""
    root = ctx.find_root()
    if "garrison.config" not in root.meta:
        path = ctx.meta.get("garrison.config_path") or root.meta.get("garrison.config_path")
        root.meta["garrison.config"] = load_config(path)
    config: Config = root.meta["garrison.config"]
    return config


def format_option(choices: tuple[str, ...] = ("table", "json")) -> Callable[[F], F]:
    return click.option(
        "--format",
        "-f",
        "fmt",
        type=click.Choice(choices, case_sensitive=False),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )


def output_option(func: F) -> F:
    return click.option(
        "--output",
        "-o",
        metavar="FILE",
        type=click.Path(dir_okay=False, writable=True),
        help="Write the output to FILE instead of standard output.",
    )(func)


def use_color(output: str | None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set or writing to a file."""
    if output or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def emit(text: str, output: str | None) -> None:
    """Write the rendered output to stdout or, atomically, to --output."""
    if not output:
        click.echo(text, nl=False)
        return
    target = Path(output)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"--output {output}: {exc.strerror or exc}") from None


def parse_fail_on(text: str) -> Severity:
    """--fail-on SEVERITY, as a usage error naming the choices when it is not one."""
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise UsageError(f"--fail-on: {exc}") from None


def warn(message: str) -> None:
    click.echo(f"garrison: warning: {message}", err=True)


__all__ = [
    "ConfigError",
    "config_option",
    "emit",
    "format_option",
    "get_config",
    "output_option",
    "parse_fail_on",
    "stderr_console",
    "use_color",
    "warn",
]
