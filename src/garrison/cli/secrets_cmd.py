"""`garrison secrets ...`: store, deliver, rotate and scan for secrets (checklist box 4)."""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING

import click

from garrison.cli.common import (
    config_option,
    emit,
    format_option,
    get_config,
    stderr_console,
    warn,
)
from garrison.errors import EXIT_ERROR, EXIT_FINDINGS, SecretError, UsageError

if TYPE_CHECKING:
    from garrison.config.schema import Config
    from garrison.secrets.backends.interface import SecretBackend


def _prompt_passphrase() -> str:
    if not sys.stdin.isatty():
        raise SecretError("age store: passphrase needed; set $GARRISON_AGE_PASSPHRASE or use a tty")
    return getpass.getpass("age store passphrase: ")


def _prompt_new_passphrase() -> str:
    first = _prompt_passphrase()
    if getpass.getpass("again: ") != first:
        raise UsageError("the two passphrases differ; nothing created")
    return first


def _store(config: Config) -> SecretBackend:
    from garrison.secrets.store import open_store

    return open_store(config, prompt=_prompt_passphrase)


def _read_value(name: str, *, confirm: bool = True) -> bytearray:
    """The value from a no-echo prompt (terminal) or from stdin; never from argv."""
    if sys.stdin.isatty():
        first = bytearray(getpass.getpass(f"value for {name} (not echoed): ").encode())
        if confirm:
            again = bytearray(getpass.getpass("again: ").encode())
            same = first == again
            again[:] = bytes(len(again))
            if not same:
                first[:] = bytes(len(first))
                raise UsageError("the two values differ; nothing stored")
        return first
    value = bytearray(sys.stdin.buffer.read(1024 * 1024 + 1))
    if len(value) > 1024 * 1024:
        raise UsageError("value larger than 1 MiB; nothing stored")
    if value.endswith(b"\r\n"):
        del value[-2:]
    elif value.endswith(b"\n"):
        del value[-1:]
    if not value:
        raise UsageError("empty value on stdin; nothing stored")
    return value


def _refuse_argv_value(refused: tuple[str, ...]) -> None:
    """A value typed on the command line is refused without being repeated back."""
    if refused:
        raise UsageError(
            "secret values are never taken from the command line (shell history, ps); "
            "pipe the value on stdin or type it at the prompt"
        )


@click.group("secrets")
def secrets_group() -> None:
    """Secrets that die with the process: vault them, deliver them in memory, rotate them,
    and find the ones left on disk."""


@secrets_group.command(
    "init",
    epilog="\b\nExamples:\n"
    "  garrison secrets init --identity-file /run/garrison-keys/age.key\n"
    "  GARRISON_AGE_PASSPHRASE=... garrison secrets init   # identity wrapped by a passphrase",
)
@config_option
@click.option(
    "--identity-file",
    metavar="PATH",
    help="Write the new age identity here "
    "(keep it off the data disk); default: wrap it with a passphrase in the store.",
)
@click.pass_context
def init_command(ctx: click.Context, identity_file: str | None) -> None:
    """Create the age store's key pair (backend age only)."""
    from pathlib import Path

    from garrison.secrets.backends.age_store import AgeStore
    from garrison.secrets.store import open_store

    config = get_config(ctx)
    store = open_store(config, prompt=_prompt_new_passphrase)
    if not isinstance(store, AgeStore):
        raise UsageError(f"init is for the age backend; [secrets].backend is {store.kind!r}")
    target = identity_file or (
        str(store.identity_path()) if config.secrets.age.identity_file else ""
    )
    recipient = store.initialise(identity_out=Path(target) if target else None)
    where = target or str(store.wrapped_identity_file) + " (passphrase)"
    emit(f"age store {store.store_dir} ready\nrecipient: {recipient}\nidentity:  {where}\n", None)


