"""Deploys: refuse unsigned code, then record a signed manifest of the deployed tree.

`verify_deploy` checks that HEAD and every commit since the last verified deploy are signed by an
allowed signer (git decides, see gitsig), that the work tree is clean, and writes
<state_dir>/deploys/<name>.gz (+ .sig) and <name>.json. The guard watches those trees;
`deploy_status` reports how a deployed tree drifted from its manifest.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from garrison.config.schema import Config
from garrison.errors import IntegrityError
from garrison.integrity.baseline import load_trusted_manifest, write_manifest
from garrison.integrity.gitsig import CommitSignature, TrustSources, commit_signatures, run_git
from garrison.integrity.signing import (
    load_private_key,
    load_public_key,
    sign_summary,
    write_signature,
)
from garrison.integrity.verify import DriftReport, verify_manifest
from garrison.integrity.walk import ScanSpec
from garrison.model import Severity

#: Never part of a deployed tree's manifest: git's own data and Python's caches.
DEPLOY_EXCLUDES = (".git", "**/__pycache__", "**/*.pyc")


def deploys_dir(config: Config) -> Path:
    return Path(config.paths.state_dir) / "deploys"


@dataclass(frozen=True)
class DeployManifest:
    """One verified deploy: which tree, at which commit, and its signed manifest."""

    strategy: str
    tree: str
    head: str
    manifest: Path
    verified_at: str
    commits_checked: int
    signers: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeployResult:
    deploy: DeployManifest
    commits: tuple[CommitSignature, ...]
    first_deploy: bool


def _record_path(config: Config, name: str) -> Path:
    return deploys_dir(config) / f"{name}.json"


def read_deploy_record(path: Path) -> DeployManifest | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return DeployManifest(
            strategy=str(data["strategy"]),
            tree=str(data["tree"]),
            head=str(data["head"]),
            manifest=Path(data["manifest"]),
            verified_at=str(data["verified_at"]),
            commits_checked=int(data.get("commits_checked", 0)),
            signers=tuple(data.get("signers", ())),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"{path}: unreadable deploy record ({exc})") from None


def load_deploy_manifests(config: Config) -> list[DeployManifest]:
    """Every recorded deploy (the guard watches their trees). Signatures are checked on use."""
    directory = deploys_dir(config)
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*.json")):
        record = read_deploy_record(path)
        if record is not None:
            found.append(record)
    return found


def resolve_target(config: Config, path: str | None, strategy: str | None) -> tuple[str, Path]:
    """(deploy name, work tree) from PATH and/or --strategy (whose code_dir is the default)."""
    if strategy is not None:
        entry = config.strategy(strategy)
        if entry is None:
            names = ", ".join(s.name for s in config.strategies) or "none configured"
            raise IntegrityError(f"--strategy {strategy}: no such [[strategies]] entry ({names})")
        if path is None:
            if not entry.code_dir:
                raise IntegrityError(f"strategies.{strategy}.code_dir: not set; pass PATH")
            path = entry.code_dir
    if path is None:
        raise IntegrityError("deploy verify: give PATH or --strategy NAME")
    tree = Path(path).resolve()
    name = strategy or tree.name
    return name, tree


def _git_head(tree: Path, trust: TrustSources) -> str:
    result = run_git(tree, trust, "rev-parse", "--verify", "HEAD^{commit}")
    if result.returncode != 0:
        top = run_git(tree, trust, "rev-parse", "--show-toplevel")
        if top.returncode != 0:
            raise IntegrityError(f"{tree}: not a git work tree")
        raise IntegrityError(f"{tree}: repository has no commits")
    return result.stdout.strip()


def _dirty_paths(tree: Path, trust: TrustSources) -> list[str]:
    result = run_git(tree, trust, "status", "--porcelain=v1", "--untracked-files=all")
    if result.returncode != 0:
        raise IntegrityError(f"{tree}: `git status` failed: {result.stderr.strip()}")
    return [line[3:] for line in result.stdout.splitlines() if line.strip()]


def _commit_range(
    tree: Path, trust: TrustSources, head: str, previous: DeployManifest | None, since: str | None
) -> tuple[list[str], bool]:
    """The rev-list arguments to check, and whether this is a first deploy."""
    base = since or (previous.head if previous else None)
    if base is None:
        return [head, "-1"], True
    check = run_git(tree, trust, "merge-base", "--is-ancestor", base, head)
    if check.returncode != 0:
        raise IntegrityError(
            f"{tree}: last verified deploy {base[:12]} is not an ancestor of HEAD {head[:12]} "
            "(history rewritten?); check it, then pass --since REV"
        )
    return [f"{base}..{head}"], False


def verify_deploy(
    config: Config,
    tree: Path,
    name: str,
    *,
    sign_with: Path | None = None,
    since: str | None = None,
) -> DeployResult:
    """Refuse unless every new commit is signed by an allowed signer and the tree is clean;
    then write and sign the deployed tree's manifest."""
    trust = TrustSources.from_config(config)
    trust.check()
    key_file = sign_with or (
        Path(config.integrity.signing_key) if config.integrity.signing_key else None
    )
    if key_file is None:
        raise IntegrityError(
            "deploy manifests are signed: pass --sign-with KEY or set integrity.signing_key"
        )
    key = load_private_key(key_file)
    if config.integrity.public_key:
        pinned = load_public_key(config.integrity.public_key)
        if pinned.public_bytes_raw() != key.public_key().public_bytes_raw():
            raise IntegrityError(f"{key_file}: does not match the pinned integrity.public_key")
    if not tree.is_dir():
        raise IntegrityError(f"{tree}: no such directory")
    head = _git_head(tree, trust)
    previous = read_deploy_record(_record_path(config, name))
    revisions, first = _commit_range(tree, trust, head, previous, since)
    commits = commit_signatures(tree, trust, revisions)
    bad = [c for c in commits if not c.trusted]
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise IntegrityError(f"{tree}: refusing deploy: {bad[0].problem}{more}")
    dirty = _dirty_paths(tree, trust)
    if dirty:
        more = f" (and {len(dirty) - 1} more)" if len(dirty) > 1 else ""
        raise IntegrityError(
            f"{tree}: refusing deploy: work tree differs from the signed commit: {dirty[0]}{more}"
        )
    spec = ScanSpec(
        paths=(str(tree),),
        excludes=tuple(f"{tree}/{pattern}" for pattern in DEPLOY_EXCLUDES),
        algorithm=config.integrity.algorithm,
        workers=config.integrity.workers,
    )
    target = deploys_dir(config) / f"{name}.gz"
    summary, _problems = write_manifest(
        spec, target, kind=f"deploy:{name}", extra={"head": head, "tree": str(tree)}
    )
    write_signature(target, sign_summary(summary, key))
    deploy = DeployManifest(
        strategy=name,
        tree=str(tree),
        head=head,
        manifest=target,
        verified_at=datetime.now(UTC).isoformat(timespec="seconds"),
        commits_checked=len(commits),
        signers=tuple(sorted({c.signer for c in commits if c.signer})),
    )
    _write_record(_record_path(config, name), deploy)
    return DeployResult(deploy, tuple(commits), first)


