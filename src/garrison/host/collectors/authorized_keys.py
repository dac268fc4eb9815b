"""Every account's authorized_keys: key type and size per line, file ownership and modes.

Files are found the way sshd finds them: AuthorizedKeysFile from the effective sshd config,
with %h (home), %u (user name), %U (uid) and %% expanded, relative paths taken from the home.
Lines are parsed like sshd's auth2-pubkeyfile.c: an optional options prefix (quoted strings may
hold spaces), then the key type, the base64 blob and a comment. Key sizes come from
`cryptography`; a line that does not parse is reported, never fatal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import posixpath
import stat
import warnings
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    load_ssh_public_identity,
    load_ssh_public_key,
)

from garrison.config.schema import Config
from garrison.errors import HostError
from garrison.host.collectors.sshd import SshdConfig, authorized_keys_patterns, load_sshd_config
from garrison.host.host import Account, Host

KEY_TYPES = frozenset(
    {
        "ssh-rsa",
        "ssh-dss",
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "sk-ssh-ed25519@openssh.com",
        "ssh-ed448",
    }
)
_CERT_SUFFIX = "-cert-v01@openssh.com"
#: Security-key types cryptography cannot load; their strength is fixed by the type.
_FIXED_BITS = {"sk-ecdsa-sha2-nistp256@openssh.com": 256, "sk-ssh-ed25519@openssh.com": 256}


@dataclass(frozen=True)
class PublicKeyInfo:
    """What a public key is: its type family, size in bits and SHA256 fingerprint."""

    key_type: str  # as written: ssh-rsa, ssh-dss, ecdsa-sha2-nistp256, ssh-ed25519, ...
    family: str  # rsa, dsa, ecdsa, ed25519, sk-ecdsa, sk-ed25519, ed448
    bits: int
    fingerprint: str  # SHA256:... like ssh-keygen -l


@dataclass(frozen=True)
class AuthorizedKey:
    """One key line of one authorized_keys file."""

    user: str
    file: str
    line: int
    key: PublicKeyInfo
    options: str  # the raw options prefix ("" when none)
    comment: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class KeyFile:
    """An authorized_keys file that exists, with the facts StrictModes cares about."""

    user: str
    uid: int
    path: str
    mode: int
    owner_uid: int
    # Directories from the file up to the home whose mode lets group/others write.
    writable_parents: tuple[str, ...] = ()
    foreign_parents: tuple[str, ...] = ()  # owned by neither the user nor root


@dataclass(frozen=True)
class KeyProblem:
    """A line or file that could not be used: garbage, unknown type, unreadable."""

    user: str
    where: str  # file:line or file
    problem: str


@dataclass(frozen=True)
class AuthorizedKeys:
    keys: tuple[AuthorizedKey, ...]
    files: tuple[KeyFile, ...]
    problems: tuple[KeyProblem, ...]
    patterns: tuple[str, ...]


def describe_public_key(key_type: str, blob_b64: str) -> PublicKeyInfo:
    """Type, size and fingerprint of an OpenSSH public key; ValueError when it is not one."""
    try:
        blob = base64.b64decode(blob_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("key data is not base64") from None
    inner = _wire_string(blob)
    if inner != key_type:
        raise ValueError(f"key data is a {inner or 'garbled'} key, the line says {key_type}")
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    base_type = key_type.removesuffix(_CERT_SUFFIX)
    if base_type in _FIXED_BITS:
        family = "sk-ecdsa" if "ecdsa" in base_type else "sk-ed25519"
        return PublicKeyInfo(key_type, family, _FIXED_BITS[base_type], fingerprint)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography deprecates DSA; we still must read it
        try:
            line = f"{key_type} {blob_b64}".encode()
            if key_type.endswith(_CERT_SUFFIX):
                loaded = load_ssh_public_identity(line).public_key()  # type: ignore[union-attr]
            else:
                loaded = load_ssh_public_key(line)
        except Exception as exc:  # UnsupportedAlgorithm, ValueError: both mean unusable here
            raise ValueError(f"not a valid {key_type} key ({exc})") from None
    if isinstance(loaded, rsa.RSAPublicKey):
        return PublicKeyInfo(key_type, "rsa", loaded.key_size, fingerprint)
    if isinstance(loaded, dsa.DSAPublicKey):
        return PublicKeyInfo(key_type, "dsa", loaded.key_size, fingerprint)
    if isinstance(loaded, ec.EllipticCurvePublicKey):
        return PublicKeyInfo(key_type, "ecdsa", loaded.key_size, fingerprint)
    if isinstance(loaded, ed25519.Ed25519PublicKey):
        return PublicKeyInfo(key_type, "ed25519", 256, fingerprint)
    return PublicKeyInfo(key_type, "ed448", 456, fingerprint)


def _wire_string(blob: bytes) -> str:
    # The first field of every SSH key blob is its type as a length-prefixed string.
    if len(blob) < 4:
        return ""
    length = int.from_bytes(blob[:4], "big")
    return blob[4 : 4 + length].decode("ascii", errors="replace") if length < 64 else ""


def split_key_line(line: str) -> tuple[str, str, str, str] | None:
    """(options, key type, base64, comment) of an authorized_keys line; None if not a key."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    options = ""
    first = text.split(None, 1)[0]
    if first not in KEY_TYPES and not first.endswith(_CERT_SUFFIX):
        options, text = _take_options(text)
    fields = text.split(None, 2)
    if len(fields) < 2:
        raise ValueError("no key after the options" if options else "not a key line")
    comment = fields[2] if len(fields) > 2 else ""
    return options, fields[0], fields[1], comment


