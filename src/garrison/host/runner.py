"""Run commands on the live host with a timeout; never raise for a missing tool or a hang."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CommandResult:
    """What a command did. `missing` means the program is not installed; `timed_out` it hung."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float
    missing: bool = False
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.missing and not self.timed_out

    @property
    def display(self) -> str:
        """The command line as a user would type it (for evidence)."""
        return " ".join(self.argv)

    def problem(self) -> str:
        """One line saying why the command did not succeed (empty when it did)."""
        if self.missing:
            return f"{self.argv[0]} is not installed"
        if self.timed_out:
            return f"`{self.display}` did not finish within {self.duration_s:.0f}s"
        if self.returncode != 0:
            detail = (self.stderr.strip() or self.stdout.strip()).splitlines()
            tail = f": {detail[-1]}" if detail else ""
            return f"`{self.display}` exited {self.returncode}{tail}"
        return ""


def run_command(
    argv: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    input_text: str | None = None,
    env: Mapping[str, str] | None = None,
) -> CommandResult:
    """Run argv without a shell. Missing programs and timeouts are results, not exceptions."""
    args = tuple(argv)
    if shutil.which(args[0]) is None:
        return CommandResult(args, 127, "", "", 0.0, missing=True)
    start = time.monotonic()
    try:
        proc = subprocess.run(
            args,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            input=input_text,
            env=dict(env) if env is not None else None,
            check=False,
            stdin=None if input_text is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        return CommandResult(args, -1, out, "", timeout, timed_out=True)
    except OSError as exc:  # e.g. permission denied on the binary
        return CommandResult(args, 126, "", str(exc), time.monotonic() - start)
    return CommandResult(args, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)
