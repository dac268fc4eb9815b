"""Checklist box 1: "Kernel patched within the last 30 days, live-patch enabled."

Plus the seed's "Schedule automatic security updates": unattended-upgrades / dnf-automatic,
a security repository to fetch from, and no reboot left pending after an update.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from garrison.checks.base import Check, CheckSkipped
from garrison.errors import HostError
from garrison.host.collectors.kernel import (
    InstalledKernel,
    collect_livepatch,
    collect_running_kernel,
    find_installed_kernels,
)
from garrison.host.collectors.packages import collect_packages, compare_debian_versions
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


def today() -> date:
    return datetime.now(UTC).date()


def _installed_kernels(facts: Facts) -> tuple[InstalledKernel, ...]:
    return find_installed_kernels(facts.host, facts.get(collect_packages))


class KernelRecent(Check):
    meta = CheckMeta(
        id="GAR-KRN-001",
        area="kernel",
        item=1,
        title="The kernel was built within the last 30 days (audit.kernel_max_age_days)",
        severity=Severity.HIGH,
        rationale="Kernel privilege-escalation bugs are fixed in new kernel builds; a kernel "
        "older than a month has missed its distribution's latest security update.",
        remediation="apt-get update && apt-get full-upgrade (dnf upgrade 'kernel*'), then reboot "
        "into the new kernel; enable live patching to cover the gap between reboots.",
        references=("https://www.debian.org/security/",),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        limit = facts.config.audit.kernel_max_age_days
        if facts.host.live:
            yield self._running(facts, limit)
        else:
            yield self._image(facts, limit)

    def _judge(self, built: date, limit: int, what: str, evidence: Evidence) -> Finding:
        age = (today() - built).days
        if age > limit:
            return self.failed(
                f"{what} was built {age} days ago ({built}), more than {limit}", evidence
            )
        return self.passed(f"{what} was built {age} days ago ({built})", evidence)

    def _running(self, facts: Facts, limit: int) -> Finding:
        kernel = facts.get(collect_running_kernel)
        evidence = Evidence(
            source=kernel.source,
            observed=kernel.version,
            expected=f"built within {limit} days",
        )
        if kernel.built is not None:
            return self._judge(kernel.built, limit, f"running kernel {kernel.release}", evidence)
        # uname -v has no usable date (e.g. "@0" of a reproducible build): use the package.
        for installed in _installed_kernels(facts):
            if installed.release == kernel.release and installed.dated is not None:
                fallback = Evidence(
                    source=installed.date_source,
                    observed=f"{installed.origin} dated {installed.dated}",
                    expected=f"built within {limit} days",
                )
                what = f"running kernel {kernel.release} (date from {installed.date_source})"
                return self._judge(installed.dated, limit, what, fallback)
        return self.manual(
            f"running kernel {kernel.release} carries no build date and no installed package "
            "dates it (a provider-supplied kernel?); confirm with the provider that it is "
            f"patched within {limit} days",
            evidence,
        )

    def _image(self, facts: Facts, limit: int) -> Finding:
        kernels = _installed_kernels(facts)
        if not kernels:
            raise CheckSkipped(
                "no kernel in the image (/boot/vmlinuz-*, linux-image-*): a container image "
                "runs on its host's kernel; audit that host live"
            )
        newest = kernels[0]
        if newest.dated is None:
            return self.manual(
                f"newest installed kernel {newest.release} has no changelog or file date",
                Evidence(source=newest.origin, observed=newest.release),
            )
        evidence = Evidence(
            source=newest.date_source,
            observed=f"{newest.origin} dated {newest.dated}",
            expected=f"within {limit} days",
        )
        what = f"newest installed kernel {newest.release} (dated by {newest.date_source})"
        return self._judge(newest.dated, limit, what, evidence)


class NewestKernelRunning(Check):
    meta = CheckMeta(
        id="GAR-KRN-002",
        area="kernel",
        item=1,
        title="The newest installed kernel is the one running",
        severity=Severity.HIGH,
        rationale="An installed kernel update protects nothing until the host boots it.",
        remediation="Reboot into the new kernel at a quiet market hour (freeze the bots first: "
        "garrison freeze), or live-patch until then.",
        needs_live=True,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        running = facts.get(collect_running_kernel)
        kernels = _installed_kernels(facts)
        if not kernels:
            raise CheckSkipped(
                f"no installed kernel to compare with running {running.release} "
                "(no /boot/vmlinuz-*, no linux-image-* package: provider-managed kernel)"
            )
        newest = kernels[0]
        source = newest.image or newest.origin
        if compare_debian_versions(newest.release, running.release) > 0:
            yield self.failed(
                f"kernel {newest.release} is installed but {running.release} is running",
                Evidence(
                    source=source,
                    observed=f"installed {newest.release}",
                    expected=f"running {newest.release} (uname -r is {running.release})",
                ),
            )
            return
        same = next((k for k in kernels if k.release == running.release), None)
        if (
            same is not None
            and same.package_version
            and running.package_version
            and compare_debian_versions(same.package_version, running.package_version) > 0
        ):
            # Same ABI name, newer build: Debian ships security fixes this way too.
            yield self.failed(
                f"{same.package} {same.package_version} is installed but the running build "
                f"is {running.package_version}",
                Evidence(
                    source=f"{same.origin} vs {running.source}",
                    observed=running.version,
                    expected=same.package_version,
                ),
            )
            return
        yield self.passed(
            f"running kernel {running.release} is the newest installed",
            Evidence(
                source=source,
                observed=f"newest installed {newest.release}",
                expected=f"uname -r {running.release}",
            ),
        )


class LivePatchingActive(Check):
    meta = CheckMeta(
        id="GAR-KRN-003",
        area="kernel",
        item=1,
        title="Kernel live patching is active",
        severity=Severity.MEDIUM,
        rationale="Live patching closes kernel holes between reboots, which on a 24/7 trading "
        "host can be weeks apart. It is detected from the kernel and the vendor tools, never "
        "assumed from an installed package.",
        remediation="Enable one of: Canonical Livepatch (Ubuntu: pro attach; pro enable "
        "livepatch), kpatch (RHEL: kpatch-patch packages), TuxCare KernelCare (kcarectl "
        "--register KEY). Debian has no free live-patch service: reboot after every kernel "
        "update instead, and list GAR-KRN-003 in [audit].skip once you accept that.",
        references=(
            "https://docs.kernel.org/livepatch/livepatch.html",
            "https://ubuntu.com/security/livepatch",
        ),
        needs_live=True,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        state = facts.get(collect_livepatch)
        active = state.active
        if active:
            yield self.passed(
                "live patching is active",
                *(Evidence(source=o.source, observed=o.observed) for o in active),
            )
            return
        if state.problems:
            raise HostError("; ".join(state.problems))
        looked = [
            Evidence(source=o.source, observed=o.observed, expected="active")
            for o in state.observations
        ]
        if not looked:
            looked = [
                Evidence(
                    source="/sys/kernel/livepatch, canonical-livepatch, kpatch, kcarectl",
                    observed="no live patch loaded and no live-patch tool installed",
                    expected="an enabled live patch or an active live-patch service",
                )
            ]
        yield self.failed("no active live patching detected", *looked)


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
