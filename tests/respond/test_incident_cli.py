"""A real incident from the CLI: every step runs with timings against the local lab (a frozen
counter process, freqtrade, Bybit, Deribit, Binance, Slack/Telegram, a dead webhook), bad
inputs included; canary secrets never leave; custody verifies; ack closes pending steps."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import needs_root
from tests.respond.conftest import Counter, secrets_from
from tests.respond.fakes.binance import FakeBinance
from tests.respond.fakes.bybit import BybitKey, FakeBybit
from tests.respond.fakes.chat import FakeChat, point_apprise_at
from tests.respond.fakes.deribit import DeribitKey, FakeDeribit
from tests.respond.fakes.freqtrade import FakeFreqtrade
from tests.respond.fakes.http_base import free_port

from garrison.respond import killswitch

CANARIES = {
    "bybit": "SUBKEY0001:bybit-CANARY-secret-aa11",
    "deribit": "DRCLIENT:deribit-CANARY-secret-bb22",
    "binance": "BNKEY:binance-CANARY-secret-cc33",
    "ft_pw": "freqtrade-CANARY-password-dd44",
    "down": "DOWNKEY:down-CANARY-secret-ee55",
}
SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/slackCANARYtoken99/#ops"
TELEGRAM = "tgram://123456789:AAEtelegramCANARYtok/424242"


def _secret_values() -> list[str]:
    out = []
    for value in CANARIES.values():
        out += [value, value.split(":", 1)[1]] if ":" in value else [value]
    return [*out, "slackCANARYtoken99", "AAEtelegramCANARYtok"]


@pytest.fixture
def lab(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    counter: Callable[[], Counter],
    cgroup_parent: str,
) -> Iterator[dict[str, Any]]:
    bot = counter()
    with ExitStack() as stack:
        bybit_key = BybitKey(CANARIES["bybit"].split(":")[1])
        bybit = stack.enter_context(FakeBybit({"SUBKEY0001": bybit_key}))
        deribit_key = DeribitKey(
            3,
            CANARIES["deribit"].split(":")[1],
            max_scope="account:read trade:read_write wallet:read",
        )
        deribit = stack.enter_context(FakeDeribit({"DRCLIENT": deribit_key}))
        binance = stack.enter_context(FakeBinance("BNKEY", CANARIES["binance"].split(":")[1]))
        ft = stack.enter_context(FakeFreqtrade("garrison", CANARIES["ft_pw"]))
        chat = stack.enter_context(FakeChat())
        point_apprise_at(monkeypatch, chat.url)
        reader = secrets_from(CANARIES)
        monkeypatch.setattr("garrison.respond.secret_access.store_reader", lambda _c: reader)
        monkeypatch.setattr("garrison.respond.playbook.store_reader", lambda _c: reader)
        (tmp_path / "app").mkdir()
        (tmp_path / "app" / "strategy.py").write_text("print('bot')\n")
        config = tmp_path / "garrison.toml"
        config.write_text(f"""
[paths]
state_dir = "{tmp_path}/state"
run_dir = "{tmp_path}/run"
log_dir = "{tmp_path}/log"

[[strategies]]
name = "counter"
match = "{bot.marker}"

[[strategies]]
name = "ft"
freeze = {{ method = "freqtrade_api", url = "{ft.url}", username = "garrison", password_secret = "ft_pw", forceexit = true }}

[[strategies]]
name = "ghost"
match = "garrison-no-such-process-0000"

[respond]
cgroup_parent = "{cgroup_parent}"

[[respond.accounts]]
name = "bybit-main"
exchange = "bybit"
credential = "bybit"
base_url = "{bybit.url}"

[[respond.accounts]]
name = "deribit-main"
exchange = "deribit"
credential = "deribit"
base_url = "{deribit.url}"

[[respond.accounts]]
name = "binance-spot"
exchange = "binance"
credential = "binance"
base_url = "{binance.url}"
symbols = ["BTC/USDT"]

[[respond.accounts]]
name = "bybit-down"
exchange = "bybit"
credential = "down"
base_url = "http://127.0.0.1:{free_port()}"

