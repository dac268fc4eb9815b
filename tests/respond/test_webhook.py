"""`garrison respond serve`: Falco and Wazuh JSON in, HMAC checked, alerts handed to the playbook."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from garrison.config.schema import Config
from garrison.model import Alert, Severity
from garrison.respond.webhook import SIGNATURE_HEADER, AlertIntake, signature

FALCO = {
    "output": "16:31:56.746609046: Error File below a known binary directory opened for writing "
    "(user=root command=touch /usr/bin/evil file=/usr/bin/evil)",
    "priority": "Error",
    "rule": "Write below binary dir",
    "time": "2026-11-24T16:31:56.746609046Z",
    "output_fields": {
        "fd.name": "/usr/bin/evil",
        "proc.pid": 4242,
        "proc.name": "touch",
        "user.name": "root",
    },
    "tags": ["filesystem", "mitre_persistence", "T1543"],
    "hostname": "vps1",
}
WAZUH = {
    "timestamp": "2026-11-24T16:31:57.123+0000",
    "rule": {
        "level": 12,
        "description": "Integrity checksum changed.",
        "id": "550",
        "mitre": {"id": ["T1565.001"]},
    },
    "agent": {"id": "000", "name": "vps1"},
    "id": "1700000000.1234",
    "full_log": "File '/opt/trading/bot.py' modified",
    "syscheck": {"path": "/opt/trading/bot.py"},
}
SECRET = b"webhook-hmac-CANARY-secret"


@pytest.fixture
def intake(make_config: Callable[..., Config]) -> Iterator[tuple[AlertIntake, list[Alert]]]:
    seen: list[Alert] = []
    done = threading.Event()

    def respond(alert: Alert) -> None:
        seen.append(alert)
        done.set()

    config = make_config(respond={"webhook": {"listen": "127.0.0.1:1", "min_severity": "high"}})
    server = AlertIntake(config, respond, SECRET, port=0)
    server.start()
    yield server, seen
    server.stop()


def _post(
    server: AlertIntake, path: str, payload: object, secret: bytes | None = SECRET
) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {SIGNATURE_HEADER: signature(secret, body)} if secret else {}
    return httpx.post(f"http://{server.address}{path}", content=body, headers=headers, timeout=5)


def _wait(seen: list[Alert], n: int) -> None:
    for _ in range(500):
        if len(seen) >= n:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"only {len(seen)} alerts reached the playbook")


def test_falco_and_wazuh_alerts_reach_the_playbook(
    intake: tuple[AlertIntake, list[Alert]],
) -> None:
    server, seen = intake
    falco = _post(server, "/falco", FALCO)
    wazuh = _post(server, "/wazuh", WAZUH)
    assert falco.status_code == 202 and falco.json()["status"] == "responding"
    assert wazuh.status_code == 202
    _wait(seen, 2)
    by_rule = {a.rule_id: a for a in seen}
    f = by_rule["falco:Write below binary dir"]
    assert f.severity == Severity.HIGH and f.events[0].path == "/usr/bin/evil"
    assert f.events[0].pid == 4242 and f.technique == "T1543"
    w = by_rule["wazuh:550"]
    assert w.severity == Severity.CRITICAL and w.technique == "T1565.001"
    assert w.events[0].path == "/opt/trading/bot.py"


def test_bad_signature_low_severity_and_garbage_are_refused(
    intake: tuple[AlertIntake, list[Alert]],
) -> None:
    server, seen = intake
    assert _post(server, "/falco", FALCO, secret=None).status_code == 401
    assert _post(server, "/falco", FALCO, secret=b"wrong").status_code == 401
    low = _post(server, "/falco", {**FALCO, "priority": "Notice"})
    assert low.status_code == 202 and low.json()["status"] == "ignored"
    garbage = _post(server, "/", {"hello": "world"})
    assert (
        garbage.status_code == 400 and "not a garrison, Falco or Wazuh" in garbage.json()["error"]
    )
    assert _post(server, "/nope", FALCO).status_code == 404
    threading.Event().wait(0.1)
    assert seen == []
    assert SECRET.decode() not in garbage.text


def test_falco_alert_runs_the_real_playbook_once_per_dedup_key(
    make_config: Callable[..., Config], cgroup_parent: str
) -> None:
    from tests.respond.conftest import secrets_from

    from garrison.respond.incident import Incident
    from garrison.respond.playbook import run_playbook

    config = make_config(
        strategies=[{"name": "gone", "match": "garrison-no-such-process-webhook"}],
        respond={
            "steps": ["freeze", "rebuild"],
            "rebuild": {"command": ["true"]},
            "cgroup_parent": cgroup_parent,
            "webhook": {"listen": "127.0.0.1:1"},
        },
    )
    done = threading.Event()

    def respond(alert: Alert) -> None:
        run_playbook(alert, config, secrets=secrets_from({}))
        done.set()

    server = AlertIntake(config, respond, None, port=0)
    server.start()
    try:
        first = _post(server, "/falco", {**FALCO, "priority": "Critical"}, secret=None)
        again = _post(server, "/falco", {**FALCO, "priority": "Critical"}, secret=None)
        assert done.wait(20)
    finally:
        server.stop()
    assert first.json()["status"] == "responding" and again.json()["status"] == "duplicate"
    incident = Incident.latest(config.paths.state_dir)
    assert incident is not None
    assert incident.alert_json()["rule_id"] == "falco:Write below binary dir"
    steps = {(r.step, r.target): r.status.value for r in incident.records()}
    assert steps[("kill_switch", "engage")] == "done" and steps[("freeze", "gone")] == "failed"
    assert steps[("rebuild", "host")] == "done"
