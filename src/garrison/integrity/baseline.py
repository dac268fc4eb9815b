"""Make the baseline: scan the protected paths into a manifest, sign it, never half-write it."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from garrison.config.schema import Config
from garrison.errors import IntegrityError
from garrison.integrity.manifest import (
    LoadedManifest,
    ManifestHeader,
    ManifestSummary,
    ManifestWriter,
    load_manifest,
)
from garrison.integrity.scan import ProgressCallback, scan_line_runs
from garrison.integrity.signing import (
    check_signature,
    load_private_key,
    load_public_key,
    parse_signature,
    sign_summary,
    signature_document,
    signature_path,
    verify_signed,
    write_signature,
)
from garrison.integrity.walk import ScanProblems, ScanSpec, use_processes


def manifest_path(config: Config) -> Path:
    """Where the baseline manifest lives."""
    return Path(config.integrity.manifest or str(Path(config.paths.state_dir) / "baseline.gz"))


def protected_paths(config: Config) -> tuple[str, ...]:
    """[integrity].paths plus every strategy's code_dir."""
    paths = list(config.integrity.paths)
    paths += [s.code_dir for s in config.strategies if s.code_dir]
    return tuple(dict.fromkeys(paths))


def scan_spec(config: Config, root: Path = Path("/")) -> ScanSpec:
    cfg = config.integrity
    return ScanSpec(
        paths=protected_paths(config),
        excludes=tuple(cfg.excludes),
        algorithm=cfg.algorithm,
        workers=cfg.workers,
        one_filesystem=cfg.one_filesystem,
        root=root,
        processes=use_processes(cfg.parallelism, cfg.workers),
    )


@dataclass(frozen=True)
class HostIdentity:
    hostname: str
    machine_id: str


def host_identity(root: Path = Path("/")) -> HostIdentity:
    """The hostname and /etc/machine-id of the system under root."""
    try:
        machine_id = (root / "etc/machine-id").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        machine_id = ""
    if root == Path("/"):
        hostname = socket.gethostname()
    else:
        try:
            hostname = (root / "etc/hostname").read_text(encoding="utf-8").strip()
        except OSError:
            hostname = root.name
    return HostIdentity(hostname, machine_id)


@dataclass(frozen=True)
class BaselineResult:
    summary: ManifestSummary
    signed: bool
    signature: Path | None
    unreadable: tuple[str, ...]
    vanished: tuple[str, ...]
    skipped_mounts: tuple[str, ...]


def write_manifest(
    spec: ScanSpec,
    target: Path,
    *,
    kind: str = "baseline",
    progress: ProgressCallback | None = None,
    extra: dict[str, str] | None = None,
    before_commit: Callable[[], None] | None = None,
) -> tuple[ManifestSummary, ScanProblems]:
    """Scan `spec` into a manifest at `target` (written aside and renamed only when complete)."""
    identity = host_identity(spec.root)
    missing = [p for p in spec.paths if not (Path(spec.real(p))).exists()]
    header = ManifestHeader(
        hostname=identity.hostname,
        machine_id=identity.machine_id,
        algorithm=spec.algorithm,
        paths=spec.paths,
        excludes=spec.excludes,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        root=str(spec.root),
        one_filesystem=spec.one_filesystem,
        kind=kind,
        missing_paths=tuple(missing),
        extra=extra or {},
    )
    problems = ScanProblems()
    with ManifestWriter(target, header) as writer:
        for paths, lines in scan_line_runs(spec, problems, progress=progress):
            writer.add_lines(paths, lines)
        if before_commit is not None:
            before_commit()
        summary = writer.commit()
    return summary, problems


