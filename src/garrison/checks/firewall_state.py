"""Checklist item 2, the state around the ruleset: no iptables-legacy rules beside nftables,
the boot file matching what is live, IPv6 covered as well as IPv4 (see checks/firewall.py for
the policy checks themselves)."""

from __future__ import annotations

from collections.abc import Iterable

from garrison.checks.base import Check
from garrison.checks.firewall import FIX_APPLY, firewall_view
from garrison.errors import HostError
from garrison.firewall import nft
from garrison.firewall.analysis import (
    drop_chains,
    ends_in_drop,
)
from garrison.host.facts import Facts
from garrison.model import CheckMeta, Evidence, Finding, Severity


class NoIptablesLegacyRules(Check):
    meta = CheckMeta(
        id="GAR-FW-005",
        area="firewall",
        item=2,
        title="No iptables-legacy rules exist beside nftables",
        severity=Severity.MEDIUM,
        rationale="iptables-legacy rules live outside nftables: `nft list ruleset` does not show "
        "them, so they can NAT, redirect or open paths no nft-based audit sees.",
        remediation="Move them into the garrison config, then `iptables-legacy -F` and "
        "`iptables-legacy -X` (and ip6tables-legacy); prefer iptables-nft if a tool needs it.",
        needs_live=True,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        host = facts.host
        for tool, names in (
            ("iptables-legacy-save", "/proc/net/ip_tables_names"),
            ("ip6tables-legacy-save", "/proc/net/ip6_tables_names"),
        ):
            # no legacy table loaded means no legacy rule; saves a command (and loads nothing)
            loaded = (host.read_text_or_none(names) or "").split()
            if not loaded:
                yield self.passed(
                    f"{tool}: no legacy table loaded", Evidence(names, "empty"), subject=tool
                )
                continue
            result = host.run([tool])
            if result.missing:
                yield self.warned(
                    f"legacy tables {loaded} loaded but {tool} is missing", subject=tool
                )
                continue
            rules = [ln for ln in result.stdout.splitlines() if ln.startswith("-A ")]
            if rules:
                yield self.failed(
                    f"{len(rules)} iptables-legacy rule(s) outside nftables",
                    Evidence(
                        tool, "; ".join(rules[:5]) + (" ..." if len(rules) > 5 else ""), "none"
                    ),
                    subject=tool,
                )
            else:
                yield self.passed(f"{tool}: tables {loaded} hold no rules", subject=tool)


class PersistedMatchesLive(Check):
    meta = CheckMeta(
        id="GAR-FW-006",
        area="firewall",
        item=2,
        title="The ruleset loaded at boot equals the live one",
        severity=Severity.MEDIUM,
        rationale="A rule added live but not persisted vanishes at reboot; one persisted but "
        "not live means the running host is not what was reviewed.",
        remediation="`garrison firewall status` shows the drift; re-run `garrison firewall "
        "apply` and `confirm` (confirm persists).",
        needs_live=True,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        host, path = facts.host, facts.config.firewall.persist_path
        if host.read_text_or_none(path) is None:
            yield self.failed(
                f"nothing persisted at {path}: the firewall is gone after a reboot",
                Evidence(path, "no such file", "the confirmed ruleset"),
            )
            return
        script = 'nft -f "$1" && nft list ruleset'
        loaded = host.run(["unshare", "--net", "--", "sh", "-c", script, "-", path])
        if not loaded.ok:
            yield self.failed(
                f"{path} does not load: {loaded.problem()}",
                Evidence(f"nft -f {path} (throwaway netns)", loaded.problem(), "loads cleanly"),
            )
            return
        live = host.run(["nft", "list", "ruleset"])
        if not live.ok:
            yield self.errored(live.problem())
            return
        boot, now = nft.split_tables(loaded.stdout), nft.split_tables(live.stdout)
        for key, text in sorted(boot.items()):
            label = f"table {key[0]} {key[1]}"
            same = nft.normalise(text, static_only=True) == nft.normalise(
                now.get(key, ""), static_only=True
            )
            ev = Evidence(f"{path} vs nft list ruleset", "same" if same else "differs", "same")
            if same:
                yield self.passed(f"{label}: boot file matches live", ev, subject=label)
            elif key not in now:
                yield self.failed(f"{label}: in {path} but not live", ev, subject=label)
            else:
                yield self.failed(
                    f"{label}: live differs from {path} (see `garrison firewall status`)",
                    ev,
                    subject=label,
                )


def _ipv6_disabled(facts: Facts) -> bool:
    try:  # a small limit: procfs sysctl files refuse huge reads
        value = facts.host.read_bytes("/proc/sys/net/ipv6/conf/all/disable_ipv6", limit=64)
    except HostError:
        return False
    return value.strip() == b"1"


class Ipv6Covered(Check):
    meta = CheckMeta(
        id="GAR-FW-007",
        area="firewall",
        item=2,
        title="IPv6 is filtered as strictly as IPv4",
        severity=Severity.HIGH,
        rationale="An `ip`-only firewall leaves IPv6 wide open; most VPS have a public IPv6 "
        "address whether or not anyone uses it.",
        remediation="Use an `inet` table (garrison's is) or matching `ip6` chains, or disable "
        "IPv6 (net.ipv6.conf.all.disable_ipv6 = 1). " + FIX_APPLY,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        view = firewall_view(facts)
        missing = [h for h in ("input", "output") if not drop_chains(view.ruleset, h, 6)]
        if not missing:
            chains = drop_chains(view.ruleset, "input", 6) + drop_chains(view.ruleset, "output", 6)
            observed = ", ".join(sorted({f"{c.label} ({c.family})" for c in chains}))
            yield self.passed(
                "IPv6 input and output drop by default", Evidence(view.source, observed)
            )
            return
        if facts.host.live and _ipv6_disabled(facts):
            yield self.passed(
                "IPv6 is disabled on this host",
                Evidence("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1"),
            )
            return
        v4_only = [
            c.label
            for h in missing
            for c in drop_chains(view.ruleset, h, 4)
            if not ends_in_drop(c) or c.family == "ip"
        ]
        yield self.failed(
            f"IPv6 {' and '.join(missing)} not default-deny",
            Evidence(
                view.source,
                "drop chains only in family ip: " + (", ".join(v4_only) or "none"),
                "an inet or ip6 chain with policy drop",
            ),
        )
