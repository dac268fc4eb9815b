"""Fact collectors for the integrity audit checks: the baseline's state, the last verify, deploys.

Everything is read through the Host, so `garrison audit --root /mnt/image` audits an image's
own baseline (and checks it against the image's machine-id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from garrison.config.schema import Config
from garrison.errors import GarrisonError
from garrison.host.host import Host
from garrison.integrity.baseline import load_trusted_manifest, manifest_path
from garrison.integrity.deploy import DeployManifest, read_deploy_record
from garrison.integrity.manifest import ManifestHeader, load_manifest
from garrison.integrity.verify import LAST_VERIFY_FILE


@dataclass(frozen=True)
class BaselineState:
    """What the audit needs to know about the baseline on this host."""

    path: str  # system path of the manifest
    exists: bool
    header: ManifestHeader | None = None
    records: int = 0
    load_error: str = ""  # unreadable or tampered
    trust_error: str = ""  # unsigned, wrong key, other host
    signed_by: str = ""

    @property
    def created(self) -> datetime | None:
        if self.header is None:
            return None
        try:
            created = datetime.fromisoformat(self.header.created)
        except ValueError:
            return None
        return created if created.tzinfo else created.replace(tzinfo=UTC)


def baseline_state(host: Host, config: Config) -> BaselineState:
    system_path = str(manifest_path(config))
    real = host.path(system_path)
    if not real.exists():
        return BaselineState(system_path, False)
    try:
        loaded = load_manifest(real)
    except GarrisonError as exc:
        return BaselineState(system_path, True, load_error=str(exc))
    try:
        _, document = load_trusted_manifest(config, real, root=host.root)
    except GarrisonError as exc:
        return BaselineState(
            system_path, True, loaded.header, loaded.summary.records, trust_error=str(exc)
        )
    return BaselineState(
        system_path, True, loaded.header, loaded.summary.records, signed_by=document.get("key", "")
    )


@dataclass(frozen=True)
class LastVerify:
    path: str
    data: dict[str, Any] | None
    error: str = ""


def last_verify(host: Host, config: Config) -> LastVerify:
    system_path = f"{config.paths.state_dir}/{LAST_VERIFY_FILE}"
    text = host.read_text_or_none(system_path)
    if text is None:
        return LastVerify(system_path, None)
    try:
        data = json.loads(text)
    except ValueError:
        return LastVerify(system_path, None, "not valid JSON")
    return LastVerify(system_path, data if isinstance(data, dict) else None)


def deploy_record(host: Host, config: Config, name: str) -> DeployManifest | None:
    """The recorded deploy of strategy `name`, read under the host's root."""
    real = host.path(f"{config.paths.state_dir}/deploys/{name}.json")
    return read_deploy_record(real)


def git_head(host: Host, work_tree: str) -> str | None:
    """The commit a work tree's HEAD points at, read from .git files (no git run needed)."""
    git_dir = f"{work_tree}/.git"
    head = host.read_text_or_none(f"{git_dir}/HEAD")
    if head is None:
        pointer = host.read_text_or_none(git_dir)  # worktrees/submodules: "gitdir: ..."
        if pointer is None or not pointer.startswith("gitdir:"):
            return None
        target = pointer.split(":", 1)[1].strip()
        git_dir = target if target.startswith("/") else str(Path(work_tree) / target)
        head = host.read_text_or_none(f"{git_dir}/HEAD")
        if head is None:
            return None
    head = head.strip()
    if not head.startswith("ref:"):
        return head
    ref = head.split(":", 1)[1].strip()
    value = host.read_text_or_none(f"{git_dir}/{ref}")
    if value is not None:
        return value.strip()
    packed = host.read_text_or_none(f"{git_dir}/packed-refs") or ""
    for line in packed.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == ref:
            return parts[0]
    return None
