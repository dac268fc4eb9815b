"""Disk evidence through LVM, btrfs and a provider command (stand-ins on PATH record argv;
real volumes are not created on the test machine)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.respond.conftest import secrets_from

from garrison.config.schema import Config
from garrison.model import ActionStatus
from garrison.respond.context import ResponseContext
from garrison.respond.custody import LOG_FILE, trusted_public_key, verify_custody
from garrison.respond.evidence import collect_evidence


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv.log"
    for name, out in (
        ("lvcreate", "Logical volume created."),
        ("btrfs", "Create snapshot"),
        ("cloud-snapshot", "snapshot snap-0abc123 pending"),
    ):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\necho "{out}"\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


@pytest.mark.parametrize("mode", ["lvm", "btrfs"])
def test_volume_snapshot_and_provider_command(
    mode: str, tools: Path, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    config = make_config(
        respond={
            "evidence": {
                "volatile": False,
                "memory": False,
                "snapshot": "auto",
                "lvm_volume": "vg0/root" if mode == "lvm" else None,
                "btrfs_subvolume": "/srv/bots" if mode == "btrfs" else None,
                "provider_command": ["cloud-snapshot", "--volume", "vol-1"],
            }
        }
    )
    evidence = tmp_path / "ev"
    records = collect_evidence(
        ResponseContext(config, secrets_from({}), incident_id="i"), evidence, {}
    )
    by_step = {r.step: r for r in records}
    disk, provider = by_step["evidence.disk"], by_step["evidence.provider"]
    assert disk.status == ActionStatus.DONE and provider.status == ActionStatus.DONE
    argv = tools.read_text()
    if mode == "lvm":
        assert "lvcreate -s -n garrison-" in argv and "-L 1G vg0/root" in argv
        assert disk.detail.startswith("LVM snapshot vg0/garrison-")
    else:
        assert "btrfs subvolume snapshot -r /srv/bots /srv/bots-garrison-" in argv
    assert "cloud-snapshot --volume vol-1" in argv
    assert "snap-0abc123" in (evidence / "provider-snapshot.txt").read_text()
    log = (evidence / LOG_FILE).read_text()
    assert '"kind":"snapshot"' in log and '"kind":"provider"' in log
    assert verify_custody(evidence, trusted_public_key(config.paths.state_dir)).intact


def test_no_disk_evidence_configured_is_skipped(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    config = make_config(respond={"evidence": {"volatile": False, "memory": False}})
    records = collect_evidence(ResponseContext(config, secrets_from({})), tmp_path / "ev", {})
    assert [(r.step, r.status) for r in records] == [("evidence.disk", ActionStatus.SKIPPED)]
