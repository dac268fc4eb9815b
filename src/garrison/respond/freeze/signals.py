"""Freeze with signals: SIGSTOP (thaw = SIGCONT) or SIGTERM (cannot be thawed).

SIGSTOP is instant and reversible but a process can see it (ptrace, /proc status) and its
children keep running unless they match too; the cgroup freezer is stronger. SIGTERM ends the
strategy: use it for bots that cancel their own orders on a clean shutdown.
"""

from __future__ import annotations

import os
import signal

from garrison.config.strategies import Strategy
from garrison.errors import ResponseError
from garrison.model import ActionStatus
from garrison.respond.context import StepOutcome
from garrison.respond.freeze.base import Freezer
from garrison.respond.freeze.discovery import describe_selector, find_pids


class SignalFreezer(Freezer):
    """`freeze.method = "signal"` with `freeze.signal = "STOP"` (default) or "TERM"."""

    def plan(self, strategy: Strategy) -> str:
        return f"send SIG{strategy.freeze.signal} to processes ({describe_selector(strategy)})"

    def freeze(self, strategy: Strategy) -> StepOutcome:
        sig = signal.SIGSTOP if strategy.freeze.signal == "STOP" else signal.SIGTERM
        return self._send(strategy, sig, "stopped" if sig == signal.SIGSTOP else "terminated")

    def thaw(self, strategy: Strategy) -> StepOutcome:
        if strategy.freeze.signal == "TERM":
            return StepOutcome(
                ActionStatus.SKIPPED,
                f"strategy {strategy.name} was terminated (SIGTERM); restart it to resume",
            )
        return self._send(strategy, signal.SIGCONT, "resumed")

    def _send(self, strategy: Strategy, sig: signal.Signals, verb: str) -> StepOutcome:
        pids = self.pids_of(strategy) if sig != signal.SIGCONT else find_pids(strategy)
        if not pids:
            raise ResponseError(
                f"strategy {strategy.name}: no running process ({describe_selector(strategy)}), "
                "already gone?"
            )
        done: list[int] = []
        for pid in pids:
            try:
                os.kill(pid, sig)
                done.append(pid)
            except ProcessLookupError:
                continue
            except PermissionError:
                raise ResponseError(f"pid {pid}: not permitted to send {sig.name}") from None
        return StepOutcome(
            ActionStatus.DONE, f"{verb} {len(done)} process(es) with {sig.name}", {"pids": done}
        )
