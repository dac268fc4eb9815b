"""Freeze by stopping the strategy's systemd unit (`systemctl stop UNIT`; thaw starts it)."""

from __future__ import annotations

from garrison.config.strategies import Strategy
from garrison.errors import ResponseError
from garrison.host.runner import run_command
from garrison.model import ActionStatus
from garrison.respond.context import StepOutcome
from garrison.respond.freeze.base import Freezer


class SystemdFreezer(Freezer):
    """`freeze.method = "systemd"`: needs `unit` on the strategy."""

    def plan(self, strategy: Strategy) -> str:
        return f"systemctl stop {strategy.unit or '<unit missing>'}"

    def freeze(self, strategy: Strategy) -> StepOutcome:
        return self._systemctl(strategy, "stop")

    def thaw(self, strategy: Strategy) -> StepOutcome:
        return self._systemctl(strategy, "start")

    def _systemctl(self, strategy: Strategy, verb: str) -> StepOutcome:
        if not strategy.unit:
            raise ResponseError(f"strategy {strategy.name}: freeze method systemd needs `unit`")
        result = run_command(["systemctl", verb, strategy.unit], timeout=strategy.freeze.timeout_s)
        if not result.ok:
            raise ResponseError(result.problem())
        return StepOutcome(ActionStatus.DONE, f"systemctl {verb} {strategy.unit}", {})
