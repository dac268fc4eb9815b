"""The matching language of rules: field -> alternatives, all fields must match, no eval.

Fields: source, kind, path, exe, comm, uid, pid and detail.NAME. A string alternative is a glob
(`*`, `**`, `?`, `[...]`); numbers and booleans compare by equality. A field whose value is a list
matches when any alternative matches. `path` and `exe` patterns may use macros such as
{protected} (expanded from the config into one pattern per path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from garrison.guard.pathglob import glob_match
from garrison.model import Event

TOP_FIELDS = ("source", "kind", "path", "exe", "comm", "uid", "pid")
Scalar = str | int | float | bool


@dataclass(frozen=True)
class Condition:
    """A conjunction of field tests; an empty condition matches everything."""

    fields: tuple[tuple[str, tuple[Scalar, ...]], ...]

    def matches(self, event: Event) -> bool:
        return all(_field_matches(_value(event, name), alts) for name, alts in self.fields)

    def describe(self) -> str:
        return " and ".join(f"{n} in {list(a)}" for n, a in self.fields) or "any event"


def _value(event: Event, name: str) -> Any:
    if name.startswith("detail."):
        return event.detail.get(name[7:])
    if name == "comm":
        return event.detail.get("comm", "")
    return getattr(event, name)


def _field_matches(value: Any, alternatives: tuple[Scalar, ...]) -> bool:
    for alt in alternatives:
        if isinstance(alt, bool) or isinstance(value, bool):
            if value is alt or value == alt:
                return True
        elif isinstance(alt, str):
            if value is not None and glob_match(alt, str(value)):
                return True
        elif value == alt:
            return True
    return False


def parse_condition(raw: Mapping[str, Any], macros: Mapping[str, list[str]]) -> Condition:
    """Validate and expand a [rule.match]/[[rule.unless]] table; ValueError names the key."""
    fields: list[tuple[str, tuple[Scalar, ...]]] = []
    flat: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "detail" and isinstance(value, dict):  # TOML: detail.setuid = true
            flat.update({f"detail.{k}": v for k, v in value.items()})
        else:
            flat[name] = value
    for name, value in flat.items():
        if name not in TOP_FIELDS and not name.startswith("detail."):
            choices = ", ".join((*TOP_FIELDS, "detail.NAME"))
            raise ValueError(f"unknown field {name!r} (choose from {choices})")
        alts = value if isinstance(value, list) else [value]
        if not alts:
            raise ValueError(f"{name}: empty list matches nothing")
        expanded: list[Scalar] = []
        for alt in alts:
            if not isinstance(alt, str | int | float | bool):
                raise ValueError(f"{name}: {alt!r} is not a string, number or boolean")
            if isinstance(alt, str):
                expanded.extend(expand_macros(alt, macros))
            else:
                expanded.append(alt)
        fields.append((name, tuple(expanded)))
    return Condition(tuple(fields))


def expand_macros(pattern: str, macros: Mapping[str, list[str]]) -> list[str]:
    """'{protected}/**' -> one pattern per protected path; unknown macros are errors."""
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    end = pattern.find("}", start)
    if end < 0:
        raise ValueError(f"unclosed macro in {pattern!r}")
    name = pattern[start + 1 : end]
    if name not in macros:
        raise ValueError(f"unknown macro {{{name}}} (choose from {', '.join(sorted(macros))})")
    out: list[str] = []
    for value in macros[name]:
        out.extend(expand_macros(pattern[:start] + value.rstrip("/") + pattern[end + 1 :], macros))
    return out
