"""Box 8: disaster recovery proven to redeploy in under five minutes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from garrison.checks.attestation import attestation_finding
from garrison.checks.base import Check
from garrison.host.facts import Facts
from garrison.model import CheckMeta, Evidence, Finding, Severity
from garrison.recovery.drill import DRILLS_FILE, load_drills


class RecoveryDrillProven(Check):
    meta = CheckMeta(
        id="GAR-DR-001",
        area="recovery",
        item=8,
        title="A recent recovery drill redeployed within the target time",
        severity=Severity.HIGH,
        rationale="A golden image nobody has rebuilt from is a hope, not a plan; the seed asks "
        "for a redeploy proven to take under five minutes.",
        remediation="Set [recovery].drill_command to your rebuild (Terraform/Ansible into a "
        "scratch host) and run `garrison recovery drill` every quarter, or attest a manual "
        "drill in [attestations.recovery_drill].",
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        config = facts.config
        drills = load_drills(facts.host, config)
        source = f"{config.paths.state_dir}/{DRILLS_FILE}"
        if not drills:
            yield attestation_finding(
                self, config.attestations, "recovery_drill", "a recovery drill"
            )
            return
        last = drills[-1]
        age_days = (datetime.now(UTC) - last.started_at).total_seconds() / 86400
        target_s = config.recovery.target_minutes * 60
        observed = f"{last.started[:19]}: {last.duration_s:.0f} s, exit {last.returncode}"
        expected = f"exit 0 within {target_s:.0f} s, within {config.recovery.drill_max_age_days} d"
        evidence = Evidence(f"{source}:{len(drills)}", observed, expected)
        if not last.ok:
            yield self.failed("the last recovery drill failed", evidence)
        elif last.duration_s > target_s:
            yield self.failed(f"the last drill took {last.duration_s / 60:.1f} min", evidence)
        elif age_days > config.recovery.drill_max_age_days:
            yield self.failed(f"the last drill is {age_days:.0f} days old", evidence)
        else:
            yield self.passed(f"redeployed in {last.duration_s:.0f} s", evidence)
