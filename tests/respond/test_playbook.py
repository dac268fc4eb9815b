"""run_playbook (the guard's entry point): phases, step timeouts, notify never blocking."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from tests.respond.conftest import secrets_from
from tests.respond.fakes.bybit import BybitKey, FakeBybit

from garrison.config.schema import Config
from garrison.model import ActionStatus
from garrison.respond import killswitch
from garrison.respond.incident import Incident
from garrison.respond.intake import manual_alert
from garrison.respond.playbook import phases, run_playbook


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung API or webhook)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_phases_group_adjacent_freeze_and_broker() -> None:
    assert phases(["freeze", "broker", "evidence", "notify", "rebuild"]) == [
        ["freeze", "broker"],
        ["evidence"],
        ["notify"],
        ["rebuild"],
    ]
    assert phases(["broker", "evidence", "freeze"]) == [["broker"], ["evidence"], ["freeze"]]


def test_hung_step_times_out_and_the_rest_runs(
    make_config: Callable[..., Config], black_hole: int
) -> None:
    key = BybitKey("pb-bybit-secret-CANARY")
    with FakeBybit({"PBKEY": key}) as bybit:
        config = make_config(
            strategies=[
                {
                    "name": "ft",
                    "freeze": {
                        "method": "freqtrade_api",
                        "url": f"http://127.0.0.1:{black_hole}",
                        "username": "u",
                        "password_secret": "pw",
                        "timeout_s": 30,
                    },
                }
            ],
            respond={
                "steps": ["freeze", "broker", "notify", "rebuild"],
                "timeouts": {"freeze": 0.5},
                "accounts": [
                    {"name": "by", "exchange": "bybit", "credential": "by", "base_url": bybit.url}
                ],
                "notify": {
                    "urls": [f"json://127.0.0.1:{black_hole}/hook"],
                    "retries": 0,
                    "timeout_s": 1,
                },
                "rebuild": {"command": ["sh", "-c", "echo rebuilt"]},
            },
        )
        alert = manual_alert("test.rule", "hung freqtrade API")
        records = run_playbook(
            alert,
            config,
            secrets=secrets_from({"pw": "x" * 8, "by": "PBKEY:pb-bybit-secret-CANARY"}),
        )
    by_step = {(r.step, r.target): r for r in records}
    assert by_step[("kill_switch", "engage")].status == ActionStatus.DONE
    assert killswitch.engaged(config) is not None
    freeze = by_step[("freeze", "")]
    assert freeze.status == ActionStatus.FAILED and "respond.timeouts.freeze" in freeze.detail
    assert by_step[("broker.lock", "by")].status == ActionStatus.DONE and key.read_only == 1
    assert by_step[("rebuild", "host")].status == ActionStatus.DONE
    assert by_step[("rebuild", "host")].data["rebuild_s"] >= 0
    # the hung webhook: queued, not waited for (the guard's call returns at once)
    queued = [r for r in records if r.step == "notify.queued"]
    assert queued and queued[0].status == ActionStatus.DONE
    assert not any(r.step == "notify" for r in records)
    incident = Incident.latest(config.paths.state_dir)
    assert incident is not None
    assert {r.step for r in incident.records()} >= {
        "kill_switch",
        "freeze",
        "broker.lock",
        "rebuild",
    }


def test_dry_run_writes_nothing(make_config: Callable[..., Config]) -> None:
    config = make_config(strategies=[{"name": "a", "match": "x"}])
    records = run_playbook(manual_alert("r", "s"), config, dry_run=True, secrets=secrets_from({}))
    assert records and {r.status for r in records} == {ActionStatus.DRY_RUN}
    assert Incident.latest(config.paths.state_dir) is None
    assert killswitch.engaged(config) is None
