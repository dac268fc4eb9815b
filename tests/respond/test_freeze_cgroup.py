"""Real processes frozen and thawed through the v1 freezer and cgroup v2 cgroup.freeze."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from tests.conftest import needs_root
from tests.respond.conftest import Counter, secrets_from

from garrison.config.schema import Config
from garrison.model import ActionStatus
from garrison.respond import killswitch
from garrison.respond.context import ResponseContext
from garrison.respond.freeze.cgroup import find_hierarchies
from garrison.respond.freezing import freeze_all, thaw_all

pytestmark = [needs_root]

HIERARCHIES = find_hierarchies()


def _ctx(config: Config) -> ResponseContext:
    return ResponseContext(config, secrets_from({}))


@pytest.mark.parametrize(
    "hierarchy",
    [
        pytest.param(
            "v1", marks=pytest.mark.skipif(HIERARCHIES.v1_freezer is None, reason="no v1 freezer")
        ),
        pytest.param("v2", marks=pytest.mark.skipif(HIERARCHIES.v2 is None, reason="no cgroup2")),
    ],
)
def test_frozen_process_does_not_advance_until_thawed(
    hierarchy: str,
    counter: Callable[[], Counter],
    cgroup_parent: str,
    make_config: Callable[..., Config],
) -> None:
    c = counter()
    config = make_config(
        strategies=[
            {
                "name": "bot",
                "match": c.marker,
                "freeze": {"method": "cgroup", "hierarchy": hierarchy},
            }
        ],
        respond={"cgroup_parent": cgroup_parent},
    )
    ctx = _ctx(config)
    records = freeze_all(ctx, list(config.strategies), "test")
    freeze = next(r for r in records if r.step == "freeze")
    assert freeze.status == ActionStatus.DONE, freeze.detail
    assert c.proc.pid in freeze.data["pids"]
    assert freeze.data["hierarchy"] == hierarchy
    assert killswitch.engaged(config) is not None

    frozen_at = c.value()
    time.sleep(0.3)  # 30 increments would happen if it ran
    assert c.value() == frozen_at

    thawed = thaw_all(ctx, list(config.strategies), release=True)
    assert [r.status for r in thawed] == [ActionStatus.DONE, ActionStatus.DONE]
    c.wait_advance(frozen_at)
    assert killswitch.engaged(config) is None


def test_explicit_cgroup_is_frozen_in_place(
    counter: Callable[[], Counter], cgroup_parent: str, make_config: Callable[..., Config]
) -> None:
    if HIERARCHIES.v2 is None:
        pytest.skip("no cgroup2")
    c = counter()
    group = HIERARCHIES.v2 / cgroup_parent / "inplace"
    group.mkdir(parents=True)
    (group / "cgroup.procs").write_text(str(c.proc.pid))
    config = make_config(strategies=[{"name": "bot", "freeze": {"cgroup": str(group)}}])
    records = freeze_all(_ctx(config), list(config.strategies), "test")
    assert records[-1].status == ActionStatus.DONE, records[-1].detail
    frozen_at = c.value()
    time.sleep(0.2)
    assert c.value() == frozen_at
    thaw_all(_ctx(config), list(config.strategies), release=True)
    c.wait_advance(frozen_at)


def test_strategy_already_gone_is_failed_with_reason(
    cgroup_parent: str, make_config: Callable[..., Config]
) -> None:
    config = make_config(
        strategies=[{"name": "ghost", "match": "no-such-process-garrison-xyz"}],
        respond={"cgroup_parent": cgroup_parent},
    )
    records = freeze_all(_ctx(config), list(config.strategies), "test")
    ghost = next(r for r in records if r.target == "ghost")
    assert ghost.status == ActionStatus.FAILED
    assert "already gone" in ghost.detail
    # the kill switch is engaged even though the freeze failed
    assert records[0].status == ActionStatus.DONE and killswitch.engaged(config)


def test_signal_method_stops_and_continues(
    counter: Callable[[], Counter], make_config: Callable[..., Any]
) -> None:
    c = counter()
    config = make_config(
        strategies=[{"name": "bot", "match": c.marker, "freeze": {"method": "signal"}}]
    )
    records = freeze_all(_ctx(config), list(config.strategies), "test")
    assert records[-1].status == ActionStatus.DONE and c.proc.pid in records[-1].data["pids"]
    frozen_at = c.value()
    time.sleep(0.2)
    assert c.value() == frozen_at
    thaw_all(_ctx(config), list(config.strategies), release=False)
    c.wait_advance(frozen_at)
    assert killswitch.engaged(config) is not None  # release=False keeps it


def test_strategy_without_selector_fails_and_creates_no_cgroup(
    cgroup_parent: str, make_config: Callable[..., Config]
) -> None:
    config = make_config(
        strategies=[{"name": "bot", "code_dir": "/opt/trading/bot"}],
        respond={"cgroup_parent": cgroup_parent},
    )
    records = freeze_all(_ctx(config), list(config.strategies), "test")
    assert records[-1].status == ActionStatus.FAILED
    assert "set match, user or unit" in records[-1].detail
    for mount in (HIERARCHIES.v1_freezer, HIERARCHIES.v2):
        assert mount is None or not (mount / cgroup_parent / "bot").exists()
