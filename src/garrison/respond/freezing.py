"""Freeze or thaw several strategies at once: kill switch first, then every method in parallel."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from garrison.config.strategies import Strategy
from garrison.errors import ResponseError, UsageError
from garrison.model import ActionRecord, ActionStatus
from garrison.respond import killswitch
from garrison.respond.context import ResponseContext, StepOutcome, timed
from garrison.respond.freeze import freezer_for
from garrison.respond.freeze.discovery import find_pids_many

LOCAL_METHODS = {"cgroup", "signal"}


def select_strategies(ctx: ResponseContext, names: tuple[str, ...] = ()) -> list[Strategy]:
    """The named strategies (all when none named); an unknown name is a usage error."""
    strategies = list(ctx.config.strategies)
    if not names:
        return strategies
    known = {s.name: s for s in strategies}
    missing = [n for n in names if n not in known]
    if missing:
        choices = ", ".join(known) or "none configured"
        raise UsageError(f"unknown strategy {missing[0]!r} (configured: {choices})")
    return [known[n] for n in names]


def plan_freeze(ctx: ResponseContext, strategies: list[Strategy]) -> list[ActionRecord]:
    """DRY_RUN records saying what freezing would do."""
    records = [
        _dry(
            ctx,
            "kill_switch",
            str(killswitch.kill_switch_path(ctx.config)),
            "create the kill-switch file",
        )
    ]
    for strategy in strategies:
        freezer = freezer_for(strategy.freeze.method)(ctx)
        records.append(
            _dry(
                ctx, "freeze", strategy.name, f"[{strategy.freeze.method}] {freezer.plan(strategy)}"
            )
        )
    return records


def freeze_all(ctx: ResponseContext, strategies: list[Strategy], reason: str) -> list[ActionRecord]:
    """Engage the kill switch, then freeze every strategy concurrently."""
    return [engage_kill_switch(ctx, reason), *freeze_strategies(ctx, strategies)]


def engage_kill_switch(ctx: ResponseContext, reason: str) -> ActionRecord:
    return timed(ctx, "kill_switch", "engage", lambda: _engage(ctx, reason))


def freeze_strategies(ctx: ResponseContext, strategies: list[Strategy]) -> list[ActionRecord]:
    """Freeze every strategy (local methods inline, remote ones in parallel)."""
    return _each(ctx, strategies, thaw=False)


def thaw_all(
    ctx: ResponseContext, strategies: list[Strategy], *, release: bool
) -> list[ActionRecord]:
    """Thaw the strategies; release the kill switch when asked (or when all were thawed)."""
    records = _each(ctx, strategies, thaw=True)
    if release:
        records.append(timed(ctx, "kill_switch", "release", lambda: _release(ctx)))
    return records


def _each(ctx: ResponseContext, strategies: list[Strategy], *, thaw: bool) -> list[ActionRecord]:
    """Local methods (cgroup, signal) run in this thread after one shared /proc scan: a few
    file writes each, faster than any thread hand-off. Remote ones (APIs, CLIs) run in a pool
    meanwhile."""
    step = "thaw" if thaw else "freeze"
    local = [s for s in strategies if s.freeze.method in LOCAL_METHODS]
    remote = [s for s in strategies if s.freeze.method not in LOCAL_METHODS]
    pids: dict[str, list[int]] = {}
    scannable = [s for s in local if not s.freeze.cgroup and (s.match or s.user or s.unit)]
    if scannable and not thaw:
        try:
            pids = find_pids_many(scannable)
        except ResponseError:
            pids = {}  # a bad selector: each freezer reports it for its own strategy

    def one(strategy: Strategy) -> ActionRecord:
        def action() -> StepOutcome:
            freezer = freezer_for(strategy.freeze.method)(ctx, pids)
            return freezer.thaw(strategy) if thaw else freezer.freeze(strategy)

        record = timed(ctx, step, strategy.name, action)
        data = {**record.data, "method": strategy.freeze.method}
        return ActionRecord(
            record.step,
            record.target,
            record.status,
            record.started,
            record.duration_s,
            record.detail,
            record.alert_id,
            data,
        )

    pool = ThreadPoolExecutor(max_workers=min(16, len(remote))) if remote else None
    futures = [pool.submit(one, s) for s in remote] if pool else []
    done = {s.name: one(s) for s in local}
    done.update({s.name: f.result() for s, f in zip(remote, futures, strict=True)})
    if pool:
        pool.shutdown(wait=False)
    return [done[s.name] for s in strategies]


def _engage(ctx: ResponseContext, reason: str) -> StepOutcome:
    path = killswitch.engage(ctx.config, reason, ctx.incident_id)
    return StepOutcome(ActionStatus.DONE, f"kill switch engaged: {path}", {"path": str(path)})


def _release(ctx: ResponseContext) -> StepOutcome:
    was = killswitch.release(ctx.config)
    path = killswitch.kill_switch_path(ctx.config)
    return StepOutcome(
        ActionStatus.DONE if was else ActionStatus.SKIPPED,
        f"kill switch released: {path}" if was else f"kill switch was not engaged ({path})",
    )


def _dry(ctx: ResponseContext, step: str, target: str, detail: str) -> ActionRecord:
    return timed(ctx, step, target, lambda: StepOutcome(ActionStatus.DRY_RUN, detail))
