"""The guard's CLI: rule-file errors name file:line and stop the daemon before it starts,
`rules list`/`rules test`, `guard --status` (fallbacks, missing features), install-unit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.guard.conftest import requires_guard_env
from tests.guard.harness import make_run


def write_config(tmp_path: Path, guard_extra: str = "") -> Path:
    config = tmp_path / "garrison.toml"
    config.write_text(
        f'[paths]\nstate_dir = "{tmp_path}/state"\nrun_dir = "{tmp_path}/run"\n'
        f'[guard]\nmetrics_listen = "off"\n{guard_extra}\n'
    )
    return config


def test_rules_list_shows_shipped_rules(cli: Callable[..., Any], tmp_path: Path) -> None:
    result = cli("rules", "list", "-c", str(write_config(tmp_path)), "-f", "json")
    assert result.code == 0, result.err
    rules = {r["id"]: r for r in json.loads(result.out)}
    for rule_id in (
        "GRD-FILE-001",
        "GRD-PRIV-001",
        "GRD-PRIV-003",
        "GRD-PERS-001",
        "GRD-PERS-002",
        "GRD-NET-001",
        "GRD-AUTH-001",
        "GRD-GUARD-001",
    ):
        assert rule_id in rules
    assert rules["GRD-PERS-001"]["technique"] == "T1098.004"
    assert rules["GRD-FILE-001"]["origin"].endswith(
        "default.toml:" + rules["GRD-FILE-001"]["origin"].rsplit(":", 1)[1]
    )


def test_toml_syntax_error_names_file_and_line(cli: Callable[..., Any], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nid = "X-1"\nseverity = "high"\ntitle = "broken\n')
    config = write_config(tmp_path, f'rule_files = ["{bad}"]')
    result = cli("guard", "--once", "-c", str(config))
    assert result.code == 2
    assert f"{bad}:4: invalid TOML" in result.err
    assert "Traceback" not in result.err
    assert not (tmp_path / "state" / "guard" / "alerts.db").exists()  # refused to start


def test_semantic_error_names_the_rule_table_line(cli: Callable[..., Any], tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text(
        '# my rules\n\n[[rule]]\nid = "MY-OK-001"\nseverity = "low"\ntitle = "fine"\n'
        '[rule.match]\nkind = "write"\n\n'
        '[[rule]]\nid = "MY-BAD-002"\nseverity = "high"\ntitle = "typo"\n'
        '[rule.match]\npaht = "/etc/**"\n'
    )
    config = write_config(tmp_path, f'rule_files = ["{bad}"]')
    result = cli("guard", "--once", "-c", str(config))
    assert result.code == 2
    assert f"{bad}:10: MY-BAD-002: unknown field 'paht'" in result.err
    result = cli("rules", "list", "-c", str(config))
    assert result.code == 2 and f"{bad}:10:" in result.err


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[[rule]]\nid = "A-1"\nseverity = "urgent"\ntitle = "t"\n[rule.match]\nkind = "x"\n',
            "unknown severity 'urgent'",
        ),
        (
            '[[rule]]\nid = "A-1"\nseverity = "high"\ntitle = "t"\n[rule.match]\npath = "{nope}/x"\n',
            "unknown macro {nope}",
        ),
        (
            '[[rule]]\nid = "A-1"\nseverity = "high"\ntitle = "t"\nallow = ["apt"]\n'
            '[rule.match]\nkind = "x"\n',
            "unknown allow 'apt'",
        ),
        (
            '[[rule]]\nid = "lower"\nseverity = "high"\ntitle = "t"\n[rule.match]\nkind = "x"\n',
            "must look like GRD-FILE-001",
        ),
        (
            '[[rule]]\nid = "GRD-FILE-001"\nseverity = "high"\ntitle = "dup"\n[rule.match]\nkind = "x"\n',
            "duplicate rule id GRD-FILE-001",
        ),
    ],
)
def test_rule_errors(cli: Callable[..., Any], tmp_path: Path, body: str, message: str) -> None:
    bad = tmp_path / "r.toml"
    bad.write_text(body)
    result = cli("rules", "list", "-c", str(write_config(tmp_path, f'rule_files = ["{bad}"]')))
    assert result.code == 2
    assert f"{bad}:1:" in result.err and message in result.err


def test_rules_test_replays_events(cli: Callable[..., Any], tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    lines = [
        {"source": "fanotify", "kind": "write", "path": "/usr/bin/ls", "exe": "/usr/bin/vim"},
        {"source": "fanotify", "kind": "create", "path": "/root/.ssh/authorized_keys"},
        {
            "source": "nflog",
            "kind": "connect",
            "uid": 1000,
            "detail": {"dst": "203.0.113.9", "dport": 4444, "proto": "tcp"},
        },
        {"source": "fanotify", "kind": "write", "path": "/home/bot/logs/bot.log"},
        {"source": "fanotify", "kind": "attrib", "path": "/tmp/x", "detail": {"setuid": True}},
    ]
    events.write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    config = write_config(tmp_path)
    result = cli("rules", "test", str(events), "-c", str(config), "-f", "json")
    assert result.code == 0, result.err
    hits = [r["rule"] for r in json.loads(result.out)]
    assert hits == ["GRD-FILE-001", "GRD-PERS-001", "GRD-NET-001", None, "GRD-PRIV-001"]
    table = cli("rules", "test", str(events), "-c", str(config))
    assert "4 of 5 events match a rule" in table.out


def test_rules_test_bad_event_line(cli: Callable[..., Any], tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"source": "fanotify", "kind": "write"}\n{"source": "x", kind}\n')
    result = cli("rules", "test", str(events), "-c", str(write_config(tmp_path)))
    assert result.code == 64
    assert f"{events}:2: invalid JSON" in result.err


def test_install_unit_writes_hardened_unit(cli: Callable[..., Any], tmp_path: Path) -> None:
    config = write_config(tmp_path)
    target = tmp_path / "units"
    result = cli("guard", "install-unit", str(target), "-c", str(config))
    assert result.code == 0, result.err
    text = (target / "garrison-guard.service").read_text()
    for directive in (
        "Restart=always",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=CAP_SYS_ADMIN",
        f"ReadWritePaths=-{tmp_path}/state -{tmp_path}/run",
    ):
        assert directive in text
    assert f"--config {config}" in text
    assert "systemctl enable" in result.out  # it says how, it never does it


def test_status_without_a_guard(cli: Callable[..., Any], tmp_path: Path) -> None:
    result = cli("guard", "--status", "-c", str(write_config(tmp_path)))
    assert result.code == 1
    assert "guard: not running" in result.out


def test_bad_config_values(cli: Callable[..., Any], tmp_path: Path) -> None:
    result = cli("guard", "--once", "-c", str(write_config(tmp_path, 'responders = ["pager"]')))
    assert result.code == 2 and "guard.responders: unknown responder 'pager'" in result.err
    config = tmp_path / "listen.toml"
    config.write_text('[guard]\nmetrics_listen = "9108"\n')
    result = cli("guard", "--once", "-c", str(config))
    assert result.code == 2 and "guard.metrics_listen: '9108' is not HOST:PORT" in result.err
    result = cli("guard", "--once", "--for", "3", "-c", str(write_config(tmp_path)))
    assert result.code == 64


@requires_guard_env
@pytest.mark.root
def test_status_reports_inotify_fallback_while_running(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    run = make_run(tmp_path, file_source='"inotify"')
    run.start()
    try:
        run.sh(f"echo x > {run.mnt}/usr/bin/tool")
        alert = run.wait_rule("GRD-FILE-001")
        assert alert.events[0]["source"] == "inotify"
        result = cli("guard", "--status", "-c", str(run.config), "-f", "json")
        assert result.code == 0, result.out
        status = json.loads(result.out)
        files = next(s for s in status["sources"] if s["name"] == "files")
        assert files["mechanism"] == "inotify (fallback)" and files["fallback"] is True
        assert "files: inotify (fallback)" in status["fallbacks"]
        assert "fanotify FAN_REPORT_DFID_NAME" in status["missing"]
        text = cli("guard", "--status", "-c", str(run.config)).out
        assert "guard: running" in text and "inotify (fallback)" in text
    finally:
        run.stop()
    metrics = (run.base / "guard.prom").read_text()
    assert (
        'garrison_guard_source_fallback{mechanism="inotify (fallback)",source="files"} 1.0'
        in metrics
    )
    assert 'garrison_guard_alerts_total{rule="GRD-FILE-001"} 1.0' in metrics


@requires_guard_env
@pytest.mark.root
def test_metrics_endpoint_serves_counters(tmp_path: Path) -> None:
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = make_run(tmp_path)
    text = run.config.read_text().replace(
        'metrics_listen = "off"', f'metrics_listen = "127.0.0.1:{port}"'
    )
    run.config.write_text(text)
    run.start()
    try:
        run.sh(f"echo x > {run.mnt}/usr/bin/tool")
        run.wait_rule("GRD-FILE-001")
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    finally:
        run.stop()
    metrics = body.decode()
    assert 'garrison_guard_alerts_total{rule="GRD-FILE-001"} 1.0' in metrics
    assert 'garrison_guard_events_total{source="fanotify"}' in metrics
    assert "garrison_guard_queue_lag_seconds" in metrics
    assert 'garrison_guard_source_active{mechanism="fanotify' in metrics
