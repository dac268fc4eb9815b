"""Broker keys: no key reachable from this host may withdraw funds (checklist item 4).

Live only: the check asks each configured exchange ([[respond.accounts]]) about the key's own
permissions, with the account's timeout; keys are read from the secrets store and never shown.
"""

from __future__ import annotations

from collections.abc import Iterable

from garrison.checks.base import Check
from garrison.errors import GarrisonError
from garrison.host.facts import Facts
from garrison.model import CheckMeta, Evidence, Finding, Severity


class NoWithdrawCapableKey(Check):
    meta = CheckMeta(
        id="GAR-BROKER-001",
        area="broker",
        item=4,
        title="No exchange key on this host can withdraw funds",
        severity=Severity.CRITICAL,
        rationale="A trading bot never needs to withdraw. A withdraw-capable key on a "
        "compromised VPS lets the intruder empty the account in one call, faster than any "
        "freeze or lock can react.",
        remediation="Re-create the key without the withdrawal permission (Bybit: untick Wallet "
        "> Withdraw; Deribit: wallet:read or none; Binance: untick 'Enable Withdrawals'), bind "
        "it to this host's IP, update the secret, and rotate the old key away.",
        references=(
            "https://bybit-exchange.github.io/docs/v5/user/apikey-info",
            "https://docs.deribit.com/articles/access-scope",
            "https://developers.binance.com/docs/wallet/account/api-key-permission",
        ),
        needs_live=True,
    )

    def run(self, facts: Facts) -> Iterable[Finding]:
        accounts = [a for a in facts.config.respond.accounts if a.credential]
        if not accounts:
            yield self.skipped("no [[respond.accounts]] with a credential configured")
            return
        from garrison.respond import secret_access
        from garrison.respond.broker import adapter_for
        from garrison.respond.context import ResponseContext

        ctx = ResponseContext(facts.config, secret_access.store_reader(facts.config))
        for account in accounts:
            adapter = adapter_for(ctx, account)
            try:
                state = adapter.withdraw_state()
            except GarrisonError as exc:
                yield self.warned(
                    f"could not ask {account.exchange} about the key: "
                    f"{ctx.redactor.text(str(exc))}",
                    subject=account.name,
                )
                continue
            evidence = Evidence(
                source=f"{account.exchange} {state.source}",
                observed=ctx.redactor.text(state.observed),
                expected="no withdrawal permission",
            )
            if state.can_withdraw is None:
                yield self.manual(
                    f"{account.exchange} has no API to read the key's "
                    f"permissions: check at {state.source}",
                    evidence,
                    subject=account.name,
                )
            elif state.can_withdraw:
                yield self.failed("the key can withdraw funds", evidence, subject=account.name)
            else:
                yield self.passed("the key cannot withdraw", evidence, subject=account.name)
