"""Who can get in (checklist box 3): authorized keys of every account, and the provider console.

Every key line is flagged with its user, file and line. ECDSA keys only warn: the NIST curves
are not broken, but each ECDSA signature needs a fresh random nonce and a repeated or biased
nonce (a cloned VM snapshot, a weak RNG at boot) leaks the private key; Ed25519 derives its
nonce deterministically and has no such failure mode. Security-key (sk-) ECDSA keys sign
inside the token and pass.
"""

from __future__ import annotations

from collections.abc import Iterable

from garrison.checks.attestation import attestation_finding
from garrison.checks.base import Check, CheckSkipped
from garrison.checks.ssh import AREA, ITEM, setting_evidence, sshd_config
from garrison.errors import GarrisonError
from garrison.host.collectors.authorized_keys import (
    AuthorizedKey,
    AuthorizedKeys,
    collect_authorized_keys,
)
from garrison.host.collectors.sshd import SshdConfig
from garrison.host.facts import Facts
from garrison.model import CheckMeta, Evidence, Finding, Severity

MFA_ATTESTATION = "provider_mfa"
AUTHORIZED_KEYS_MAN = "https://man.openbsd.org/sshd#AUTHORIZED_KEYS_FILE_FORMAT"


def authorized_keys(facts: Facts) -> AuthorizedKeys:
    return facts.get(collect_authorized_keys)


def sshd_or_none(facts: Facts) -> SshdConfig | None:
    """The sshd config, or None when there is none (keys are still audited without it)."""
    try:
        return sshd_config(facts)
    except (CheckSkipped, GarrisonError):
        return None


def key_evidence(key: AuthorizedKey, expected: str) -> Evidence:
    comment = f" ({key.comment})" if key.comment else ""
    observed = f"{key.key.key_type} {key.key.bits} bits {key.key.fingerprint}{comment}"
    return Evidence(source=key.where, observed=observed, expected=expected)


class KeyFamilyCheck(Check):
    """Per-key verdicts over every authorized key; passes once when none is flagged."""

    def verdict(self, key: AuthorizedKey, facts: Facts) -> Finding | None:
        raise NotImplementedError

    def run(self, facts: Facts) -> Iterable[Finding]:
        found = authorized_keys(facts)
        flagged = [f for k in found.keys if (f := self.verdict(k, facts)) is not None]
        yield from flagged
        if not flagged:
            where = ", ".join(f.path for f in found.files) or "no authorized_keys files"
            yield self.passed(
                f"{len(found.keys)} authorized key(s) checked",
                Evidence(source=where, observed=f"{len(found.keys)} keys"),
            )


class NoDsaAuthorizedKeys(KeyFamilyCheck):
    meta = CheckMeta(
        id="GAR-SSH-022",
        area=AREA,
        item=ITEM,
        title="No account accepts a DSA key",
        severity=Severity.HIGH,
        rationale="DSA keys are 1024 bits with SHA-1 signatures; OpenSSH no longer accepts "
        "them by default, and a re-enabled algorithm list would let them back in.",
        remediation="Replace the key with ssh-keygen -t ed25519 and delete the DSA line.",
        references=(AUTHORIZED_KEYS_MAN,),
    )

    def verdict(self, key: AuthorizedKey, facts: Facts) -> Finding | None:
        if key.key.family != "dsa":
            return None
        return self.failed(
            f"accepts a DSA key at {key.where}",
            key_evidence(key, "ed25519 or rsa >= 4096"),
            subject=key.user,
        )


class RsaKeysLongEnough(KeyFamilyCheck):
    meta = CheckMeta(
        id="GAR-SSH-023",
        area=AREA,
        item=ITEM,
        title="Authorized RSA keys have at least [ssh].min_rsa_bits bits (4096)",
        severity=Severity.MEDIUM,
        rationale="The checklist asks for 4096-bit keys; keys under 2048 bits are within "
        "reach of factoring and fail at HIGH.",
        remediation="ssh-keygen -t ed25519 (or -t rsa -b 4096), install the new key, delete "
        "the old line.",
        references=(AUTHORIZED_KEYS_MAN, "NIST SP 800-57 Part 1 Rev. 5 table 2"),
    )

    def verdict(self, key: AuthorizedKey, facts: Facts) -> Finding | None:
        minimum = facts.config.ssh.min_rsa_bits
        if key.key.family != "rsa" or key.key.bits >= minimum:
            return None
        severity = Severity.HIGH if key.key.bits < 2048 else self.meta.severity
        return self.failed(
            f"accepts a {key.key.bits}-bit RSA key at {key.where}",
            key_evidence(key, f"rsa >= {minimum} bits ([ssh].min_rsa_bits)"),
            subject=key.user,
            severity=severity,
        )


class NoEcdsaAuthorizedKeys(KeyFamilyCheck):
    meta = CheckMeta(
        id="GAR-SSH-024",
        area=AREA,
        item=ITEM,
        title="Authorized keys are Ed25519 or RSA rather than ECDSA (advisory)",
        severity=Severity.LOW,
        rationale="ECDSA leaks the private key if a signature nonce ever repeats or is biased "
        "(cloned VM snapshots, weak boot entropy); Ed25519 has no such failure mode.",
        remediation="Prefer ssh-keygen -t ed25519 (or an sk- security key).",
        references=("https://safecurves.cr.yp.to/",),
    )

    def verdict(self, key: AuthorizedKey, facts: Facts) -> Finding | None:
        if key.key.family != "ecdsa":
            return None
        return self.warned(
            f"accepts an ECDSA key at {key.where}",
            key_evidence(key, "ed25519"),
            subject=key.user,
        )


