"""Box 7: daily encrypted backups off-site (restic)."""

from __future__ import annotations

import stat
from collections.abc import Iterable
from datetime import UTC, datetime

from garrison.checks.base import Check, CheckSkipped
from garrison.host.collectors.backups import (
    latest_snapshot,
    repository_location,
    scheduled_backup_jobs,
)
from garrison.host.facts import Facts
from garrison.model import CheckMeta, Evidence, Finding, Severity

_CONFIG = "garrison.toml [backup]"
_REFS = ("https://restic.readthedocs.io/en/stable/030_preparing_a_new_repo.html",)


def _repository(facts: Facts) -> str:
    repo = facts.config.backup.repository
    if not repo:
        raise CheckSkipped("no [backup].repository configured (see GAR-BAK-001)")
    return repo


class BackupsConfigured(Check):
    meta = CheckMeta(
        id="GAR-BAK-001",
        area="backup",
        item=7,
        title="Backups are configured and scheduled",
        severity=Severity.HIGH,
        rationale="Rebuilding in minutes needs the bot state (databases, configs, strategies) "
        "from somewhere other than the compromised disk.",
        remediation="Set [backup].repository and password_file, and schedule `restic backup` "
        "daily (a systemd timer or cron job).",
        references=_REFS,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        jobs = facts.get(scheduled_backup_jobs)
        repo = facts.config.backup.repository
        evidence = [Evidence(f"{j.path}:{j.line}", j.text) for j in jobs[:3]]
        if repo and jobs:
            yield self.passed(f"repository configured and {len(jobs)} scheduled job(s)", *evidence)
        elif jobs:
            yield self.warned(
                "a backup job is scheduled but [backup] does not name its repository, so its "
                "freshness cannot be checked",
                *evidence,
            )
        elif repo:
            yield self.failed(
                "a repository is configured but no scheduled backup job was found",
                Evidence("/etc/systemd/system, /etc/cron.*", "no restic/borg job", "a daily job"),
            )
        else:
            yield self.failed(
                "no backup repository configured and no backup job scheduled",
                Evidence(_CONFIG, "no repository", "a restic repository off-site"),
            )


class BackupsOffsite(Check):
    meta = CheckMeta(
        id="GAR-BAK-002",
        area="backup",
        item=7,
        title="The backup repository is off-site",
        severity=Severity.HIGH,
        rationale="A backup on the same VPS dies with it: a provider incident, a wiped disk or "
        "an attacker with root takes the backups too.",
        remediation="Use a repository on another provider: sftp:, rest:, s3:, b2:, azure:, gs:.",
        references=_REFS,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        repo = _repository(facts)
        offsite, why = repository_location(repo)
        evidence = Evidence(f"{_CONFIG} repository", why, "a repository on another host")
        if offsite:
            yield self.passed(f"repository is {why}", evidence)
        else:
            yield self.failed(f"repository is {why}", evidence)


class BackupsEncrypted(Check):
    meta = CheckMeta(
        id="GAR-BAK-003",
        area="backup",
        item=7,
        title="Backups are encrypted with a key kept out of reach",
        severity=Severity.HIGH,
        rationale="Off-site backups hold the bots' configs and often their keys; the backup "
        "host must see only ciphertext, and the password file must be root-only.",
        remediation="restic encrypts every repository; keep password_file mode 0600, owned by "
        "root, and a copy of it off the box.",
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        _repository(facts)
        pw = facts.config.backup.password_file
        if not pw:
            yield self.failed(
                "no password_file: restic would prompt, so scheduled backups cannot run",
                Evidence(f"{_CONFIG} password_file", "unset", "a root-only file"),
            )
            return
        st = facts.host.stat(pw)
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077 or st.st_uid != 0:
            yield self.failed(
                f"{pw} is readable by others (mode {mode:04o}, uid {st.st_uid})",
                Evidence(pw, f"mode {mode:04o} uid {st.st_uid}", "mode 0600 uid 0"),
            )
        else:
            yield self.passed(
                "restic encrypts the repository; the password file is root-only",
                Evidence(pw, f"mode {mode:04o}"),
            )


class BackupsFresh(Check):
    meta = CheckMeta(
        id="GAR-BAK-004",
        area="backup",
        item=7,
        title="The newest backup is less than a day old",
        severity=Severity.HIGH,
        rationale="A scheduled job that silently fails leaves you with last month's state; "
        "only the repository itself proves the backup ran.",
        remediation="Check the backup job's logs (journalctl -u restic-backup) and run "
        "`restic backup` by hand; [backup].max_age_hours sets the limit (default 26).",
        needs_live=True,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        _repository(facts)
        snapshot = facts.get(latest_snapshot)
        limit = facts.config.backup.max_age_hours
        source = "restic snapshots --latest 1"
        if snapshot is None:
            yield self.failed("the repository has no snapshot", Evidence(source, "none"))
            return
        age_h = (datetime.now(UTC) - snapshot.time).total_seconds() / 3600
        observed = f"{snapshot.short_id} at {snapshot.time.isoformat(timespec='seconds')}"
        evidence = Evidence(source, observed, f"younger than {limit} h")
        if age_h > limit:
            yield self.failed(f"newest snapshot is {age_h:.1f} h old", evidence)
        else:
            yield self.passed(f"newest snapshot is {age_h:.1f} h old", evidence)
