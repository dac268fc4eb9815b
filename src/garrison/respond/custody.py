"""The chain-of-custody log: JSONL, each record chained to the previous one and signed.

Each record carries seq, prev_hash (SHA-256 of the previous line as written) and sig (ed25519
over the record's canonical JSON without sig). The first record (kind "genesis") holds the
public key; the key itself lives under state_dir/custody/ (0600, created on first use) so the
evidence directory can be copied elsewhere and still be verified against the host's key.
A signed head file (count + hash of the last line) catches records cut from or added to the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from garrison.errors import IntegrityError

LOG_FILE = "custody.jsonl"
HEAD_FILE = "custody.head.json"
GENESIS_HASH = "0" * 64
_CHUNK = 1024 * 1024


def sha256_file(path: Path) -> tuple[str, int]:
    """Stream a file through SHA-256: (hex digest, size in bytes)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb", buffering=0) as handle:
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        while n := handle.readinto(buf):
            digest.update(view[:n])
            size += n
    return digest.hexdigest(), size


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


def key_paths(state_dir: str | Path) -> tuple[Path, Path]:
    base = Path(state_dir) / "custody"
    return base / "ed25519.key", base / "ed25519.pub"


def load_or_create_key(state_dir: str | Path) -> Ed25519PrivateKey:
    """The host's custody signing key, generated (0600) on first use."""
    private, public = key_paths(state_dir)
    if private.exists():
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(private.read_text().strip()))
    private.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(raw + "\n")
    public.write_text(public_hex(key) + "\n")
    return key


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def trusted_public_key(state_dir: str | Path) -> str | None:
    _, public = key_paths(state_dir)
    return public.read_text().strip() if public.exists() else None


class CustodyLog:
    """Append-only signed log for one evidence directory."""

    def __init__(self, directory: Path, key: Ed25519PrivateKey, incident: str) -> None:
        self.dir = directory
        self.key = key
        self.incident = incident
        self._lock = threading.Lock()
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._count = 0
        self._last = GENESIS_HASH
        if (directory / LOG_FILE).exists():
            raise IntegrityError(f"{directory / LOG_FILE}: exists already; not appending blindly")
        self.append("genesis", note="custody log opened", pubkey=public_hex(key))

    def add_file(self, path: Path, kind: str, note: str = "") -> dict[str, Any]:
        """Hash an artefact under the evidence dir and record it."""
        digest, size = sha256_file(path)
        return self.append(
            kind, artefact=str(path.relative_to(self.dir)), sha256=digest, size=size, note=note
        )

    def append(
        self,
        kind: str,
        *,
        artefact: str = "",
        sha256: str = "",
        size: int = 0,
        note: str = "",
        pubkey: str = "",
    ) -> dict[str, Any]:
        with self._lock:
            record: dict[str, Any] = {
                "seq": self._count,
                "time": datetime.now(UTC).isoformat(),
                "incident": self.incident,
                "kind": kind,
                "artefact": artefact,
                "sha256": sha256,
                "size": size,
                "note": note,
                "prev_hash": self._last,
            }
            if pubkey:
                record["pubkey"] = pubkey
            record["sig"] = self.key.sign(_canonical(record)).hex()
            line = _canonical(record) + b"\n"
            with (self.dir / LOG_FILE).open("ab") as handle:
                handle.write(line)
            self._count += 1
            self._last = hashlib.sha256(line).hexdigest()
            head = {"count": self._count, "last_hash": self._last}
            head["sig"] = self.key.sign(_canonical(head)).hex()
            tmp = self.dir / f".{HEAD_FILE}.tmp"
            tmp.write_bytes(_canonical(head) + b"\n")
            tmp.replace(self.dir / HEAD_FILE)
            return record


@dataclass(frozen=True)
class CustodyProblem:
    kind: str  # edited, deleted, reordered, appended, artefact, key, garbled
    where: str
    detail: str


