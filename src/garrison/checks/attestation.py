"""Turn a human attestation ([attestations.NAME]) into a finding: PASS until it expires.

Used for the controls garrison cannot observe: MFA on the provider console (box 3), a manual
recovery drill (box 8), a penetration test (box 9).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from garrison.checks.base import Check
from garrison.config.audit import Attestation
from garrison.model import Evidence, Finding


def attestation_finding(
    check: Check, attestations: Mapping[str, Attestation], name: str, what: str
) -> Finding:
    """PASS while [attestations.NAME] is valid, FAIL when expired or future-dated, else MANUAL."""
    source = f"config [attestations.{name}]"
    entry = attestations.get(name)
    if entry is None:
        return check.manual(
            f"confirm {what}, then attest it in [attestations.{name}] (date, by)",
            Evidence(source, "no attestation", "date and by, renewed every 90 days"),
        )
    today = datetime.now(UTC).date()
    expires = entry.date + timedelta(days=entry.valid_days)
    said = f"attested by {entry.by} on {entry.date.isoformat()}"
    if entry.note:
        said += f" ({entry.note})"
    if entry.date > today:
        return check.failed(
            f"{what}: attestation dated in the future ({entry.date})",
            Evidence(source, said, f"a date on or before {today}"),
        )
    if expires <= today:
        return check.failed(
            f"{what}: attestation expired on {expires.isoformat()} "
            f"({(today - expires).days} days ago); check again and renew the date",
            Evidence(source, said, f"within {entry.valid_days} days"),
        )
    return check.passed(
        f"{what}: {said}, valid until {expires.isoformat()}",
        Evidence(source, said, f"within {entry.valid_days} days"),
    )
