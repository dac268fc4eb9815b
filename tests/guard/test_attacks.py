"""Each attack raises exactly the expected alert, from real fanotify/audit/inotify events."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.guard.conftest import requires_guard_env
from tests.guard.harness import GuardRun, make_run

from garrison.guard.sources.audit import garrison_rules_installed

pytestmark = [requires_guard_env, pytest.mark.root]


def test_write_to_protected_file_alerts_with_writer(guard: GuardRun) -> None:
    target = guard.mnt / "usr/bin/ls"
    guard.sh(f"printf 'evil' > {target}")
    alert = guard.wait_rule("GRD-FILE-001")
    guard.settle()
    assert guard.rules_seen() == {"GRD-FILE-001"}
    event = alert.events[0]
    assert event["path"] == str(target)
    assert event["source"] == "fanotify"
    assert event["pid"] is not None  # the writer's pid, from the kernel


def test_setuid_binary_anywhere_alerts_via_audit_and_rules_are_removed(guard: GuardRun) -> None:
    # scratch/ is not a watched path: only garrison's keyed audit rule can see this chmod.
    target = guard.mnt / "scratch/rootshell"
    guard.sh(f"cp /bin/true {target}")
    guard.settle()
    assert guard.rules_seen() == set()  # not watched, not setuid yet: nothing
    mine = f"garrison-setid-{guard.pid}"
    assert any(mine in line for line in garrison_rules_installed())
    guard.sh(f"chmod 4755 {target}")
    alert = guard.wait_rule("GRD-PRIV-001")
    guard.settle()
    assert guard.rules_seen() == {"GRD-PRIV-001"}
    event = alert.events[0]
    assert event["source"] == "audit"
    assert event["path"] == str(target)
    assert event["exe"].endswith("/chmod")
    assert event["detail"]["key"] == "garrison-setid"
    pid = guard.pid
    guard.stop()
    assert [line for line in garrison_rules_installed() if f"-{pid}" in line] == []


def test_setuid_binary_in_protected_dir_alerts_write_and_setuid(guard: GuardRun) -> None:
    binary = guard.mnt / "usr/bin/rootshell"
    guard.sh(f"cp /bin/true {binary}")
    guard.wait_rule("GRD-FILE-001")
    guard.sh(f"chmod u+s {binary}")
    alert = guard.wait_rule("GRD-PRIV-001")
    guard.settle()
    assert guard.rules_seen() == {"GRD-FILE-001", "GRD-PRIV-001"}
    sources = {e["source"] for e in alert.events}
    assert "fanotify" in sources  # and audit folds into the same alert (same rule and path)
    assert all(e["path"] == str(binary) for e in alert.events)


def test_setcap_alerts(guard: GuardRun) -> None:
    binary = guard.mnt / "usr/bin/netcat"
    guard.sh(f"cp /bin/true {binary}")
    guard.wait_rule("GRD-FILE-001")
    guard.sh(f"setcap cap_net_raw+ep {binary}")
    alert = guard.wait_rule("GRD-PRIV-003")
    guard.settle()
    assert guard.rules_seen() == {"GRD-FILE-001", "GRD-PRIV-003"}
    assert any(e["detail"].get("capability") for e in alert.events)


def test_authorized_key_added_alerts(guard: GuardRun) -> None:
    keys = guard.mnt / "root/.ssh/authorized_keys"
    guard.sh(f"echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG attacker' >> {keys}")
    alert = guard.wait_rule("GRD-PERS-001")
    guard.settle()
    assert guard.rules_seen() == {"GRD-PERS-001"}
    assert alert.events[0]["path"] == str(keys)


def test_pth_file_in_strategy_venv_alerts(guard: GuardRun) -> None:
    site = guard.mnt / "opt/trading/venv/lib/python3.11/site-packages"
    guard.sh(f"echo 'import os; os.system(\"id\")' > {site}/zz_evil.pth")
    alert = guard.wait_rule("GRD-PERS-002")
    guard.settle()
    assert guard.rules_seen() == {"GRD-PERS-002"}
    assert alert.events[0]["path"].endswith("zz_evil.pth")


def test_bot_writing_its_logs_and_database_raises_nothing(guard: GuardRun) -> None:
    # A benign workload: the bot writes logs and its trade database inside its code_dir.
    bot = guard.mnt / "opt/trading/bot"
    guard.sh(
        f"mkdir -p {bot}/logs && "
        f"for i in 1 2 3; do echo line $i >> {bot}/logs/bot.log; done && "
        f"echo db > {bot}/tradesv3.sqlite && echo wal > {bot}/tradesv3.sqlite-wal && "
        f"echo x >> {guard.mnt}/scratch/elsewhere.log"
    )
    guard.settle()
    assert guard.rules_seen() == set()
    # ...but new code in the same tree is a protected-file change.
    guard.sh(f"echo 'import os' > {bot}/strategy.py")
    alert = guard.wait_rule("GRD-FILE-001")
    guard.settle()
    assert {e["path"] for a in guard.alerts() for e in a.events} == {f"{bot}/strategy.py"}
    assert alert.rule_id == "GRD-FILE-001"


def test_failed_su_in_auth_log_alerts(guard: GuardRun) -> None:
    # No sudo on this host and adding users would change it: append to the guard's
    # (test-local) auth.log exactly what su/pam_unix write there.
    with (guard.base / "auth.log").open("a") as log:
        log.write(
            "Nov 24 22:00:00 vps su[4242]: pam_unix(su:auth): authentication failure; "
            "logname=bob uid=1000 euid=0 tty=/dev/pts/0 ruser=bob rhost=  user=root\n"
            "Nov 24 22:00:02 vps su[4242]: FAILED SU (to root) bob on pts/0\n"
        )
    guard.wait_rule("GRD-AUTH-001")
    guard.settle()
    assert guard.rules_seen() == {"GRD-AUTH-001"}
    alert = guard.alerts()[0]  # re-read: the second line may land after wait_rule returned
    assert alert.count == 2  # both lines fold into one alert (dedup window)
    assert "to root by bob" in alert.summary


def test_repeated_writes_are_deduplicated(guard: GuardRun) -> None:
    target = guard.mnt / "etc/hosts"
    guard.sh(f"echo 0 >> {target}")
    guard.wait_rule("GRD-FILE-001")
    for n in (1, 2):
        # One write at a time: the kernel merges identical queued events on one file.
        before = guard.alerts()[0].count
        guard.sh(f"echo {n} >> {target}")
        guard.wait_for(lambda b=before: guard.alerts()[0].count > b, f"write {n} counted")
    alerts = guard.alerts()
    assert [a.rule_id for a in alerts] == ["GRD-FILE-001"]
    assert alerts[0].count >= 3
    assert {e["path"] for e in alerts[0].events} == {str(target)}


def test_exec_responder_gets_alert_json(tmp_path: object) -> None:
    from pathlib import Path

    from tests.guard.harness import make_run

    base = Path(str(tmp_path))
    out = base / "exec-out.json"
    run = make_run(
        base,
        responders='["log", "exec"]',
        exec_command=f'["sh", "-c", "cat >> {out}; echo >> {out}"]',
    )
    run.start()
    try:
        run.sh(f"echo x > {run.mnt}/usr/bin/dropper")
        run.wait_rule("GRD-FILE-001")
        run.wait_for(lambda: out.exists() and out.stat().st_size > 0, "exec responder output")
    finally:
        run.stop()
    import json

    alerts = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    alert = alerts[0]
    assert alert["rule_id"] == "GRD-FILE-001"
    # SIGTERM is announced too: an attacker stopping the guard is not silent.
    assert alerts[-1]["rule_id"] == "GRD-GUARD-002"
    assert alert["events"][0]["path"].endswith("/usr/bin/dropper")


def test_respond_responder_runs_the_playbook(tmp_path: Path) -> None:
    # The respond area's real playbook: the kill switch file appears in run_dir, and each of
    # its ActionRecords is logged by the guard.
    run = make_run(tmp_path, responders='["log", "respond"]')
    run.start()
    try:
        run.sh(f"echo x > {run.mnt}/usr/bin/implant")
        run.wait_rule("GRD-FILE-001")
        run.wait_for(lambda: (run.base / "run" / "KILL_SWITCH").exists(), "the kill switch")
        run.wait_for(
            lambda: any("responder respond: kill switch engaged" in line for line in run.log),
            "the playbook's records in the guard log",
        )
    finally:
        run.stop()


def test_directory_moved_in_from_an_ignored_place_is_still_watched(guard: GuardRun) -> None:
    # scratch/ is irrelevant, so the guard asks the kernel to stop reporting it (an ignore
    # mark); moving a directory from there under /usr/bin must not carry that blindness.
    staging = guard.mnt / "scratch/staging"
    guard.sh(f"mkdir {staging} && for i in 1 2 3; do echo x >> {staging}/noise; done")
    guard.settle()
    assert guard.rules_seen() == set()
    target = guard.mnt / "usr/bin/kit"
    # The write right after the move races the guard's flush of its ignore marks.
    guard.sh(f"mv {staging} {target} && echo payload > {target}/implant")
    guard.wait_rule("GRD-FILE-001")
    guard.wait_for(
        lambda: any(e["path"] == f"{target}/implant" for a in guard.alerts() for e in a.events),
        "the write inside the moved-in directory",
    )


def test_trojaned_library_in_strategy_venv_alerts_but_bytecode_caches_do_not(
    guard: GuardRun,
) -> None:
    site = guard.mnt / "opt/trading/venv/lib/python3.11/site-packages"
    guard.sh(f"mkdir -p {site}/__pycache__ && echo cache > {site}/__pycache__/six.cpython-311.pyc")
    guard.settle()
    assert guard.rules_seen() == set()
    guard.sh(f"echo 'import socket  # exfiltrate keys' >> {site}/six.py")
    alert = guard.wait_rule("GRD-FILE-002")
    guard.settle()
    assert guard.rules_seen() == {"GRD-FILE-002"}
    assert {e["path"] for e in alert.events} == {f"{site}/six.py"}


def test_failed_sudo_from_the_journal(tmp_path: Path) -> None:
    # This host runs no journald: a stand-in `journalctl` on PATH streams journal JSON
    # entries (the exact fields journald gives) from a file the test appends to.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    feed = tmp_path / "journal.jsonl"
    feed.touch()
    fake = bindir / "journalctl"
    fake.write_text(f"#!/bin/sh\nexec tail -n0 -F {feed}\n")
    fake.chmod(0o755)
    run = make_run(tmp_path, auth_source='"journal"')
    run.start(env={"PATH": f"{bindir}:{os.environ['PATH']}"})
    try:
        entry = {
            "SYSLOG_IDENTIFIER": "sudo",
            "_PID": "4242",
            "MESSAGE": "pam_unix(sudo:auth): authentication failure; logname=bob uid=1000 "
            "euid=0 tty=/dev/pts/0 ruser=bob rhost=  user=bob",
        }
        benign = {
            "SYSLOG_IDENTIFIER": "sudo",
            "_PID": "4243",
            "MESSAGE": "pam_unix(sudo:session): "
            "session opened for user root(uid=0) by bob(uid=1000)",
        }
        with feed.open("a") as handle:
            handle.write(json.dumps(benign) + "\n" + json.dumps(entry) + "\n")
        alert = run.wait_rule("GRD-AUTH-001")
        run.settle()
        assert run.rules_seen() == {"GRD-AUTH-001"}
        assert alert.events[0]["source"] == "journal"
        assert alert.events[0]["detail"]["program"] == "sudo"
        assert alert.events[0]["detail"]["by"] == "bob"
    finally:
        run.stop()
