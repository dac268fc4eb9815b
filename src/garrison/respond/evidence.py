"""Evidence of an incident: volatile state, strategy memory, disk; each artefact hashed into
the custody log (see custody.py).

Nothing secret enters the custody log (the index): command lines are redacted (NAME=value and
--password value forms, plus every secret value read during the incident), and
/proc/PID/environ is never read. Memory dumps naturally contain whatever the process held:
they are raw evidence, kept 0600 under state_dir.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from garrison.host.runner import run_command
from garrison.model import ActionRecord, ActionStatus
from garrison.respond.context import ResponseContext, StepOutcome, timed
from garrison.respond.custody import CustodyLog, load_or_create_key
from garrison.respond.memory import dump_memory
from garrison.respond.redact import redact_assignments
from garrison.respond.snapshot import provider_snapshot, take_disk_snapshot


def open_custody(ctx: ResponseContext, evidence_dir: Path) -> CustodyLog:
    key = load_or_create_key(ctx.config.paths.state_dir)
    return CustodyLog(evidence_dir, key, ctx.incident_id)


def plan_evidence(ctx: ResponseContext) -> list[tuple[str, str]]:
    """[(what, how)] for --dry-run."""
    from garrison.respond.snapshot import choose_mode

    cfg = ctx.config.respond.evidence
    out = []
    if cfg.volatile:
        out.append(("volatile", "processes, sockets, users, nft ruleset, /proc/modules, auth log"))
    if cfg.memory:
        out.append(("memory", f"each strategy's process memory (<= {cfg.memory_limit_mb} MiB)"))
    mode = choose_mode(cfg)
    detail = {
        "archive": "tar.gz of " + ", ".join(cfg.paths),
        "lvm": f"lvcreate -s {cfg.lvm_volume}",
        "btrfs": f"btrfs subvolume snapshot -r {cfg.btrfs_subvolume}",
    }.get(mode, mode)
    out.append(("disk", detail))
    if cfg.provider_command:
        out.append(("provider", " ".join(cfg.provider_command)))
    out.append(("custody", "SHA-256 each artefact into a signed, hash-chained custody log"))
    return out


def collect_evidence(
    ctx: ResponseContext, evidence_dir: Path, pids: dict[str, list[int]]
) -> list[ActionRecord]:
    """Collect everything configured; one record per kind of evidence, each timed."""
    cfg = ctx.config.respond.evidence
    evidence_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    custody = open_custody(ctx, evidence_dir)
    records: list[ActionRecord] = []
    if cfg.volatile:
        records.append(
            timed(ctx, "evidence.volatile", "host", lambda: _volatile(ctx, evidence_dir, custody))
        )
    if cfg.memory:
        for name, strategy_pids in pids.items():
            records.append(
                timed(
                    ctx,
                    "evidence.memory",
                    name,
                    lambda n=name, p=strategy_pids: _memory(  # type: ignore[misc]
                        ctx, evidence_dir, custody, n, p
                    ),
                )
            )
    timeout = ctx.config.respond.timeouts.evidence
    if cfg.snapshot != "none":
        records.append(
            timed(ctx, "evidence.disk", "host", lambda: _disk(ctx, evidence_dir, custody, timeout))
        )
    if cfg.provider_command:
        records.append(
            timed(
                ctx,
                "evidence.provider",
                "host",
                lambda: _provider(ctx, evidence_dir, custody, timeout),
            )
        )
    custody.append("sealed", note=f"{len(records)} evidence steps done")
    return records


# -- volatile --------------------------------------------------------------------------------
def _volatile(ctx: ResponseContext, out: Path, custody: CustodyLog) -> StepOutcome:
    cfg = ctx.config.respond.evidence
    makers: dict[str, Callable[[], str]] = {
        "processes.json": lambda: _json(_processes(ctx)),
        "sockets.json": lambda: _json(_sockets()),
        "users.json": lambda: _json([u._asdict() for u in psutil.users()]),
        "nft-ruleset.txt": lambda: _command(["nft", "list", "ruleset"]),
        "modules.txt": lambda: Path("/proc/modules").read_text(),
        "auth-log.txt": lambda: _auth_log(cfg.auth_log, cfg.log_lines),
    }
    for n, argv in enumerate(cfg.commands, 1):
        makers[f"command-{n}.txt"] = lambda a=argv: _command(a)  # type: ignore[misc]
    hashes: dict[str, str] = {}
    problems: list[str] = []
    for name, make in makers.items():
        try:
            text = ctx.redactor.text(redact_assignments(make()))
        except Exception as exc:  # one unreadable source must not lose the others
            text = f"could not collect: {type(exc).__name__}: {exc}\n"
            problems.append(name)
        path = out / name
        path.write_text(text)
        hashes[name] = custody.add_file(path, "volatile")["sha256"]
    detail = f"{len(hashes)} artefacts hashed" + (
        f" ({', '.join(problems)} incomplete)" if problems else ""
    )
    return StepOutcome(ActionStatus.DONE, detail, {"sha256": hashes})


def _json(value: Any) -> str:
    return json.dumps(value, indent=1, default=str) + "\n"


def _processes(ctx: ResponseContext) -> list[dict[str, Any]]:
    rows = []
    attrs = ["pid", "ppid", "username", "name", "exe", "cmdline", "create_time", "status"]
    for proc in psutil.process_iter(attrs):
        info = dict(proc.info)
        cmdline = " ".join(info.pop("cmdline") or [])
        info["cmdline"] = ctx.redactor.text(redact_assignments(cmdline))
        rows.append(info)
    return rows


def _sockets() -> list[dict[str, Any]]:
    rows = []
    for conn in psutil.net_connections(kind="inet"):
        rows.append(
            {
                "fd": conn.fd,
                "family": conn.family.name,
                "type": conn.type.name,
                "laddr": f"{conn.laddr.ip}:{conn.laddr.port}" if conn.laddr else "",
                "raddr": f"{conn.raddr.ip}:{conn.raddr.port}" if conn.raddr else "",
                "status": conn.status,
                "pid": conn.pid,
            }
        )
    return rows


def _command(argv: list[str]) -> str:
    result = run_command(argv, timeout=30)
    if result.missing:
        return f"{argv[0]}: not installed\n"
    return f"$ {result.display}\nexit {result.returncode}\n{result.stdout}{result.stderr}"


def _auth_log(path: str, lines: int) -> str:
    log = Path(path)
    if log.exists():
        with log.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - lines * 400))
            tail = handle.read().decode("utf-8", "replace").splitlines()[-lines:]
        return "\n".join(tail) + "\n"
    return _command(["journalctl", "-n", str(lines), "--no-pager", "-o", "short-iso"])


# -- memory and disk ---------------------------------------------------------------------------
def _memory(
    ctx: ResponseContext, out: Path, custody: CustodyLog, name: str, pids: list[int]
) -> StepOutcome:
    if not pids:
        return StepOutcome(ActionStatus.SKIPPED, "no process to dump (strategy not running?)")
    limit = ctx.config.respond.evidence.memory_limit_mb * 1024 * 1024
    dumps: dict[str, dict[str, Any]] = {}
    for pid in pids:
        dump = dump_memory(pid, out, name, limit)
        dumps[str(pid)] = {
            "sha256": custody.add_file(dump.dump, "memory", f"pid {pid}")["sha256"],
            "map_sha256": custody.add_file(dump.index, "memory-map", f"pid {pid}")["sha256"],
            "bytes": dump.bytes,
            "regions": dump.regions,
            "truncated": dump.truncated,
        }
    total = sum(int(d["bytes"]) for d in dumps.values())
    return StepOutcome(
        ActionStatus.DONE, f"dumped {len(dumps)} process(es), {total / 1048576:.1f} MiB", dumps
    )


def _disk(ctx: ResponseContext, out: Path, custody: CustodyLog, timeout: float) -> StepOutcome:
    result = take_disk_snapshot(ctx.config.respond.evidence, out, ctx.incident_id, timeout)
    if result.kind == "none":
        return StepOutcome(ActionStatus.SKIPPED, result.detail)
    if result.artefact is None:
        custody.append("snapshot", note=result.detail)
        return StepOutcome(ActionStatus.DONE, result.detail, {"kind": result.kind})
    digest = custody.add_file(result.artefact, "disk", result.detail)["sha256"]
    return StepOutcome(
        ActionStatus.DONE,
        result.detail,
        {"kind": result.kind, "sha256": {result.artefact.name: digest}},
    )


def _provider(ctx: ResponseContext, out: Path, custody: CustodyLog, timeout: float) -> StepOutcome:
    result = provider_snapshot(ctx.config.respond.evidence.provider_command, out, timeout)
    assert result.artefact is not None
    digest = custody.add_file(result.artefact, "provider", result.detail)["sha256"]
    return StepOutcome(ActionStatus.DONE, result.detail, {"sha256": {result.artefact.name: digest}})
