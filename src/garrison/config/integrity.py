"""[integrity]: what the baseline covers, how it is signed, how deploys are checked."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, field_validator

from garrison.config.base import StrictModel

DEFAULT_PATHS = ("/usr/bin", "/usr/sbin", "/usr/lib", "/usr/local", "/etc", "/opt/trading")

#: Files that change in normal operation and would only make noise.
DEFAULT_EXCLUDES = (
    "/etc/mtab",
    "/etc/adjtime",
    "/etc/ld.so.cache",
    "/etc/resolv.conf",
    "/etc/machine-id",
    "**/__pycache__",
    "**/*.pyc",
)


class IntegrityConfig(StrictModel):
    """[integrity]"""

    paths: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PATHS),
        description="protected trees; every strategy's code_dir is added automatically",
    )
    excludes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXCLUDES),
        description="glob patterns on absolute paths (** crosses directories)",
    )
    algorithm: Literal["blake3", "sha256"] = "blake3"
    workers: int = Field(0, ge=0, le=64, description="hashing workers; 0 = one per CPU")
    parallelism: Literal["auto", "thread", "process"] = Field(
        "auto",
        description="baselines and full verifies of more than 4096 entries hash in worker "
        "processes (auto: when the host has more than one CPU) or in threads of one process",
    )
    public_key: str | None = Field(
        None,
        description="pinned ed25519 public key: a file path, an 'ssh-ed25519 AAAA...' line, or PEM",
    )
    signing_key: str | None = Field(
        None, description="private key file used by `garrison baseline` when --sign-with is absent"
    )
    manifest: str | None = Field(
        None, description="baseline manifest file (default <paths.state_dir>/baseline.gz)"
    )
    max_age_days: int = Field(30, ge=1, description="a baseline older than this is stale")
    one_filesystem: bool = Field(True, description="do not cross into other mounts")
    allowed_signers: str | None = Field(
        None, description="ssh allowed_signers file for commits signed with SSH keys"
    )
    gnupg_home: str | None = Field(
        None, description="GNUPGHOME holding the trusted keys for commits signed with GPG"
    )
    osv_database: str | None = Field(
        None, description="directory of OSV JSON files or an OSV all.zip (PyPI), used offline"
    )
    osv_online: bool = Field(
        False, description="also ask an OSV API (sends package names and versions off the box)"
    )
    osv_api: str = Field("https://api.osv.dev", description="OSV API base URL for osv_online")

    @field_validator("paths")
    @classmethod
    def _absolute_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.startswith("/"):
                raise ValueError(f"{path!r} is not an absolute path")
        return [os.path.normpath(p) for p in value]
