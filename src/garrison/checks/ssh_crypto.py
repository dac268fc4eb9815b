"""SSH cryptography checks (checklist box 3): algorithms sshd offers and its host keys.

Weak means broken or below today's margins: SHA-1 key exchange and signatures, 1024-bit
Diffie-Hellman, CBC and RC4 ciphers, MD5/SHA-1 MACs, 64-bit and truncated (-96) MAC tags, DSA.
"""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Iterable
from typing import ClassVar

from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_ssh_private_key,
)

from garrison.checks.base import Check
from garrison.checks.ssh import AREA, ITEM, SSHD_MAN, setting_evidence, sshd_config
from garrison.errors import HostError
from garrison.host.collectors.authorized_keys import PublicKeyInfo, describe_public_key
from garrison.host.facts import Facts
from garrison.model import CheckMeta, Evidence, Finding, Severity

WEAK_CIPHERS = ("*-cbc", "*-cbc@*", "3des*", "arcfour*", "blowfish*", "cast128*", "des*", "none")
WEAK_MACS = ("hmac-md5*", "hmac-sha1*", "umac-64*", "*-96*", "hmac-ripemd160*", "none")
WEAK_KEX = ("diffie-hellman-group1-*", "*-sha1", "*-sha1@*", "rsa1024-*", "gss-*-sha1-*")
WEAK_SIGNATURES = ("ssh-rsa", "ssh-dss", "ssh-rsa-cert-v01@*", "ssh-dss-cert-v01@*")
MIN_HOST_RSA_BITS = 3072


def weak_entries(value: str, patterns: Iterable[str]) -> list[str]:
    """The algorithms of a comma list that match any weak pattern."""
    pats = tuple(patterns)
    algorithms = [a.strip() for a in value.split(",") if a.strip()]
    return [a for a in algorithms if any(fnmatch.fnmatchcase(a.lower(), p) for p in pats)]


class AlgorithmCheck(Check):
    """Flags weak entries in one or more sshd algorithm lists."""

    keywords: ClassVar[tuple[str, ...]]
    weak: ClassVar[tuple[str, ...]]

    def run(self, facts: Facts) -> Iterable[Finding]:
        sshd = sshd_config(facts)
        bad: list[Evidence] = []
        good: list[Evidence] = []
        for keyword in self.keywords:
            option = sshd.effective(keyword)
            found = weak_entries(option.value, self.weak)
            evidence = setting_evidence(sshd, option, "none of: " + " ".join(self.weak))
            if found:
                bad.append(
                    Evidence(evidence.source, f"{keyword}: {', '.join(found)}", evidence.expected)
                )
            else:
                good.append(evidence)
        if bad:
            names = "; ".join(e.observed for e in bad)
            yield self.failed(f"weak algorithms offered: {names}", *bad)
        else:
            yield self.passed(f"no weak algorithms in {', '.join(self.keywords)}", *good)


class CiphersStrong(AlgorithmCheck):
    meta = CheckMeta(
        id="GAR-SSH-008",
        area=AREA,
        item=ITEM,
        title="SSH offers no weak ciphers",
        severity=Severity.MEDIUM,
        rationale="CBC modes (plaintext recovery, Terrapin-adjacent attacks), 3DES (64-bit "
        "blocks) and RC4 are broken; modern clients never need them.",
        remediation="Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,"
        "aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr",
        references=(SSHD_MAN + "#Ciphers", "https://www.ssh-audit.com/hardening_guides.html"),
    )
    keywords = ("ciphers",)
    weak = WEAK_CIPHERS


class MacsStrong(AlgorithmCheck):
    meta = CheckMeta(
        id="GAR-SSH-009",
        area=AREA,
        item=ITEM,
        title="SSH offers no weak MACs",
        severity=Severity.MEDIUM,
        rationale="MD5 and SHA-1 MACs and 64-bit or truncated (-96) tags are below today's "
        "margins; encrypt-then-MAC SHA-2 and UMAC-128 are available everywhere.",
        remediation="MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
        "umac-128-etm@openssh.com",
        references=(SSHD_MAN + "#MACs", "https://www.ssh-audit.com/hardening_guides.html"),
    )
    keywords = ("macs",)
    weak = WEAK_MACS


