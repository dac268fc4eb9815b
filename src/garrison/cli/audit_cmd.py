"""`garrison audit`: check this host (or an image) against the go-live checklist."""

from __future__ import annotations

import sys

import click

from garrison.checks.engine import run_audit, select_checks
from garrison.cli.common import (
    config_option,
    emit,
    format_option,
    get_config,
    output_option,
    parse_fail_on,
    stderr_console,
    use_color,
    warn,
)
from garrison.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from garrison.host.host import Host
from garrison.model import Status
from garrison.report import FORMATS

EPILOG = """\b
Examples:
  garrison audit                          # this host, terminal report
  garrison audit --root /mnt/image        # a mounted image or debootstrap tree, offline
  garrison audit -f sarif -o audit.sarif  # for GitHub code scanning
  garrison audit --area ssh -v            # only the SSH checks, passes listed too
  garrison audit --fail-on critical       # exit 1 only for critical failures

\b
Exit codes:
  0   no FAIL or ERROR finding at or above --fail-on
  1   at least one FAIL or ERROR finding at or above --fail-on
  2   garrison could not run (bad config, unreadable root, ...)
  64  usage error
"""


@click.command("audit", epilog=EPILOG)
@config_option
@click.option(
    "--root",
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False),
    default="/",
    show_default=True,
    help="Audit the system mounted at DIR (offline: no commands run, live-only checks skip).",
)
@format_option(tuple(FORMATS))
@output_option
@click.option(
    "--fail-on",
    metavar="SEVERITY",
    help="Lowest severity that makes the exit code 1: info, low, medium, high, critical "
    "(default [audit].fail_on, high).",
)
@click.option("--check", "checks", multiple=True, metavar="ID", help="Run only this check.")
@click.option("--area", "areas", multiple=True, metavar="AREA", help="Run only this area.")
@click.option("--verbose", "-v", is_flag=True, help="List passing checks and their evidence.")
@click.pass_context
def audit_command(
    ctx: click.Context,
    root: str,
    fmt: str,
    output: str | None,
    fail_on: str | None,
    checks: tuple[str, ...],
    areas: tuple[str, ...],
    verbose: bool,
) -> None:
    """Audit every box of the go-live checklist and report the evidence.

    Reads only; changes nothing. Findings are grouped by checklist box under a
    10-box scorecard.
    """
    config = get_config(ctx)
    threshold = parse_fail_on(fail_on or config.audit.fail_on)
    host = Host(root, command_timeout=config.audit.command_timeout_s)
    selected = select_checks(config, only=checks, areas=areas)
    if not selected and (checks or areas):
        raise UsageError("no check matches the given --check/--area (see `garrison checks list`)")
    if host.live and not host.running_as_root():
        warn("not running as root: some files cannot be read and will show as ERROR")
    progress = None
    status = None
    if sys.stderr.isatty():
        status = stderr_console.status("auditing...")
        status.start()

        def progress(check_id: str) -> None:
            assert status is not None
            status.update(f"auditing: {check_id}")

    try:
        report = run_audit(host, config, selected, progress)
    finally:
        if status is not None:
            status.stop()
    text = FORMATS[fmt](report, color=use_color(output), verbose=verbose)
    emit(text, output)
    failing = [
        f
        for f in report.findings
        if f.status in (Status.FAIL, Status.ERROR) and f.severity >= threshold
    ]
    ctx.exit(EXIT_FINDINGS if failing else EXIT_OK)


COMMANDS = [audit_command]
