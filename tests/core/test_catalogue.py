"""Every registered check carries complete metadata and a unique, well-formed id."""

from __future__ import annotations

from collections import Counter

import pytest

from garrison.checks.base import Check
from garrison.checks.registry import ID_PATTERN, all_checks
from garrison.model import Severity

CHECKS = all_checks()


def test_ids_are_unique() -> None:
    dupes = [i for i, n in Counter(c.meta.id for c in CHECKS).items() if n > 1]
    assert dupes == []


@pytest.mark.parametrize("check", CHECKS, ids=[c.meta.id for c in CHECKS])
def test_metadata_is_complete(check: type[Check]) -> None:
    meta = check.meta
    assert ID_PATTERN.match(meta.id), meta.id
    assert meta.id.split("-")[1] in {meta.area.upper()[: len(meta.id.split("-")[1])], *_ALIASES}
    assert 1 <= meta.item <= 9
    assert isinstance(meta.severity, Severity)
    assert meta.title and not meta.title.lower().startswith("ensure")
    assert not meta.title.endswith(".")
    assert len(meta.rationale) >= 20
    assert len(meta.remediation) >= 10


_ALIASES = {
    "IMG",
    "KRN",
    "FW",
    "FIM",
    "CODE",
    "SEC",
    "BRK",
    "SSH",
    "GRD",
    "RSP",
    "ISO",
    "BAK",
    "DR",
    "PEN",
}
