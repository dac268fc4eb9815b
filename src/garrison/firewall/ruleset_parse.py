"""Parse nft's text format (a `nft -a list ruleset` listing or a persisted nftables.conf).

A light, line-based reader: tables, base chains (hook, priority, policy), regular chains and
their rules with handle and line. It understands what `nft list` prints and what a boot file
usually contains (`flush ruleset`, `delete table`, `include`); anything else is kept as rule
text. One parser serves the live host and `--root` images alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HANDLE = re.compile(r"\s*# handle (\d+)\s*$")
_TABLE = re.compile(r"^(?:add\s+)?table\s+(?:(ip|ip6|inet|arp|bridge|netdev)\s+)?(\S+)\s*\{")
_DELETE_TABLE = re.compile(
    r"^(?:delete|destroy)\s+table\s+(?:(ip|ip6|inet|arp|bridge|netdev)\s+)?(\S+)"
)
_CHAIN = re.compile(r"^chain\s+(\S+)\s*\{")
_SET = re.compile(r"^(?:set|map|flowtable|counter|quota|ct|limit|secmark|synproxy)\b.*\{")
_HOOK = re.compile(
    r"type\s+(\w+)\s+hook\s+(\w+)(?:\s+device\s+\S+)?\s+priority\s+([^;]+);"
    r"(?:\s*policy\s+(\w+);)?"
)
_INCLUDE = re.compile(r'^include\s+"([^"]+)"')


@dataclass
class Rule:
    text: str
    handle: int | None
    line: int  # line number in the listing or file (1-based)


@dataclass
class Chain:
    name: str
    family: str
    table: str
    hook: str | None = None
    chain_type: str | None = None
    priority: str | None = None
    policy: str | None = None  # None for regular chains; "accept" when a base chain omits it
    rules: list[Rule] = field(default_factory=list)
    line: int = 0

    @property
    def base(self) -> bool:
        return self.hook is not None

    @property
    def label(self) -> str:
        return f"{self.family} {self.table} {self.name}"


@dataclass
class Table:
    family: str
    name: str
    chains: dict[str, Chain] = field(default_factory=dict)


@dataclass
class Ruleset:
    tables: dict[tuple[str, str], Table] = field(default_factory=dict)
    includes: list[str] = field(default_factory=list)

    def chains(self) -> list[Chain]:
        return [c for t in self.tables.values() for c in t.chains.values()]

    def base_chains(self, hook: str) -> list[Chain]:
        return [c for c in self.chains() if c.hook == hook and c.chain_type == "filter"]

    def chain(self, family: str, table: str, name: str) -> Chain | None:
        t = self.tables.get((family, table))
        return t.chains.get(name) if t else None


def _strip_comment(line: str) -> tuple[str, int | None]:
    handle = None
    match = _HANDLE.search(line)
    if match:
        handle = int(match.group(1))
        line = line[: match.start()]
    if line.lstrip().startswith("#"):
        return "", handle
    return line.strip(), handle


def parse_ruleset(text: str) -> Ruleset:
    """The tables and chains of an nft listing or script (later definitions extend earlier)."""
    rs = Ruleset()
    table: Table | None = None
    chain: Chain | None = None
    depth = 0  # brace depth inside the current table
    skip_depth = 0  # inside a set/map block
    pending = ""  # a rule continued over several lines (unbalanced braces)
    pending_line = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line, handle = _strip_comment(raw)
        if not line:
            continue
        if pending:
            line, number = pending + " " + line, pending_line
        if line.count("{") > line.count("}") and chain is not None and not _CHAIN.match(line):
            pending, pending_line = line, number
            continue
        pending = ""
        if table is None:
            if line == "flush ruleset":
                rs.tables.clear()
            elif m := _DELETE_TABLE.match(line):
                rs.tables.pop((m.group(1) or "ip", m.group(2)), None)
            elif m := _INCLUDE.match(line):
                rs.includes.append(m.group(1))
            elif m := _TABLE.match(line):
                key = (m.group(1) or "ip", m.group(2))
                table = rs.tables.setdefault(key, Table(*key))
                depth = 1 + line.count("{", m.end()) - line.count("}")
                if depth <= 0:
                    table, depth = None, 0
            continue
        if skip_depth:
            skip_depth += line.count("{") - line.count("}")
            if skip_depth <= 0:
                skip_depth = 0
            continue
        if chain is None:
            if m := _CHAIN.match(line):
                name = m.group(1)
                chain = table.chains.get(name) or Chain(name, table.family, table.name, line=number)
                table.chains[name] = chain
                rest = line[m.end() :].strip()
                closed = rest.endswith("}")
                _chain_line(chain, rest[:-1].strip() if closed else rest, handle, number)
                if closed:
                    chain = None
            elif _SET.match(line):
                skip_depth = line.count("{") - line.count("}")
            elif line.startswith("}"):
                table, depth = None, 0
            continue
        if line == "}":
            chain = None
            continue
        _chain_line(chain, line, handle, number)
    return rs


def _chain_line(chain: Chain, line: str, handle: int | None, number: int) -> None:
    if not line:
        return
    if m := _HOOK.search(line):
        chain.chain_type, chain.hook = m.group(1), m.group(2)
        chain.priority = m.group(3).strip()
        chain.policy = m.group(4) or "accept"
        return
    if line.startswith("policy "):
        chain.policy = line.split()[1].rstrip(";")
        return
    for part in (p.strip() for p in line.split(";")):
        if part:
            chain.rules.append(Rule(part, handle, number))
