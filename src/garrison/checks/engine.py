"""Run the registered checks against a host and collect a Report."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import garrison
from garrison.checks.base import Check, CheckSkipped
from garrison.checks.registry import all_checks
from garrison.config.schema import Config
from garrison.errors import GarrisonError
from garrison.host.facts import Facts
from garrison.host.host import Host
from garrison.model import Finding, Report, Status

ProgressHook = Callable[[str], None]


def select_checks(
    config: Config, *, only: Iterable[str] = (), areas: Iterable[str] = ()
) -> list[type[Check]]:
    """The checks to run after --check/--area filters and [audit].skip."""
    wanted = {c.upper() for c in only}
    wanted_areas = {a.lower() for a in areas}
    skip = {c.upper() for c in config.audit.skip}
    return [
        c
        for c in all_checks()
        if c.meta.id not in skip
        and (not wanted or c.meta.id in wanted)
        and (not wanted_areas or c.meta.area in wanted_areas)
    ]


def run_check(check_cls: type[Check], facts: Facts) -> list[Finding]:
    """Run one check; turn 'does not apply' into SKIP and any exception into ERROR."""
    check = check_cls()
    if check.meta.needs_live and not facts.host.live:
        return [check.skipped("needs the running host; not checked under --root")]
    try:
        findings = list(check.run(facts))
    except CheckSkipped as exc:
        return [check.skipped(str(exc))]
    except GarrisonError as exc:
        return [check.errored(str(exc))]
    except Exception as exc:  # a bug in a check must not abort the audit
        return [check.errored(f"{type(exc).__name__}: {exc}")]
    return findings or [check.finding(Status.SKIP, "nothing to check")]


def run_audit(
    host: Host,
    config: Config,
    checks: Iterable[type[Check]] | None = None,
    progress: ProgressHook | None = None,
) -> Report:
    """Collect facts once, run every check, and return the report."""
    started = datetime.now(UTC)
    clock = time.monotonic()
    facts = Facts(host, config)
    findings: list[Finding] = []
    for check_cls in checks if checks is not None else select_checks(config):
        if progress is not None:
            progress(check_cls.meta.id)
        findings.extend(run_check(check_cls, facts))
    warnings: list[str] = []
    if host.live and not host.running_as_root():
        warnings.append(
            "not running as root: some files cannot be read; run as root for a full audit"
        )
    return Report(
        hostname=host.hostname,
        root=str(host.root),
        live=host.live,
        started=started,
        duration_s=time.monotonic() - clock,
        findings=tuple(findings),
        warnings=tuple(warnings),
        version=garrison.__version__,
    )
