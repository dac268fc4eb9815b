"""render_ruleset: FirewallPolicy -> the text of one `table inet garrison` (deterministic).

The text is an nft script that replaces the table in one transaction: it creates the table if
missing, deletes it, and defines it in full, so `nft -f` applies all of it or none of it.
Allow-lists are named sets (`flags interval,timeout`): a lookup is O(1) whatever their size,
static CIDRs never expire, and addresses learnt from DNS carry their TTL as element timeout.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from garrison.firewall import TABLE_FAMILY, TABLE_NAME
from garrison.firewall.policy import (
    FirewallPolicy,
    InboundRule,
    ResolvedAddress,
    Target,
    nft_name,
)

TABLE = f"{TABLE_FAMILY} {TABLE_NAME}"
DROP_PREFIX_IN = "garrison-drop-in "
DROP_PREFIX_OUT = "garrison-drop-out "
DROP_PREFIX_FWD = "garrison-drop-fwd "
UPDATES_CHAIN = "updates_window"
CT_VMAP = "ct state vmap { invalid : drop, established : accept, related : accept }"

ICMP_IN = "destination-unreachable, time-exceeded, parameter-problem"
ICMPV6_IN = (
    "destination-unreachable, packet-too-big, time-exceeded, parameter-problem, "
    "nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert"
)
ICMPV6_OUT = (
    "destination-unreachable, packet-too-big, time-exceeded, parameter-problem, "
    "nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert"
)


def _elements(items: Iterable[str]) -> str:
    values = list(items)
    return f"elements = {{ {', '.join(values)} }}" if values else ""


def _set(name: str, addr_type: str, elements: Sequence[str]) -> list[str]:
    lines = [f"\tset {name} {{", f"\t\ttype {addr_type}", "\t\tflags interval,timeout"]
    if elements:
        lines.append(f"\t\t{_elements(elements)}")
    return [*lines, "\t}"]


def _sort_key(text: str) -> tuple[int, int, int]:
    net = ipaddress.ip_network(text.split()[0], strict=False)
    return (net.version, int(net.network_address), net.prefixlen)


def dynamic_elements(target: Target, version: int) -> list[ResolvedAddress]:
    """Resolved addresses of one family that no static CIDR of the target already covers
    (an interval set refuses an element inside an existing range)."""
    static = [
        ipaddress.ip_network(c) for c in (target.cidrs_v4 if version == 4 else target.cidrs_v6)
    ]
    out: dict[str, ResolvedAddress] = {}
    for item in target.resolved:
        addr = ipaddress.ip_address(item.address)
        if addr.version != version or any(addr in net for net in static):
            continue
        known = out.get(item.address)
        if known is None or item.ttl > known.ttl:
            out[item.address] = item
    return sorted(out.values(), key=lambda r: _sort_key(r.address))


def target_elements(target: Target, version: int) -> list[str]:
    static = list(target.cidrs_v4 if version == 4 else target.cidrs_v6)
    dynamic = [f"{r.address} timeout {r.ttl}s" for r in dynamic_elements(target, version)]
    return sorted(static + dynamic, key=_sort_key)


def _ports_match(ports: Sequence[int], protocols: Sequence[str]) -> str:
    if len(protocols) == 1:
        plist = sorted(ports)
        spec = str(plist[0]) if len(plist) == 1 else "{ " + ", ".join(map(str, plist)) + " }"
        return f"{protocols[0]} dport {spec}"
    pairs = [f"{proto} . {port}" for proto in sorted(protocols) for port in sorted(ports)]
    return "meta l4proto . th dport { " + ", ".join(pairs) + " }"


def _target_rules(target: Target, ipv6: bool, verdict: str = "accept") -> list[str]:
    match = _ports_match(target.ports, target.protocols)
    rules = [f"ip daddr @{target.set_name}_v4 {match} {verdict}"]
    if ipv6:
        rules.append(f"ip6 daddr @{target.set_name}_v6 {match} {verdict}")
    return rules


def _inbound_rules(rule: InboundRule, ipv6: bool) -> list[str]:
    match = _ports_match([rule.port], rule.protocols)
    if not rule.restricted:
        return [f"{match} accept"]
    base = nft_name("in", rule.name)
    rules = [f"ip saddr @{base}_v4 {match} accept"]
    if ipv6:
        rules.append(f"ip6 saddr @{base}_v6 {match} accept")
    return rules


def _log_drop(policy: FirewallPolicy, prefix: str) -> list[str]:
    rules = []
    if policy.drop_log_rate > 0:
        burst = max(policy.drop_log_rate * 2, 5)
        rules.append(
            f"limit rate {policy.drop_log_rate}/second burst {burst} packets "
            f'log prefix "{prefix}" group {policy.nflog_group}'
        )
    return [*rules, "drop"]


def _chain(name: str, header: str | None, rules: Sequence[str]) -> list[str]:
    lines = [f"\tchain {name} {{"]
    if header:
        lines.append(f"\t\t{header}")
    return [*lines, *(f"\t\t{r}" for r in rules), "\t}"]


def _input_rules(policy: FirewallPolicy) -> list[str]:
    # conntrack first, as one verdict map: an established packet costs a single rule
    rules = [CT_VMAP, 'iif "lo" accept']
    if not policy.ipv6:
        rules.append("meta nfproto ipv6 drop")
    rules += [
        f"icmp type {{ {ICMP_IN} }} accept",
        "icmp type echo-request limit rate 10/second accept",
    ]
    if policy.ipv6:
        rules += [
            f"icmpv6 type {{ {ICMPV6_IN} }} accept",
            "icmpv6 type echo-request limit rate 10/second accept",
        ]
    for rule in policy.inbound:
        rules += _inbound_rules(rule, policy.ipv6)
    return rules + _log_drop(policy, DROP_PREFIX_IN)


def _output_rules(policy: FirewallPolicy) -> list[str]:
    rules = [CT_VMAP, 'oif "lo" accept']
    if not policy.ipv6:
        rules.append("meta nfproto ipv6 drop")
    rules.append(f"icmp type {{ {ICMP_IN} }} accept")
    if policy.ipv6:
        rules.append(f"icmpv6 type {{ {ICMPV6_OUT} }} accept")
    for target in policy.targets:
        if target.kind in ("dns", "egress"):
            verdict = f"jump {UPDATES_CHAIN}" if target.during_updates else "accept"
            rules += _target_rules(target, policy.ipv6, verdict)
    if policy.strategies:
        pairs = ", ".join(f"{s.uid} : jump {s.chain}" for s in policy.strategies)
        rules.append(f"meta skuid vmap {{ {pairs} }}")
    if policy.other_users_reach_brokers:
        for target in policy.targets:
            if target.kind == "broker":
                rules += _target_rules(target, policy.ipv6)
    return rules + _log_drop(policy, DROP_PREFIX_OUT)


def render_ruleset(policy: FirewallPolicy) -> str:
    """The complete nft script for `table inet garrison` (same policy -> same bytes)."""
    body: list[str] = []
    for rule in policy.inbound:
        if rule.restricted:
            base = nft_name("in", rule.name)
            body += _set(f"{base}_v4", "ipv4_addr", sorted(rule.sources_v4, key=_sort_key))
            if policy.ipv6:
                body += _set(f"{base}_v6", "ipv6_addr", sorted(rule.sources_v6, key=_sort_key))
    for target in policy.targets:
        body += _set(f"{target.set_name}_v4", "ipv4_addr", target_elements(target, 4))
        if policy.ipv6:
            body += _set(f"{target.set_name}_v6", "ipv6_addr", target_elements(target, 6))
    hook = "type filter hook {} priority filter; policy {};"
    body += _chain("input", hook.format("input", "drop"), _input_rules(policy))
    body += _chain("output", hook.format("output", "drop"), _output_rules(policy))
    if policy.forward == "drop":
        body += _chain(
            "forward", hook.format("forward", "drop"), _log_drop(policy, DROP_PREFIX_FWD)
        )
    else:
        body += _chain("forward", hook.format("forward", "accept"), [])
    body += _chain(UPDATES_CHAIN, None, [])
    by_name = {t.name: t for t in policy.targets if t.kind == "broker"}
    for strat in policy.strategies:
        rules: list[str] = []
        for name in strat.brokers:
            rules += _target_rules(by_name[name], policy.ipv6)
        body += _chain(strat.chain, None, rules + _log_drop(policy, DROP_PREFIX_OUT))
    header = [
        "# garrison firewall: generated by `garrison firewall apply`; edit garrison.toml instead",
        f"table {TABLE} {{}}",
        f"delete table {TABLE}",
        f"table {TABLE} {{",
    ]
    return "\n".join([*header, *body, "}"]) + "\n"


def render_table_only(policy: FirewallPolicy) -> str:
    """The table definition without the replace preamble (what `nft list` shows)."""
    text = render_ruleset(policy)
    return text[text.index(f"table {TABLE} {{\n") :]


def render_refresh(policy: FirewallPolicy) -> str:
    """One transaction that (re)adds every resolved address with a fresh TTL timeout.

    Each element is added (a no-op when present), deleted and added again: nft does not reset
    the timer of an element that already exists, and the delete cannot fail after the add.
    Addresses that left DNS are not deleted; they expire by their own TTL.
    """
    lines = []
    for target in policy.targets:
        for version in (4, 6) if policy.ipv6 else (4,):
            set_name = f"{target.set_name}_v{version}"
            for item in dynamic_elements(target, version):
                elem = f"element {TABLE} {set_name} {{ {item.address}"
                lines += [
                    f"add {elem} timeout 1s }}",
                    f"delete {elem} }}",
                    f"add {elem} timeout {item.ttl}s }}",
                ]
    return "\n".join(lines) + ("\n" if lines else "")