@dataclass(frozen=True)
class CustodyReport:
    directory: str
    records: int
    artefacts: int
    key: str  # "host" when checked against state_dir's key, else "log (untrusted)"
    problems: tuple[CustodyProblem, ...] = field(default_factory=tuple)

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_custody(directory: Path, trusted_key: str | None = None) -> CustodyReport:
    """Check signatures, the hash chain, the head and every artefact's hash."""
    log = directory / LOG_FILE
    if not log.exists():
        raise IntegrityError(f"{log}: no custody log here")
    lines = [line for line in log.read_bytes().splitlines(keepends=True) if line.strip()]
    problems: list[CustodyProblem] = []
    records: list[dict[str, Any]] = []
    for index, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except ValueError:
            problems.append(CustodyProblem("garbled", f"line {index + 1}", "not JSON"))
            records.append({})
    pubkey_hex = trusted_key or (records[0].get("pubkey", "") if records else "")
    key_source = "host" if trusted_key else "log (untrusted: key taken from the log itself)"
    if trusted_key and records and records[0].get("pubkey") not in (None, trusted_key):
        problems.append(CustodyProblem("key", "line 1", "genesis names a different public key"))
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(pubkey_hex))
    except ValueError:
        raise IntegrityError(f"{log}: no usable public key") from None
    prev = GENESIS_HASH
    artefacts = 0
    for index, (line, record) in enumerate(zip(lines, records, strict=True)):
        where = f"line {index + 1}"
        if not record:
            prev = hashlib.sha256(line).hexdigest()
            continue
        body = {k: v for k, v in record.items() if k != "sig"}
        try:
            public.verify(bytes.fromhex(str(record.get("sig", ""))), _canonical(body))
        except (InvalidSignature, ValueError):
            problems.append(
                CustodyProblem(
                    "edited",
                    where,
                    f"bad signature: record seq {record.get('seq')} was edited or written by hand",
                )
            )
        if record.get("seq") != index:
            kind = (
                "deleted"
                if isinstance(record.get("seq"), int) and record["seq"] > index
                else "reordered"
            )
            problems.append(
                CustodyProblem(
                    kind,
                    where,
                    f"seq {record.get('seq')} at position {index}: records were "
                    f"{'removed before it' if kind == 'deleted' else 'moved or duplicated'}",
                )
            )
        if record.get("prev_hash") != prev:
            problems.append(
                CustodyProblem(
                    "chain",
                    where,
                    "prev_hash does not match the previous line: a record before "
                    "it was edited, deleted or reordered",
                )
            )
        prev = hashlib.sha256(line).hexdigest()
        if record.get("artefact"):
            artefacts += 1
            problems.extend(_check_artefact(directory, record, where))
    problems.extend(_check_head(directory, public, len(lines), prev))
    return CustodyReport(str(directory), len(lines), artefacts, key_source, tuple(problems))


def _check_artefact(directory: Path, record: dict[str, Any], where: str) -> list[CustodyProblem]:
    name = str(record["artefact"])
    path = (directory / name).resolve()
    if directory.resolve() not in path.parents:
        return [CustodyProblem("artefact", where, f"{name}: outside the evidence directory")]
    if not path.is_file():
        return [CustodyProblem("artefact", where, f"{name}: missing")]
    digest, _ = sha256_file(path)
    if digest != record.get("sha256"):
        return [
            CustodyProblem(
                "artefact",
                where,
                f"{name}: SHA-256 {digest[:16]}... != recorded {str(record.get('sha256'))[:16]}...",
            )
        ]
    return []


def _check_head(
    directory: Path, public: Ed25519PublicKey, count: int, last: str
) -> list[CustodyProblem]:
    path = directory / HEAD_FILE
    try:
        head = json.loads(path.read_text())
    except (OSError, ValueError):
        return [CustodyProblem("head", HEAD_FILE, "missing or garbled head file")]
    body = {k: v for k, v in head.items() if k != "sig"}
    try:
        public.verify(bytes.fromhex(str(head.get("sig", ""))), _canonical(body))
    except (InvalidSignature, ValueError):
        return [CustodyProblem("head", HEAD_FILE, "head file signature is bad (edited)")]
    if head.get("count") != count:
        kind = "deleted" if head.get("count", 0) > count else "appended"
        return [
            CustodyProblem(
                kind, HEAD_FILE, f"head says {head.get('count')} records, the log has {count}"
            )
        ]
    if head.get("last_hash") != last:
        return [CustodyProblem("edited", HEAD_FILE, "the last record is not the one signed")]
    return []
