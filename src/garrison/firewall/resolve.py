"""Resolve broker and egress hostnames (A and AAAA) with dnspython; TTLs clamped to limits."""

from __future__ import annotations

from collections.abc import Sequence

import dns.exception
import dns.rdatatype
import dns.resolver

from garrison.config.firewall import Destination
from garrison.config.schema import Config
from garrison.errors import EnforceError
from garrison.firewall.policy import ResolvedAddress


def make_resolver(config: Config, system_resolvers: Sequence[str] = ()) -> dns.resolver.Resolver:
    fw = config.firewall
    nameservers = list(fw.resolvers) or list(system_resolvers)
    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        resolver.nameservers = nameservers
    resolver.port = fw.resolver_port
    resolver.lifetime = fw.resolver_timeout_s
    resolver.timeout = fw.resolver_timeout_s
    return resolver


def resolve_host(
    resolver: dns.resolver.Resolver, hostname: str, *, ipv6: bool, floor: int, ceiling: int
) -> list[ResolvedAddress]:
    """Addresses of one name; an empty answer for both families is an error."""
    found: list[ResolvedAddress] = []
    reasons = []
    for rdtype in ("A", "AAAA") if ipv6 else ("A",):
        try:
            answer = resolver.resolve(hostname, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            reasons.append("NXDOMAIN")
            break
        except dns.resolver.NoAnswer:
            continue
        except dns.resolver.NoNameservers:
            reasons.append("no nameserver answered")
            continue
        except dns.exception.Timeout:
            reasons.append("timed out")
            continue
        ttl = min(max(int(answer.rrset.ttl if answer.rrset else floor), floor), ceiling)
        found += [ResolvedAddress(r.to_text(), ttl, hostname) for r in answer]
    if not found:
        servers = ", ".join(str(s) for s in resolver.nameservers)
        why = ", ".join(sorted(set(reasons))) or "no A/AAAA records"
        raise EnforceError(f"{hostname} does not resolve ({why}; asked {servers})")
    return found


def resolve_all(
    config: Config, system_resolvers: Sequence[str] = (), failures: list[str] | None = None
) -> dict[str, list[ResolvedAddress]]:
    """Map "broker:NAME" / "egress:NAME" to addresses, for every hostname in the config.

    A name that does not resolve raises, unless `failures` is given: then its error is added
    there and the other names are still resolved (refresh must not let one broker's DNS outage
    hold back every other broker's addresses).
    """
    fw = config.firewall
    resolver = make_resolver(config, system_resolvers)
    out: dict[str, list[ResolvedAddress]] = {}
    entries: list[tuple[str, str, Destination]] = [
        ("egress", f"firewall.egress[{i}]", e) for i, e in enumerate(fw.egress)
    ]
    entries += [("broker", f"brokers[{i}]", b) for i, b in enumerate(config.brokers)]
    for kind, key, entry in entries:
        for hostname in entry.hostnames:
            try:
                found = resolve_host(
                    resolver,
                    hostname,
                    ipv6=fw.ipv6,
                    floor=fw.ttl_floor_s,
                    ceiling=fw.ttl_ceiling_s,
                )
            except EnforceError as exc:
                if failures is None:
                    raise EnforceError(f"{key}.hostnames: {exc}") from None
                failures.append(f"{key}.hostnames: {exc}")
                continue
            out.setdefault(f"{kind}:{entry.name}", []).extend(found)
    return out
