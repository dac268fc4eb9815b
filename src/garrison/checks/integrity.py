"""Checklist item 6: file integrity and signed code (baseline, verify, deploys, vulnerable deps)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from garrison.checks.base import Check, CheckSkipped
from garrison.host.facts import Facts
from garrison.integrity.audit_facts import (
    baseline_state,
    deploy_record,
    git_head,
    last_verify,
)
from garrison.integrity.baseline import protected_paths
from garrison.model import CheckMeta, Evidence, Finding, Severity

_REFS = ("https://www.cisecurity.org/controls/v8 (3.14, 2.5)",)


class BaselinePresent(Check):
    meta = CheckMeta(
        id="GAR-FIM-001",
        area="integrity",
        item=6,
        title="A file-integrity baseline of the protected paths exists",
        severity=Severity.HIGH,
        rationale="Without a record of what /usr, /etc and the bots' code should be, a swapped "
        "binary or an edited strategy cannot be told from the real one.",
        remediation="garrison keygen KEY (off the box), pin the public key as "
        "integrity.public_key, then garrison baseline --sign-with KEY.",
        references=_REFS,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        state = facts.get(baseline_state)
        if not state.exists:
            yield self.failed(
                "no baseline manifest",
                Evidence(source=state.path, observed="missing", expected="a manifest"),
            )
        elif state.load_error:
            yield self.failed(
                "the baseline manifest is damaged or tampered",
                Evidence(source=state.path, observed=state.load_error, expected="intact"),
            )
        else:
            yield self.passed(f"baseline of {state.records} entries at {state.path}")


class BaselineSigned(Check):
    meta = CheckMeta(
        id="GAR-FIM-002",
        area="integrity",
        item=6,
        title="The baseline is signed by the pinned key and was made on this host",
        severity=Severity.HIGH,
        rationale="An attacker with root can rewrite an unsigned baseline to match their "
        "implant; an ed25519 signature by a key kept off the box cannot be forged.",
        remediation="Pin integrity.public_key and sign: garrison baseline --sign-with KEY, or "
        "--export-digest then garrison baseline import-signature SIG.",
        references=_REFS,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        state = facts.get(baseline_state)
        if not state.exists or state.load_error:
            raise CheckSkipped("no readable baseline (see GAR-FIM-001)")
        if state.trust_error:
            yield self.failed(
                "the baseline cannot be trusted",
                Evidence(
                    source=state.path, observed=state.trust_error, expected="signed, verified"
                ),
            )
        else:
            yield self.passed(f"signature by {state.signed_by} verifies against the pinned key")


class BaselineFresh(Check):
    meta = CheckMeta(
        id="GAR-FIM-003",
        area="integrity",
        item=6,
        title="The baseline is younger than integrity.max_age_days",
        severity=Severity.MEDIUM,
        rationale="A stale baseline drowns real drift in the noise of every update since, "
        "and people learn to ignore the report.",
        remediation="After reviewing `garrison verify`, make a new signed baseline "
        "(garrison baseline --sign-with KEY), e.g. after each patch window.",
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        state = facts.get(baseline_state)
        created = state.created
        if created is None:
            raise CheckSkipped("no readable baseline (see GAR-FIM-001)")
        limit = facts.config.integrity.max_age_days
        age = (datetime.now(UTC) - created).days
        evidence = Evidence(
            source=f"{state.path} (header.created)",
            observed=f"{age} days old ({created.date().isoformat()})",
            expected=f"at most {limit} days",
        )
        if age > limit:
            yield self.failed(f"baseline is {age} days old", evidence)
        else:
            yield self.passed(f"baseline is {age} days old", evidence)


class BaselineCoversCode(Check):
    meta = CheckMeta(
        id="GAR-FIM-004",
        area="integrity",
        item=6,
        title="The baseline covers every protected path and every strategy's code",
        severity=Severity.MEDIUM,
        rationale="A strategy directory outside the baseline can be edited without a trace, "
        "and the strategy code is exactly what an attacker wants to change.",
        remediation="Set strategies.code_dir (added automatically) or integrity.paths, "
        "then make a new signed baseline.",
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        state = facts.get(baseline_state)
        if state.header is None:
            raise CheckSkipped("no readable baseline (see GAR-FIM-001)")
        covered = state.header.paths
        missing = [
            p
            for p in protected_paths(facts.config)
            if not any(p == c or p.startswith(c.rstrip("/") + "/") for c in covered)
        ]
        if missing:
            yield self.failed(
                f"not in the baseline: {', '.join(missing)}",
                Evidence(
                    source=f"{state.path} (header.paths)",
                    observed=" ".join(covered),
                    expected="also " + " ".join(missing),
                ),
            )
        else:
            yield self.passed(f"covers {' '.join(covered)}")


class LastVerifyClean(Check):
    meta = CheckMeta(
        id="GAR-FIM-005",
        area="integrity",
        item=6,
        title="The last `garrison verify` found no drift",
        severity=Severity.HIGH,
        rationale="Drift means a protected file changed after the signed baseline: an update "
        "nobody re-baselined, or an intrusion.",
        remediation="Run garrison verify, investigate each change; if legitimate, make a new "
        "signed baseline. Run it from cron/systemd (the guard also runs it on start).",
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        result = facts.get(last_verify)
        if result.data is None:
            yield self.failed(
                "no verify has been recorded" + (f" ({result.error})" if result.error else ""),
                Evidence(source=result.path, observed="missing", expected="a clean verify"),
            )
            return
        data = result.data
        evidence = Evidence(
            source=result.path,
            observed=f"checked {data.get('checked_at')}: "
            + (
                "clean" if data.get("clean") else f"worst {data.get('worst')}, {data.get('counts')}"
            ),
            expected="clean",
        )
        if data.get("clean"):
            yield self.passed("last verify was clean", evidence)
        else:
            firsts = [c.get("path", "") for c in data.get("first_changes", [])[:3]]
            yield self.failed(f"last verify found drift: {', '.join(firsts)}", evidence)


class StrategyCodeSigned(Check):
    meta = CheckMeta(
        id="GAR-CODE-001",
        area="integrity",
        item=6,
        title="Each strategy runs code from a verified, signed deploy",
        severity=Severity.HIGH,
        rationale="Only commits signed by an allowed signer should ever reach the box that "
        "holds the broker keys; a deploy record ties the running tree to such a commit.",
        remediation="garrison deploy verify --strategy NAME after each deploy; install "
        "garrison deploy hook install on the bare repository you push to.",
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        strategies = [s for s in facts.config.strategies if s.code_dir]
        if not strategies:
            raise CheckSkipped("no strategies with a code_dir configured")
        for strategy in strategies:
            assert strategy.code_dir is not None
            record = deploy_record(facts.host, facts.config, strategy.name)
            source = f"{facts.config.paths.state_dir}/deploys/{strategy.name}.json"
            if record is None:
                yield self.failed(
                    "no verified deploy recorded",
                    Evidence(source=source, observed="missing", expected="a verified deploy"),
                    subject=strategy.name,
                )
                continue
            head = git_head(facts.host, strategy.code_dir)
            if head is None:
                yield self.warned(
                    "code_dir is not a git work tree; cannot compare with the deploy",
                    Evidence(source=f"{strategy.code_dir}/.git", observed="missing"),
                    subject=strategy.name,
                )
            elif head != record.head:
                yield self.failed(
                    "HEAD moved since the verified deploy",
                    Evidence(
                        source=f"{strategy.code_dir}/.git/HEAD",
                        observed=head[:12],
                        expected=f"{record.head[:12]} (verified {record.verified_at})",
                    ),
                    subject=strategy.name,
                )
            else:
                yield self.passed(
                    f"HEAD {head[:12]} verified {record.verified_at} "
                    f"(signers: {', '.join(record.signers) or '-'})",
                    subject=strategy.name,
                )


class NoKnownVulnerablePackages(Check):
    meta = CheckMeta(
        id="GAR-CODE-002",
        area="integrity",
        item=6,
        title="No strategy's Python environment has a package with a known vulnerability",
        severity=Severity.HIGH,
        rationale="Outdated dependencies are the most common way into a cloud VM; a bot's "
        "venv is rarely updated once it trades.",
        remediation="Upgrade the listed packages to a fixed version in the strategy's venv; "
        "download a fresh OSV PyPI database (all.zip) for integrity.osv_database.",
        references=("https://osv.dev", "https://google.github.io/osv.dev/data/"),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        from garrison.integrity.osv import (
            find_vulnerabilities,
            installed_distributions,
            query_online,
        )

        venvs = [(s.name, _venv_of(facts, s.venv, s.code_dir)) for s in facts.config.strategies]
        venvs = [(name, venv) for name, venv in venvs if venv]
        if not venvs:
            raise CheckSkipped("no strategy has a venv (set strategies.venv)")
        cfg = facts.config.integrity
        database = cfg.osv_database
        if not database and not cfg.osv_online:
            for name, venv in venvs:
                yield self.warned(
                    "not checked: set integrity.osv_database to an OSV PyPI all.zip",
                    Evidence(source="integrity.osv_database", observed="unset"),
                    subject=f"{name} ({venv})",
                )
            return
        source = " + ".join(filter(None, [database, cfg.osv_api if cfg.osv_online else ""]))
        for name, venv in venvs:
            assert venv is not None
            dists = installed_distributions(facts.host, venv)
            vulns = find_vulnerabilities(dists, Path(database)) if database else []
            if cfg.osv_online:
                known = {(v.id, v.package) for v in vulns}
                vulns += [
                    v for v in query_online(dists, cfg.osv_api) if (v.id, v.package) not in known
                ]
            if not vulns:
                yield self.passed(
                    f"{len(dists)} packages, none with a known vulnerability ({source})",
                    subject=f"{name} ({venv})",
                )
                continue
            for vuln in vulns:
                fixed = f"; fixed in {', '.join(vuln.fixed)}" if vuln.fixed else ""
                yield self.failed(
                    f"{vuln.package} {vuln.version}: {vuln.id} {vuln.summary}{fixed}",
                    Evidence(
                        source=f"{venv} site-packages ({vuln.package}) vs {source}",
                        observed=f"{vuln.package}=={vuln.version}",
                        expected=f"not affected by {vuln.id}"
                        + (f" ({', '.join(vuln.aliases)})" if vuln.aliases else ""),
                    ),
                    subject=f"{name}: {vuln.package}",
                )


def _venv_of(facts: Facts, venv: str | None, code_dir: str | None) -> str | None:
    if venv:
        return venv
    for candidate in (f"{code_dir}/.venv", f"{code_dir}/venv") if code_dir else ():
        if facts.host.is_dir(f"{candidate}/lib"):
            return candidate
    return None
