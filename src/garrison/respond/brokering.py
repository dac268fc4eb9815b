"""The broker step for every configured account, accounts in parallel.

Within one account: cancel first (a read-only key can no longer cancel), then lock and prove.
A failed lock adds the manual step to its record so the notification can say what to do.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from garrison.config.respond import ExchangeAccount
from garrison.model import ActionRecord, ActionStatus
from garrison.respond.broker import adapter_for
from garrison.respond.broker.manual import manual_lock
from garrison.respond.context import ResponseContext, StepOutcome, timed


def plan_broker(ctx: ResponseContext) -> list[ActionRecord]:
    records = []
    for account in ctx.config.respond.accounts:
        for step, what in adapter_for(ctx, account).plan():
            outcome = StepOutcome(ActionStatus.DRY_RUN, f"[{account.exchange}] {what}")
            records.append(timed(ctx, step, account.name, lambda o=outcome: o))  # type: ignore[misc]
    return records


def broker_all(ctx: ResponseContext) -> list[ActionRecord]:
    accounts = list(ctx.config.respond.accounts)
    if not accounts:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(accounts))) as pool:
        per_account = list(pool.map(lambda a: _one(ctx, a), accounts))
    return [record for records in per_account for record in records]


def _one(ctx: ResponseContext, account: ExchangeAccount) -> list[ActionRecord]:
    adapter = adapter_for(ctx, account)
    records = []
    if account.cancel_orders:
        records.append(timed(ctx, "broker.cancel", account.name, adapter.cancel_orders))
    if account.lock != "none":
        record = timed(ctx, "broker.lock", account.name, adapter.lock_key)
        if record.status == ActionStatus.FAILED and "manual_step" not in record.data:
            step = manual_lock(account)
            record = ActionRecord(
                record.step,
                record.target,
                record.status,
                record.started,
                record.duration_s,
                f"{record.detail}; by hand: {step.text} ({step.link})",
                record.alert_id,
                {**record.data, "manual_step": step.text, "link": step.link},
            )
        records.append(record)
    return records
