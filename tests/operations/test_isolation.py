"""Box 5 with real processes: root vs unprivileged, namespaces, no_new_privs, shared users."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import needs_root

from garrison.checks.engine import run_check
from garrison.checks.isolation import (
    StrategiesSeparateUsers,
    StrategyContained,
    StrategyNoCapabilities,
    StrategyNoNewPrivileges,
    StrategyNotRoot,
)
from garrison.config.loader import validate_config
from garrison.host.facts import Facts
from garrison.host.host import Host
from garrison.model import Finding, Status

pytestmark = [needs_root, pytest.mark.skipif(shutil.which("setpriv") is None, reason="no setpriv")]

SLEEPER = "import time; time.sleep(60)"


@pytest.fixture
def spawn() -> Iterator[object]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(marker: str, *wrapper: str) -> None:
        procs.append(subprocess.Popen([*wrapper, sys.executable, "-c", SLEEPER, marker]))

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def _wait_for(marker: str) -> None:
    for _ in range(100):
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                argv = cmdline.read_bytes().split(b"\0")
                # argv[0] must be python itself: a wrapper (setpriv, unshare) that has not
                # exec'd yet also carries the marker but is not the bot.
                if b"python" in argv[0] and marker.encode() in argv:
                    return
            except OSError:
                continue
        time.sleep(0.05)
    raise AssertionError(f"process {marker} did not start")


def _facts(*strategies: tuple[str, str]) -> Facts:
    config = validate_config(
        # anchored on the interpreter, so wrappers such as unshare do not count as the bot
        {"strategies": [{"name": n, "match": rf"^\S*python\S* .*{m}"} for n, m in strategies]},
        "test",
    )
    return Facts(Host("/"), config)


def _by_subject(findings: list[Finding]) -> dict[str, Status]:
    return {f.subject: f.status for f in findings}


UNPRIVILEGED = (
    "setpriv",
    "--reuid=nobody",
    "--regid=nogroup",
    "--clear-groups",
    "--inh-caps=-all",
    "--bounding-set=-all",
    "--no-new-privs",
)


def test_root_bot_fails_unprivileged_bot_passes(spawn) -> None:  # type: ignore[no-untyped-def]
    root_marker, user_marker = f"gar-root-{uuid.uuid4().hex}", f"gar-user-{uuid.uuid4().hex}"
    spawn(root_marker)
    spawn(user_marker, *UNPRIVILEGED)
    _wait_for(root_marker)
    _wait_for(user_marker)
    facts = _facts(("rootbot", root_marker), ("userbot", user_marker))
    assert _by_subject(run_check(StrategyNotRoot, facts)) == {
        "rootbot": Status.FAIL,
        "userbot": Status.PASS,
    }
    caps = _by_subject(run_check(StrategyNoCapabilities, facts))
    assert caps == {"rootbot": Status.FAIL, "userbot": Status.PASS}
    [root_fail] = [f for f in run_check(StrategyNotRoot, facts) if f.subject == "rootbot"]
    assert "1 of 1 processes run as root (pid " in root_fail.message
    assert root_fail.evidence[0].source.startswith("/proc/")
    # no seccomp filter for either: no_new_privs alone is not enough
    nnp = run_check(StrategyNoNewPrivileges, facts)
    assert {f.status for f in nnp} == {Status.FAIL}
    user_nnp = next(f for f in nnp if f.subject == "userbot")
    assert user_nnp.evidence[0].observed == "NoNewPrivs 1, Seccomp 0"


def test_namespaced_bot_counts_as_contained(spawn) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("unshare") is None:
        pytest.skip("no unshare")
    boxed, bare = f"gar-boxed-{uuid.uuid4().hex}", f"gar-bare-{uuid.uuid4().hex}"
    spawn(boxed, "unshare", "--mount", "--pid", "--fork", "--kill-child")
    spawn(bare)
    _wait_for(boxed)
    _wait_for(bare)
    facts = _facts(("boxed", boxed), ("bare", bare))
    assert _by_subject(run_check(StrategyContained, facts)) == {
        "boxed": Status.PASS,
        "bare": Status.FAIL,
    }


def test_two_strategies_under_one_user(spawn) -> None:  # type: ignore[no-untyped-def]
    a, b = f"gar-a-{uuid.uuid4().hex}", f"gar-b-{uuid.uuid4().hex}"
    spawn(a, *UNPRIVILEGED)
    spawn(b, *UNPRIVILEGED)
    _wait_for(a)
    _wait_for(b)
    [shared] = run_check(StrategiesSeparateUsers, _facts(("alpha", a), ("beta", b)))
    assert shared.status is Status.FAIL
    assert shared.subject == "alpha,beta"


def test_declared_but_not_running(spawn) -> None:  # type: ignore[no-untyped-def]
    [finding] = run_check(StrategyNotRoot, _facts(("ghost", f"gar-none-{uuid.uuid4().hex}")))
    assert (finding.subject, finding.status, finding.message) == (
        "ghost",
        Status.SKIP,
        "not running now",
    )
