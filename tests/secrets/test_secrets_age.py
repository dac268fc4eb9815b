"""The age store through the real CLI: put/get/list/rm, versions, bad input, no leaks."""

from __future__ import annotations

import os
import pty
import select
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.secrets.secrets_support import (
    CANARY_KEY,
    CANARY_SECRET,
    GARRISON,
    Env,
    assert_no_canary,
)

from garrison.config.schema import Config
from garrison.errors import SecretError
from garrison.secrets.backends.age_store import AgeStore


def test_put_get_list_rm_never_echo_the_value(age_env: Callable[..., Env]) -> None:
    env = age_env()
    put = env.garrison("secrets", "put", "binance_key", stdin=CANARY_KEY.encode() + b"\n")
    assert put.returncode == 0, put.stderr
    assert b"stored binance_key version 1" in put.stdout
    env.garrison("secrets", "put", "binance_key", stdin=CANARY_SECRET.encode())
    got = env.garrison("secrets", "get", "binance_key", "-f", "json")
    assert got.returncode == 0, got.stderr
    assert b'"version": 2' in got.stdout and b'"length": 64' in got.stdout
    listed = env.garrison("secrets", "list")
    assert b"binance_key" in listed.stdout and b"v2" in listed.stdout
    # --reveal refuses when stdout is not a terminal (here: a pipe)
    reveal = env.garrison("secrets", "get", "binance_key", "--reveal")
    assert reveal.returncode == 64 and b"terminal" in reveal.stderr
    removed = env.garrison("secrets", "rm", "binance_key", "--yes")
    assert removed.returncode == 0
    gone = env.garrison("secrets", "get", "binance_key")
    assert gone.returncode == 2 and b"not found" in gone.stderr
    for result in (put, got, listed, reveal, removed, gone):
        assert_no_canary(result.stdout, result.stderr)
    # only ciphertext on disk
    for path in env.state.rglob("*"):
        if path.is_file():
            assert_no_canary(path.read_bytes())


def test_value_is_decrypted_exactly_and_old_versions_pruned(age_env: Callable[..., Env]) -> None:
    env = age_env()
    for value in (b"first-value-1", b"second-value-2", CANARY_KEY.encode()):
        assert env.garrison("secrets", "put", "k", stdin=value).returncode == 0
    config = Config.model_validate(
        {
            "paths": {"state_dir": str(env.state)},
            "secrets": {"age": {"identity_file": str(env.root / "keys/age.key")}},
        }
    )
    store = AgeStore(config.secrets.age, env.state / "secrets" / "age")
    assert store.get("k") == bytearray(CANARY_KEY.encode())
    versions = sorted(p.name for p in (env.state / "secrets/age/k").iterdir())
    assert versions == ["000002.age", "000003.age"]  # keep_versions = 2


def test_value_never_from_argv(age_env: Callable[..., Env]) -> None:
    env = age_env()
    result = env.garrison("secrets", "put", "k", CANARY_KEY)
    assert result.returncode == 64
    assert_no_canary(result.stdout, result.stderr)
    assert not (env.state / "secrets/age/k").exists()


def test_empty_value_and_bad_name_write_nothing(age_env: Callable[..., Env]) -> None:
    env = age_env()
    empty = env.garrison("secrets", "put", "k", stdin=b"")
    assert empty.returncode == 64 and b"empty value" in empty.stderr
    bad = env.garrison("secrets", "put", "../etc/passwd", stdin=b"x")
    assert bad.returncode == 2 and b"secret name" in bad.stderr
    assert [p.name for p in (env.state / "secrets/age").iterdir()] == ["recipient.txt"]


def test_wrong_identity_is_a_clear_error(age_env: Callable[..., Env], tmp_path: Path) -> None:
    env = age_env()
    env.garrison("secrets", "put", "k", stdin=CANARY_KEY.encode())
    other = tmp_path / "other.key"
    import pyrage

    other.write_text(str(pyrage.x25519.Identity.generate()) + "\n")
    env.write(f'[secrets.age]\nidentity_file = "{other}"\n')
    result = env.garrison("secrets", "get", "k")
    assert result.returncode == 2
    assert b"cannot decrypt (wrong identity)" in result.stderr
    assert b"Traceback" not in result.stderr
    assert_no_canary(result.stdout, result.stderr)


def test_corrupt_store_is_a_clear_error(age_env: Callable[..., Env]) -> None:
    env = age_env()
    env.garrison("secrets", "put", "k", stdin=CANARY_KEY.encode())
    blob = env.state / "secrets/age/k/000001.age"
    data = blob.read_bytes()
    blob.write_bytes(data[:-20] + bytes(20))  # a damaged payload
    damaged = env.garrison("secrets", "get", "k")
    assert damaged.returncode == 2 and b"cannot decrypt (corrupt file)" in damaged.stderr
    blob.write_bytes(b"garbage")
    garbage = env.garrison("secrets", "get", "k")
    assert garbage.returncode == 2 and b"corrupt (not an age file)" in garbage.stderr
    assert_no_canary(damaged.stderr, garbage.stderr)


def test_missing_identity_and_uninitialised_store(genv: Env) -> None:
    genv.write('[secrets.age]\nidentity_file = "/nonexistent/age.key"\n')
    put = genv.garrison("secrets", "put", "k", stdin=b"value-1234")
    assert put.returncode == 2 and b"not initialised" in put.stderr


