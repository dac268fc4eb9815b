"""Turn a human attestation ([attestations.NAME]) into a finding: PASS until it expires."""

from __future__ import annotations

from datetime import date, timedelta

from garrison.checks.base import Check
from garrison.model import Evidence, Finding


def attestation_finding(
    check: Check, attestations: dict[str, object], name: str, what: str, today: date | None = None
) -> Finding:
    """PASS while [attestations.NAME] is valid, FAIL once expired, MANUAL when absent."""
    from garrison.config.audit import Attestation

    today = today or date.today()
    source = f"garrison.toml [attestations.{name}]"
    entry = attestations.get(name)
    if not isinstance(entry, Attestation):
        return check.manual(
            f"{what}: garrison cannot see this; attest it in [attestations.{name}] "
            "(date, by) once it is done",
            Evidence(source, "no attestation", "date + by"),
        )
    expires = entry.date + timedelta(days=entry.valid_days)
    observed = f"attested by {entry.by} on {entry.date.isoformat()}"
    if entry.date > today:
        return check.failed(
            f"{what}: the attestation is dated in the future ({entry.date.isoformat()})",
            Evidence(source, observed, "a date not after today"),
        )
    if expires < today:
        return check.failed(
            f"{what}: the attestation expired on {expires.isoformat()}",
            Evidence(source, observed, f"renewed every {entry.valid_days} days"),
        )
    return check.passed(
        f"{what}: {observed}, valid until {expires.isoformat()}",
        Evidence(source, observed),
    )
