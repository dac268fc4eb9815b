"""systemd-creds backend: host-key encryption with the key file in a temp dir (the host's
/var/lib/systemd/credential.secret is never created or used by the tests)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tests.secrets.secrets_support import CANARY_KEY, Env, assert_no_canary


def creds_work() -> str:
    """'' when systemd-creds can encrypt here, else why not."""
    if shutil.which("systemd-creds") is None:
        return "systemd-creds not installed"
    probe = subprocess.run(["systemd-creds", "--version"], capture_output=True, check=False)
    return "" if probe.returncode == 0 else "systemd-creds does not run here"


pytestmark = pytest.mark.skipif(bool(creds_work()), reason=creds_work() or "ok")


def test_put_get_run_with_a_private_host_key(genv: Env, tmp_path: Path) -> None:
    host_key = tmp_path / "keys" / "credential.secret"
    host_key.parent.mkdir()
    genv.write(f"""
        [secrets]
        backend = "systemd-creds"
        [secrets.systemd_creds]
        with_key = "host"
        credential_secret = "{host_key}"
        [[strategies]]
        name = "bot"
        secrets = ["binance_key"]
        [secrets.delivery.bot]
        mode = "pipe"
    """)
    system_key = Path("/var/lib/systemd/credential.secret")
    existed = system_key.exists()
    before = genv.garrison("secrets", "status")  # an audit-like probe must not create the key
    assert before.returncode == 1 and b"does not exist yet" in before.stdout
    assert not host_key.exists()
    put = genv.garrison("secrets", "put", "binance_key", stdin=CANARY_KEY.encode())
    assert put.returncode == 0, put.stderr
    blob = next((genv.state / "secrets/creds/binance_key").glob("*.cred"))
    assert CANARY_KEY.encode() not in blob.read_bytes()
    got = genv.garrison("secrets", "get", "binance_key", "-f", "json")
    assert got.returncode == 0 and b'"length": 64' in got.stdout
    run = genv.garrison(
        "secrets",
        "run",
        "bot",
        "--",
        "sh",
        "-c",
        'grep -c "$0" "$GARRISON_SECRETS_PATH"',
        CANARY_KEY,
    )
    assert run.stdout.strip() == b"1", run.stderr
    status = genv.garrison("secrets", "status")
    assert b"systemd-creds works" in status.stdout
    # another key file cannot decrypt what this one encrypted
    host_key.chmod(0o600)
    host_key.write_bytes(b"\0" * 4112)
    wrong = genv.garrison("secrets", "get", "binance_key")
    assert wrong.returncode == 2 and b"systemd-creds decrypt 'binance_key' v1" in wrong.stderr
    for result in (put, got, run, status, wrong):
        assert_no_canary(result.stdout, result.stderr)
    assert system_key.exists() == existed
