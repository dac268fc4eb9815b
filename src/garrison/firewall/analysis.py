"""What a parsed ruleset actually does: default-deny per hook, exposed ports, open egress.

nftables semantics the audit relies on: a packet traverses every base chain registered on a
hook, in priority order. `accept` only ends the current base chain; the next one still sees the
packet. `drop` is final everywhere. So one chain that ends in drop makes the hook default-deny,
an accept-all in *another* table cannot undo it, and a port is open only if every drop-ending
chain on the hook accepts it. An accept-all inside the drop-ending chain itself defeats it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from garrison.firewall.ruleset_parse import Chain, Rule, Ruleset

_VERDICT = re.compile(r"\b(accept|drop|reject(?: with [\w -]+)?|return|(?:jump|goto) (\S+))$")
_VMAP = re.compile(r"vmap\s*\{([^}]*)\}")
_NOISE = [
    re.compile(r"\bcounter(?: packets \d+ bytes \d+)?"),
    re.compile(r'\blog(?: prefix "[^"]*")?(?: level \w+)?(?: group \d+)?(?: flags [\w,]+)?'),
    re.compile(r'\bcomment "[^"]*"'),
]
_PROTO_PORT = re.compile(r"\b(tcp|udp|sctp|dccp) dport (\{[^}]*\}|@\S+|\S+)")
_TH_PORT = re.compile(r"meta l4proto (\{[^}]*\}|\w+) th dport (\{[^}]*\}|@\S+|\S+)")
_CONCAT = re.compile(r"meta l4proto \. th dport (\{[^}]*\}|@\S+)")
_SADDR = re.compile(r"\b(ip6?) saddr (!= )?(\{[^}]*\}|@\S+|\S+)")
_DADDR = re.compile(r"\b(ip6?) daddr (!= )?(\{[^}]*\}|@\S+|\S+)")
_SAFE_IN = re.compile(
    r'^(iif(name)? "lo"|ct state (\{ )?(established|related)(,? ?(established|related))*( \})?'
    r"|(meta l4proto (icmp|ipv6-icmp) )?icmp(v6)? type .*)$"
)
_SAFE_OUT = re.compile(
    r'^(oif(name)? "lo"|ct state (\{ )?(established|related)(,? ?(established|related))*( \})?'
    r"|(meta l4proto (icmp|ipv6-icmp) )?icmp(v6)? type .*)$"
)
HOOKS = ("input", "output", "forward")
_FINAL = ("accept", "drop", "reject", "return", "goto")


def verdict(text: str) -> tuple[str, str | None]:
    """("accept"|"drop"|"reject"|"return"|"jump"|"goto"|"vmap"|"", target chain)."""
    if _VMAP.search(text):
        return "vmap", None
    match = _VERDICT.search(text.strip())
    if not match:
        return "", None
    word = match.group(1).split()[0]
    return word, match.group(2)


def conditions(text: str) -> str:
    """The match part of a rule: the text without its verdict, counters, log and comment."""
    for pattern in _NOISE:
        text = pattern.sub("", text)
    text = _VERDICT.sub("", text.strip())
    return " ".join(text.split())


def ends_in_drop(chain: Chain) -> bool:
    if chain.policy == "drop":
        return True
    if not chain.rules:
        return False
    last = chain.rules[-1]
    return verdict(last.text)[0] in ("drop", "reject") and conditions(last.text) == ""


def jump_targets(text: str) -> list[str]:
    kind, target = verdict(text)
    if kind in ("jump", "goto") and target:
        return [target]
    if kind == "vmap":
        match = _VMAP.search(text)
        body = match.group(1) if match else ""
        return re.findall(r"(?:jump|goto) (\S+?)(?:,|\s|$)", body)
    return []


def reachable(ruleset: Ruleset, chain: Chain) -> list[tuple[Chain, Rule, str]]:
    """The chain's rules and, in order, those of chains it jumps to (each chain once), each
    with the conditions of the jump(s) that lead there ('' when reached unconditionally)."""
    out: list[tuple[Chain, Rule, str]] = []
    seen: set[str] = set()

    def walk(current: Chain, context: str, depth: int) -> None:
        if current.label in seen or depth > 16:
            return
        seen.add(current.label)
        for rule in current.rules:
            out.append((current, rule, context))
            for name in jump_targets(rule.text):
                target = ruleset.chain(current.family, current.table, name)
                if target is not None:
                    walk(target, f"{context} {conditions(rule.text)}".strip(), depth + 1)
            if verdict(rule.text)[0] in _FINAL and conditions(rule.text) == "":
                break  # rules after an unconditional verdict are never reached

    walk(chain, "", 0)
    return out


def drop_chains(ruleset: Ruleset, hook: str, version: int | None = None) -> list[Chain]:
    """Filter base chains on `hook` that end in drop (for IPv4/IPv6 only when version given)."""
    families = {4: ("inet", "ip"), 6: ("inet", "ip6"), None: ("inet", "ip", "ip6")}[version]
    return [c for c in ruleset.base_chains(hook) if c.family in families and ends_in_drop(c)]


@dataclass(frozen=True)
class Exposure:
    """An inbound accept: which protocol/port (or '*') from which sources, and where."""

    protocol: str
    port: str
    sources: str  # "" = from anywhere
    chain: str
    handle: int | None
    line: int
    rule: str

    @property
    def where(self) -> str:
        handle = f" handle {self.handle}" if self.handle is not None else f" line {self.line}"
        return f"chain {self.chain}{handle}: {self.rule}"


def _items(spec: str) -> list[str]:
    if spec.startswith("{"):
        return [i.strip() for i in spec.strip("{} ").split(",") if i.strip()]
    return [spec]


def port_specs(text: str) -> list[tuple[str, str]]:
    """(protocol, port-or-range-or-@set) pairs a rule matches on."""
    pairs: list[tuple[str, str]] = []
    for match in _CONCAT.finditer(text):
        for item in _items(match.group(1)):
            parts = [p.strip() for p in item.split(".")]
            pairs.append((parts[0], parts[1]) if len(parts) == 2 else ("any", item))
    for match in _TH_PORT.finditer(text):
        for proto in _items(match.group(1)):
            pairs += [(proto, port) for port in _items(match.group(2))]
    if not pairs:
        for match in _PROTO_PORT.finditer(text):
            pairs += [(match.group(1), port) for port in _items(match.group(2))]
    return pairs


def sources(text: str) -> str:
    return ", ".join(
        f"{m.group(1)} saddr {m.group(2) or ''}{m.group(3)}" for m in _SADDR.finditer(text)
    )


def exposures(ruleset: Ruleset, chain: Chain) -> tuple[list[Exposure], list[Exposure]]:
    """(port exposures, accept-all rules) among the accepts reachable from an input chain."""
    ports: list[Exposure] = []
    accept_all: list[Exposure] = []
    for owner, rule, context in reachable(ruleset, chain):
        if verdict(rule.text)[0] != "accept":
            continue
        cond = f"{context} {conditions(rule.text)}".strip()
        if _SAFE_IN.match(cond):
            continue
        src = sources(cond)
        specs = port_specs(cond)
        if not specs:
            target = ports if src else accept_all
            target.append(Exposure("any", "*", src, owner.label, rule.handle, rule.line, rule.text))
            continue
        for proto, port in specs:
            ports.append(Exposure(proto, port, src, owner.label, rule.handle, rule.line, rule.text))
    return ports, accept_all


def open_egress(ruleset: Ruleset, chain: Chain) -> tuple[list[tuple[Chain, Rule]], int]:
    """(accepts that allow any destination, number of destination-limited accepts)."""
    unlimited = []
    limited = 0
    for owner, rule, context in reachable(ruleset, chain):
        if verdict(rule.text)[0] != "accept":
            continue
        cond = f"{context} {conditions(rule.text)}".strip()
        if _SAFE_OUT.match(cond):
            continue
        if _DADDR.search(cond):
            limited += 1
        else:
            unlimited.append((owner, rule))
    return unlimited, limited


def accept_alls(rules: Iterable[tuple[Chain, Rule, str]]) -> list[tuple[Chain, Rule]]:
    """Accepts with no condition, reached without a conditional jump."""
    return [
        (c, r)
        for c, r, context in rules
        if not context and verdict(r.text)[0] == "accept" and conditions(r.text) == ""
    ]