def _take_options(text: str) -> tuple[str, str]:
    """Split the options prefix off at the first unquoted whitespace."""
    quoted = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and quoted and index + 1 < len(text):
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char in " \t" and not quoted:
            break
        index += 1
    if quoted:
        raise ValueError("unterminated quote in the options")
    return text[:index], text[index:].strip()


def expand_pattern(pattern: str, account: Account) -> str:
    """Expand %h %u %U %% in an AuthorizedKeysFile pattern; relative paths are under home."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "%" and index + 1 < len(pattern):
            token = pattern[index + 1]
            out.append(
                {"h": account.home, "u": account.name, "U": str(account.uid), "%": "%"}.get(
                    token, "%" + token
                )
            )
            index += 2
            continue
        out.append(char)
        index += 1
    path = "".join(out)
    return path if path.startswith("/") else posixpath.join(account.home or "/", path)


def _accounts(host: Host) -> list[Account]:
    accounts = host.accounts()
    if not any(a.name == "root" for a in accounts):
        accounts.insert(0, Account("root", 0, 0, "/root", "/bin/sh"))
    return accounts


def _key_file(host: Host, account: Account, path: str) -> KeyFile:
    st = host.stat(path)
    writable: list[str] = []
    foreign: list[str] = []
    directory = posixpath.dirname(path)
    home = account.home.rstrip("/") or "/"
    # StrictModes walks up to the home directory; so do we (stopping at / regardless).
    while True:
        try:
            dst = host.stat(directory)
        except HostError:
            break
        if dst.st_mode & 0o022:
            writable.append(directory)
        if dst.st_uid not in (account.uid, 0):
            foreign.append(directory)
        if directory in (home, "/") or not directory.startswith(home + "/"):
            break
        directory = posixpath.dirname(directory)
    return KeyFile(
        account.name,
        account.uid,
        path,
        st.st_mode & 0o7777,
        st.st_uid,
        tuple(writable),
        tuple(foreign),
    )


def collect_authorized_keys(host: Host, config: Config) -> AuthorizedKeys:
    """Collector: keys, files and problems for every account in /etc/passwd (and root)."""
    try:
        # The files are enough for AuthorizedKeysFile; collect_sshd (cached in Facts) already
        # ran sshd -T once for the checks, and a collector cannot reach that cache.
        sshd: SshdConfig | None = load_sshd_config(host, config.ssh.sshd_config, run_sshd=False)
    except Exception:  # no sshd config: still audit the files at the default place
        sshd = None
    patterns = authorized_keys_patterns(sshd) if sshd else [".ssh/authorized_keys"]
    keys: list[AuthorizedKey] = []
    files: list[KeyFile] = []
    problems: list[KeyProblem] = []
    seen: set[str] = set()
    for account in _accounts(host):
        for pattern in patterns:
            path = expand_pattern(pattern, account)
            if path in seen or not host.exists(path):
                continue
            seen.add(path)
            try:
                if not stat.S_ISREG(host.stat(path).st_mode):
                    # A FIFO or device here would block or mislead the read.
                    raise HostError(f"{path}: not a regular file")
                text = host.read_text(path)
                files.append(_key_file(host, account, path))
            except HostError as exc:
                problems.append(KeyProblem(account.name, path, f"not readable: {exc}"))
                continue
            _parse_file(account.name, path, text, keys, problems)
    return AuthorizedKeys(tuple(keys), tuple(files), tuple(problems), tuple(patterns))


def _parse_file(
    user: str, path: str, text: str, keys: list[AuthorizedKey], problems: list[KeyProblem]
) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{path}:{number}"
        try:
            parts = split_key_line(line)
            if parts is None:
                continue
            options, key_type, blob, comment = parts
            if key_type not in KEY_TYPES and not key_type.endswith(_CERT_SUFFIX):
                # The line's text is not quoted back: a stray paste may be a secret.
                raise ValueError(f"not a key line: no known key type ({len(line)} characters)")
            info = describe_public_key(key_type, blob)
        except ValueError as exc:
            problems.append(KeyProblem(user, where, str(exc)))
            continue
        keys.append(AuthorizedKey(user, path, number, info, options, comment[:80]))
