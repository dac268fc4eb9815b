"""`garrison secrets run`: a freqtrade-style bot gets its keys from the age store and from
OpenBao without any key on disk; other users cannot read them; every mode works."""

from __future__ import annotations

import hashlib
import json
import secrets as pysecrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.secrets.secrets_support import (
    CANARY_KEY,
    CANARY_SECRET,
    GARRISON,
    Bao,
    Env,
    assert_no_canary,
)

from garrison.secrets import fdpass

HERE = Path(__file__).parent
STANDIN = HERE / "standin_freqtrade.py"
HOLDER = HERE / "memfd_secret_holder.py"
PYTHON = sys.executable

BOT = """
    [[strategies]]
    name = "bot"
    kind = "freqtrade"
    code_dir = "{workdir}"
    secrets = ["binance_key", "binance_secret"]
    [secrets.delivery.bot]
    mode = "{mode}"
    fields = {{ "exchange.key" = "binance_key", "exchange.secret" = "binance_secret" }}
"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_workdir(root: Path) -> Path:
    workdir = root / "ft"
    workdir.mkdir()
    (workdir / "config.json").write_text(
        json.dumps(
            {
                "dry_run": True,
                "exchange": {"name": "binance", "key": "", "secret": ""},
                "stake_currency": "USDT",
            },
            indent=2,
        )
    )
    return workdir


def put_keys(env: Env) -> None:
    for name, value in (("binance_key", CANARY_KEY), ("binance_secret", CANARY_SECRET)):
        result = env.garrison("secrets", "put", name, stdin=value.encode())
        assert result.returncode == 0, result.stderr


def run_bot(env: Env, workdir: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            str(GARRISON),
            "secrets",
            "run",
            "bot",
            *extra,
            "--",
            PYTHON,
            str(STANDIN),
            "trade",
            "--config",
            "config.json",
            "--config",
            "{secrets_path}",
            "--proof",
            "proof.json",
        ],
        cwd=workdir,
        capture_output=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "GARRISON_CONFIG": str(env.config)},
    )


def assert_bot_got_keys_and_disk_is_clean(
    env: Env, workdir: Path, result: subprocess.CompletedProcess[bytes]
) -> None:
    assert result.returncode == 0, result.stderr
    proof = json.loads((workdir / "proof.json").read_text())
    assert proof == {
        "name": "binance",
        "key_sha256": sha(CANARY_KEY),
        "secret_sha256": sha(CANARY_SECRET),
        "dry_run": True,
    }
    assert_no_canary(result.stdout, result.stderr)
    for path in [*workdir.rglob("*"), *env.state.rglob("*")]:
        if path.is_file():
            assert_no_canary(path.read_bytes())
    scan = env.garrison("secrets", "scan", str(workdir), str(env.state))
    assert scan.returncode == 0, scan.stdout
    assert b"0 secrets found" in scan.stdout


def test_freqtrade_standin_gets_keys_from_age_store(
    age_env: Callable[..., Env], tmp_path: Path
) -> None:
    workdir = make_workdir(tmp_path)
    env = age_env(BOT.format(workdir=workdir, mode="auto"))
    put_keys(env)
    result = run_bot(env, workdir)
    assert_bot_got_keys_and_disk_is_clean(env, workdir, result)


def test_freqtrade_standin_gets_keys_from_openbao(bao: Bao, genv: Env) -> None:
    workdir = make_workdir(genv.root)
    token = genv.root / "bao-token"
    token.write_text(bao.root_token)
    genv.write(
        f"""
        [secrets]
        backend = "openbao"
        [secrets.vault]
        address = "{bao.address}"
        path_prefix = "d-{pysecrets.token_hex(4)}"
        token_file = "{token}"
    """
        + BOT.format(workdir=workdir, mode="memfd")
    )
    put_keys(genv)
    result = run_bot(genv, workdir)
    assert_bot_got_keys_and_disk_is_clean(genv, workdir, result)


@pytest.mark.parametrize("mode", ["pipe", "env"])
def test_other_modes_reach_the_bot(age_env: Callable[..., Env], tmp_path: Path, mode: str) -> None:
    workdir = make_workdir(tmp_path)
    env = age_env(BOT.format(workdir=workdir, mode=mode))
    put_keys(env)
    if mode == "env":  # freqtrade reads FREQTRADE__EXCHANGE__KEY; no {secrets_path}
        result = subprocess.run(
            [
                str(GARRISON),
                "secrets",
                "run",
                "bot",
                "--",
                PYTHON,
                str(STANDIN),
                "trade",
                "--config",
                "config.json",
                "--proof",
                "proof.json",
            ],
            cwd=workdir,
            capture_output=True,
            timeout=60,
            check=False,
            env={"PATH": "/usr/bin:/bin", "GARRISON_CONFIG": str(env.config)},
        )
    else:
        result = run_bot(env, workdir)
    assert_bot_got_keys_and_disk_is_clean(env, workdir, result)


def start_holding(env: Env, workdir: Path, *cmd: str) -> tuple[subprocess.Popen[bytes], list[str]]:
    proc = subprocess.Popen(
        [str(GARRISON), "secrets", "run", "bot", "--", *cmd],
        cwd=workdir,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "GARRISON_CONFIG": str(env.config)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().split()
    if not line or line[0] != "ready":
        proc.kill()
        raise AssertionError(f"child did not start: {proc.stderr.read() if proc.stderr else ''!r}")
    return proc, line


def finish(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=30)


def as_nobody(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv],
        capture_output=True,
        timeout=30,
        check=False,
    )


@pytest.mark.skipif(not Path("/usr/bin/setpriv").exists(), reason="setpriv not installed")
def test_another_user_cannot_read_the_delivered_fd(
    age_env: Callable[..., Env], tmp_path: Path
) -> None:
    workdir = make_workdir(tmp_path)
    env = age_env(BOT.format(workdir=workdir, mode="memfd"))
    put_keys(env)
    proc, ready = start_holding(
        env,
        workdir,
        PYTHON,
        str(STANDIN),
        "trade",
        "--config",
        "config.json",
        "--config",
        "{secrets_path}",
        "--proof",
        "proof.json",
        "--hold",
    )
    try:
        pid = ready[1]
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        fd = next(e for e in environ if e.startswith(b"GARRISON_SECRETS_FD=")).split(b"=")[1]
        path = f"/proc/{pid}/fd/{fd.decode()}"
        # the owner (root here) can read it: the test would notice if the fd were empty
        owner = subprocess.run(["cat", path], capture_output=True, timeout=10, check=False)
        assert owner.returncode == 0 and CANARY_KEY.encode() in owner.stdout
        stranger = as_nobody("cat", path)
        assert stranger.returncode != 0
        assert b"Permission denied" in stranger.stderr
        assert_no_canary(stranger.stdout)
        # ...and the kernel object is a sealed memfd, not a file on any disk
        assert Path(path).readlink().name.startswith("memfd:garrison-bot")
    finally:
        finish(proc)


@pytest.mark.skipif(bool(fdpass.memfd_secret_problem()), reason="memfd_secret(2) unavailable")
def test_memfd_secret_pages_unreadable_even_for_root(
    age_env: Callable[..., Env], tmp_path: Path
) -> None:
    workdir = tmp_path / "custom"
    workdir.mkdir()
    env = age_env("""
        [[strategies]]
        name = "bot"
        kind = "custom"
        secrets = ["binance_key"]
    """)
    assert env.garrison("secrets", "put", "binance_key", stdin=CANARY_KEY.encode()).returncode == 0
    proc, ready = start_holding(env, workdir, PYTHON, str(HOLDER))
    try:
        pid, digest = ready[1], ready[2]
        expected = sha(json.dumps({"binance_key": CANARY_KEY}) + "\n")
        assert digest == expected  # the child did get the document through memfd_secret
        maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
        secret_maps = [m for m in maps if "secretmem" in m]
        assert secret_maps, "no secretmem mapping in the child"
        start = int(secret_maps[0].split("-")[0], 16)
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
            mem.seek(start)
            with pytest.raises(OSError) as err:
                mem.read(64)
        assert err.value.errno == 5  # EIO: the pages are not in the kernel's direct map
    finally:
        finish(proc)


def test_keyring_mode(age_env: Callable[..., Env], tmp_path: Path) -> None:
    env = age_env("""
        [[strategies]]
        name = "bot"
        secrets = ["binance_key"]
        [secrets.delivery.bot]
        mode = "keyring"
    """)
    assert env.garrison("secrets", "put", "binance_key", stdin=CANARY_KEY.encode()).returncode == 0
    reader = (
        "import hashlib; from garrison.secrets.child import read_delivered; "
        "print(hashlib.sha256(read_delivered()['binance_key'].encode()).hexdigest()); "
        "print([ln for ln in open('/proc/keys') if 'garrison:bot:secrets' in ln][0])"
    )
    result = subprocess.run(
        [str(GARRISON), "secrets", "run", "bot", "--", PYTHON, "-c", reader],
        capture_output=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "GARRISON_CONFIG": str(env.config)},
    )
    assert result.returncode == 0, result.stderr
    digest, key_line = result.stdout.decode().strip().splitlines()
    assert digest == sha(CANARY_KEY)
    # /proc/keys: serial flags usage TIMEOUT perms uid gid type description
    timeout = key_line.split()[3]
    assert key_line.split()[7] == "user"
    assert timeout != "perm" and timeout.endswith(("s", "m")), key_line


def test_bad_input_runs_nothing(age_env: Callable[..., Env], tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    env = age_env("""
        [[strategies]]
        name = "nosecrets"
        [[strategies]]
        name = "bot"
        secrets = ["missing_key"]
    """)
    cmd = ["--", "touch", str(marker)]
    no_secrets = env.garrison("secrets", "run", "nosecrets", *cmd)
    assert no_secrets.returncode == 2 and b"has no secrets" in no_secrets.stderr
    unknown = env.garrison("secrets", "run", "ghost", *cmd)
    assert unknown.returncode == 2 and b"not in [[strategies]]" in unknown.stderr
    missing = env.garrison("secrets", "run", "bot", *cmd)
    assert missing.returncode == 2 and b"'missing_key' not found" in missing.stderr
    no_cmd = env.garrison("secrets", "run", "bot", "--", "no-such-program-xyz")
    assert no_cmd.returncode == 64 and b"command not found" in no_cmd.stderr
    assert not marker.exists()
    for result in (no_secrets, unknown, missing, no_cmd):
        assert b"Traceback" not in result.stderr


def test_wait_mode_returns_child_status(age_env: Callable[..., Env]) -> None:
    env = age_env("""
        [[strategies]]
        name = "bot"
        secrets = ["binance_key"]
        [secrets.delivery.bot]
        mode = "memfd"
    """)
    env.garrison("secrets", "put", "binance_key", stdin=CANARY_KEY.encode())
    result = env.garrison(
        "secrets",
        "run",
        "bot",
        "--wait",
        "--",
        "sh",
        "-c",
        'test -n "$GARRISON_SECRETS_PATH" && exit 7',
    )
    assert result.returncode == 7


@pytest.mark.parametrize("wait", [False, True])
def test_strategy_user_gets_its_secrets_but_not_the_vault_key(
    age_env: Callable[..., Env], wait: bool
) -> None:
    env = age_env("""
        [[strategies]]
        name = "bot"
        user = "nobody"
        secrets = ["binance_key"]
        [secrets.delivery.bot]
        mode = "memfd"
    """)
    assert env.garrison("secrets", "put", "binance_key", stdin=CANARY_KEY.encode()).returncode == 0
    identity = env.root / "keys" / "age.key"
    script = (
        'id -u; grep -c "$1" "$GARRISON_SECRETS_PATH"; '
        'cat "$2" >/dev/null 2>&1 && echo identity-readable || echo identity-denied'
    )
    result = env.garrison(
        "secrets",
        "run",
        "bot",
        *(["--wait"] if wait else []),
        "--",
        "sh",
        "-c",
        script,
        "sh",
        CANARY_KEY,
        str(identity),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().split() == ["65534", "1", "identity-denied"]
    assert_no_canary(result.stdout, result.stderr)


def test_unknown_strategy_user_is_a_clear_error(age_env: Callable[..., Env]) -> None:
    env = age_env("""
        [[strategies]]
        name = "bot"
        user = "no-such-user-xyz"
        secrets = ["binance_key"]
    """)
    env.garrison("secrets", "put", "binance_key", stdin=CANARY_KEY.encode())
    result = env.garrison("secrets", "run", "bot", "--", "true")
    assert result.returncode == 2
    assert b"user 'no-such-user-xyz' does not exist" in result.stderr
