"""Freeze through the cgroup freezer: v2 `cgroup.freeze` or the v1 `freezer.state`.

Without an explicit `freeze.cgroup`, the strategy's processes (found by match/user/unit) are
moved into a garrison-owned cgroup, <hierarchy>/<respond.cgroup_parent>/<strategy>, which is then
frozen. Trade-off: on a v1 freezer hierarchy (hybrid hosts) the move changes only freezer
membership and is harmless; on a pure v2 host it moves the processes out of their systemd
unit's cgroup (systemd then loses track of their resource accounting). On such hosts set
`freeze.cgroup` to the unit's own cgroup (e.g. "system.slice/ft.service"), which is frozen in
place with no move. Frozen processes keep their memory and sockets; thaw resumes them exactly.
"""

from __future__ import annotations

import contextlib
import errno
import time
from dataclasses import dataclass
from pathlib import Path

from garrison.config.strategies import Strategy
from garrison.errors import ResponseError
from garrison.model import ActionStatus
from garrison.respond.context import StepOutcome
from garrison.respond.freeze.base import Freezer
from garrison.respond.freeze.discovery import describe_selector, find_pids

MOUNTINFO = Path("/proc/self/mountinfo")
_POLL_S = 0.0005


@dataclass(frozen=True)
class Hierarchies:
    """Where the freezer hierarchies are mounted (either may be missing)."""

    v1_freezer: Path | None
    v2: Path | None


def find_hierarchies(mountinfo: Path = MOUNTINFO) -> Hierarchies:
    """Read the mount table: a cgroup (v1) mount with the freezer option, and cgroup2."""
    v1: Path | None = None
    v2: Path | None = None
    for line in mountinfo.read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        rest = right.split()
        if len(fields) < 5 or len(rest) < 3:
            continue
        mountpoint = Path(fields[4].replace("\\040", " "))
        fstype, options = rest[0], rest[2].split(",")
        if fstype == "cgroup" and "freezer" in options and v1 is None:
            v1 = mountpoint
        elif fstype == "cgroup2" and v2 is None:
            v2 = mountpoint
    return Hierarchies(v1, v2)


@dataclass(frozen=True)
class FreezerCgroup:
    """One cgroup directory and which freezer interface it speaks."""

    path: Path
    version: int  # 1 or 2

    def procs(self) -> list[int]:
        try:
            text = (self.path / "cgroup.procs").read_text()
        except FileNotFoundError:
            return []
        return sorted(int(x) for x in text.split())

    def add(self, pid: int) -> bool:
        """Move a process in; False when it exited meanwhile."""
        try:
            (self.path / "cgroup.procs").write_text(str(pid))
        except OSError as exc:
            if exc.errno == errno.ESRCH:
                return False
            raise ResponseError(f"{self.path}: cannot move pid {pid}: {exc.strerror}") from None
        return True

    def set_frozen(self, frozen: bool, timeout_s: float) -> None:
        """Freeze or thaw, and wait until the kernel reports the new state."""
        if self.version == 2:
            (self.path / "cgroup.freeze").write_text("1" if frozen else "0")
        else:
            (self.path / "freezer.state").write_text("FROZEN" if frozen else "THAWED")
        deadline = time.monotonic() + timeout_s
        while self.is_frozen() != frozen:
            if time.monotonic() > deadline:
                verb = "freeze" if frozen else "thaw"
                raise ResponseError(f"{self.path}: did not {verb} within {timeout_s:g}s")
            time.sleep(_POLL_S)

    def is_frozen(self) -> bool:
        if self.version == 2:
            events = (self.path / "cgroup.events").read_text()
            return "frozen 1" in events.splitlines()
        return (self.path / "freezer.state").read_text().strip() == "FROZEN"


class CgroupFreezer(Freezer):
    """`freeze.method = "cgroup"` (the default)."""

    def target(self, strategy: Strategy, *, create: bool) -> FreezerCgroup:
        spec = strategy.freeze
        found = find_hierarchies()
        mount = _choose(found, spec.hierarchy)
        if spec.cgroup:
            path = Path(spec.cgroup)
            if not path.is_absolute():
                if mount is None:
                    raise ResponseError("no cgroup freezer hierarchy is mounted")
                path = mount / spec.cgroup
            return _existing(path)
        if mount is None:
            raise ResponseError("no cgroup freezer hierarchy is mounted (v1 freezer or cgroup2)")
        path = mount / self.ctx.config.respond.cgroup_parent / strategy.name
        if create:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ResponseError(f"{path}: cannot create cgroup: {exc.strerror}") from None
        version = 1 if mount == found.v1_freezer else 2
        return FreezerCgroup(path, version)

    def plan(self, strategy: Strategy) -> str:
        try:
            group = self.target(strategy, create=False)
        except ResponseError as exc:
            return f"cannot freeze: {exc}"
        kind = "v1 freezer" if group.version == 1 else "cgroup v2"
        if strategy.freeze.cgroup:
            return f"freeze {group.path} in place ({kind})"
        return f"move processes ({describe_selector(strategy)}) into {group.path}, freeze ({kind})"

    def freeze(self, strategy: Strategy) -> StepOutcome:
        found: list[int] = []
        if not strategy.freeze.cgroup:
            # find the processes first: no selector or nothing running creates no cgroup
            found = self.pids_of(strategy)
        group = self.target(strategy, create=bool(found))
        moved: list[int] = []
        if found:
            inside = set(group.procs())
            moved = [pid for pid in found if pid not in inside and group.add(pid)]
        if not group.procs():
            if not strategy.freeze.cgroup:
                with contextlib.suppress(OSError):
                    group.path.rmdir()  # leave no empty garrison cgroup behind
            raise ResponseError(
                f"strategy {strategy.name}: no running process ({describe_selector(strategy)}), "
                "already gone?"
            )
        group.set_frozen(True, strategy.freeze.timeout_s)
        if moved:
            # a child forked by a moved process between the scan and its move stayed outside;
            # children of processes already inside are born inside, so only then rescan
            inside = set(group.procs())
            late = [pid for pid in find_pids(strategy) if pid not in inside and group.add(pid)]
            if late:
                group.set_frozen(True, strategy.freeze.timeout_s)
        pids = group.procs()
        return StepOutcome(
            ActionStatus.DONE,
            f"froze {len(pids)} process(es) in {group.path}",
            {"pids": pids, "cgroup": str(group.path), "hierarchy": f"v{group.version}"},
        )

    def thaw(self, strategy: Strategy) -> StepOutcome:
        group = self.target(strategy, create=False)
        if not group.path.is_dir():
            raise ResponseError(f"strategy {strategy.name}: {group.path} does not exist")
        group.set_frozen(False, strategy.freeze.timeout_s)
        pids = group.procs()
        return StepOutcome(
            ActionStatus.DONE,
            f"thawed {len(pids)} process(es) in {group.path}",
            {"pids": pids, "cgroup": str(group.path)},
        )


def _choose(found: Hierarchies, wanted: str) -> Path | None:
    if wanted == "v1":
        return found.v1_freezer
    if wanted == "v2":
        return found.v2
    return found.v1_freezer or found.v2


def _existing(path: Path) -> FreezerCgroup:
    if (path / "cgroup.freeze").exists():
        return FreezerCgroup(path, 2)
    if (path / "freezer.state").exists():
        return FreezerCgroup(path, 1)
    raise ResponseError(f"{path}: not a cgroup with a freezer (no cgroup.freeze/freezer.state)")
