"""Disk evidence: an LVM or btrfs snapshot when configured and available, else a tar.gz of the
configured paths; plus a provider snapshot through a configured command.

LVM/btrfs snapshots are copy-on-write and instant but live on the host's own disks: they are
recorded (name, command) in the custody log but not hashed (hashing a whole volume takes
minutes); the archive and the provider command's output are hashed like every artefact.
"""

from __future__ import annotations

import shutil
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from garrison.config.respond import EvidenceConfig
from garrison.errors import ResponseError
from garrison.host.runner import run_command


@dataclass(frozen=True)
class DiskEvidence:
    kind: str  # "lvm", "btrfs", "archive", "provider"
    detail: str
    artefact: Path | None = None


def choose_mode(cfg: EvidenceConfig) -> str:
    if cfg.snapshot != "auto":
        return cfg.snapshot
    if cfg.btrfs_subvolume and shutil.which("btrfs"):
        return "btrfs"
    if cfg.lvm_volume and shutil.which("lvcreate"):
        return "lvm"
    return "archive" if cfg.paths else "none"


def take_disk_snapshot(
    cfg: EvidenceConfig, out_dir: Path, incident: str, timeout_s: float
) -> DiskEvidence:
    mode = choose_mode(cfg)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    if mode == "lvm":
        if not cfg.lvm_volume:
            raise ResponseError("respond.evidence.snapshot = lvm needs lvm_volume (VG/LV)")
        name = f"garrison-{stamp}"
        argv = ["lvcreate", "-s", "-n", name, "-L", cfg.lvm_snapshot_size, cfg.lvm_volume]
        result = run_command(argv, timeout=timeout_s)
        if not result.ok:
            raise ResponseError(result.problem())
        vg = cfg.lvm_volume.split("/")[0]
        return DiskEvidence("lvm", f"LVM snapshot {vg}/{name} ({' '.join(argv)})")
    if mode == "btrfs":
        if not cfg.btrfs_subvolume:
            raise ResponseError("respond.evidence.snapshot = btrfs needs btrfs_subvolume")
        dest = f"{cfg.btrfs_subvolume.rstrip('/')}-garrison-{stamp}"
        argv = ["btrfs", "subvolume", "snapshot", "-r", cfg.btrfs_subvolume, dest]
        result = run_command(argv, timeout=timeout_s)
        if not result.ok:
            raise ResponseError(result.problem())
        return DiskEvidence("btrfs", f"read-only btrfs snapshot {dest}")
    if mode == "archive":
        if not cfg.paths:
            raise ResponseError("respond.evidence.snapshot = archive needs paths")
        target = out_dir / "disk-archive.tar.gz"
        skipped = _archive(cfg.paths, target)
        note = f"tar.gz of {', '.join(cfg.paths)}" + (f"; {skipped} unreadable" if skipped else "")
        return DiskEvidence("archive", note, target)
    return DiskEvidence("none", "no disk snapshot configured (respond.evidence.paths empty)")


def _archive(paths: list[str], target: Path) -> int:
    skipped = 0

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        return info if info.isfile() or info.isdir() or info.issym() else None

    with tarfile.open(target, "w:gz", compresslevel=1) as tar:
        for path in paths:
            try:
                tar.add(path, arcname=path.lstrip("/") or ".", filter=keep)
            except OSError:
                skipped += 1
    return skipped


def provider_snapshot(argv: list[str], out_dir: Path, timeout_s: float) -> DiskEvidence:
    result = run_command(argv, timeout=timeout_s)
    target = out_dir / "provider-snapshot.txt"
    target.write_text(
        f"$ {result.display}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    if not result.ok:
        raise ResponseError(f"provider snapshot: {result.problem()}")
    return DiskEvidence("provider", f"provider snapshot: {result.display}", target)