class RootKeysRestricted(Check):
    meta = CheckMeta(
        id="GAR-SSH-025",
        area=AREA,
        item=ITEM,
        title="root's authorized keys are absent or restricted",
        severity=Severity.MEDIUM,
        rationale="A key without options in root's authorized_keys is a full root shell the "
        "moment PermitRootLogin allows keys; with PermitRootLogin no it is a dormant one.",
        remediation="Delete root's keys (log in as a user and sudo), or limit each to what it "
        'is for: restrict,from="ADDR",command="..." ssh-ed25519 ...',
        references=(AUTHORIZED_KEYS_MAN,),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        found = authorized_keys(facts)
        root_keys = [k for k in found.keys if k.user == "root"]
        unrestricted = [k for k in root_keys if not k.options.strip()]
        if not unrestricted:
            count = len(root_keys)
            yield self.passed(
                "root has no keys" if not count else f"all {count} root key(s) carry options",
                Evidence(source="root's authorized_keys", observed=f"{count} key(s)"),
            )
            return
        sshd = sshd_or_none(facts)
        root_login = sshd.effective("permitrootlogin").lower if sshd else "prohibit-password"
        for key in unrestricted:
            evidence = key_evidence(key, "no key, or one with restrict/from=/command=")
            if root_login == "no":
                yield self.warned(
                    f"unrestricted root key at {key.where} (dormant: PermitRootLogin no)",
                    evidence,
                    subject="root",
                )
            else:
                yield self.failed(
                    f"unrestricted root key at {key.where} and PermitRootLogin {root_login}",
                    evidence,
                    subject="root",
                )


class KeyFilesPrivate(Check):
    meta = CheckMeta(
        id="GAR-SSH-026",
        area=AREA,
        item=ITEM,
        title="authorized_keys files and their directories are writable only by their owner",
        severity=Severity.HIGH,
        rationale="Whoever can write another account's authorized_keys (or its .ssh or home "
        "directory) can log in as that account.",
        remediation="chown USER: the file and ~/.ssh; chmod 600 the file, 700 ~/.ssh, and "
        "go-w the home directory.",
        references=("https://man.openbsd.org/sshd#FILES",),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        found = authorized_keys(facts)
        for kf in found.files:
            problems: list[str] = []
            if kf.mode & 0o022:
                problems.append(f"file mode {kf.mode:04o} is group/world-writable")
            if kf.owner_uid not in (kf.uid, 0):
                problems.append(f"file owned by uid {kf.owner_uid}, not {kf.user}")
            problems += [f"{d} is group/world-writable" for d in kf.writable_parents]
            problems += [f"{d} is owned by another user" for d in kf.foreign_parents]
            evidence = Evidence(
                source=kf.path,
                observed=f"mode {kf.mode:04o}, uid {kf.owner_uid}",
                expected=f"owner {kf.user} or root, no group/other write",
            )
            if problems:
                yield self.failed("; ".join(problems), evidence, subject=kf.user)
            else:
                yield self.passed(f"{kf.path} is private", evidence, subject=kf.user)
        if not found.files:
            yield self.passed(
                "no authorized_keys files",
                Evidence(
                    source="AuthorizedKeysFile " + " ".join(found.patterns), observed="none found"
                ),
            )


class KeyFilesParse(Check):
    meta = CheckMeta(
        id="GAR-SSH-027",
        area=AREA,
        item=ITEM,
        title="Every authorized_keys line is a readable key",
        severity=Severity.LOW,
        rationale="A garbled or unreadable line is a key nobody can audit: a paste accident "
        "at best, a hidden backdoor written in a form sshd accepts and tools skip at worst.",
        remediation="Fix or delete the line named in the evidence (ssh-keygen -l -f FILE "
        "lists what sshd sees).",
        references=(AUTHORIZED_KEYS_MAN,),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        found = authorized_keys(facts)
        sshd = sshd_or_none(facts)
        command = sshd.effective("authorizedkeyscommand") if sshd else None
        unaudited = bool(sshd and command and command.lower not in ("", "none"))
        if sshd and command and unaudited:
            yield self.warned(
                "keys also come from AuthorizedKeysCommand, which garrison cannot audit",
                setting_evidence(sshd, command, "none, or a command you audit separately"),
            )
        for problem in found.problems:
            yield self.warned(
                f"{problem.where}: {problem.problem}",
                Evidence(
                    source=problem.where, observed=problem.problem, expected="a public key line"
                ),
                subject=problem.user,
            )
        if not found.problems and not unaudited:
            yield self.passed(
                f"{len(found.keys)} key line(s) parsed",
                Evidence(
                    source=", ".join(f.path for f in found.files) or "-",
                    observed="no unreadable lines",
                ),
            )


class ProviderConsoleMfa(Check):
    meta = CheckMeta(
        id="GAR-SSH-028",
        area=AREA,
        item=ITEM,
        title="MFA protects the VPS provider's console (attested)",
        severity=Severity.HIGH,
        rationale="The provider's web console can reset root, open a console or snapshot the "
        "disk: it bypasses every SSH control. garrison cannot see it, so a person attests it.",
        remediation="Turn on MFA (TOTP or a security key) for every account of the provider "
        'panel, then record it: [attestations.provider_mfa] date = 2026-01-31, by = "name" '
        "(valid_days = 90 by default).",
        references=(
            "https://cheatsheetseries.owasp.org/cheatsheets/"
            "Multifactor_Authentication_Cheat_Sheet.html",
        ),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        yield attestation_finding(
            self, facts.config.attestations, MFA_ATTESTATION, "MFA on the provider console"
        )