[respond.notify]
urls = ["{SLACK}", "{TELEGRAM}", "json://127.0.0.1:{free_port()}/hook"]
retries = 1
backoff_s = 0.05

[respond.evidence]
paths = ["{tmp_path}/app"]
memory_limit_mb = 64

[respond.rebuild]
command = ["sh", "-c", "echo rebuilt"]
""")
        yield {
            "config": str(config),
            "bot": bot,
            "bybit": bybit_key,
            "deribit": deribit_key,
            "binance": binance,
            "ft": ft,
            "chat": chat,
            "state": tmp_path / "state",
        }


def _records(out: str) -> tuple[str, dict[tuple[str, str], dict[str, Any]]]:
    data = json.loads(out)
    latest = {}
    for r in data["records"]:
        latest[(r["step"], r["target"])] = r
    return data["incident"], latest


@needs_root
def test_full_incident_from_the_cli(cli: Callable[..., Any], lab: dict[str, Any]) -> None:
    result = cli(
        "-c",
        lab["config"],
        "respond",
        "--rule",
        "guard.fim.usr_bin",
        "--summary",
        "write below /usr/bin",
        "--severity",
        "critical",
        "-f",
        "json",
        "--wait-notify",
        "30",
    )
    assert result.code == 2, result.err  # some steps failed on purpose
    incident, recs = _records(result.out)

    def status(step: str, target: str) -> str:
        return str(recs[(step, target)]["status"])

    # 1. freeze: the real process is frozen, freqtrade stopped, the ghost reported gone
    assert status("kill_switch", "engage") == "done"
    assert status("freeze", "counter") == "done" and status("freeze", "ft") == "done"
    assert status("freeze", "ghost") == "failed"
    assert "already gone" in recs[("freeze", "ghost")]["detail"]
    frozen_at = lab["bot"].value()
    time.sleep(0.2)
    assert lab["bot"].value() == frozen_at
    assert lab["ft"].state == "stopped" and lab["ft"].open_trades == 0
    # 2. broker: cancelled and locked where the API allows, failures carry the manual step
    assert status("broker.cancel", "bybit-main") == "done"
    assert status("broker.lock", "bybit-main") == "done" and lab["bybit"].read_only == 1
    assert status("broker.cancel", "deribit-main") == "done"
    assert status("broker.lock", "deribit-main") == "failed"
    assert "13021" in recs[("broker.lock", "deribit-main")]["detail"]
    assert status("broker.cancel", "binance-spot") == "done" and lab["binance"].open_orders == 0
    assert status("broker.lock", "binance-spot") == "pending"
    assert "unreachable" in recs[("broker.cancel", "bybit-down")]["detail"]
    # 3. evidence, 5. rebuild, each timed
    assert status("evidence.volatile", "host") == "done"
    assert status("evidence.memory", "counter") == "done"
    assert status("evidence.disk", "host") == "done"
    assert status("rebuild", "host") == "done"
    assert all(r["duration_s"] >= 0 and r["started"] for r in recs.values())
    # 4. notify: Slack and Telegram delivered, the dead webhook failed; message says what's open
    assert status("notify", "slack://***") == "done" and status("notify", "tgram://***") == "done"
    failed_hook = [r for (s, t), r in recs.items() if s == "notify" and t.startswith("json://")]
    assert failed_hook and failed_hook[0]["status"] == "failed"
    first = lab["chat"].telegram[0]["text"]
    assert "NEEDS A HUMAN" in first and "broker.lock:binance-spot" in first
    assert "freeze:ghost" in first and "api-management" in first
    assert any("Evidence (SHA-256)" in m["text"] for m in lab["chat"].telegram)
    assert lab["chat"].slack
    # canaries appear nowhere
    incident_dir = lab["state"] / "incidents" / incident
    texts = [
        result.out,
        result.err,
        (incident_dir / "records.jsonl").read_text(),
        (incident_dir / "evidence" / "custody.jsonl").read_text(),
        json.dumps(lab["chat"].slack),
        json.dumps(lab["chat"].telegram),
    ]
    for secret in _secret_values():
        for text in texts:
            assert secret not in text

    # custody verifies, then detects tampering
    ok = cli("-c", lab["config"], "evidence", "verify")
    assert ok.code == 0 and "intact" in ok.out
    (incident_dir / "evidence" / "modules.txt").write_text("rootkit was here\n")
    bad = cli("-c", lab["config"], "evidence", "verify", str(incident_dir), "-f", "json")
    assert bad.code == 1
    assert [p["kind"] for p in json.loads(bad.out)["problems"]] == ["artefact"]

    # a human does the manual step and says so
    shown = cli("-c", lab["config"], "respond", "show", incident, "-f", "json")
    assert "broker.lock:binance-spot" in json.loads(shown.out)["open"]
    acked = cli(
        "-c",
        lab["config"],
        "respond",
        "ack",
        incident,
        "broker.lock:binance-spot",
        "--note",
        "key deleted in the dashboard",
    )
    assert acked.code == 0
    shown = cli("-c", lab["config"], "respond", "show", incident, "-f", "json")
    assert "broker.lock:binance-spot" not in json.loads(shown.out)["open"]

    # thaw everything: the counter runs again, the kill switch is released
    thawed = cli("-c", lab["config"], "thaw", "counter", "ft", "--release-kill-switch")
    assert thawed.code == 0, thawed.out
    lab["bot"].wait_advance(frozen_at)
    assert not (lab["state"].parent / "run" / killswitch.FILE_NAME).exists()


def test_dry_run_shows_the_plan_and_changes_nothing(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    config = tmp_path / "g.toml"
    config.write_text(f"""
