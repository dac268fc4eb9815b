"""refresh: re-resolve broker/egress hostnames and update the live sets in one transaction.

Resolved addresses carry their DNS TTL (clamped to [ttl_floor_s, ttl_ceiling_s]) as element
timeout; an address that left DNS is not removed but expires by itself. Static CIDRs are never
touched. Meant for a systemd timer or the guard, more often than ttl_floor_s.

A hostname that does not resolve (NXDOMAIN, a resolver timeout) does not hold back the others:
they are refreshed, its live addresses are left alone to expire by their own TTL (they are not
extended on stale knowledge), and the failure is reported (the CLI exits 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from garrison.config.schema import Config
from garrison.errors import EnforceError
from garrison.firewall import nft
from garrison.firewall.apply import require_root
from garrison.firewall.plan import build_live_policy
from garrison.firewall.render import dynamic_elements, render_refresh


@dataclass(frozen=True)
class RefreshedElement:
    set_name: str
    address: str
    ttl: int
    hostname: str


@dataclass(frozen=True)
class RefreshResult:
    elements: tuple[RefreshedElement, ...]
    script: str
    failed: tuple[str, ...] = ()  # hostnames that did not resolve, with why


def refresh_sets(config: Config, *, dry_run: bool = False) -> RefreshResult:
    """Resolve every hostname now and reset the timers of what resolved, in one transaction."""
    if not dry_run:
        require_root("firewall refresh")
        if nft.list_table() is None:
            raise EnforceError("table inet garrison is not live; run `garrison firewall apply`")
    failures: list[str] = []
    policy = build_live_policy(config, failures=failures)
    elements = []
    for target in policy.targets:
        for version in (4, 6) if policy.ipv6 else (4,):
            for item in dynamic_elements(target, version):
                set_name = f"{target.set_name}_v{version}"
                elements.append(RefreshedElement(set_name, item.address, item.ttl, item.hostname))
    script = render_refresh(policy)
    if script and not dry_run:
        try:
            nft.load(script, "refresh")
        except EnforceError as exc:
            raise EnforceError(
                f"{exc} (does the live table match the config? run `garrison firewall plan`)"
            ) from None
    return RefreshResult(tuple(elements), script, tuple(failures))
