"""Box 5: strategies run confined (own user, no capabilities, own namespaces, seccomp)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from garrison.checks.base import Check, CheckSkipped
from garrison.host.collectors.strategy_procs import (
    Confinement,
    StrategyProcesses,
    collect_strategy_processes,
)
from garrison.host.facts import Facts
from garrison.model import CheckMeta, Evidence, Finding, Severity

_REFS = ("https://docs.docker.com/engine/security/userns-remap/",)


def _running(facts: Facts) -> list[StrategyProcesses]:
    groups = facts.get(collect_strategy_processes)
    if not groups:
        raise CheckSkipped("no strategy declared in [[strategies]] and none found running")
    return groups


def _proc_source(proc: Confinement) -> str:
    return f"/proc/{proc.pid}/status"


class _PerProcess(Check):
    """One finding per strategy: FAIL naming the first offending process, else PASS."""

    what = ""

    def bad(self, proc: Confinement) -> tuple[str, str] | None:
        """(observed, expected) when the process violates the secure state."""
        raise NotImplementedError

    def run(self, facts: Facts) -> Iterable[Finding]:
        for group in _running(facts):
            if not group.processes:
                yield self.skipped("not running now", subject=group.name)
                continue
            offenders = [(p, v) for p in group.processes if (v := self.bad(p)) is not None]
            if offenders:
                proc, (observed, expected) = offenders[0]
                yield self.failed(
                    f"{len(offenders)} of {len(group.processes)} processes {self.what} "
                    f"(pid {proc.pid}: {proc.cmdline[:60]})",
                    Evidence(_proc_source(proc), observed, expected),
                    subject=group.name,
                )
            else:
                yield self.passed(f"{len(group.processes)} processes checked", subject=group.name)


class StrategyNotRoot(_PerProcess):
    meta = CheckMeta(
        id="GAR-ISO-001",
        area="isolation",
        item=5,
        title="Strategies run as unprivileged users",
        severity=Severity.HIGH,
        rationale="A bot running as root turns any bug or malicious dependency into full control "
        "of the host, its keys and every other bot.",
        remediation="Run each bot as its own system user (User= in its systemd unit, or "
        "`user:` in docker-compose) and give it only its own directories.",
        needs_live=True,
    )
    what = "run as root"

    def bad(self, proc: Confinement) -> tuple[str, str] | None:
        return ("uid 0", "a non-root uid") if proc.uid == 0 else None


class StrategyNoCapabilities(_PerProcess):
    meta = CheckMeta(
        id="GAR-ISO-002",
        area="isolation",
        item=5,
        title="Strategies hold no effective capabilities",
        severity=Severity.HIGH,
        rationale="Capabilities such as CAP_NET_ADMIN or CAP_SYS_PTRACE let a compromised bot "
        "rewrite the firewall or read other bots' keys from memory.",
        remediation="Drop them: CapabilityBoundingSet= and AmbientCapabilities= empty in the "
        "unit, or `cap_drop: [ALL]` in docker-compose.",
        needs_live=True,
    )
    what = "hold capabilities"

    def bad(self, proc: Confinement) -> tuple[str, str] | None:
        return (f"CapEff {proc.cap_eff:016x}", "0000000000000000") if proc.cap_eff else None


class StrategyContained(_PerProcess):
    meta = CheckMeta(
        id="GAR-ISO-003",
        area="isolation",
        item=5,
        title="Each strategy runs in a container or sandbox of its own",
        severity=Severity.MEDIUM,
        rationale="Separate mount and PID namespaces keep a bug in one bot from touching another "
        "bot's files or processes (the seed's blast-radius reduction).",
        remediation="Run each bot in a container (Docker with userns-remap, Podman rootless, "
        "gVisor) or a systemd sandbox (PrivateTmp, ProtectSystem=strict, PrivatePIDs...).",
        references=_REFS,
        needs_live=True,
    )
    what = "share the host's mount and PID namespaces"

    def bad(self, proc: Confinement) -> tuple[str, str] | None:
        if "mnt" in proc.own_namespaces and "pid" in proc.own_namespaces:
            return None
        own = ", ".join(proc.own_namespaces) or "none"
        return (f"own namespaces: {own}", "own mnt and pid namespaces")


class StrategyNoNewPrivileges(_PerProcess):
    meta = CheckMeta(
        id="GAR-ISO-004",
        area="isolation",
        item=5,
        title="Strategies cannot gain privileges and run under a seccomp filter",
        severity=Severity.MEDIUM,
        rationale="no_new_privs stops setuid binaries from elevating a compromised bot; a "
        "seccomp filter removes syscalls a trading bot never needs.",
        remediation="NoNewPrivileges=yes and SystemCallFilter=@system-service in the unit; "
        "Docker and Podman apply both by default unless --privileged.",
        needs_live=True,
    )
    what = "lack no_new_privs or a seccomp filter"

    def bad(self, proc: Confinement) -> tuple[str, str] | None:
        if proc.no_new_privs and proc.seccomp == 2:
            return None
        return (f"NoNewPrivs {int(proc.no_new_privs)}, Seccomp {proc.seccomp}", "1 and 2")


class StrategiesSeparateUsers(Check):
    meta = CheckMeta(
        id="GAR-ISO-005",
        area="isolation",
        item=5,
        title="No two strategies share a user",
        severity=Severity.MEDIUM,
        rationale="Bots under one uid can signal, ptrace and read each other: a bug in the "
        "martingale bot could rewrite the risk limits of the mean-reversion bot.",
        remediation="Give each strategy its own system user (useradd --system bot-NAME).",
        needs_live=True,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        owners: dict[int, list[str]] = {}
        for group in _running(facts):
            for uid in sorted({p.uid for p in group.processes}):
                owners.setdefault(uid, []).append(group.name)
        shared = {uid: names for uid, names in owners.items() if len(names) > 1}
        if not owners:
            raise CheckSkipped("no strategy process running")
        for uid, names in sorted(shared.items()):
            yield self.failed(
                f"uid {uid} runs {', '.join(names)}",
                Evidence("/proc/*/status", f"uid {uid}: {', '.join(names)}", "one uid per bot"),
                subject=",".join(names),
            )
        if not shared:
            yield self.passed(f"{len(owners)} strategies, {len(owners)} users")


class DockerUserNamespaces(Check):
    meta = CheckMeta(
        id="GAR-ISO-006",
        area="isolation",
        item=5,
        title="Docker remaps container root to an unprivileged user",
        severity=Severity.MEDIUM,
        rationale="Without user namespaces, root in a container is root on the host once it "
        "escapes; the seed asks for Docker with user namespaces.",
        remediation='Set "userns-remap": "default" in /etc/docker/daemon.json and restart '
        "Docker, or run the bots with rootless Docker/Podman.",
        references=_REFS,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        host = facts.host
        if not (host.exists("/usr/bin/dockerd") or host.exists("/usr/sbin/dockerd")):
            raise CheckSkipped("Docker engine not installed")
        text = host.read_text_or_none("/etc/docker/daemon.json")
        source = "/etc/docker/daemon.json"
        if text is None:
            yield self.failed("no daemon.json: user namespaces are off", Evidence(source, "absent"))
            return
        try:
            remap = json.loads(text).get("userns-remap", "")
        except (ValueError, AttributeError):
            yield self.errored(f"{source}: not valid JSON")
            return
        if remap:
            yield self.passed(f"userns-remap is {remap!r}", Evidence(source, str(remap)))
        else:
            yield self.failed(
                "userns-remap is not set",
                Evidence(source, "no userns-remap", '"userns-remap": "default"'),
            )
