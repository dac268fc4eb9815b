"""Freeze a containerised strategy with `docker pause` / `podman pause` (thaw: unpause).

Pause uses the container's own cgroup freezer, so it is as strong as the cgroup method.
"""

from __future__ import annotations

import shutil

from garrison.config.strategies import Strategy
from garrison.errors import ResponseError
from garrison.host.runner import run_command
from garrison.model import ActionStatus
from garrison.respond.context import StepOutcome
from garrison.respond.freeze.base import Freezer


class ContainerFreezer(Freezer):
    """`freeze.method = "docker"` or `"podman"` with `freeze.container`."""

    def plan(self, strategy: Strategy) -> str:
        return f"{strategy.freeze.method} pause {strategy.freeze.container}"

    def freeze(self, strategy: Strategy) -> StepOutcome:
        return self._run(strategy, "pause")

    def thaw(self, strategy: Strategy) -> StepOutcome:
        return self._run(strategy, "unpause")

    def _run(self, strategy: Strategy, verb: str) -> StepOutcome:
        engine = strategy.freeze.method
        container = strategy.freeze.container or ""
        if shutil.which(engine) is None:
            raise ResponseError(f"{engine} CLI not found: cannot {verb} {container}")
        result = run_command([engine, verb, container], timeout=strategy.freeze.timeout_s)
        if not result.ok:
            raise ResponseError(result.problem())
        return StepOutcome(ActionStatus.DONE, f"{engine} {verb} {container}", {})
