"""Load rule files: TOML syntax errors and semantic errors both name file:line."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from garrison.errors import ConfigError
from garrison.guard.rules.condition import Condition, parse_condition
from garrison.model import Event, Severity

RULE_KEYS = {
    "id",
    "severity",
    "title",
    "description",
    "technique",
    "match",
    "unless",
    "allow",
    "dedup",
}
NAMED_ALLOWS = ("package-manager", "garrison", "deploy")
RULE_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")


@dataclass(frozen=True)
class Rule:
    """One [[rule]]: when `match` holds and no `unless` entry does, raise an alert."""

    id: str
    severity: Severity
    title: str
    description: str
    technique: str
    match: Condition
    unless: tuple[Condition, ...]
    allow: tuple[str, ...]  # named, verified allow-lists (see guard.allowlist)
    dedup: tuple[str, ...]  # event fields that make up the dedup key
    origin: str  # file:line of the [[rule]] table

    def matches(self, event: Event) -> bool:
        return self.match.matches(event) and not any(u.matches(event) for u in self.unless)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    files: tuple[str, ...]

    def first_match(self, event: Event) -> Rule | None:
        """Rules are tried in file order; the first that matches wins."""
        return next((r for r in self.rules if r.matches(event)), None)


def default_rules_path() -> Path:
    return Path(str(resources.files("garrison.guard.rules").joinpath("default.toml")))


def _rule_lines(text: str) -> list[int]:
    """1-based line numbers of each [[rule]] header, in order."""
    return [n for n, line in enumerate(text.splitlines(), 1) if line.strip() == "[[rule]]"]


def load_rule_file(path: Path, macros: Mapping[str, list[str]]) -> list[Rule]:
    """Parse one rule file; every problem is a ConfigError 'FILE:LINE: what'."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: rule file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read rule file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = match.group(1) if match else "1"
        raise ConfigError(f"{path}:{line}: invalid TOML: {exc}") from None
    extra = set(data) - {"rule"}
    if extra:
        raise ConfigError(
            f"{path}:1: unknown top-level key {sorted(extra)[0]!r} (expected [[rule]])"
        )
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise ConfigError(f"{path}:1: 'rule' must be an array of tables ([[rule]])")
    lines = _rule_lines(text)
    rules: list[Rule] = []
    for index, raw in enumerate(raw_rules):
        line = lines[index] if index < len(lines) else 1
        origin = f"{path}:{line}"
        try:
            rules.append(_build_rule(raw, macros, origin))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{origin}: {exc}") from None
    return rules


def _build_rule(raw: Mapping[str, Any], macros: Mapping[str, list[str]], origin: str) -> Rule:
    unknown = set(raw) - RULE_KEYS
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r} in [[rule]]")
    for key in ("id", "severity", "title", "match"):
        if key not in raw:
            raise ValueError(f"[[rule]] is missing required key {key!r}")
    rule_id = raw["id"]
    if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
        raise ValueError(f"id {rule_id!r} must look like GRD-FILE-001")
    if not isinstance(raw["match"], dict):
        raise ValueError(f"{rule_id}: match must be a table")
    unless = raw.get("unless", [])
    if not isinstance(unless, list) or not all(isinstance(u, dict) for u in unless):
        raise ValueError(f"{rule_id}: unless must be an array of tables ([[rule.unless]])")
    allow = tuple(raw.get("allow", []))
    for name in allow:
        if name not in NAMED_ALLOWS:
            raise ValueError(
                f"{rule_id}: unknown allow {name!r} (choose from {', '.join(NAMED_ALLOWS)})"
            )
    dedup = tuple(raw.get("dedup", ["path"]))
    for name in dedup:
        if name not in ("source", "kind", "path", "exe", "uid", "pid") and not name.startswith(
            "detail."
        ):
            raise ValueError(f"{rule_id}: dedup field {name!r} is not an event field")
    try:
        match = parse_condition(raw["match"], macros)
        unless_conds = tuple(parse_condition(u, macros) for u in unless)
    except ValueError as exc:
        raise ValueError(f"{rule_id}: {exc}") from None
    return Rule(
        id=rule_id,
        severity=Severity.parse(str(raw["severity"])),
        title=str(raw["title"]),
        description=str(raw.get("description", "")),
        technique=str(raw.get("technique", "")),
        match=match,
        unless=unless_conds,
        allow=allow,
        dedup=dedup,
        origin=origin,
    )


def load_ruleset(paths: Iterable[Path], macros: Mapping[str, list[str]]) -> RuleSet:
    """All files, in order; duplicate ids across files are an error naming both places."""
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    files: list[str] = []
    for path in paths:
        files.append(str(path))
        for rule in load_rule_file(path, macros):
            if rule.id in seen:
                raise ConfigError(
                    f"{rule.origin}: duplicate rule id {rule.id} (first at {seen[rule.id]})"
                )
            seen[rule.id] = rule.origin
            rules.append(rule)
    return RuleSet(tuple(rules), tuple(files))
