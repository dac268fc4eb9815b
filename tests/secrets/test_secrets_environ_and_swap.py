"""Keys in running bots' environments (GAR-SEC-006, scan of /proc/*/environ) and the swap /
tmpfs decisions of GAR-SEC-003/004 on injected facts."""

from __future__ import annotations

import json
import os
import secrets as pysecrets
import subprocess
import sys
from collections.abc import Callable

from tests.conftest import CliResult
from tests.secrets.secrets_support import CANARY_KEY, Env, assert_no_canary

from garrison.checks.secrets import SwapEncrypted, TmpfsCannotSwap
from garrison.config.schema import Config
from garrison.host.facts import Facts
from garrison.host.host import Host
from garrison.model import Status
from garrison.secrets.audit_facts import SwapArea, TmpfsMount, swap_areas, tmpfs_mounts
from garrison.secrets.scanner.environ import scan_bot_environments


def test_keys_in_a_running_bots_environment_are_found(
    genv: Env, cli: Callable[..., CliResult]
) -> None:
    marker = "garrison-environ-test-" + pysecrets.token_hex(4)
    genv.write(f"""
        [[strategies]]
        name = "envbot"
        match = "{marker}"
    """)
    env = {"PATH": "/usr/bin:/bin", "BINANCE_API_KEY": CANARY_KEY, "LOG_LEVEL": "info"}
    bot = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", marker], env=env)
    try:
        config = Config.model_validate({"strategies": [{"name": "envbot", "match": marker}]})
        hits = scan_bot_environments(config)
        mine = [h for h in hits if h.path == f"/proc/{bot.pid}/environ"]
        assert [h.rule for h in mine] == ["binance-api-key"]
        assert CANARY_KEY not in json.dumps([h.redacted for h in hits])
        audit = cli("--config", str(genv.config), "audit", "--check", "GAR-SEC-006", "-f", "json")
        findings = json.loads(audit.out)["findings"]
        assert any(
            f["status"] == "fail" and f["subject"] == f"/proc/{bot.pid}/environ" for f in findings
        )
        assert_no_canary(audit.out, audit.err)
        scan = cli("--config", str(genv.config), "secrets", "scan")  # default: includes /proc
        assert f"/proc/{bot.pid}/environ:" in scan.out
        assert_no_canary(scan.out, scan.err)
    finally:
        bot.kill()
        bot.wait()


def facts_with(swaps: list[SwapArea], mounts: list[TmpfsMount]) -> Facts:
    facts = Facts(Host(os.sep), Config())
    facts._values[swap_areas] = swaps  # injected observations: the decision logic under test
    facts._values[tmpfs_mounts] = mounts
    return facts


PLAIN = SwapArea("/dev/vda2", "partition", False, "/proc/swaps", "plain block device")
CRYPT = SwapArea("/dev/dm-1", "dm-crypt", True, "/proc/swaps", "device-mapper crypt target")
RUN = TmpfsMount("/run", ("rw", "nosuid", "size=400m"))
SAFE = TmpfsMount("/run/keys", ("rw", "noswap"))


def test_swap_and_tmpfs_decisions() -> None:
    plain = list(SwapEncrypted().run(facts_with([PLAIN, CRYPT], [])))
    assert [(f.subject, f.status) for f in plain] == [
        ("/dev/vda2", Status.FAIL),
        ("/dev/dm-1", Status.PASS),
    ]
    exposed = list(TmpfsCannotSwap().run(facts_with([PLAIN], [RUN, SAFE])))
    assert [f.status for f in exposed] == [Status.WARN]
    assert exposed[0].evidence[0].observed == "/run"
    encrypted = list(TmpfsCannotSwap().run(facts_with([CRYPT], [RUN])))
    assert [f.status for f in encrypted] == [Status.PASS]
    noswap = list(TmpfsCannotSwap().run(facts_with([PLAIN], [SAFE])))
    assert [f.status for f in noswap] == [Status.PASS]
