"""SSH session checks (checklist box 3): time-outs, forwarding, logging, Match overrides."""

from __future__ import annotations

from collections.abc import Iterable

from garrison.checks.base import Check
from garrison.checks.ssh import AREA, ITEM, SSHD_MAN, setting_evidence, sshd_config
from garrison.host.collectors.sshd_parse import SshdOption
from garrison.host.facts import Facts
from garrison.model import CheckMeta, Evidence, Finding, Severity

MAX_LOGIN_GRACE_S = 60
MAX_CLIENT_ALIVE_S = 900
#: LogLevel values that record the fingerprint of the key each login used.
VERBOSE_LEVELS = frozenset({"verbose", "debug", "debug1", "debug2", "debug3"})

#: Settings a Match block must not turn back on: (keyword, values that weaken it).
WEAKENING_IN_MATCH: dict[str, frozenset[str]] = {
    "permitrootlogin": frozenset(
        {"yes", "prohibit-password", "without-password", "forced-commands-only"}
    ),
    "passwordauthentication": frozenset({"yes"}),
    "kbdinteractiveauthentication": frozenset({"yes"}),
    "permitemptypasswords": frozenset({"yes"}),
    "pubkeyauthentication": frozenset({"no"}),
    "hostbasedauthentication": frozenset({"yes"}),
    "permituserenvironment": frozenset({"yes"}),
}


