"""Checklist box 1: "Kernel patched within the last 30 days, live-patch enabled."

The kernel itself: its age, whether the newest installed one runs, live patching. How updates
reach the host (unattended-upgrades, dnf-automatic, security suite) is in checks/updates.py.
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
