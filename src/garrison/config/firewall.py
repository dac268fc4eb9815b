"""[firewall] and [[brokers]]: the nftables policy garrison renders, applies and audits.

Cross-section rules (a strategy naming an unknown broker) are checked by
`garrison.firewall.policy.check_references`, which every firewall command and check calls.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from garrison.config.base import StrictModel

Protocol = Literal["tcp", "udp", "both"]
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Names end up in nft set and chain names, so they are kept to a safe alphabet.
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,31}$"
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?)+$")


def parse_cidrs(values: list[str]) -> list[str]:
    """Validate CIDRs: well-formed, no host bits, not 'everything', no overlaps among them."""
    nets: list[IpNetwork] = []
    for raw in values:
        try:
            net = ipaddress.ip_network(raw.strip(), strict=True)
        except ValueError as exc:
            raise ValueError(f"{raw!r} is not a valid CIDR ({exc})") from None
        if net.prefixlen == 0:
            raise ValueError(f"{raw!r} allows every address; that defeats the default-deny")
        nets.append(net)
    # sorted by start address, two networks overlap only if neighbours do: O(n log n)
    ordered = sorted(nets, key=lambda n: (n.version, int(n.network_address), -n.prefixlen))
    for first, second in itertools.pairwise(ordered):
        if first.version == second.version and first.overlaps(second):
            later, earlier = sorted((first, second), key=nets.index, reverse=True)
            raise ValueError(f"{str(later)!r} overlaps {str(earlier)!r}")
    return [str(n) for n in nets]


def check_ports(values: list[int]) -> list[int]:
    for port in values:
        if not 1 <= port <= 65535:
            raise ValueError(f"port {port} out of range 1-65535")
    if len(set(values)) != len(values):
        raise ValueError("a port is listed twice")
    return values


def check_hostnames(values: list[str]) -> list[str]:
    for name in values:
        if not _HOSTNAME.match(name):
            raise ValueError(f"{name!r} is not a valid hostname")
    return values


class InboundService(StrictModel):
    """One [[firewall.inbound]] entry: a port the VPS serves, optionally to some sources only."""

    name: str = Field(pattern=NAME_PATTERN)
    port: int = Field(ge=1, le=65535)
    protocol: Protocol = "tcp"
    sources: list[str] = Field(
        default_factory=list, description="CIDRs allowed to connect; empty = from anywhere"
    )

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        return parse_cidrs(value)


class Destination(StrictModel):
    """Fields shared by brokers and extra egress: where traffic may go, on which ports."""

    name: str = Field(pattern=NAME_PATTERN)
    hostnames: list[str] = Field(
        default_factory=list, description="resolved at apply/refresh; addresses expire by TTL"
    )
    cidrs: list[str] = Field(default_factory=list, description="fixed ranges, never expire")
    ports: list[int] = Field(default_factory=lambda: [443])
    protocol: Protocol = "tcp"

    @field_validator("cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        return parse_cidrs(value)

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("at least one port is needed")
        return check_ports(value)

    @field_validator("hostnames")
    @classmethod
    def _hostnames(cls, value: list[str]) -> list[str]:
        return check_hostnames(value)

    @model_validator(mode="after")
    def _somewhere(self) -> Destination:
        if not self.hostnames and not self.cidrs:
            raise ValueError(f"{self.name}: give hostnames and/or cidrs")
        return self


class Egress(Destination):
    """One [[firewall.egress]] entry: Git host, NTP pool, package mirror, ..."""

    during_updates: bool = Field(
        False, description="only open while `garrison firewall updates open` is in effect"
    )


class FirewallConfig(StrictModel):
    """[firewall]"""

    inbound: list[InboundService] = Field(
        default_factory=lambda: [InboundService(name="ssh", port=22)],
        description="services the VPS offers; SSH is listed by default",
    )
    egress: list[Egress] = Field(default_factory=list, description="extra outbound destinations")
    resolvers: list[str] = Field(
        default_factory=list,
        description="DNS servers (IPs) allowed on port 53 and used by refresh; "
        "empty = the nameservers of /etc/resolv.conf",
    )
    resolver_port: int = Field(53, ge=1, le=65535)
    resolver_timeout_s: float = Field(3.0, gt=0, le=60)
    ipv6: bool = Field(True, description="filter IPv6 too (false: drop all IPv6 but loopback)")
    nflog_group: int = Field(100, ge=0, le=65535, description="NFLOG group of logged drops")
    drop_log_rate: int = Field(5, ge=0, le=10000, description="logged drops per second; 0 = off")
    confirm_timeout_s: int = Field(60, ge=3, le=3600)
    forward: Literal["drop", "accept"] = Field("drop", description="accept: a Docker host")
    other_tables: Literal["keep", "flush"] = Field(
        "keep", description="keep other tables (Docker, fail2ban) or flush the whole ruleset"
    )
    other_users_reach_brokers: bool = Field(
        True, description="users that are no strategy may reach every broker"
    )
    persist_path: str = Field("/etc/nftables.conf", description="loaded at boot by nftables")
    ttl_floor_s: int = Field(60, ge=1, le=86400)
    ttl_ceiling_s: int = Field(86400, ge=1, le=7 * 86400)

    @field_validator("resolvers")
    @classmethod
    def _resolvers(cls, value: list[str]) -> list[str]:
        out = []
        for raw in value:
            try:
                out.append(str(ipaddress.ip_address(raw.strip())))
            except ValueError:
                raise ValueError(f"{raw!r} is not an IP address") from None
        return out

    @model_validator(mode="after")
    def _unique(self) -> FirewallConfig:
        for label, items in (("inbound", self.inbound), ("egress", self.egress)):
            names = [i.name for i in items]
            dup = next((n for n in names if names.count(n) > 1), None)
            if dup:
                raise ValueError(f"{label}: name {dup!r} is used twice")
        if self.ttl_floor_s > self.ttl_ceiling_s:
            raise ValueError("ttl_floor_s is above ttl_ceiling_s")
        return self


class Broker(Destination):
    """One [[brokers]] entry: an exchange or broker API the strategies trade with."""
