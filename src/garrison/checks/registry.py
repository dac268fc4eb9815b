"""The catalogue of checks: every Check subclass in the garrison.checks.* modules, by id."""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache

import garrison.checks
from garrison.checks.base import Check

ID_PATTERN = re.compile(r"^GAR-[A-Z]+-\d{3}$")
_NOT_CHECK_MODULES = {"base", "registry", "engine", "attestation"}


def _subclasses(cls: type) -> list[type[Check]]:
    out: list[type[Check]] = []
    sub: type[Check]
    for sub in cls.__subclasses__():
        if "meta" in sub.__dict__ and sub.__module__.startswith("garrison.checks."):
            out.append(sub)
        out.extend(_subclasses(sub))
    return out


@cache
def all_checks() -> tuple[type[Check], ...]:
    """Every registered check class, ordered by checklist item then id."""
    for info in pkgutil.iter_modules(garrison.checks.__path__):
        if info.name not in _NOT_CHECK_MODULES and not info.name.startswith("_"):
            importlib.import_module(f"garrison.checks.{info.name}")
    found = list(dict.fromkeys(_subclasses(Check)))  # a class reachable twice counts once
    return tuple(sorted(found, key=lambda c: (c.meta.item, c.meta.id)))


def find_check(check_id: str) -> type[Check] | None:
    wanted = check_id.strip().upper()
    return next((c for c in all_checks() if c.meta.id == wanted), None)