def test_passphrase_mode_and_wrong_passphrase(genv: Env) -> None:
    genv.write("[secrets]\nbackend = 'age'\n")
    good = {"GARRISON_AGE_PASSPHRASE": "correct horse battery"}
    init = genv.garrison("secrets", "init", env=good)
    assert init.returncode == 0, init.stderr
    assert (genv.state / "secrets/age/identity.age").exists()
    # put needs only the public recipient: no passphrase
    assert genv.garrison("secrets", "put", "k", stdin=CANARY_KEY.encode()).returncode == 0
    ok = genv.garrison("secrets", "get", "k", env=good)
    assert ok.returncode == 0 and b"length   64" in ok.stdout
    wrong = genv.garrison("secrets", "get", "k", env={"GARRISON_AGE_PASSPHRASE": "wrong one"})
    assert wrong.returncode == 2
    assert b"wrong passphrase or corrupt identity" in wrong.stderr
    missing = genv.garrison("secrets", "get", "k")
    assert missing.returncode == 2 and b"passphrase needed" in missing.stderr
    assert_no_canary(ok.stdout, wrong.stderr, missing.stderr)
    # a service manager can hand the passphrase over an inherited fd instead of the env
    read_end, write_end = os.pipe()
    os.write(write_end, b"correct horse battery\n")
    os.close(write_end)
    genv.write(f"[secrets]\nbackend = 'age'\n[secrets.age]\npassphrase_fd = {read_end}\n")
    try:
        via_fd = subprocess.run(
            [str(GARRISON), "secrets", "get", "k"],
            pass_fds=(read_end,),
            capture_output=True,
            env={"PATH": "/usr/bin:/bin", "GARRISON_CONFIG": str(genv.config)},
            timeout=60,
            check=False,
        )
    finally:
        os.close(read_end)
    assert via_fd.returncode == 0 and b"length   64" in via_fd.stdout, via_fd.stderr


def test_failed_encryption_leaves_no_partial_version(tmp_path: Path) -> None:
    config = Config.model_validate({"paths": {"state_dir": str(tmp_path)}})
    store = AgeStore(config.secrets.age, tmp_path / "store")
    (tmp_path / "store").mkdir()
    (tmp_path / "store/recipient.txt").write_text("age1notarecipient\n")
    with pytest.raises(SecretError, match="not an age recipient"):
        store.put("k", bytearray(CANARY_KEY.encode()))
    assert not any(p.suffix == ".age" for p in (tmp_path / "store").rglob("*"))
    assert os.listdir(tmp_path / "store") == ["recipient.txt"]


class Terminal:
    """A garrison command on a pseudo-terminal: wait for prompts, type answers, collect output."""

    def __init__(self, env: Env, *args: str) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [str(GARRISON), *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
            env={"PATH": "/usr/bin:/bin", "GARRISON_CONFIG": str(env.config), "TERM": "dumb"},
        )
        os.close(slave)
        self.seen = b""

    def _read(self) -> bool:
        ready, _, _ = select.select([self.master], [], [], 30)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.seen += chunk
        return bool(chunk)

    def expect(self, text: bytes) -> None:
        while text not in self.seen:
            if not self._read():
                raise AssertionError(f"never saw {text!r} in {self.seen!r}")

    def type(self, line: bytes) -> None:
        os.write(self.master, line + b"\n")

    def finish(self) -> int:
        while self._read():
            pass
        os.close(self.master)
        return self.proc.wait(timeout=30)


def test_prompt_does_not_echo_and_reveal_needs_a_terminal(age_env: Callable[..., Env]) -> None:
    env = age_env()
    put = Terminal(env, "secrets", "put", "binance_key")
    put.expect(b"value for binance_key (not echoed): ")
    put.type(CANARY_KEY.encode())
    put.expect(b"again: ")
    put.type(CANARY_KEY.encode())
    assert put.finish() == 0, put.seen
    assert b"stored binance_key version 1" in put.seen
    assert_no_canary(put.seen)  # the terminal never showed what was typed
    mismatch = Terminal(env, "secrets", "put", "other")
    mismatch.expect(b"(not echoed): ")
    mismatch.type(b"one-value-1")
    mismatch.expect(b"again: ")
    mismatch.type(b"two-value-2")
    assert mismatch.finish() == 64
    assert b"the two values differ; nothing stored" in mismatch.seen
    assert not (env.state / "secrets/age/other").exists()
    reveal = Terminal(env, "secrets", "get", "binance_key", "--reveal")
    assert reveal.finish() == 0
    assert CANARY_KEY.encode() in reveal.seen  # shown only because stdout is a terminal


def test_identity_file_may_name_systemds_credentials_directory(genv: Env, tmp_path: Path) -> None:
    creds = tmp_path / "credentials"  # what LoadCredentialEncrypted= gives a unit
    creds.mkdir()
    genv.write('[secrets.age]\nidentity_file = "$CREDENTIALS_DIRECTORY/age.key"\n')
    unit_env = {"CREDENTIALS_DIRECTORY": str(creds)}
    assert genv.garrison("secrets", "init", env=unit_env).returncode == 0
    assert (creds / "age.key").read_text().startswith("AGE-SECRET-KEY-1")
    genv.garrison("secrets", "put", "k", stdin=CANARY_KEY.encode())
    got = genv.garrison("secrets", "get", "k", env=unit_env)
    assert got.returncode == 0 and b"length   64" in got.stdout