def _write_record(path: Path, deploy: DeployManifest) -> None:
    data = {
        "strategy": deploy.strategy,
        "tree": deploy.tree,
        "head": deploy.head,
        "manifest": str(deploy.manifest),
        "verified_at": deploy.verified_at,
        "commits_checked": deploy.commits_checked,
        "signers": list(deploy.signers),
    }
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise IntegrityError(f"{path}: cannot write ({exc.strerror})") from None


@dataclass(frozen=True)
class DeployStatus:
    deploy: DeployManifest
    drift: DriftReport | None
    head_now: str
    problem: str = ""  # why the tree could not be checked (tampered manifest, ...)

    @property
    def head_moved(self) -> bool:
        return bool(self.head_now) and self.head_now != self.deploy.head

    def needs_attention(self, threshold: Severity) -> bool:
        """Unchecked, moved, or drifted at or above the threshold."""
        return self.drift is None or self.head_moved or bool(self.drift.at_or_above(threshold))


def deploy_status(config: Config, name: str | None = None) -> list[DeployStatus]:
    """Rescan every deployed tree (or one) and report drift from its signed manifest."""
    out = []
    deploys = load_deploy_manifests(config)
    if name is not None:
        deploys = [d for d in deploys if d.strategy == name]
        if not deploys:
            raise IntegrityError(
                f"{name}: no verified deploy recorded (run `garrison deploy verify`)"
            )
    trust = TrustSources.from_config(config)
    for deploy in deploys:
        try:
            loaded, document = load_trusted_manifest(config, deploy.manifest)
            if loaded.header.extra.get("head") != deploy.head:
                raise IntegrityError(f"{deploy.manifest}: does not match the deploy record")
            drift = verify_manifest(loaded, signed_by=document.get("key", ""))
        except IntegrityError as exc:
            out.append(DeployStatus(deploy, None, "", str(exc)))
            continue
        head = run_git(Path(deploy.tree), trust, "rev-parse", "HEAD").stdout.strip()
        out.append(DeployStatus(deploy, drift, head))
    return out
