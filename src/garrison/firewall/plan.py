"""make_plan: the policy for this host, its rendered ruleset, and the diff against the live one."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from garrison.config.schema import Config
from garrison.errors import EnforceError
from garrison.firewall import nft
from garrison.firewall.policy import FirewallPolicy, build_policy
from garrison.firewall.render import TABLE, render_ruleset, render_table_only
from garrison.firewall.resolve import resolve_all
from garrison.host.host import Host


def system_resolvers(host: Host) -> list[str]:
    """Nameservers of the host's /etc/resolv.conf (used when [firewall].resolvers is empty)."""
    text = host.read_text_or_none("/etc/resolv.conf") or ""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            out.append(parts[1].split("%")[0])
    return out


def build_live_policy(
    config: Config,
    host: Host | None = None,
    *,
    resolve: bool = True,
    failures: list[str] | None = None,
) -> FirewallPolicy:
    """The policy with strategy uids from /etc/passwd and hostnames resolved now (names that
    do not resolve raise, or go to `failures` when it is given: see resolve_all)."""
    host = host or Host("/")
    sys_resolvers = [] if config.firewall.resolvers else system_resolvers(host)
    accounts = {a.name: a.uid for a in host.accounts()}
    resolved = resolve_all(config, sys_resolvers, failures) if resolve else {}
    return build_policy(
        config, resolved=resolved, accounts=accounts, system_resolvers=sys_resolvers
    )


def apply_script(config: Config, policy: FirewallPolicy) -> str:
    """The nft script apply loads: replace garrison's table, or (other_tables=flush) all."""
    if config.firewall.other_tables == "flush":
        return "flush ruleset\n" + render_table_only(policy)
    return render_ruleset(policy)


def restore_script(config: Config, saved_table: str | None, saved_ruleset: str) -> str:
    """The nft script that puts the state before apply back (used by the rollback)."""
    if config.firewall.other_tables == "flush":
        return "flush ruleset\n" + saved_ruleset
    script = f"table {TABLE} {{}}\ndelete table {TABLE}\n"
    return script + (saved_table or "")


@dataclass(frozen=True)
class FirewallPlan:
    policy: FirewallPolicy
    script: str  # what apply loads with nft -f
    planned: str  # the table as nft will list it (normalised)
    live: str | None  # the live table (normalised), None when absent
    diff: str  # unified diff live -> planned ('' when equal)

    @property
    def changes(self) -> bool:
        return self.live != self.planned


def planned_listing(policy: FirewallPolicy) -> str:
    """How nft will list the rendered table (falls back to our own text when not root)."""
    listing = nft.canonical(render_ruleset(policy))
    return nft.normalise(listing if listing is not None else render_table_only(policy))


def diff_tables(
    old: str | None, new: str, old_label: str = "live", new_label: str = "planned"
) -> str:
    """Unified diff of two normalised listings ('' when equal)."""
    return "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"{old_label}: table {TABLE}" + ("" if old is not None else " (absent)"),
            tofile=f"{new_label}: table {TABLE}",
        )
    )


def make_plan(config: Config, *, resolve: bool = True, live: bool = True) -> FirewallPlan:
    """Render, validate with `nft -c`, and diff against the live table."""
    policy = build_live_policy(config, resolve=resolve)
    script = apply_script(config, policy)
    nft.check(script)
    planned = planned_listing(policy)
    current: str | None = None
    if live:
        try:
            raw = nft.list_table()
        except EnforceError:
            raw = None
        current = nft.normalise(raw) if raw is not None else None
    return FirewallPlan(policy, script, planned, current, diff_tables(current, planned))
