"""Checklist box 1, the seed's "Schedule automatic security updates".

unattended-upgrades / dnf-automatic / a scheduled apk upgrade, a security repository to fetch
from, and no reboot left pending after an update. Ids stay in the kernel area (GAR-KRN-0xx).
"""

from __future__ import annotations

from collections.abc import Iterable

from garrison.checks.base import Check, CheckSkipped
from garrison.host.collectors.packages import collect_packages
from garrison.host.collectors.updates import (
    REBOOT_REQUIRED,
    collect_apk_upgrade_jobs,
    collect_apt_config,
    collect_apt_sources,
    collect_dnf_automatic,
    collect_reboot_required,
    timer_masked,
)
from garrison.host.facts import Facts
from garrison.model import CheckMeta, Evidence, Finding, Severity


class AutomaticSecurityUpdates(Check):
    meta = CheckMeta(
        id="GAR-KRN-004",
        area="kernel",
        item=1,
        title="Security updates are installed automatically",
        severity=Severity.HIGH,
        rationale="A patched image stays patched only if updates install themselves; the seed "
        "says schedule automatic security updates.",
        remediation="Debian/Ubuntu: apt-get install unattended-upgrades and set "
        'APT::Periodic::Update-Package-Lists "1"; APT::Periodic::Unattended-Upgrade "1"; in '
        "/etc/apt/apt.conf.d/20auto-upgrades (dpkg-reconfigure -plow unattended-upgrades). "
        "RHEL-likes: dnf install dnf-automatic, apply_updates = yes, upgrade_type = security, "
        "systemctl enable --now dnf-automatic.timer. Take a snapshot before updates so a bad "
        "patch can be rolled back.",
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        db = facts.get(collect_packages)
        dnf = facts.get(collect_dnf_automatic)
        if db.manager == "dpkg":
            yield from self._apt(facts)
        elif dnf.present:
            yield from self._dnf(facts)
        elif db.manager == "apk":
            yield self._apk(facts)
        elif db.manager == "rpm":
            yield self.failed(
                "dnf-automatic is not configured",
                Evidence(
                    source="/etc/dnf/automatic.conf",
                    observed="absent",
                    expected="dnf-automatic installed, apply_updates = yes, timer enabled",
                ),
            )
        else:
            raise CheckSkipped("no dpkg/apk/rpm database and no /etc/dnf/automatic.conf")

    def _apk(self, facts: Facts) -> Finding:
        jobs = facts.get(collect_apk_upgrade_jobs)
        if jobs:
            return self.passed(
                "a scheduled job runs apk upgrade",
                *(Evidence(source=job, observed="apk upgrade") for job in jobs),
            )
        return self.failed(
            "no scheduled apk upgrade (Alpine has no standard automatic updater)",
            Evidence(
                source="/etc/periodic/*, /etc/crontabs/root",
                observed="no apk upgrade job",
                expected="e.g. /etc/periodic/daily/apk-upgrade running apk upgrade --available",
            ),
        )

    def _apt(self, facts: Facts) -> Iterable[Finding]:
        db = facts.get(collect_packages)
        apt = facts.get(collect_apt_config)
        problems: list[Evidence] = []
        pkg = db.get("unattended-upgrades")
        if pkg is None:
            problems.append(
                Evidence(
                    source=db.label,
                    observed="unattended-upgrades not installed",
                    expected="unattended-upgrades installed",
                )
            )
        for key in ("APT::Periodic::Update-Package-Lists", "APT::Periodic::Unattended-Upgrade"):
            value = apt.get(key)
            if value is None or value.value in ("", "0", "false", "no"):
                problems.append(
                    Evidence(
                        source=value.origin if value else "/etc/apt/apt.conf.d",
                        observed=f'{key} "{value.value}"' if value else f"{key} not set",
                        expected=f'{key} "1"',
                    )
                )
        origins = [
            *apt.items("Unattended-Upgrade::Origins-Pattern"),
            *apt.items("Unattended-Upgrade::Allowed-Origins"),
        ]
        if pkg is not None and not any("security" in o.value.lower() for o in origins):
            problems.append(
                Evidence(
                    source=origins[0].origin if origins else "/etc/apt/apt.conf.d",
                    observed="; ".join(o.value for o in origins) or "no origins configured",
                    expected="an origin matching the security archive (…-security)",
                )
            )
        for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
            if timer_masked(facts.host, timer):
                problems.append(
                    Evidence(
                        source=f"/etc/systemd/system/{timer}",
                        observed="masked (-> /dev/null)",
                        expected="enabled",
                    )
                )
        if problems:
            yield self.failed("automatic security updates are not fully configured", *problems)
            return
        assert pkg is not None
        value = apt.get("APT::Periodic::Unattended-Upgrade")
        yield self.passed(
            f"unattended-upgrades {pkg.version} installs security updates daily",
            Evidence(source=value.origin if value else "", observed='Unattended-Upgrade "1"'),
        )

    def _dnf(self, facts: Facts) -> Iterable[Finding]:
        dnf = facts.get(collect_dnf_automatic)
        source = "/etc/dnf/automatic.conf"
        install_timer = "dnf-automatic-install.timer" in dnf.timers_enabled
        problems = []
        if dnf.apply_updates not in ("yes", "true", "1", "on") and not install_timer:
            problems.append(
                Evidence(
                    source=source,
                    observed=f"apply_updates = {dnf.apply_updates}",
                    expected="apply_updates = yes",
                )
            )
        if not dnf.timers_enabled:
            problems.append(
                Evidence(
                    source="/etc/systemd/system/timers.target.wants",
                    observed="no dnf-automatic timer enabled",
                    expected="dnf-automatic.timer enabled",
                )
            )
        if problems:
            yield self.failed("dnf-automatic does not apply updates on a timer", *problems)
            return
        kind = "security" if dnf.upgrade_type == "security" else dnf.upgrade_type or "all"
        yield self.passed(
            f"dnf-automatic applies {kind} updates ({', '.join(dnf.timers_enabled)})",
            Evidence(source=source, observed=f"apply_updates = {dnf.apply_updates}"),
        )


class SecurityRepositoryConfigured(Check):
    meta = CheckMeta(
        id="GAR-KRN-005",
        area="kernel",
        item=1,
        title="The distribution's security repository is an APT source",
        severity=Severity.HIGH,
        rationale="Debian and Ubuntu publish security fixes (kernel included) in a separate "
        "suite; without it, upgrades and unattended-upgrades never see them.",
        remediation="Add the security suite, e.g. in /etc/apt/sources.list: "
        "deb http://security.debian.org/debian-security bookworm-security main "
        "(Ubuntu: deb http://security.ubuntu.com/ubuntu noble-security main).",
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        if facts.get(collect_packages).manager != "dpkg":
            raise CheckSkipped("not an APT system")
        sources = facts.get(collect_apt_sources)
        security = [s for s in sources if s.is_security]
        if security:
            first = security[0]
            yield self.passed(
                f"security suite {first.suite} from {first.uri}",
                Evidence(source=first.origin, observed=f"{first.uri} {first.suite}"),
            )
            return
        seen = "; ".join(f"{s.uri} {s.suite}" for s in sources) or "no deb sources"
        yield self.failed(
            "no security suite among the APT sources",
            Evidence(
                source="/etc/apt/sources.list{,.d}", observed=seen, expected="a …-security suite"
            ),
        )


class NoRebootPending(Check):
    meta = CheckMeta(
        id="GAR-KRN-006",
        area="kernel",
        item=1,
        title="No reboot is pending after updates",
        severity=Severity.LOW,
        rationale="Updated kernels and libraries take effect only after a reboot or restart.",
        remediation="Reboot at a quiet market hour (garrison freeze the bots first).",
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        state = facts.get(collect_reboot_required)
        if state.required:
            pkgs = ", ".join(state.packages) or "packages not listed"
            yield self.warned(
                f"a reboot is required ({pkgs})",
                Evidence(source=REBOOT_REQUIRED, observed="present", expected="absent"),
            )
            return
        yield self.passed(
            "no reboot pending",
            Evidence(source=REBOOT_REQUIRED, observed="absent", expected="absent"),
        )
