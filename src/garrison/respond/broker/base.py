"""The broker adapter interface: cancel open orders, lock the key, tell if it can withdraw.

Order matters and is the playbook's job: cancel first (a read-only key can no longer cancel),
then lock, then prove the lock by querying the key's own permissions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from garrison.config.respond import ExchangeAccount
from garrison.errors import ResponseError
from garrison.respond.context import ResponseContext, StepOutcome
from garrison.respond.secret_access import KeyPair


@dataclass(frozen=True)
class WithdrawState:
    """What the exchange says about a key's withdrawal permission."""

    can_withdraw: bool | None  # None: the exchange offers no API to tell
    observed: str  # e.g. "permissions.Wallet = ['Withdraw']" (never the key)
    source: str  # the endpoint asked


class BrokerAdapter(ABC):
    """One exchange account."""

    def __init__(self, ctx: ResponseContext, account: ExchangeAccount) -> None:
        self.ctx = ctx
        self.account = account

    def trading_key(self) -> KeyPair:
        if not self.account.credential:
            raise ResponseError(f"account {self.account.name}: no `credential` configured")
        return self.ctx.key_pair(self.account.credential)

    @abstractmethod
    def plan(self) -> list[tuple[str, str]]:
        """[(step, what it would do)] for --dry-run."""

    @abstractmethod
    def cancel_orders(self) -> StepOutcome:
        """Cancel every open order of the account."""

    @abstractmethod
    def lock_key(self) -> StepOutcome:
        """Make the key read-only (or disabled) and prove it, or say what a human must do."""

    @abstractmethod
    def withdraw_state(self) -> WithdrawState:
        """Ask the exchange whether this key may withdraw (for the audit check)."""