@secrets_group.command(
    "put",
    epilog="\b\nExamples:\n"
    "  garrison secrets put binance_key                 # prompts, value not echoed\n"
    "  pass show binance | garrison secrets put binance_key\n"
    "The value is never taken from the command line (it would land in shell history and ps).",
)
@config_option
@click.argument("name")
@click.argument("refused", nargs=-1, metavar="")
@click.pass_context
def put_command(ctx: click.Context, name: str, refused: tuple[str, ...]) -> None:
    """Store a new version of NAME (value from a no-echo prompt or stdin)."""
    from garrison.secrets.backends.interface import valid_name
    from garrison.secrets.memory import wipe

    _refuse_argv_value(refused)
    config = get_config(ctx)
    valid_name(name)
    value = _read_value(name)
    store = _store(config)
    try:
        info = store.put(name, value)
    finally:
        wipe(value)
        store.close()
    emit(f"stored {info.name}" + (f" version {info.version}" if info.version else "") + "\n", None)


@secrets_group.command(
    "get",
    epilog="\b\nExamples:\n  garrison secrets get binance_key           # metadata only\n"
    "  garrison secrets get binance_key --reveal  # the value, only to a terminal",
)
@config_option
@click.argument("name")
@click.option("--reveal", is_flag=True, help="Print the value (only when stdout is a terminal).")
@format_option(("table", "json"))
@click.pass_context
def get_command(ctx: click.Context, name: str, reveal: bool, fmt: str) -> None:
    """Show NAME's metadata; the value only with --reveal on a terminal."""
    from garrison.secrets.memory import wipe
    from garrison.secrets.render import render_info

    config = get_config(ctx)
    if reveal and not sys.stdout.isatty():
        raise UsageError("--reveal prints only to a terminal (stdout is redirected)")
    store = _store(config)
    try:
        info = store.info(name)
        value = store.get(name)  # proves the value decrypts/reads, not just that it exists
    finally:
        store.close()
    try:
        length = len(value)
        if reveal:
            click.echo(value.decode("utf-8", "replace"))
            return
    finally:
        wipe(value)
    emit(render_info(info, length, store.describe(), fmt), None)


@secrets_group.command(
    "list", epilog="\b\nExamples:\n  garrison secrets list\n  garrison secrets list -f json"
)
@config_option
@format_option(("table", "json"))
@click.pass_context
def list_command(ctx: click.Context, fmt: str) -> None:
    """List secret names, versions and update times (never values)."""
    from garrison.secrets.render import render_list

    config = get_config(ctx)
    store = _store(config)
    try:
        infos = store.list()
    finally:
        store.close()
    emit(render_list(infos, store.describe(), fmt), None)


