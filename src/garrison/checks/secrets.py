"""Checklist box 4: secrets vaulted in memory, rotated automatically.

GAR-SEC-001 no plaintext keys on disk; 002 a reachable backend holding every strategy's secrets;
003 swap encrypted; 004 tmpfs cannot swap secrets out; 005 rotation on cadence; 006 bots do not
get keys through their environment; 007 the vault's unlock key is not on the data disk.
(A withdraw-capable key is checked by checks/broker.py.)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from garrison.checks.base import Check, CheckSkipped
from garrison.errors import SecretError
from garrison.host.facts import Facts
from garrison.model import CheckMeta, Evidence, Finding, Severity
from garrison.secrets.audit_facts import (
    AUDIT_SCAN_BUDGET_S,
    disk_secrets,
    swap_areas,
    tmpfs_mounts,
    unlock_materials,
)

AREA = "secrets"
ITEM = 4


class NoPlaintextSecretsOnDisk(Check):
    meta = CheckMeta(
        id="GAR-SEC-001",
        area=AREA,
        item=ITEM,
        title="No exchange keys or passwords lie in plaintext on disk",
        severity=Severity.HIGH,
        rationale="A key in config.json, a .env file, a unit's Environment= or a shell history "
        "is copied by every snapshot and backup and read by anyone who gets a shell.",
        remediation="Move each value into the vault (`garrison secrets put NAME`), deliver it "
        "with `garrison secrets run`, delete the file's copy and rotate the exposed key. "
        "`garrison secrets scan` does a full scan.",
        references=("docs/secrets.md#scanner",),
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        result = facts.get(disk_secrets)
        by_file: dict[str, list[Evidence]] = {}
        for hit in result.findings:
            by_file.setdefault(hit.path, []).append(
                Evidence(
                    hit.location,
                    f"{hit.rule}: {hit.redacted} ({hit.detail})",
                    "no secret in plaintext",
                )
            )
        for path, evidence in sorted(by_file.items()):
            yield self.failed(
                f"{len(evidence)} secret(s) in plaintext", *evidence[:5], subject=path
            )
        if by_file:
            return
        scope = f"{result.files_scanned} files in units, /opt, /srv, homes and strategies' code"
        if result.partial:
            yield self.warned(
                f"no secret found, but the scan stopped after {AUDIT_SCAN_BUDGET_S:g}s "
                f"({scope}); run `garrison secrets scan` for a full scan"
            )
        else:
            yield self.passed(f"no secret found in {scope}")


class BackendReachable(Check):
    meta = CheckMeta(
        id="GAR-SEC-002",
        area=AREA,
        item=ITEM,
        title="A secret backend is configured, reachable and holds every strategy's secrets",
        severity=Severity.HIGH,
        rationale="Without a working vault, keys end up in files; a sealed or unreachable "
        "vault stops bots from starting after a reboot.",
        remediation="Configure [secrets] (age store: `garrison secrets init`; Vault/OpenBao: "
        "address + AppRole) and `garrison secrets put` each strategy's secrets.",
        references=("docs/secrets.md#backends",),
        needs_live=True,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        from garrison.secrets.store import open_store

        config = facts.config
        store = open_store(config)
        try:
            try:
                status = store.ping()
            except SecretError as exc:
                yield self.failed(
                    f"{config.secrets.backend} backend not usable",
                    Evidence(store.describe(), str(exc), "reachable, unsealed, authenticated"),
                )
                return
            missing = []
            for strategy in config.strategies:
                for name in strategy.secrets:
                    try:
                        store.info(name)
                    except SecretError:
                        missing.append(f"{strategy.name}:{name}")
        finally:
            store.close()
        if missing:
            yield self.failed(
                "strategies need secrets the backend does not hold",
                Evidence(store.describe(), ", ".join(missing), "every listed secret present"),
            )
        else:
            yield self.passed(status, Evidence(store.describe(), status))


class SwapEncrypted(Check):
    meta = CheckMeta(
        id="GAR-SEC-003",
        area=AREA,
        item=ITEM,
        title="Swap is encrypted or absent",
        severity=Severity.MEDIUM,
        rationale="Pages of a bot holding its API key can be swapped out and stay on disk "
        "after the process dies, where a disk snapshot finds them.",
        remediation="Use zram, or dm-crypt swap with a random key (/etc/crypttab: "
        "`cswap /dev/sdXN /dev/urandom swap,cipher=aes-xts-plain64,size=256`), or no swap.",
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        areas = facts.get(swap_areas)
        if not areas:
            yield self.passed("no swap configured", Evidence("/proc/swaps", "no swap area"))
            return
        for area in areas:
            evidence = Evidence(
                area.source, f"{area.name} ({area.kind}): {area.reason}", "zram or dm-crypt"
            )
            if area.encrypted:
                yield self.passed(f"{area.name} is {area.kind}", evidence, subject=area.name)
            else:
                yield self.failed(f"{area.name} is not encrypted", evidence, subject=area.name)


class TmpfsCannotSwap(Check):
    meta = CheckMeta(
        id="GAR-SEC-004",
        area=AREA,
        item=ITEM,
        title="tmpfs holding secrets cannot be swapped to unencrypted disk",
        severity=Severity.LOW,
        rationale="An 'encrypted tmpfs' or /run is RAM only until memory pressure pushes its "
        "pages to swap; with unencrypted swap a key file there reaches the disk.",
        remediation="Encrypt swap (GAR-SEC-003), or mount tmpfs with `noswap` (Linux 6.4+), "
        "or prefer `garrison secrets run` (memfd_secret pages are never swapped).",
        needs_live=True,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        plain_swap = [a.name for a in facts.get(swap_areas) if not a.encrypted]
        if not plain_swap:
            yield self.passed("no unencrypted swap: tmpfs pages cannot reach the disk")
            return
        exposed = [m for m in facts.get(tmpfs_mounts) if not m.noswap]
        if not exposed:
            yield self.passed("every tmpfs mount has noswap")
            return
        targets = ", ".join(m.target for m in exposed[:8])
        yield self.warned(
            f"{len(exposed)} tmpfs mount(s) may swap to {', '.join(plain_swap)}",
            Evidence("/proc/self/mounts", targets, "noswap, or encrypted swap"),
        )


class RotationOnCadence(Check):
    meta = CheckMeta(
        id="GAR-SEC-005",
        area=AREA,
        item=ITEM,
        title="Every secret was rotated within its cadence",
        severity=Severity.MEDIUM,
        rationale="A key that never changes stays useful to whoever copied it once; the "
        "checklist asks for weekly rotation (daily for high-frequency strategies).",
        remediation="Rotate with `garrison secrets rotate NAME --value-from-stdin` (or "
        "adopt a new Vault version); set cadences in [secrets.rotation].",
        references=("docs/secrets.md#rotation",),
        needs_live=True,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        from garrison.secrets.rotation import log_path, overdue, tracked_secrets
        from garrison.secrets.store import open_store

        config = facts.config
        if not tracked_secrets(config):
            raise CheckSkipped("no secrets configured for any strategy")
        store = open_store(config)
        try:
            late = {o.name: o for o in overdue(config, backend=store)}
        finally:
            store.close()
        now = datetime.now(UTC)
        for name in tracked_secrets(config):
            days = config.secrets.rotation.days_for(name)
            if name in late:
                item = late[name]
                age = item.age_days(now)
                seen = f"last rotated {age:.1f} days ago" if age is not None else "never rotated"
                yield self.failed(
                    f"{name}: {seen}",
                    Evidence(
                        str(log_path(config)), f"{seen} ({item.source})", f"within {days:g} days"
                    ),
                    subject=name,
                )
            else:
                yield self.passed(f"{name}: rotated within {days:g} days", subject=name)


class NoSecretsInBotEnvironment(Check):
    meta = CheckMeta(
        id="GAR-SEC-006",
        area=AREA,
        item=ITEM,
        title="Running bots do not hold keys in their environment",
        severity=Severity.MEDIUM,
        rationale="/proc/PID/environ keeps the key readable for the life of the process, is "
        "inherited by every child and lands in crash reports.",
        remediation="Deliver keys with `garrison secrets run` in a memfd mode; keep mode = "
        "'env' only for tools that cannot read a file.",
        needs_live=True,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        from garrison.secrets.scanner.environ import scan_bot_environments

        hits = scan_bot_environments(facts.config)
        for hit in hits:
            yield self.failed(
                f"{hit.rule} in a bot's environment",
                Evidence(hit.location, f"{hit.redacted} ({hit.detail})", "no key in environ"),
                subject=hit.path,
            )
        if not hits:
            yield self.passed("no key found in the environment of running bots")


class UnlockKeyOffDataDisk(Check):
    meta = CheckMeta(
        id="GAR-SEC-007",
        area=AREA,
        item=ITEM,
        title="The key that unlocks the vault is not stored on the data disk",
        severity=Severity.HIGH,
        rationale="An age identity or a long-lived vault token next to the encrypted store turns "
        "a disk snapshot into plaintext keys; kept in RAM (/run, tmpfs), on removable media, "
        "wrapped by a passphrase or response-wrapped, a snapshot holds nothing usable.",
        remediation="Put the identity/token on tmpfs (/run/garrison-keys, filled at boot from "
        "removable media or your provisioning), use a passphrase-wrapped identity, or a "
        "response-wrapped AppRole secret_id.",
        references=("docs/secrets.md#backends",),
        needs_live=True,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        config = facts.config
        if config.secrets.backend == "age" and not config.secrets.age.identity_file:
            from garrison.secrets.store import age_store_dir

            wrapped = age_store_dir(config) / "identity.age"
            if not wrapped.exists():
                raise CheckSkipped("age store not initialised (see GAR-SEC-002)")
            yield self.passed(
                "the age identity is wrapped by a passphrase",
                Evidence(str(wrapped), "passphrase-encrypted age identity", "not in plaintext"),
            )
            return
        materials = facts.get(unlock_materials)
        if not materials:
            raise CheckSkipped(f"{config.secrets.backend}: no unlock file configured")
        for item in materials:
            where = f"{item.fstype or 'unknown'} filesystem"
            evidence = Evidence(item.path, f"{item.what} on a {where}", "tmpfs or another disk")
            if not item.exists:
                yield self.skipped(f"{item.what} {item.path} does not exist", subject=item.path)
            elif item.protected:
                yield self.passed(
                    f"{item.what} is response-wrapped (single use)", evidence, subject=item.path
                )
            elif item.off_data_disk:
                yield self.passed(f"{item.what} is off the data disk", evidence, subject=item.path)
            elif item.what == "age identity":
                yield self.failed(
                    f"{item.what} lies on the data disk next to the store",
                    evidence,
                    subject=item.path,
                )
            else:
                yield self.warned(f"{item.what} lies on the data disk", evidence, subject=item.path)