class LoginGraceShort(Check):
    meta = CheckMeta(
        id="GAR-SSH-014",
        area=AREA,
        item=ITEM,
        title="SSH drops unauthenticated connections within 60 seconds",
        severity=Severity.LOW,
        rationale="Half-open logins hold one of MaxStartups' slots; a long grace time lets a "
        "few clients lock everyone (you included) out.",
        remediation="LoginGraceTime 30",
        references=(SSHD_MAN + "#LoginGraceTime",),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        sshd = sshd_config(facts)
        option = sshd.effective("logingracetime")
        seconds = sshd.seconds("logingracetime")
        evidence = setting_evidence(sshd, option, f"1-{MAX_LOGIN_GRACE_S}s")
        if seconds is not None and 0 < seconds <= MAX_LOGIN_GRACE_S:
            yield self.passed(f"LoginGraceTime {seconds}s", evidence)
        elif seconds == 0:
            yield self.failed(
                "LoginGraceTime 0: unauthenticated connections never time out", evidence
            )
        else:
            yield self.failed(
                f"LoginGraceTime {option.value} is longer than {MAX_LOGIN_GRACE_S}s", evidence
            )


class IdleSessionsEnd(Check):
    meta = CheckMeta(
        id="GAR-SSH-015",
        area=AREA,
        item=ITEM,
        title="SSH probes idle clients and drops dead sessions",
        severity=Severity.LOW,
        rationale="A forgotten or half-dead session is a logged-in shell nobody watches.",
        remediation="ClientAliveInterval 300 and ClientAliveCountMax 3 (a dead client is "
        "dropped after 15 minutes).",
        references=(SSHD_MAN + "#ClientAliveInterval",),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        sshd = sshd_config(facts)
        option = sshd.effective("clientaliveinterval")
        seconds = sshd.seconds("clientaliveinterval")
        evidence = setting_evidence(sshd, option, f"1-{MAX_CLIENT_ALIVE_S}s")
        if seconds is not None and 0 < seconds <= MAX_CLIENT_ALIVE_S:
            yield self.passed(f"ClientAliveInterval {seconds}s", evidence)
        elif seconds == 0:
            yield self.warned("ClientAliveInterval 0: dead sessions are never detected", evidence)
        else:
            yield self.warned(
                f"ClientAliveInterval {option.value} is longer than {MAX_CLIENT_ALIVE_S}s", evidence
            )


class ForwardingRestricted(Check):
    meta = CheckMeta(
        id="GAR-SSH-016",
        area=AREA,
        item=ITEM,
        title="SSH TCP and agent forwarding and tunnels are off (advisory)",
        severity=Severity.LOW,
        rationale="Forwarding turns a stolen login into a pivot (tunnels past the firewall, "
        "use of the admin's agent). Many admins rely on it, so this only warns.",
        remediation="AllowTcpForwarding no, AllowAgentForwarding no (or DisableForwarding yes) "
        "and PermitTunnel no; re-enable per user in a Match block when needed.",
        references=(SSHD_MAN + "#AllowTcpForwarding", SSHD_MAN + "#DisableForwarding"),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        sshd = sshd_config(facts)
        disable = sshd.effective("disableforwarding")
        checked = [sshd.effective("permittunnel")]  # DisableForwarding does not cover tunnels
        if disable.lower != "yes":
            tcp = sshd.effective("allowtcpforwarding")
            checked += [tcp, sshd.effective("allowagentforwarding")]
            if tcp.lower != "no":
                # Remote forwards bound to every interface expose them to the internet.
                checked.append(sshd.effective("gatewayports"))
        evidence = [setting_evidence(sshd, o, "no") for o in checked]
        if disable.lower == "yes":
            evidence.insert(0, setting_evidence(sshd, disable, "yes"))
        open_ones = [f"{o.keyword} {o.value}" for o in checked if o.lower != "no"]
        if open_ones:
            yield self.warned(f"forwarding allowed: {', '.join(open_ones)}", *evidence)
        elif disable.lower == "yes":
            yield self.passed("DisableForwarding yes, PermitTunnel no", *evidence)
        else:
            yield self.passed("TCP and agent forwarding and tunnels off", *evidence)


class KeyFingerprintsLogged(Check):
    meta = CheckMeta(
        id="GAR-SSH-019",
        area=AREA,
        item=ITEM,
        title="sshd logs which key each login used (LogLevel VERBOSE)",
        severity=Severity.LOW,
        rationale="At INFO, the log says 'Accepted publickey for bob' but not which of bob's "
        "keys; after a key leaks, you need to know which one was used and when.",
        remediation="LogLevel VERBOSE",
        references=(SSHD_MAN + "#LogLevel",),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        sshd = sshd_config(facts)
        option = sshd.effective("loglevel")
        evidence = setting_evidence(sshd, option, "VERBOSE")
        if option.lower in VERBOSE_LEVELS:
            yield self.passed(f"LogLevel {option.value}", evidence)
        else:
            yield self.warned(f"LogLevel {option.value}: key fingerprints are not logged", evidence)


class MatchBlocksKeepPolicy(Check):
    meta = CheckMeta(
        id="GAR-SSH-020",
        area=AREA,
        item=ITEM,
        title="No sshd Match block turns root, password or empty-password login back on",
        severity=Severity.HIGH,
        rationale="`sshd -T` and the global settings hide Match blocks: `Match Address "
        "0.0.0.0/0` with PasswordAuthentication yes silently undoes the hardening.",
        remediation="Remove the weakening setting from the Match block named in the evidence "
        "(check the result with sshd -T -C user=NAME,addr=IP,host=NAME).",
        references=(SSHD_MAN + "#Match",),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        sshd = sshd_config(facts)
        if not sshd.match_blocks:
            yield self.passed(
                "no Match blocks",
                Evidence(source=sshd.config_path, observed="no Match lines in the config files"),
            )
            return
        for block in sshd.match_blocks:
            weakening = [o for o in block.options if _weakens(o)]
            subject = f"Match {block.criteria}"
            if weakening:
                evidence = [
                    Evidence(
                        source=o.origin,
                        observed=f"{o.written_as or o.keyword} {o.value}",
                        expected=f"not set here (inside {subject} at {block.origin})",
                    )
                    for o in weakening
                ]
                names = ", ".join(f"{o.keyword} {o.value}" for o in weakening)
                yield self.failed(
                    f"re-enables {names} (block at {block.origin})", *evidence, subject=subject
                )
            else:
                yield self.passed(
                    "keeps the login policy",
                    Evidence(source=block.origin, observed=subject),
                    subject=subject,
                )


def _weakens(option: SshdOption) -> bool:
    bad = WEAKENING_IN_MATCH.get(option.keyword)
    return bad is not None and option.lower in bad


class FirewallAdmitsSsh(Check):
    meta = CheckMeta(
        id="GAR-SSH-029",
        area=AREA,
        item=ITEM,
        title="The firewall policy admits every port sshd listens on",
        severity=Severity.HIGH,
        rationale="A default-deny policy ([firewall].inbound) without sshd's real port locks "
        "every administrator out the moment it is applied; a moved Port line is the usual "
        "cause.",
        remediation='Add [[firewall.inbound]] name = "ssh", port = PORT (protocol tcp) for '
        "each port in the evidence, or change sshd's Port back.",
        references=(SSHD_MAN + "#Port",),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        sshd = sshd_config(facts)
        admitted = {
            s.port: s for s in facts.config.firewall.inbound if s.protocol in ("tcp", "both")
        }
        port_options = sshd.all("port") or (sshd.effective("port"),)
        source = ", ".join(sorted({o.origin for o in port_options}))
        for port in sorted(sshd.ports()):
            evidence = Evidence(
                source=f"{source}; config [firewall].inbound",
                observed=f"sshd port {port}; firewall admits tcp "
                f"{', '.join(map(str, sorted(admitted))) or 'nothing'}",
                expected=f"tcp {port} in [firewall].inbound",
            )
            service = admitted.get(port)
            if service is None:
                yield self.failed(
                    f"sshd listens on {port} but [firewall].inbound does not admit it: "
                    "applying the firewall would lock SSH out",
                    evidence,
                    subject=f"port {port}",
                )
            else:
                whom = f" from {', '.join(service.sources)}" if service.sources else ""
                yield self.passed(
                    f"admitted{whom} by [[firewall.inbound]] {service.name}",
                    evidence,
                    subject=f"port {port}",
                )


class LoginsLimitedToNamedAccounts(Check):
    meta = CheckMeta(
        id="GAR-SSH-030",
        area=AREA,
        item=ITEM,
        title="SSH logins are limited to named users or groups (advisory)",
        severity=Severity.LOW,
        rationale="Without AllowUsers/AllowGroups every account with a key or password can log "
        "in, including service accounts a bot framework or package created.",
        remediation="AllowGroups sshusers (and add the administrators to that group), or "
        "AllowUsers alice bob.",
        references=(SSHD_MAN + "#AllowGroups", SSHD_MAN + "#AllowUsers"),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        sshd = sshd_config(facts)
        limits = [*sshd.all("allowusers"), *sshd.all("allowgroups")]
        if limits:
            names = "; ".join(f"{o.keyword} {o.value}" for o in limits)
            yield self.passed(
                f"limited: {names}",
                *(setting_evidence(sshd, o, "a list of accounts") for o in limits),
            )
        else:
            yield self.warned(
                "any account may log in (no AllowUsers/AllowGroups)",
                Evidence(
                    source=f"{sshd.config_path} and its includes",
                    observed="AllowUsers and AllowGroups unset",
                    expected="AllowUsers or AllowGroups",
                ),
            )
