"""The Freezer interface: stop a strategy from trading (freeze) and let it go on (thaw)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from garrison.config.strategies import Strategy
from garrison.respond.context import ResponseContext, StepOutcome


class Freezer(ABC):
    """One freeze method. Methods raise ResponseError (one line) when they cannot act."""

    def __init__(self, ctx: ResponseContext, pids: Mapping[str, list[int]] | None = None) -> None:
        self.ctx = ctx
        self.pids = pids or {}  # pre-scanned pids per strategy (one /proc pass for all)

    def pids_of(self, strategy: Strategy) -> list[int]:
        """The strategy's processes: pre-scanned when the caller did, else scanned now."""
        from garrison.respond.freeze.discovery import find_pids

        known = self.pids.get(strategy.name)
        return list(known) if known is not None else find_pids(strategy)

    @abstractmethod
    def plan(self, strategy: Strategy) -> str:
        """What freeze() would do, for --dry-run (no side effects, no secrets)."""

    @abstractmethod
    def freeze(self, strategy: Strategy) -> StepOutcome:
        """Stop the strategy from placing orders, as fast as the method allows."""

    @abstractmethod
    def thaw(self, strategy: Strategy) -> StepOutcome:
        """Undo freeze() where the method can be undone."""
