"""What is known about backups: the configured restic repository and scheduled backup jobs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from garrison.config.schema import Config
from garrison.errors import HostError
from garrison.host.host import Host

_JOB_WORDS = re.compile(r"\b(restic|borg|borgmatic|duplicity|rclone|kopia)\b")
_JOB_DIRS = ("/etc/systemd/system", "/etc/cron.d", "/etc/cron.daily", "/var/spool/cron/crontabs")
_OFFSITE_SCHEMES = ("sftp:", "rest:", "s3:", "b2:", "azure:", "gs:", "swift:", "rclone:")
_LOCAL_HOSTS = re.compile(r"^(localhost|127\.|\[?::1\]?)")


@dataclass(frozen=True)
class BackupJob:
    path: str
    line: int
    text: str


def scheduled_backup_jobs(host: Host, config: Config) -> list[BackupJob]:
    """Timers, services and cron entries that run a known backup tool."""
    jobs: list[BackupJob] = []
    for directory in _JOB_DIRS:
        for name in host.listdir(directory):
            path = f"{directory}/{name}"
            if host.is_dir(path):
                continue
            try:
                text = host.read_text(path)
            except HostError:
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if _JOB_WORDS.search(line) and not line.lstrip().startswith("#"):
                    jobs.append(BackupJob(path, number, line.strip()[:120]))
                    break
    return jobs


def repository_location(repository: str) -> tuple[bool, str]:
    """(off-site?, why) for a restic repository string."""
    if repository.startswith(("/", "local:", "./", "~")):
        return False, "a path on this host"
    for scheme in _OFFSITE_SCHEMES:
        if repository.startswith(scheme):
            rest = repository[len(scheme) :]
            host_part = rest.split("@", 1)[-1].lstrip("/")
            if scheme in ("sftp:", "rest:") and _LOCAL_HOSTS.match(
                re.sub(r"^https?://", "", host_part).split("@", 1)[-1]
            ):
                return False, "a server on this host"
            return True, f"{scheme.rstrip(':')} repository"
    return False, "an unrecognised location (treated as local)"


@dataclass(frozen=True)
class Snapshot:
    time: datetime
    short_id: str
    hostname: str
    paths: tuple[str, ...]


def _env_file(host: Host, path: str) -> dict[str, str]:
    env = {}
    for line in host.read_text(path).splitlines():
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key and not key.startswith("#"):
            env[key.strip()] = value.strip().strip("'\"")
    return env


def latest_snapshot(host: Host, config: Config) -> Snapshot | None:
    """The newest restic snapshot (live; needs the repository and its password file)."""
    import os

    backup = config.backup
    if not backup.repository:
        raise HostError("no [backup].repository configured")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env["RESTIC_REPOSITORY"] = backup.repository
    if backup.password_file:
        env["RESTIC_PASSWORD_FILE"] = backup.password_file
    if backup.env_file:
        env.update(_env_file(host, backup.env_file))
    env.setdefault("RESTIC_CACHE_DIR", "/var/cache/garrison/restic")
    result = host.run(
        ["restic", "snapshots", "--json", "--latest", "1", "--no-lock"],
        timeout=backup.timeout_s,
        env=env,
    )
    if not result.ok:
        raise HostError(result.problem())
    try:
        items = json.loads(result.stdout or "[]")
    except ValueError:
        raise HostError("restic snapshots: output is not JSON") from None
    if not items:
        return None
    newest = max(items, key=lambda item: item["time"])
    return Snapshot(
        time=datetime.fromisoformat(newest["time"]),
        short_id=str(newest.get("short_id", "")),
        hostname=str(newest.get("hostname", "")),
        paths=tuple(newest.get("paths", ())),
    )