@secrets_group.command("rm", epilog="\b\nExample:\n  garrison secrets rm old_key --yes")
@config_option
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def rm_command(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete NAME with all its versions."""
    config = get_config(ctx)
    if not yes and not sys.stdin.isatty():
        raise UsageError(f"rm {name}: not on a terminal; confirm with --yes")
    if not yes and not click.confirm(f"delete secret {name} and all its versions?", err=True):
        raise UsageError("not confirmed; nothing deleted")
    store = _store(config)
    try:
        store.delete(name)
    finally:
        store.close()
    emit(f"deleted {name}\n", None)


RUN_EPILOG = """\b
Examples:
  garrison secrets run bot -- freqtrade trade --config config.json --config {secrets_path}
  garrison secrets run mybot -- /opt/mybot/.venv/bin/python -m mybot
  garrison secrets run bot --mode env -- freqtrade trade -c config.json   # weaker

\b
The command gets GARRISON_SECRETS_MODE/_FD/_PATH/_SIZE (or _KEY for the keyring) in its
environment; {secrets_path} and {secrets_fd} in its arguments are replaced. garrison execs the
command (same pid, so it works as a systemd ExecStart=); --wait keeps garrison as the parent.
"""


@secrets_group.command("run", epilog=RUN_EPILOG, context_settings={"ignore_unknown_options": True})
@config_option
@click.argument("strategy")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option(
    "--mode",
    type=click.Choice(["auto", "memfd_secret", "memfd", "pipe", "env", "keyring"]),
    help="Override [secrets.delivery.STRATEGY].mode.",
)
@click.option("--wait", is_flag=True, help="Run the command as a child and wait for it.")
@click.pass_context
def run_command(
    ctx: click.Context, strategy: str, command: tuple[str, ...], mode: str | None, wait: bool
) -> None:
    """Run COMMAND with STRATEGY's secrets delivered in memory (never on disk)."""
    from garrison.secrets.delivery import run_with_secrets
    from garrison.secrets.store import open_store

    config = get_config(ctx)
    backend = open_store(config, prompt=_prompt_passphrase)
    code = run_with_secrets(config, strategy, list(command), mode=mode, wait=wait, backend=backend)
    ctx.exit(code)


@secrets_group.command(
    "rotate",
    epilog="\b\nExamples:\n"
    "  new-key | garrison secrets rotate binance_key --value-from-stdin\n"
    "  garrison secrets rotate binance_key     # Vault/OpenBao: adopt the newest KV version",
)
@config_option
@click.argument("name")
@click.argument("refused", nargs=-1, metavar="")
@click.option("--value-from-stdin", is_flag=True, help="Read the new value (stdin or prompt).")
@click.option("--no-restart", is_flag=True, help="Record only; do not restart strategies.")
@format_option(("table", "json"))
@click.pass_context
def rotate_command(
    ctx: click.Context,
    name: str,
    refused: tuple[str, ...],
    value_from_stdin: bool,
    no_restart: bool,
    fmt: str,
) -> None:
    """Take a new version of NAME, restart the strategies using it, record the rotation."""
    from garrison.secrets.backends.interface import valid_name
    from garrison.secrets.memory import wipe
    from garrison.secrets.render import render_rotation
    from garrison.secrets.rotation import rotate

    _refuse_argv_value(refused)
    config = get_config(ctx)
    valid_name(name)
    value = _read_value(name) if value_from_stdin else None
    try:
        record = rotate(config, name, value, restart=not no_restart, backend=_store(config))
    finally:
        if value is not None:
            wipe(value)
    emit(render_rotation(record, fmt), None)
    if record.restart_failed:
        warn(f"{name} was rotated and recorded, but a strategy was not restarted (see above)")
        ctx.exit(EXIT_ERROR)


@secrets_group.command(
    "status",
    epilog="\b\nExamples:\n  garrison secrets status\n  garrison secrets status -f json",
)
@config_option
@format_option(("table", "json"))
@click.pass_context
def status_command(ctx: click.Context, fmt: str) -> None:
    """Check the backend is reachable and list secrets overdue for rotation (exit 1 if any)."""
    from datetime import UTC, datetime

    from garrison.secrets.render import render_status
    from garrison.secrets.rotation import overdue

    config = get_config(ctx)
    store = _store(config)
    try:
        try:
            backend_line, ok = store.ping(), True
        except SecretError as exc:
            backend_line, ok = str(exc), False
        late = overdue(config, backend=store if ok else None)
    finally:
        store.close()
    emit(render_status(ok, backend_line, late, datetime.now(UTC), fmt), None)
    if late or not ok:
        ctx.exit(EXIT_FINDINGS)


SCAN_EPILOG = """\b
Examples:
  garrison secrets scan                       # /etc /home /root /opt /srv /var/lib + bots
  garrison secrets scan /opt/freqtrade -f json
  garrison secrets scan --no-proc /srv

\b
Exit codes: 0 nothing found, 1 secrets found, 2 error. Values are shown redacted
(first 4 characters and the length).
"""


@secrets_group.command("scan", epilog=SCAN_EPILOG)
@config_option
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--no-proc", is_flag=True, help="Do not read /proc/*/environ of running bots.")
@format_option(("table", "json"))
@click.pass_context
def scan_command(ctx: click.Context, paths: tuple[str, ...], no_proc: bool, fmt: str) -> None:
    """Find API keys, passwords and private keys left on disk (and in bots' environments)."""
    import os

    from garrison.secrets.render import render_scan
    from garrison.secrets.scanner.scan import default_scan_paths, scan_paths

    config = get_config(ctx)
    for path in paths:
        if not os.path.lexists(path):
            raise UsageError(f"{path}: no such file or directory")
    targets = [os.path.abspath(p) for p in paths] or default_scan_paths(config)
    progress = None
    status = None
    if sys.stderr.isatty():
        status = stderr_console.status("scanning...")
        status.start()

        def progress(path: str) -> None:
            assert status is not None
            status.update(f"scanning: {path[-70:]}")

    try:
        result = scan_paths(
            config, targets, include_proc=not no_proc and not paths, progress=progress
        )
    finally:
        if status is not None:
            status.stop()
    emit(render_scan(result, fmt), None)
    if result.findings:
        ctx.exit(EXIT_FINDINGS)


COMMANDS = [secrets_group]
