"""Checklist item 2: default-deny inbound and outbound, explicit allow-lists (nftables).

Live, the checks read `nft -a list ruleset`; under --root, the boot file ([firewall]
persist_path, default /etc/nftables.conf). See garrison.firewall.analysis for the nftables
semantics they rely on (a drop anywhere on a hook is final; an accept elsewhere is not).
"""

from __future__ import annotations

from collections.abc import Iterable

from garrison.checks.base import Check
from garrison.firewall.analysis import (
    HOOKS,
    Exposure,
    accept_alls,
    drop_chains,
    exposures,
    open_egress,
    reachable,
)
from garrison.firewall.audit_view import FirewallView, collect_firewall_view
from garrison.host.facts import Facts
from garrison.model import CheckMeta, Evidence, Finding, Severity

REF_NFT = "https://wiki.nftables.org/wiki-nftables/index.php/Configuring_chains"
FIX_APPLY = "Run `garrison firewall plan`, then `garrison firewall apply` and `confirm`."


def firewall_view(facts: Facts) -> FirewallView:
    return facts.get(collect_firewall_view)


class DefaultDropPolicies(Check):
    meta = CheckMeta(
        id="GAR-FW-001",
        area="firewall",
        item=2,
        title="Input, output and forward traffic is dropped unless a rule allows it",
        severity=Severity.HIGH,
        rationale="Without a default drop every new service, and every piece of malware "
        "phoning home, is reachable or can reach out the moment it starts.",
        remediation=FIX_APPLY,
        references=(REF_NFT,),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        view = firewall_view(facts)
        for hook in HOOKS:
            chains = drop_chains(view.ruleset, hook)
            if chains:
                c = chains[0]
                how = (
                    f"policy {c.policy}" if c.policy == "drop" else "ends in an unconditional drop"
                )
                yield self.passed(
                    f"{hook}: chain {c.label} {how}",
                    Evidence(view.source, f"chain {c.label} hook {hook} {how}", "drop"),
                    subject=hook,
                )
                continue
            others = [f"{c.label} policy {c.policy}" for c in view.ruleset.base_chains(hook)]
            observed = "; ".join(others) or view.note or f"no filter chain on hook {hook}"
            if hook == "forward" and facts.config.firewall.forward == "accept":
                yield self.warned(
                    "forward accepts by configuration ([firewall] forward = accept)",
                    Evidence(view.source, observed, "drop"),
                    subject=hook,
                )
                continue
            yield self.failed(
                f"{hook}: nothing drops by default",
                Evidence(view.source, observed, "a base chain with policy drop"),
                subject=hook,
            )


def _configured(facts: Facts) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for svc in facts.config.firewall.inbound:
        for proto in ("tcp", "udp") if svc.protocol == "both" else (svc.protocol,):
            out[(proto, str(svc.port))] = list(svc.sources)
    return out


class InboundPortsMatchConfig(Check):
    meta = CheckMeta(
        id="GAR-FW-002",
        area="firewall",
        item=2,
        title="Only the configured inbound ports are open, each from its configured sources",
        severity=Severity.HIGH,
        rationale="Every open port is attack surface; a forgotten debug or database port is a "
        "classic way in. Each exposed port is listed with the rule that opens it.",
        remediation="Remove the rule, or list the service in [[firewall.inbound]]; " + FIX_APPLY,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        view = firewall_view(facts)
        chains = drop_chains(view.ruleset, "input")
        if not chains:
            yield self.failed(
                "input is not default-deny: every listening port is exposed (see GAR-FW-001)",
                Evidence(view.source, view.note or "no drop-ending input chain", "policy drop"),
            )
            return
        per_chain = [exposures(view.ruleset, c) for c in chains]
        if all(everything for _ports, everything in per_chain):
            first = per_chain[0][1][0]
            yield self.failed(
                "every port is open: an accept-all precedes the drop (see GAR-FW-004)",
                Evidence(f"{view.source}: {first.where}", "all ports open", "per-port accepts"),
                subject="all ports",
            )
        # a port is open only if every drop-ending input chain accepts it
        keys = set.intersection(*({(e.protocol, e.port) for e in p} for p, _all in per_chain))
        configured = _configured(facts)
        for exp in per_chain[0][0]:
            if (exp.protocol, exp.port) not in keys:
                continue
            yield from self._judge(view, exp, configured)
        open_keys = {k for k in keys}
        for (proto, port), _src in configured.items():
            if (proto, port) not in open_keys and ("any", port) not in open_keys:
                yield self.warned(
                    f"{proto}/{port} is configured but no rule opens it",
                    Evidence(view.source, "no accept rule", f"{proto} dport {port} accept"),
                    subject=f"{proto}/{port}",
                )

    def _judge(
        self, view: FirewallView, exp: Exposure, configured: dict[tuple[str, str], list[str]]
    ) -> Iterable[Finding]:
        subject = f"{exp.protocol}/{exp.port}"
        origin = f"from {exp.sources}" if exp.sources else "from anywhere"
        ev = Evidence(f"{view.source}: {exp.where}", f"{subject} open {origin}")
        key = (exp.protocol, exp.port)
        matches = [
            k for k in configured if k == key or (exp.protocol == "any" and k[1] == exp.port)
        ]
        if not matches:
            yield self.failed(
                f"{subject} is open {origin} but not in [[firewall.inbound]]", ev, subject=subject
            )
        elif not exp.sources and any(configured[k] for k in matches):
            wanted = ", ".join(configured[matches[0]])
            yield self.failed(
                f"{subject} is open from anywhere; the config limits it to {wanted}",
                Evidence(ev.source, ev.observed, f"saddr in {wanted}"),
                subject=subject,
            )
        else:
            yield self.passed(f"{subject} open {origin} (configured)", ev, subject=subject)


class EgressLimitedToAllowList(Check):
    meta = CheckMeta(
        id="GAR-FW-003",
        area="firewall",
        item=2,
        title="Outbound connections go only to allow-listed destinations",
        severity=Severity.HIGH,
        rationale="Malware that cannot phone home is neutered: a stolen API key cannot be "
        "exfiltrated and a reverse shell cannot connect out.",
        remediation="List brokers in [[brokers]] and other destinations in [[firewall.egress]]; "
        + FIX_APPLY,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        view = firewall_view(facts)
        chains = drop_chains(view.ruleset, "output")
        if not chains:
            yield self.failed(
                "outbound is not default-deny: any process may connect anywhere",
                Evidence(view.source, view.note or "no drop-ending output chain", "policy drop"),
            )
            return
        for chain in chains:
            unlimited, limited = open_egress(view.ruleset, chain)
            for owner, rule in unlimited:
                where = f"handle {rule.handle}" if rule.handle is not None else f"line {rule.line}"
                yield self.failed(
                    f"chain {owner.label} accepts outbound traffic to any address",
                    Evidence(
                        f"{view.source}: chain {owner.label} {where}",
                        rule.text,
                        "ip daddr @allow-list",
                    ),
                    subject=f"{owner.label} {where}",
                )
            if not unlimited:
                yield self.passed(
                    f"chain {chain.label}: {limited} destination-limited accept rule(s), then drop",
                    Evidence(view.source, f"{limited} accepts with daddr", "daddr-limited accepts"),
                    subject=chain.label,
                )


class NoAcceptAllBeforeDrop(Check):
    meta = CheckMeta(
        id="GAR-FW-004",
        area="firewall",
        item=2,
        title="No accept-all rule defeats the default drop",
        severity=Severity.HIGH,
        rationale="An unconditional accept inside the chain that drops by default (added by "
        "hand, a script or a package) silently turns the firewall off. Accept-alls in other "
        "tables do not: nftables runs every base chain on a hook and a drop anywhere is final.",
        remediation="Delete the rule (`nft delete rule FAMILY TABLE CHAIN handle N`), or put "
        "what it was meant for in the config; " + FIX_APPLY,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        view = firewall_view(facts)
        if not any(drop_chains(view.ruleset, hook) for hook in HOOKS):
            yield self.skipped("no chain drops by default, so nothing to defeat (see GAR-FW-001)")
            return
        for hook in HOOKS:
            chains = drop_chains(view.ruleset, hook)
            if not chains:
                continue  # GAR-FW-001 reports it
            bad = accept_alls(r for c in chains for r in reachable(view.ruleset, c))
            for owner, rule in bad:
                where = f"handle {rule.handle}" if rule.handle is not None else f"line {rule.line}"
                yield self.failed(
                    f"{hook}: `{rule.text}` in {owner.label} accepts everything before the drop",
                    Evidence(
                        f"{view.source}: chain {owner.label} {where}", rule.text, "no accept-all"
                    ),
                    subject=f"{owner.label} {where}",
                )
            harmless = [
                (c, r)
                for c in view.ruleset.base_chains(hook)
                if c not in chains
                for r in c.rules
                if (c, r) in accept_alls([(c, r, "")])
            ]
            for owner, rule in harmless:
                yield self.passed(
                    f"{hook}: accept-all in {owner.label} does not override the drop in "
                    f"{chains[0].label} (every base chain must accept; a drop is final)",
                    Evidence(f"{view.source}: chain {owner.label}", rule.text),
                    subject=owner.label,
                )
            if not bad and not harmless:
                yield self.passed(
                    f"{hook}: no accept-all rule before the drop", subject=chains[0].label
                )
