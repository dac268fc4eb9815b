"""The ruleset the audit looks at: live (`nft -a list ruleset`) or, under --root, the boot file.

Under --root nothing can be run, so the persisted file (with its `include`s, resolved inside the
image) is read and parsed as text; live, nft's own listing (with rule handles) is parsed by the
same parser. The JSON form (`nft -j`) was not used so both paths share one reader and evidence
shows rules exactly as `nft list` prints them.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass

from garrison.config.schema import Config
from garrison.errors import HostError
from garrison.firewall.ruleset_parse import Ruleset, parse_ruleset
from garrison.host.host import Host

_INCLUDE = re.compile(r'^\s*include\s+"([^"]+)"\s*$', re.MULTILINE)


@dataclass(frozen=True)
class FirewallView:
    ruleset: Ruleset
    source: str  # the command or file the ruleset came from
    live: bool
    text: str = ""
    note: str = ""  # why the ruleset is empty, when it is


def _expand_includes(host: Host, text: str, depth: int = 0) -> str:
    if depth > 4:
        return text

    def replace(match: re.Match[str]) -> str:
        pattern = match.group(1)
        real = str(host.root / pattern.lstrip("/"))
        parts = []
        for path in sorted(glob.glob(real)):
            sys_path = "/" + path[len(str(host.root)) :].lstrip("/")
            content = host.read_text_or_none(sys_path)
            if content:
                parts.append(_expand_includes(host, content, depth + 1))
        return "\n".join(parts)

    return _INCLUDE.sub(replace, text)


def collect_firewall_view(host: Host, config: Config) -> FirewallView:
    """Collector: the ruleset in effect (live) or the one that will load at boot (--root)."""
    if host.live:
        result = host.run(["nft", "-a", "list", "ruleset"])
        if result.missing:
            return FirewallView(Ruleset(), "nft -a list ruleset", True, note="nft is not installed")
        if not result.ok:
            raise HostError(result.problem())
        return FirewallView(
            parse_ruleset(result.stdout), "nft -a list ruleset", True, result.stdout
        )
    path = config.firewall.persist_path
    text = host.read_text_or_none(path)
    if text is None:
        return FirewallView(Ruleset(), path, False, note=f"no ruleset persisted at {path}")
    text = _expand_includes(host, text)
    return FirewallView(parse_ruleset(text), path, False, text)