class KexStrong(AlgorithmCheck):
    meta = CheckMeta(
        id="GAR-SSH-010",
        area=AREA,
        item=ITEM,
        title="SSH offers no weak key exchange",
        severity=Severity.MEDIUM,
        rationale="1024-bit Diffie-Hellman (group1) is within reach of nation states (Logjam) "
        "and SHA-1 key exchange hashes are collision-prone.",
        remediation="KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,"
        "curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,"
        "diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha256",
        references=(SSHD_MAN + "#KexAlgorithms", "https://weakdh.org/"),
    )
    keywords = ("kexalgorithms",)
    weak = WEAK_KEX


class SignaturesStrong(AlgorithmCheck):
    meta = CheckMeta(
        id="GAR-SSH-011",
        area=AREA,
        item=ITEM,
        title="SSH accepts no SHA-1 (ssh-rsa) or DSA signatures",
        severity=Severity.MEDIUM,
        rationale="ssh-rsa signs with SHA-1 (chosen-prefix collisions are practical) and DSA "
        "is limited to 1024 bits; OpenSSH disabled both by default.",
        remediation="Remove ssh-rsa and ssh-dss from HostKeyAlgorithms, "
        "PubkeyAcceptedAlgorithms and CASignatureAlgorithms (RSA keys keep working through "
        "rsa-sha2-256/512).",
        references=(SSHD_MAN + "#PubkeyAcceptedAlgorithms",),
    )
    keywords = ("hostkeyalgorithms", "pubkeyacceptedalgorithms", "casignaturealgorithms")
    weak = WEAK_SIGNATURES


def read_host_key(facts: Facts, private_path: str) -> tuple[PublicKeyInfo, str] | None:
    """A host key's type and size from its .pub (or the unencrypted private key); None if absent.

    Only the public half is ever returned; the private key text stays in this function.
    """
    host = facts.host
    pub = private_path + ".pub"
    text = host.read_text_or_none(pub)
    if text is not None:
        fields = text.split()
        if len(fields) < 2:
            raise HostError(f"{pub}: not an OpenSSH public key")
        try:
            return describe_public_key(fields[0], fields[1]), pub
        except ValueError as exc:
            raise HostError(f"{pub}: {exc}") from None
    if not host.exists(private_path):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            key = load_ssh_private_key(host.read_bytes(private_path), password=None)
        except Exception:
            raise HostError(
                f"{private_path}: no .pub beside it and not readable as an unencrypted OpenSSH key"
            ) from None
    line = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    kind, blob = line.split()[:2]
    return describe_public_key(kind, blob), private_path


class HostKeysStrong(Check):
    meta = CheckMeta(
        id="GAR-SSH-021",
        area=AREA,
        item=ITEM,
        title="sshd's host keys are Ed25519, ECDSA or RSA of at least 3072 bits, never DSA",
        severity=Severity.MEDIUM,
        rationale="The host key is what clients pin; a DSA or short RSA key can be forged "
        "sooner, letting an attacker impersonate the server and catch your login.",
        remediation="ssh-keygen -t ed25519 -f /etc/ssh/ssh_host_ed25519_key; remove DSA and "
        "short RSA HostKey lines (regenerate RSA with -b 4096), then update known_hosts.",
        references=(SSHD_MAN + "#HostKey",),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        sshd = sshd_config(facts)
        configured = sshd.all("hostkey")
        origins = {o.value: o for o in configured}
        for path in sshd.host_keys():
            found = read_host_key(facts, path)
            if found is None:
                continue  # sshd skips missing keys (and says so in its log)
            info, source = found
            option = origins.get(path)
            where = setting_evidence(sshd, option, "").source if option else "default HostKey"
            evidence = Evidence(
                source=source,
                observed=f"{info.family} {info.bits} bits (HostKey from {where})",
                expected=f"ed25519, ecdsa, or rsa >= {MIN_HOST_RSA_BITS}",
            )
            if info.family == "dsa":
                yield self.failed(
                    "DSA host key in use", evidence, subject=path, severity=Severity.HIGH
                )
            elif info.family == "rsa" and info.bits < MIN_HOST_RSA_BITS:
                yield self.failed(f"RSA host key of {info.bits} bits", evidence, subject=path)
            else:
                yield self.passed(f"{info.family} {info.bits}-bit key", evidence, subject=path)
        for name in facts.host.listdir("/etc/ssh"):
            if name.startswith("ssh_host_dsa_key") and name.endswith(".pub"):
                path = "/etc/ssh/" + name.removesuffix(".pub")
                if path not in sshd.host_keys():
                    yield self.warned(
                        "unused DSA host key lying in /etc/ssh",
                        Evidence(source=path, observed="present, not a HostKey", expected="absent"),
                        subject=path,
                    )