def create_baseline(
    config: Config,
    *,
    sign_with: Path | None = None,
    progress: ProgressCallback | None = None,
    root: Path = Path("/"),
    output: Path | None = None,
) -> BaselineResult:
    """Scan the protected paths into a new manifest and sign it when a key is given.

    The key is loaded before scanning (a bad key fails fast). Without a key the old signature is
    removed: the new manifest stays unsigned, and verify refuses it until a signature is imported.
    """
    key_file = sign_with or (
        Path(config.integrity.signing_key) if config.integrity.signing_key else None
    )
    key: Ed25519PrivateKey | None = load_private_key(key_file) if key_file else None
    if key is not None and config.integrity.public_key:
        pinned = load_public_key(config.integrity.public_key)
        if pinned.public_bytes_raw() != key.public_key().public_bytes_raw():
            raise IntegrityError(
                f"{key_file}: does not match the pinned integrity.public_key; a baseline signed "
                "with it would be refused"
            )
    target = output or manifest_path(config)
    summary, problems = write_manifest(scan_spec(config, root), target, progress=progress)
    sig: Path | None = None
    if key is not None:
        sig = write_signature(target, sign_summary(summary, key))
    else:
        signature_path(target).unlink(missing_ok=True)
    return BaselineResult(
        summary=summary,
        signed=key is not None,
        signature=sig,
        unreadable=tuple(problems.unreadable),
        vanished=tuple(problems.vanished),
        skipped_mounts=tuple(problems.skipped_mounts),
    )


def load_trusted_manifest(
    config: Config, path: Path | None = None, *, root: Path = Path("/"), check_host: bool = True
) -> tuple[LoadedManifest, dict[str, str]]:
    """Load a manifest and refuse it unless intact, signed by the pinned key, and from this host."""
    target = path or manifest_path(config)
    if not target.exists():
        raise IntegrityError(f"{target}: no baseline yet (run `garrison baseline --sign-with KEY`)")
    if not config.integrity.public_key:
        raise IntegrityError(
            "integrity.public_key: not set; pin the baseline signing key's public half "
            "(`garrison keygen` prints it) so the baseline can be trusted"
        )
    pinned = load_public_key(config.integrity.public_key)
    loaded = load_manifest(target)
    document = verify_signed(loaded.summary, pinned)
    if check_host:
        identity = host_identity(root)
        header = loaded.header
        # Either differing means another machine (cloned VMs share a machine-id, not a name).
        if header.machine_id != identity.machine_id or header.hostname != identity.hostname:
            raise IntegrityError(
                f"{target}: made on another host ({header.hostname}, machine-id "
                f"{header.machine_id[:12]}), this is {identity.hostname} (machine-id "
                f"{identity.machine_id[:12]}); make a baseline on this host"
            )
    return loaded, document


def import_signature(config: Config, signature: Path, manifest: Path | None = None) -> Path:
    """Check a detached signature (made off the box) against the pinned key, then attach it."""
    if not config.integrity.public_key:
        raise IntegrityError("integrity.public_key: not set; pin the signer's public key first")
    key = load_public_key(config.integrity.public_key)
    loaded = load_manifest(manifest or manifest_path(config))
    try:
        data = signature.read_bytes()
    except OSError as exc:
        raise IntegrityError(f"{signature}: cannot read ({exc.strerror})") from None
    raw = parse_signature(data, str(signature))
    check_signature(loaded.summary, raw, key)
    return write_signature(loaded.summary.path, signature_document(raw, key, loaded.summary.sha256))


@dataclass(frozen=True)
class BaselineInfo:
    """What `garrison baseline show` prints."""

    summary: ManifestSummary
    trusted: bool
    trust: str  # who signed it, or why it cannot be trusted


def describe_baseline(config: Config, manifest: Path | None = None) -> BaselineInfo:
    path = manifest or manifest_path(config)
    loaded = load_manifest(path)
    try:
        _, document = load_trusted_manifest(config, path)
    except IntegrityError as exc:
        return BaselineInfo(loaded.summary, False, str(exc))
    signer = document.get("key", "?")
    return BaselineInfo(
        loaded.summary, True, f"signed by {signer}, verified against the pinned key"
    )
