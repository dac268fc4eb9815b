"""ed25519 signatures over manifest digests: keys, the signed statement, detached signatures.

What is signed is a short statement naming the manifest's SHA-256 and record count (the digest
covers the header: host, machine-id, paths, format version). It can be signed off the box:
`garrison baseline --export-digest` writes it, any ed25519 signer signs it (garrison, or
`openssl pkeyutl -sign -rawin`), `garrison baseline import-signature` attaches the result.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from garrison.errors import IntegrityError
from garrison.integrity.manifest import ManifestSummary

SIGNATURE_FORMAT = "garrison-signature-1"
STATEMENT_PREFIX = "garrison-manifest-statement-1"
PASSPHRASE_ENV = "GARRISON_KEY_PASSPHRASE"


def statement(summary: ManifestSummary) -> bytes:
    """The exact bytes that are signed for a manifest."""
    return (
        f"{STATEMENT_PREFIX}\nsha256={summary.sha256}\nrecords={summary.records}\n"
        f"kind={summary.header.kind}\n"
    ).encode()


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA256:base64 of the raw public key, like ssh-keygen -l prints."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def load_public_key(value: str, label: str = "integrity.public_key") -> Ed25519PublicKey:
    """A pinned key given inline ('ssh-ed25519 AAAA...' or PEM) or as a path to such a file."""
    text = value.strip()
    if not text.startswith(("ssh-ed25519 ", "-----BEGIN")):
        path = Path(text)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise IntegrityError(f"{label}: {path}: no such key file") from None
        except OSError as exc:
            raise IntegrityError(f"{label}: {path}: cannot read ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise IntegrityError(f"{label}: {path}: not a text key file") from None
        label = f"{label} ({path})"
    key: object
    try:
        if text.startswith("ssh-"):
            key = serialization.load_ssh_public_key(text.encode())
        else:
            key = serialization.load_pem_public_key(text.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise IntegrityError(f"{label}: not an ed25519 public key (PEM or ssh-ed25519)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise IntegrityError(f"{label}: key is not ed25519")
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An ed25519 private key from a PEM (PKCS#8) or OpenSSH file; passphrase from the env."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise IntegrityError(f"{path}: no such key file") from None
    except OSError as exc:
        raise IntegrityError(f"{path}: cannot read ({exc.strerror})") from None
    secret = os.environ.get(PASSPHRASE_ENV)
    password = secret.encode() if secret else None
    key: object
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            key = serialization.load_ssh_private_key(data, password)
        else:
            key = serialization.load_pem_private_key(data, password)
    except TypeError:
        raise IntegrityError(f"{path}: key is encrypted; set ${PASSPHRASE_ENV}") from None
    except (ValueError, UnsupportedAlgorithm):
        raise IntegrityError(f"{path}: not a readable ed25519 private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise IntegrityError(f"{path}: key is not ed25519")
    return key


@dataclass(frozen=True)
class KeyPair:
    private_path: Path
    public_path: Path
    public_line: str  # 'ssh-ed25519 AAAA... garrison' to pin inline in the config
    fingerprint: str


def generate_keypair(private_path: Path, *, overwrite: bool = False) -> KeyPair:
    """Write a new ed25519 key (PEM, mode 0600) and its public half (<path>.pub)."""
    public_path = private_path.with_name(private_path.name + ".pub")
    if not overwrite and (private_path.exists() or public_path.exists()):
        raise IntegrityError(f"{private_path}: already exists (will not overwrite a key)")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_line = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
        + " garrison"
    )
    try:
        private_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        public_path.write_text(public_line + "\n", encoding="utf-8")
    except OSError as exc:
        raise IntegrityError(f"{private_path}: cannot write ({exc.strerror})") from None
    return KeyPair(private_path, public_path, public_line, fingerprint(key.public_key()))


def signature_path(manifest: Path) -> Path:
    return manifest.with_name(manifest.name + ".sig")


def sign_summary(summary: ManifestSummary, key: Ed25519PrivateKey) -> dict[str, str]:
    """The detached signature document for a manifest."""
    raw = key.sign(statement(summary))
    return {
        "format": SIGNATURE_FORMAT,
        "algorithm": "ed25519",
        "key": fingerprint(key.public_key()),
        "sha256": summary.sha256,
        "signature": base64.b64encode(raw).decode(),
    }


def write_signature(manifest: Path, document: dict[str, str]) -> Path:
    """Write <manifest>.sig atomically."""
    target = signature_path(manifest)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise IntegrityError(f"{target}: cannot write ({exc.strerror})") from None
    return target


def parse_signature(data: bytes, label: str) -> bytes:
    """The raw 64-byte signature from a garrison .sig, raw bytes, or base64 text."""
    if len(data) == 64:
        return data
    text = data.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
            text = str(document["signature"])
        except (ValueError, KeyError, TypeError):
            raise IntegrityError(f"{label}: not a garrison signature file") from None
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise IntegrityError(f"{label}: not a signature (need base64 or 64 raw bytes)") from None
    if len(raw) != 64:
        raise IntegrityError(f"{label}: not an ed25519 signature ({len(raw)} bytes, expected 64)")
    return raw


def check_signature(summary: ManifestSummary, raw: bytes, key: Ed25519PublicKey) -> None:
    """Raise unless `raw` is the pinned key's signature over this manifest's statement."""
    try:
        key.verify(raw, statement(summary))
    except InvalidSignature:
        raise IntegrityError(
            f"{summary.path}: signature does not verify against the pinned key "
            f"{fingerprint(key)} (wrong key, or manifest or signature replaced)"
        ) from None


def verify_signed(summary: ManifestSummary, key: Ed25519PublicKey) -> dict[str, str]:
    """Check the manifest's detached signature; return its document. Refuses unsigned manifests."""
    sig_path = signature_path(summary.path)
    try:
        data = sig_path.read_bytes()
    except FileNotFoundError:
        raise IntegrityError(
            f"{summary.path}: not signed (no {sig_path.name}); sign it with "
            "`garrison baseline --sign-with KEY` or `garrison baseline import-signature SIG`"
        ) from None
    except OSError as exc:
        raise IntegrityError(f"{sig_path}: cannot read ({exc.strerror})") from None
    raw = parse_signature(data, str(sig_path))
    try:
        document = json.loads(data)
    except ValueError:
        document = {}
    if isinstance(document, dict) and document.get("sha256") not in (None, summary.sha256):
        raise IntegrityError(
            f"{sig_path}: signature is for another manifest (sha256 {document['sha256'][:16]}..., "
            f"manifest is {summary.sha256[:16]}...)"
        )
    check_signature(summary, raw, key)
    return {str(k): str(v) for k, v in document.items()} if isinstance(document, dict) else {}


def signature_document(raw: bytes, key: Ed25519PublicKey, sha256: str = "") -> dict[str, str]:
    """The .sig document for a raw signature (sha256 names the manifest it is for, if known)."""
    document = {
        "format": SIGNATURE_FORMAT,
        "algorithm": "ed25519",
        "key": fingerprint(key),
        "signature": base64.b64encode(raw).decode(),
    }
    if sha256:
        document["sha256"] = sha256
    return document


def sign_statement_file(statement_path: Path, key_path: Path) -> dict[str, str]:
    """Sign a statement written by `baseline --export-digest` (on the machine holding the key)."""
    try:
        data = statement_path.read_bytes()
    except OSError as exc:
        raise IntegrityError(f"{statement_path}: cannot read ({exc.strerror})") from None
    if not data.startswith(STATEMENT_PREFIX.encode()):
        raise IntegrityError(
            f"{statement_path}: not a garrison statement (from `garrison baseline --export-digest`)"
        )
    key = load_private_key(key_path)
    return signature_document(key.sign(data), key.public_key())
