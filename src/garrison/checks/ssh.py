"""SSH daemon checks (checklist box 3): who may log in, how, and with which cryptography.

Values come from the effective sshd configuration (`sshd -T` live, the offline parser under
--root); every finding names the file:line that set the value, or says it is sshd's default.
Host keys, authorized_keys and the provider-console MFA attestation are in checks/ssh_keys.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from garrison.checks.base import Check
from garrison.host.collectors.sshd import DEFAULT_ORIGIN, SshdConfig, collect_sshd
from garrison.host.collectors.sshd_parse import SshdOption
from garrison.host.facts import Facts
from garrison.model import CheckMeta, Evidence, Finding, Severity

AREA = "ssh"
ITEM = 3
SSHD_MAN = "https://man.openbsd.org/sshd_config"


def sshd_config(facts: Facts) -> SshdConfig:
    return facts.get(collect_sshd)


def setting_evidence(sshd: SshdConfig, option: SshdOption, expected: str) -> Evidence:
    """Evidence for one setting: where it was set (or that it is the default) and its value."""
    if option.origin == DEFAULT_ORIGIN:
        source = f"OpenSSH default (not set in {sshd.config_path} or its includes)"
    else:
        source = option.origin
    written = option.written_as or option.keyword
    return Evidence(source=source, observed=f"{written} {option.value}", expected=expected)


def key_is_always_required(sshd: SshdConfig) -> bool:
    """True when AuthenticationMethods makes every login present a key first (MFA setups)."""
    methods = sshd.effective("authenticationmethods").lower
    if methods in ("", "any"):
        return False
    return all("publickey" in chain.split(",") for chain in methods.split())


class SshdSettingCheck(Check):
    """A check that one sshd keyword has one of a set of secure values."""

    keyword: ClassVar[str]
    secure: ClassVar[frozenset[str]]
    expected: ClassVar[str]

    def run(self, facts: Facts) -> Iterable[Finding]:
        sshd = sshd_config(facts)
        option = sshd.effective(self.keyword)
        evidence = setting_evidence(sshd, option, self.expected)
        if option.lower in self.secure:
            yield self.passed(f"{self.keyword} is {option.value}", evidence)
        else:
            yield self.insecure(sshd, option, evidence)

    def insecure(self, sshd: SshdConfig, option: SshdOption, evidence: Evidence) -> Finding:
        return self.failed(f"{self.keyword} is {option.value or '(empty)'}", evidence)


class SshdConfigKnown(Check):
    meta = CheckMeta(
        id="GAR-SSH-001",
        area=AREA,
        item=ITEM,
        title="sshd's effective configuration is readable and valid",
        severity=Severity.MEDIUM,
        rationale="Every other SSH check is only as good as the configuration it reads; "
        "`sshd -T` shows what sshd really applies, includes and defaults resolved.",
        remediation="Make sshd -t pass (fix the line it names); run garrison as root so sshd -T "
        "can read the host keys.",
        references=("https://man.openbsd.org/sshd#T",),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        sshd = sshd_config(facts)
        files = ", ".join(sshd.files) or sshd.config_path
        for problem in sshd.problems:
            evidence = Evidence(
                source=problem.split(": ", 1)[0],
                observed=problem,
                expected="every Include resolves, no loops",
            )
            if sshd.from_sshd:
                # sshd itself accepted the files; only garrison's parser could not follow.
                yield self.warned(f"parser could not follow: {problem}", evidence)
            else:
                yield self.failed(f"sshd would reject its configuration: {problem}", evidence)
        if sshd.from_sshd:
            yield self.passed(
                f"effective configuration from `{sshd.source}` (files: {files})",
                Evidence(source=sshd.source, observed="exit 0"),
            )
        elif sshd.fallback_reason.startswith("offline image"):
            yield self.passed(
                f"parsed {files} (offline; Match blocks recorded, not applied)",
                Evidence(source=sshd.source, observed=f"{len(sshd.files)} file(s) parsed"),
            )
        else:
            yield self.warned(
                f"sshd -T unusable, so parsed {files} instead: {sshd.fallback_reason}",
                Evidence(
                    source=sshd.source, observed=sshd.fallback_reason, expected="sshd -T exits 0"
                ),
            )


class RootLoginDisabled(SshdSettingCheck):
    meta = CheckMeta(
        id="GAR-SSH-002",
        area=AREA,
        item=ITEM,
        title="SSH refuses direct root login",
        severity=Severity.HIGH,
        rationale="A root login skips per-user audit trails and gives brute force one target; "
        "the checklist asks for root over SSH to be disabled entirely.",
        remediation="PermitRootLogin no (log in as a user, then sudo).",
        references=(SSHD_MAN + "#PermitRootLogin", "CIS Debian 12 5.1.20"),
    )
    keyword = "PermitRootLogin"
    secure = frozenset({"no"})
    expected = "no"

    def insecure(self, sshd: SshdConfig, option: SshdOption, evidence: Evidence) -> Finding:
        meaning = {
            "yes": "root may log in with a password or a key",
            "prohibit-password": "root may log in with a key",
            "without-password": "root may log in with a key (old name of prohibit-password)",
            "forced-commands-only": "root may run forced commands with a key",
        }.get(option.lower, "root login is not refused")
        return self.failed(f"PermitRootLogin {option.value}: {meaning}", evidence)


class PasswordLoginDisabled(SshdSettingCheck):
    meta = CheckMeta(
        id="GAR-SSH-003",
        area=AREA,
        item=ITEM,
        title="SSH refuses password logins",
        severity=Severity.HIGH,
        rationale="Passwords can be guessed, phished and reused; keys cannot be brute-forced "
        "from the internet.",
        remediation="PasswordAuthentication no (after installing your public key).",
        references=(SSHD_MAN + "#PasswordAuthentication",),
    )
    keyword = "PasswordAuthentication"
    secure = frozenset({"no"})
    expected = "no"

    def insecure(self, sshd: SshdConfig, option: SshdOption, evidence: Evidence) -> Finding:
        if key_is_always_required(sshd):
            methods = sshd.effective("authenticationmethods").value
            return self.passed(
                f"password only as a second factor (AuthenticationMethods {methods})", evidence
            )
        return self.failed(f"password logins are allowed ({option.value})", evidence)


class KeyboardInteractiveDisabled(SshdSettingCheck):
    meta = CheckMeta(
        id="GAR-SSH-004",
        area=AREA,
        item=ITEM,
        title="SSH keyboard-interactive (challenge-response) login is off",
        severity=Severity.HIGH,
        rationale="With UsePAM yes, keyboard-interactive asks PAM for the password: password "
        "logins stay open even with PasswordAuthentication no.",
        remediation="KbdInteractiveAuthentication no (ChallengeResponseAuthentication is its "
        "old name), unless AuthenticationMethods requires publickey first (TOTP as 2nd factor).",
        references=(SSHD_MAN + "#KbdInteractiveAuthentication",),
    )
    keyword = "KbdInteractiveAuthentication"
    secure = frozenset({"no"})
    expected = "no"

    def insecure(self, sshd: SshdConfig, option: SshdOption, evidence: Evidence) -> Finding:
        if key_is_always_required(sshd):
            return self.passed(
                "keyboard-interactive only after a key (AuthenticationMethods "
                f"{sshd.effective('authenticationmethods').value})",
                evidence,
            )
        pam = sshd.effective("usepam")
        via_pam = " and UsePAM yes: PAM asks for the password" if pam.lower == "yes" else ""
        return self.failed(
            f"keyboard-interactive login is on{via_pam}",
            evidence,
            setting_evidence(sshd, pam, "(any)"),
        )


class PubkeyLoginEnabled(SshdSettingCheck):
    meta = CheckMeta(
        id="GAR-SSH-005",
        area=AREA,
        item=ITEM,
        title="SSH public-key authentication is enabled",
        severity=Severity.MEDIUM,
        rationale="Keys are the strong login method; with them off, only weaker methods remain.",
        remediation="PubkeyAuthentication yes",
        references=(SSHD_MAN + "#PubkeyAuthentication",),
    )
    keyword = "PubkeyAuthentication"
    secure = frozenset({"yes"})
    expected = "yes"


class EmptyPasswordsRefused(SshdSettingCheck):
    meta = CheckMeta(
        id="GAR-SSH-006",
        area=AREA,
        item=ITEM,
        title="SSH refuses accounts with empty passwords",
        severity=Severity.CRITICAL,
        rationale="An account without a password would be open to anyone who knows its name.",
        remediation="PermitEmptyPasswords no",
        references=(SSHD_MAN + "#PermitEmptyPasswords",),
    )
    keyword = "PermitEmptyPasswords"
    secure = frozenset({"no"})
    expected = "no"


class AuthTriesLimited(Check):
    meta = CheckMeta(
        id="GAR-SSH-007",
        area=AREA,
        item=ITEM,
        title="SSH allows few authentication attempts per connection",
        severity=Severity.MEDIUM,
        rationale="Each connection may try this many keys/passwords; a low limit slows "
        "guessing and makes it louder in the logs.",
        remediation="MaxAuthTries 4 (or at most [ssh].max_auth_tries).",
        references=(SSHD_MAN + "#MaxAuthTries",),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        sshd = sshd_config(facts)
        limit = facts.config.ssh.max_auth_tries
        option = sshd.effective("maxauthtries")
        evidence = setting_evidence(sshd, option, f"<= {limit} ([ssh].max_auth_tries)")
        if option.value.isdigit() and 0 < int(option.value) <= limit:
            yield self.passed(f"MaxAuthTries {option.value}", evidence)
        else:
            yield self.failed(f"MaxAuthTries {option.value} exceeds {limit}", evidence)


class X11ForwardingOff(SshdSettingCheck):
    meta = CheckMeta(
        id="GAR-SSH-012",
        area=AREA,
        item=ITEM,
        title="SSH X11 forwarding is off",
        severity=Severity.LOW,
        rationale="A trading server has no display; X11 forwarding only adds attack surface "
        "back to the administrator's desktop.",
        remediation="X11Forwarding no",
        references=(SSHD_MAN + "#X11Forwarding",),
    )
    keyword = "X11Forwarding"
    secure = frozenset({"no"})
    expected = "no"


class UserEnvironmentIgnored(SshdSettingCheck):
    meta = CheckMeta(
        id="GAR-SSH-013",
        area=AREA,
        item=ITEM,
        title="SSH ignores users' ~/.ssh/environment",
        severity=Severity.MEDIUM,
        rationale="Environment from the user (LD_PRELOAD, PATH) can bypass forced commands and "
        "key restrictions.",
        remediation="PermitUserEnvironment no",
        references=(SSHD_MAN + "#PermitUserEnvironment",),
    )
    keyword = "PermitUserEnvironment"
    secure = frozenset({"no"})
    expected = "no"


class StrictModesOn(SshdSettingCheck):
    meta = CheckMeta(
        id="GAR-SSH-018",
        area=AREA,
        item=ITEM,
        title="sshd refuses keys from files others can write (StrictModes)",
        severity=Severity.MEDIUM,
        rationale="Without StrictModes, a world-writable home or authorized_keys lets any "
        "local user add a key to another account.",
        remediation="StrictModes yes",
        references=(SSHD_MAN + "#StrictModes",),
    )
    keyword = "StrictModes"
    secure = frozenset({"yes"})
    expected = "yes"


class HostBasedAuthOff(Check):
    meta = CheckMeta(
        id="GAR-SSH-017",
        area=AREA,
        item=ITEM,
        title="SSH host-based and rhosts authentication are off",
        severity=Severity.HIGH,
        rationale="Host-based trust lets anyone who controls another host log in without a "
        "key of their own.",
        remediation="HostbasedAuthentication no and IgnoreRhosts yes",
        references=(SSHD_MAN + "#HostbasedAuthentication", SSHD_MAN + "#IgnoreRhosts"),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        sshd = sshd_config(facts)
        hostbased = sshd.effective("hostbasedauthentication")
        rhosts = sshd.effective("ignorerhosts")
        evidence = (setting_evidence(sshd, hostbased, "no"), setting_evidence(sshd, rhosts, "yes"))
        if hostbased.lower == "no" and rhosts.lower == "yes":
            yield self.passed("host-based authentication off, .rhosts ignored", *evidence)
        else:
            yield self.failed(
                f"HostbasedAuthentication {hostbased.value}, IgnoreRhosts {rhosts.value}", *evidence
            )
