"""FirewallPolicy: the config turned into concrete addresses, ports and uids, ready to render.

Building a policy is the only place that looks outside the config (accounts for strategy uids,
DNS answers passed in by the caller), so rendering stays a pure function of the policy.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from garrison.config.firewall import Destination, Egress, Protocol
from garrison.config.schema import Config
from garrison.errors import ConfigError


@dataclass(frozen=True)
class ResolvedAddress:
    """One address a hostname resolved to, with the TTL (seconds) its set element gets."""

    address: str
    ttl: int
    hostname: str = ""

    @property
    def version(self) -> int:
        return ipaddress.ip_address(self.address).version


@dataclass(frozen=True)
class InboundRule:
    name: str
    port: int
    protocols: tuple[str, ...]
    sources_v4: tuple[str, ...] = ()
    sources_v6: tuple[str, ...] = ()

    @property
    def restricted(self) -> bool:
        return bool(self.sources_v4 or self.sources_v6)


@dataclass(frozen=True)
class Target:
    """An allowed destination (a broker, the DNS resolvers, or an extra egress entry)."""

    kind: str  # "broker", "egress" or "dns"
    name: str
    set_name: str  # base name of its nft sets: <set_name>_v4 / <set_name>_v6
    ports: tuple[int, ...]
    protocols: tuple[str, ...]
    cidrs_v4: tuple[str, ...] = ()
    cidrs_v6: tuple[str, ...] = ()
    hostnames: tuple[str, ...] = ()
    resolved: tuple[ResolvedAddress, ...] = ()
    during_updates: bool = False


@dataclass(frozen=True)
class StrategyEgress:
    """A strategy whose sockets (by owner uid) may reach only its own brokers."""

    name: str
    uid: int
    chain: str
    brokers: tuple[str, ...]


@dataclass(frozen=True)
class FirewallPolicy:
    inbound: tuple[InboundRule, ...]
    targets: tuple[Target, ...]
    strategies: tuple[StrategyEgress, ...] = ()
    ipv6: bool = True
    nflog_group: int = 100
    drop_log_rate: int = 5
    forward: str = "drop"
    other_users_reach_brokers: bool = True
    warnings: tuple[str, ...] = field(default=())

    def target(self, name: str, kind: str = "broker") -> Target | None:
        return next((t for t in self.targets if t.name == name and t.kind == kind), None)

    def admits_inbound(self, client: str | None, port: int, protocol: str = "tcp") -> bool:
        """Whether a connection from `client` (None: any source) to `port` is accepted."""
        for rule in self.inbound:
            if rule.port != port or protocol not in rule.protocols:
                continue
            if not rule.restricted:
                return True
            if client is None:
                continue
            addr = ipaddress.ip_address(client)
            if addr.version == 6 and not self.ipv6:
                continue
            sources = rule.sources_v4 if addr.version == 4 else rule.sources_v6
            if any(addr in ipaddress.ip_network(s) for s in sources):
                return True
        return False


def protocols_of(protocol: Protocol) -> tuple[str, ...]:
    return ("tcp", "udp") if protocol == "both" else (protocol,)


def nft_name(prefix: str, name: str) -> str:
    """A set/chain name: nft identifiers may not contain '-', and stay short."""
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', name).lower()}"


def split_cidrs(cidrs: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    v4 = tuple(c for c in cidrs if ipaddress.ip_network(c).version == 4)
    v6 = tuple(c for c in cidrs if ipaddress.ip_network(c).version == 6)
    return v4, v6


def check_references(config: Config) -> None:
    """Cross-section rules the per-section models cannot see; ConfigError names the key."""
    seen: dict[str, str] = {}
    for index, broker in enumerate(config.brokers):
        key = nft_name("br", broker.name)
        if key in seen:
            raise ConfigError(
                f"brokers[{index}].name: {broker.name!r} clashes with {seen[key]!r} "
                "(names must differ beyond '-' and '_' and case)"
            )
        seen[key] = broker.name
    seen_egress: dict[str, str] = {}
    for index, egress in enumerate(config.firewall.egress):
        key = nft_name("eg", egress.name)
        if key in seen_egress:
            raise ConfigError(f"firewall.egress[{index}].name: {egress.name!r} clashes")
        seen_egress[key] = egress.name
    seen_inbound: dict[str, str] = {}
    for index, svc in enumerate(config.firewall.inbound):
        key = nft_name("in", svc.name)
        if key in seen_inbound:
            raise ConfigError(f"firewall.inbound[{index}].name: {svc.name!r} clashes")
        seen_inbound[key] = svc.name
    # Unknown broker names in [[strategies]] are rejected when the config is loaded.


def resolve_uid(user: str, accounts: Mapping[str, int]) -> int | None:
    if user.isdigit():
        return int(user)
    return accounts.get(user)


def _target(
    kind: str, prefix: str, dest: Destination, resolved: Mapping[str, Sequence[ResolvedAddress]]
) -> Target:
    v4, v6 = split_cidrs(dest.cidrs)
    return Target(
        kind=kind,
        name=dest.name,
        set_name=nft_name(prefix, dest.name),
        ports=tuple(dest.ports),
        protocols=protocols_of(dest.protocol),
        cidrs_v4=v4,
        cidrs_v6=v6,
        hostnames=tuple(dest.hostnames),
        resolved=tuple(resolved.get(f"{kind}:{dest.name}", ())),
        during_updates=isinstance(dest, Egress) and dest.during_updates,
    )


def build_policy(
    config: Config,
    *,
    resolved: Mapping[str, Sequence[ResolvedAddress]] | None = None,
    accounts: Mapping[str, int] | None = None,
    system_resolvers: Sequence[str] = (),
) -> FirewallPolicy:
    """The policy for this config. `resolved` maps "broker:NAME"/"egress:NAME" to addresses."""
    check_references(config)
    fw = config.firewall
    resolved = resolved or {}
    warnings: list[str] = []
    inbound = []
    for svc in fw.inbound:
        s4, s6 = split_cidrs(svc.sources)
        inbound.append(InboundRule(svc.name, svc.port, protocols_of(svc.protocol), s4, s6))
    targets: list[Target] = []
    resolvers = list(fw.resolvers) or list(system_resolvers)
    if resolvers:
        nets = [str(ipaddress.ip_network(r)) for r in resolvers]
        v4, v6 = split_cidrs(sorted(set(nets), key=nets.index))
        targets.append(Target("dns", "dns", "dns", (fw.resolver_port,), ("tcp", "udp"), v4, v6))
    else:
        warnings.append("no DNS resolvers known: outbound DNS will be dropped")
    targets += [_target("egress", "eg", e, resolved) for e in fw.egress]
    targets += [_target("broker", "br", b, resolved) for b in config.brokers]
    by_uid: dict[int, StrategyEgress] = {}
    for index, strat in enumerate(config.strategies):
        if not strat.brokers:
            warnings.append(f"strategy {strat.name!r} lists no brokers: egress not restricted")
            continue
        if strat.user is None:
            warnings.append(f"strategy {strat.name!r} has no user: its egress is not restricted")
            continue
        uid = resolve_uid(strat.user, accounts or {})
        if uid is None:
            raise ConfigError(f"strategies[{index}].user: no account {strat.user!r} on this host")
        known = by_uid.get(uid)
        if known is not None:
            # sockets only carry the uid: strategies sharing one may reach each other's brokers
            warnings.append(
                f"strategies {known.name!r} and {strat.name!r} share uid {uid}: "
                "they may reach each other's brokers (give each its own user)"
            )
            merged = tuple(dict.fromkeys(known.brokers + tuple(strat.brokers)))
            by_uid[uid] = StrategyEgress(known.name, uid, known.chain, merged)
            continue
        by_uid[uid] = StrategyEgress(
            strat.name, uid, nft_name("st", strat.name), tuple(strat.brokers)
        )
    strategies = list(by_uid.values())
    return FirewallPolicy(
        inbound=tuple(inbound),
        targets=tuple(targets),
        strategies=tuple(strategies),
        ipv6=fw.ipv6,
        nflog_group=fw.nflog_group,
        drop_log_rate=fw.drop_log_rate,
        forward=fw.forward,
        other_users_reach_brokers=fw.other_users_reach_brokers,
        warnings=tuple(warnings),
    )
