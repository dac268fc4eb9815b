"""Path globs for rules and watch sets: `*` stays inside one segment, `**` crosses segments."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

GLOB_CHARS = "*?["


@lru_cache(maxsize=4096)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob: `**/` = zero or more directories, `**` = anything, `*` = one segment."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(char))
                i += 1
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(pattern: str, value: str) -> bool:
    return glob_regex(pattern).match(value) is not None


def literal_prefix(pattern: str) -> str:
    """The part of a glob before its first wildcard, cut back to a directory boundary."""
    cut = min((pattern.find(c) for c in GLOB_CHARS if c in pattern), default=-1)
    if cut < 0:
        return pattern.rstrip("/") or "/"
    head = pattern[:cut]
    return head[: head.rfind("/") + 1] or "/"


class PathFilter:
    """A quick yes/no: could this path concern the guard at all (before rules run)?"""

    def __init__(self, patterns: Iterable[str]) -> None:
        prefixes = {literal_prefix(p) for p in patterns if p}
        self.prefixes: tuple[str, ...] = tuple(sorted(prefixes))

    def may_contain(self, directory: str) -> bool:
        """Could an entry of this directory be watched (inside, or an ancestor of, a prefix)?"""
        inside = directory.rstrip("/") + "/"
        for prefix in self.prefixes:
            head = prefix if prefix.endswith("/") else prefix + "/"
            if inside.startswith(head) or head.startswith(inside):
                return True
        return False

    def __contains__(self, path: str) -> bool:
        for prefix in self.prefixes:
            if prefix.endswith("/"):
                if path.startswith(prefix):
                    return True
            elif path == prefix or path.startswith(prefix + "/"):
                return True
        return False
