"""Box 7 with a real restic repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from garrison.checks.backup import BackupsConfigured, BackupsEncrypted, BackupsFresh, BackupsOffsite
from garrison.checks.engine import run_check
from garrison.config.loader import validate_config
from garrison.host.collectors.backups import repository_location
from garrison.host.facts import Facts
from garrison.host.host import Host
from garrison.model import Status

pytestmark = pytest.mark.skipif(shutil.which("restic") is None, reason="restic not installed")
CANARY = "canary-restic-password-7f3a"


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real repository with one fresh snapshot (restic init is slow: its KDF is costly)."""
    tmp_path = tmp_path_factory.mktemp("restic")
    password = tmp_path / "restic.pw"
    password.write_text(CANARY + "\n")
    password.chmod(0o600)
    repository = str(tmp_path / "repo")
    env = {
        **os.environ,
        "RESTIC_PASSWORD_FILE": str(password),
        "RESTIC_CACHE_DIR": str(tmp_path / "cache"),
    }
    subprocess.run(["restic", "init", "-r", repository], env=env, check=True, capture_output=True)
    data = tmp_path / "data"
    data.mkdir()
    (data / "trades.sqlite").write_bytes(os.urandom(2048))
    subprocess.run(
        ["restic", "backup", "-r", repository, str(data)], env=env, check=True, capture_output=True
    )
    return tmp_path


@pytest.fixture
def repo(template_repo: Path, tmp_path: Path) -> tuple[str, Path]:
    """A private copy of the template repository for one test."""
    copy = tmp_path / "copy"
    shutil.copytree(template_repo, copy)
    return str(copy / "repo"), copy / "restic.pw"


def _facts(root: Path, backup: Mapping[str, object]) -> Facts:
    return Facts(Host(root), validate_config({"backup": dict(backup)}, "test"))


def test_fresh_local_snapshot(repo: tuple[str, Path]) -> None:
    repository, password = repo
    facts = _facts(Path("/"), {"repository": repository, "password_file": str(password)})
    [fresh] = run_check(BackupsFresh, facts)
    assert fresh.status is Status.PASS, fresh.message
    assert fresh.evidence[0].source == "restic snapshots --latest 1"
    [offsite] = run_check(BackupsOffsite, facts)
    assert offsite.status is Status.FAIL
    assert offsite.message == "repository is a path on this host"
    [encrypted] = run_check(BackupsEncrypted, facts)
    assert encrypted.status is Status.PASS


def test_stale_snapshot_fails(repo: tuple[str, Path]) -> None:
    repository, password = repo
    env = {**os.environ, "RESTIC_PASSWORD_FILE": str(password)}
    subprocess.run(
        [
            "restic",
            "backup",
            "-r",
            repository,
            "--time",
            "2020-01-01 00:00:00",
            str(password.parent / "data"),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["restic", "forget", "-r", repository, "--keep-within", "1000000h", "--latest", "1"],
        env=env,
        check=False,
        capture_output=True,
    )
    # keep only the old snapshot: forget every snapshot newer than 2021
    out = subprocess.run(
        ["restic", "snapshots", "-r", repository, "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    import json

    new = [s["short_id"] for s in json.loads(out) if not s["time"].startswith("2020")]
    subprocess.run(
        ["restic", "forget", "-r", repository, *new], env=env, check=True, capture_output=True
    )
    facts = _facts(Path("/"), {"repository": repository, "password_file": str(password)})
    [stale] = run_check(BackupsFresh, facts)
    assert stale.status is Status.FAIL
    assert "h old" in stale.message


def test_wrong_password_is_an_error_without_the_password(
    repo: tuple[str, Path], tmp_path: Path
) -> None:
    repository, _ = repo
    wrong = tmp_path / "wrong.pw"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    [finding] = run_check(
        BackupsFresh, _facts(Path("/"), {"repository": repository, "password_file": str(wrong)})
    )
    assert finding.status is Status.ERROR
    assert "restic snapshots" in finding.message
    assert CANARY not in finding.message and "not-the-password" not in finding.message


def test_world_readable_password_file(repo: tuple[str, Path]) -> None:
    repository, password = repo
    password.chmod(0o644)
    [finding] = run_check(
        BackupsEncrypted,
        _facts(Path("/"), {"repository": repository, "password_file": str(password)}),
    )
    assert finding.status is Status.FAIL
    assert "readable by others (mode 0644" in finding.message


@pytest.mark.parametrize(
    ("repository", "offsite"),
    [
        ("sftp:backup@vault.example.net:/srv/restic", True),
        ("rest:https://user:pw@backup.example.org:8000/bot", True),
        ("s3:s3.amazonaws.com/bucket/bot", True),
        ("b2:bucket:bot", True),
        ("/srv/restic", False),
        ("local:/srv/restic", False),
        ("sftp:backup@localhost:/srv/restic", False),
        ("rest:http://127.0.0.1:8000/", False),
        ("weird-thing", False),
    ],
)
def test_repository_location(repository: str, offsite: bool) -> None:
    assert repository_location(repository)[0] is offsite


def test_scheduled_job_found_offline(make_root: Callable[[Mapping[str, str]], Path]) -> None:
    root = make_root(
        {
            "etc/systemd/system/restic-backup.service": "[Service]\n# restic comment\nExecStart=/usr/bin/restic backup /opt/trading\n",
        }
    )
    [found] = run_check(BackupsConfigured, _facts(root, {"repository": "sftp:b@h:/r"}))
    assert found.status is Status.PASS
    assert found.evidence[0].source == "/etc/systemd/system/restic-backup.service:3"
    empty = make_root({"etc/hostname": "x\n"})
    [missing] = run_check(BackupsConfigured, _facts(empty, {}))
    assert missing.status is Status.FAIL
    [unnamed] = run_check(BackupsConfigured, _facts(root, {}))
    assert unnamed.status is Status.WARN
