"""Ask git itself whether commits are signed by an allowed signer (GPG keyring or SSH signers).

Every git call pins the verification programs and trust sources on the command line, so a
repository's own config (gpg.program, gpg.ssh.allowedSignersFile, core.fsmonitor...) cannot
turn a failed check into a pass.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from garrison.config.schema import Config
from garrison.errors import IntegrityError, ToolMissingError

GIT_TIMEOUT_S = 120.0

#: git's %G? letters, in words (for messages to people).
SIGNATURE_STATUS = {
    "G": "good signature from an allowed signer",
    "U": "good signature, signer not trusted",
    "B": "bad signature",
    "X": "good signature that has expired",
    "Y": "good signature made by an expired key",
    "R": "good signature made by a revoked key",
    "E": "signature cannot be checked (signer's key not available)",
    "N": "no signature",
}


@dataclass(frozen=True)
class TrustSources:
    """Where allowed signers come from: an SSH allowed_signers file and/or a GnuPG home."""

    allowed_signers: str | None
    gnupg_home: str | None

    @classmethod
    def from_config(cls, config: Config) -> TrustSources:
        return cls(config.integrity.allowed_signers, config.integrity.gnupg_home)

    def check(self) -> None:
        if not self.allowed_signers and not self.gnupg_home:
            raise IntegrityError(
                "integrity.allowed_signers / integrity.gnupg_home: neither is set, so no commit "
                "can be trusted; set an SSH allowed_signers file or a GnuPG home with the "
                "signers' keys"
            )
        if self.allowed_signers and not Path(self.allowed_signers).is_file():
            raise IntegrityError(f"integrity.allowed_signers: {self.allowed_signers}: no such file")
        if self.gnupg_home and not Path(self.gnupg_home).is_dir():
            raise IntegrityError(f"integrity.gnupg_home: {self.gnupg_home}: no such directory")


@dataclass(frozen=True)
class CommitSignature:
    """One commit and what git says about its signature."""

    commit: str
    status: str  # git's %G? letter
    signer: str  # %GS: the signer's identity (principal or user id)
    key: str  # %GK: the key (fingerprint for SSH, key id for GPG)
    subject: str
    ssh: bool

    @property
    def trusted(self) -> bool:
        # A GnuPG home holds only allowed keys, so "good, validity unknown" is good enough there;
        # for SSH, "U" means the key is NOT in allowed_signers.
        return self.status == "G" or (self.status == "U" and not self.ssh)

    @property
    def problem(self) -> str:
        if self.trusted:
            return ""
        words = SIGNATURE_STATUS.get(self.status, f"status {self.status}")
        if self.status == "U" and self.ssh:
            words = f"signed by SSH key {self.key}, which is not in the allowed signers"
        return f"commit {self.commit[:12]} ({self.subject[:60]}): {words}"


def git_command(repo: Path, trust: TrustSources, *args: str) -> list[str]:
    """A git command line for `repo` with verification settings forced."""
    signers = trust.allowed_signers or os.devnull
    return [
        "git",
        "-c",
        f"safe.directory={repo}",
        "-c",
        "gpg.program=gpg",
        "-c",
        "gpg.openpgp.program=gpg",
        "-c",
        "gpg.ssh.program=ssh-keygen",
        "-c",
        f"gpg.ssh.allowedSignersFile={signers}",
        "-c",
        "gpg.ssh.revocationFile=",
        "-c",
        "gpg.minTrustLevel=undefined",
        "-c",
        "core.fsmonitor=false",
        "-C",
        str(repo),
        *args,
    ]


def run_git(
    repo: Path, trust: TrustSources, *args: str, gnupg_home: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["GNUPGHOME"] = gnupg_home or trust.gnupg_home or env.get("GNUPGHOME", "")
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    try:
        return subprocess.run(
            git_command(repo, trust, *args),
            capture_output=True,
            text=True,
            errors="replace",
            env=env,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise ToolMissingError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise IntegrityError(f"{repo}: `git {' '.join(args)}` did not finish") from None


def commit_signatures(
    repo: Path, trust: TrustSources, revisions: Sequence[str]
) -> list[CommitSignature]:
    """Signature status of every commit in `git rev-list REVISIONS` (oldest first)."""
    # With no GnuPG home configured, an empty one: root's own keyring must not vouch for code.
    with tempfile.TemporaryDirectory(prefix="garrison-gnupg-") as empty_home:
        result = run_git(
            repo,
            trust,
            "log",
            "--reverse",
            "--format=%H%x1f%G?%x1f%GS%x1f%GK%x1f%s%x1e",
            *revisions,
            "--",
            gnupg_home=trust.gnupg_home or empty_home,
        )
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["git log failed"])[-1]
        raise IntegrityError(f"{repo}: {detail}")
    out = []
    for entry in result.stdout.split("\x1e"):
        fields = entry.strip("\n").split("\x1f")
        if len(fields) != 5:
            continue
        commit, status, signer, key, subject = fields
        # git reports SSH keys by their SHA256: fingerprint; look at the commit only if unsure.
        ssh = key.startswith("SHA256:") or (
            not key and status == "U" and _is_ssh_signed(repo, commit)
        )
        out.append(CommitSignature(commit, status, signer, key, subject, ssh))
    return out


def _is_ssh_signed(repo: Path, commit: str) -> bool:
    result = run_git(repo, TrustSources(None, None), "cat-file", "commit", commit)
    return "-----BEGIN SSH SIGNATURE-----" in result.stdout
