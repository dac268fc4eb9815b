"""The Freezer interface: stop a strategy from trading (freeze) and let it go on (thaw)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from garrison.config.strategies import Strategy
from garrison.respond.context import ResponseContext, StepOutcome


class Freezer(ABC):
    """One freeze method. Methods raise ResponseError (one line) when they cannot act."""

    def __init__(self, ctx: ResponseContext) -> None:
        self.ctx = ctx

    @abstractmethod
    def plan(self, strategy: Strategy) -> str:
        """What freeze() would do, for --dry-run (no side effects, no secrets)."""

    @abstractmethod
    def freeze(self, strategy: Strategy) -> StepOutcome:
        """Stop the strategy from placing orders, as fast as the method allows."""

    @abstractmethod
    def thaw(self, strategy: Strategy) -> StepOutcome:
        """Undo freeze() where the method can be undone."""
