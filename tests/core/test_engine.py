"""The engine turns exceptions into ERROR findings and keeps going."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from garrison.checks.base import Check, CheckSkipped
from garrison.checks.engine import run_audit, run_check
from garrison.config.schema import Config
from garrison.errors import HostError
from garrison.host.facts import Facts
from garrison.host.host import Host
from garrison.model import CheckMeta, Evidence, Finding, Severity, Status


def _meta(check_id: str, item: int = 3, needs_live: bool = False) -> CheckMeta:
    return CheckMeta(
        id=check_id,
        area="test",
        item=item,
        title="A test state holds",
        severity=Severity.HIGH,
        rationale="because",
        remediation="fix it",
        needs_live=needs_live,
    )


class Boom(Check):
    meta = _meta("GAR-TEST-001")

    def run(self, facts: Facts) -> Iterable[Finding]:
        raise RuntimeError("kaboom")


class HostTrouble(Check):
    meta = _meta("GAR-TEST-002")

    def run(self, facts: Facts) -> Iterable[Finding]:
        facts.host.read_text("/etc/does-not-exist")
        return []


class Fine(Check):
    meta = _meta("GAR-TEST-003")

    def run(self, facts: Facts) -> Iterable[Finding]:
        yield self.failed("bad", Evidence("/etc/x:3", "yes", "no"), subject="x")
        yield self.passed("good", subject="y")


class NotApplicable(Check):
    meta = _meta("GAR-TEST-004")

    def run(self, facts: Facts) -> Iterable[Finding]:
        raise CheckSkipped("no sshd in this image")


class LiveOnly(Check):
    meta = _meta("GAR-TEST-005", needs_live=True)

    def run(self, facts: Facts) -> Iterable[Finding]:
        raise AssertionError("must not run under --root")


def facts(tmp_path: Path) -> Facts:
    return Facts(Host(tmp_path), Config())


def test_exception_becomes_error_with_message(tmp_path: Path) -> None:
    [finding] = run_check(Boom, facts(tmp_path))
    assert finding.status is Status.ERROR
    assert finding.message == "RuntimeError: kaboom"


def test_host_error_message_is_kept_verbatim(tmp_path: Path) -> None:
    [finding] = run_check(HostTrouble, facts(tmp_path))
    assert finding.status is Status.ERROR
    assert finding.message == "/etc/does-not-exist: no such file"


def test_skip_and_live_only(tmp_path: Path) -> None:
    [skipped] = run_check(NotApplicable, facts(tmp_path))
    assert (skipped.status, skipped.message) == (Status.SKIP, "no sshd in this image")
    [live] = run_check(LiveOnly, facts(tmp_path))
    assert live.status is Status.SKIP
    assert "--root" in live.message


def test_audit_goes_on_after_a_crash(tmp_path: Path) -> None:
    report = run_audit(Host(tmp_path), Config(), [Boom, Fine, NotApplicable])
    got = {(f.check_id, f.status, f.subject) for f in report.findings}
    assert got == {
        ("GAR-TEST-001", Status.ERROR, ""),
        ("GAR-TEST-003", Status.FAIL, "x"),
        ("GAR-TEST-003", Status.PASS, "y"),
        ("GAR-TEST-004", Status.SKIP, ""),
    }
    assert report.worst_failure() is Severity.HIGH
    assert not report.live


def test_fail_carries_remediation_pass_does_not(tmp_path: Path) -> None:
    fail, ok = run_check(Fine, facts(tmp_path))
    assert fail.remediation == "fix it"
    assert ok.remediation == ""


def test_facts_are_collected_once_and_errors_cached(tmp_path: Path) -> None:
    calls: list[int] = []

    def collector(host: Host, config: Config) -> int:
        calls.append(1)
        return 42

    def broken(host: Host, config: Config) -> int:
        calls.append(2)
        raise HostError("sshd is not installed")

    f = facts(tmp_path)
    assert f.get(collector) == 42
    assert f.get(collector) == 42
    for _ in range(2):
        try:
            f.get(broken)
        except HostError as exc:
            assert str(exc) == "sshd is not installed"
    assert calls == [1, 2]


def test_host_refuses_commands_under_root(tmp_path: Path) -> None:
    host = Host(tmp_path)
    try:
        host.run(["true"])
    except HostError as exc:
        assert "needs the live host" in str(exc)
    else:
        raise AssertionError("command ran under --root")


def test_proc_sys_files_read_through_host() -> None:
    """/proc/sys refuses one huge read (ENOMEM); Host reads in chunks."""
    host = Host("/")
    assert host.read_text("/proc/sys/kernel/ostype").strip() == "Linux"