[paths]
state_dir = "{tmp_path}/state"
run_dir = "{tmp_path}/run"
[[strategies]]
name = "ft"
match = "freqtrade"
[[respond.accounts]]
name = "okx-main"
exchange = "okx"
[respond.notify]
urls = ["tgram://123:SECRETtoken/1"]
""")
    result = cli("-c", str(config), "respond", "--dry-run", "-f", "json")
    assert result.code == 0, result.err
    steps = [(r["step"], r["target"], r["status"]) for r in json.loads(result.out)["records"]]
    assert ("freeze", "ft", "dry-run") in steps and ("broker.lock", "okx-main", "dry-run") in steps
    assert {s for s, _, _ in steps} >= {
        "kill_switch",
        "freeze",
        "broker.cancel",
        "broker.lock",
        "evidence.volatile",
        "notify",
        "rebuild",
    }
    assert "SECRETtoken" not in result.out
    assert not (tmp_path / "state").exists() and not (tmp_path / "run").exists()


def test_bad_inputs_are_one_line_errors(cli: Callable[..., Any], tmp_path: Path) -> None:
    config = tmp_path / "g.toml"
    config.write_text(
        f'[paths]\nstate_dir = "{tmp_path}/s"\nrun_dir = "{tmp_path}/r"\n'
        '[[strategies]]\nname = "a"\nmatch = "x"\n'
    )
    nothing = cli("-c", str(config), "respond")
    assert nothing.code == 64 and "--rule" in nothing.err
    (tmp_path / "alert.json").write_text("{not json")
    garbled = cli("-c", str(config), "respond", "--alert-file", str(tmp_path / "alert.json"))
    assert garbled.code == 64 and "not JSON" in garbled.err and len(garbled.err.splitlines()) == 1
    unknown = cli("-c", str(config), "freeze", "nope")
    assert unknown.code == 64 and "unknown strategy 'nope'" in unknown.err
    missing = cli("-c", str(config), "respond", "ack", "20200101T000000Z-x", "freeze:a")
    assert missing.code == 64 and "not found" in missing.err
    no_evidence = cli("-c", str(config), "evidence", "verify", str(tmp_path))
    assert no_evidence.code == 2 and "no custody log" in no_evidence.err
    bad = tmp_path / "bad.toml"
    bad.write_text('[[strategies]]\nname = "a"\nfreeze = { method = "docker" }\n')
    invalid = cli("-c", str(bad), "freeze")
    assert invalid.code == 2 and "needs 'container'" in invalid.err
    bad.write_text('[respond.notify]\nurls = ["hooks.slack.com/services/T/B/SECRET1234"]\n')
    invalid = cli("-c", str(bad), "respond", "--dry-run")
    assert invalid.code == 2 and "SECRET1234" not in invalid.err
