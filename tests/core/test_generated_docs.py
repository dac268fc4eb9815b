"""docs/checks.md and docs/config.md are generated; they must match the code."""

from __future__ import annotations

from pathlib import Path

from garrison.checks.registry import all_checks
from garrison.config.reference import render_reference
from garrison.report.catalogue import render_catalogue_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_checks_catalogue_is_current() -> None:
    expected = render_catalogue_markdown(all_checks())
    assert (DOCS / "checks.md").read_text() == expected, (
        "docs/checks.md is stale: garrison checks list -f markdown > docs/checks.md"
    )


def test_config_reference_is_current() -> None:
    assert (DOCS / "config.md").read_text() == render_reference(), (
        "docs/config.md is stale: garrison config reference > docs/config.md"
    )


def test_every_check_is_in_the_catalogue() -> None:
    text = (DOCS / "checks.md").read_text()
    missing = [c.meta.id for c in all_checks() if f"### {c.meta.id}:" not in text]
    assert missing == []
