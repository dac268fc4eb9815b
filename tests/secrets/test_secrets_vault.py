"""Vault/OpenBao backend against a real OpenBao dev server: KV v2 versions, token and AppRole
auth, response wrapping, and the failures (sealed, expired token, unreachable)."""

from __future__ import annotations

import json
import secrets as pysecrets
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.secrets.secrets_support import (
    CANARY_KEY,
    CANARY_SECRET,
    Bao,
    Env,
    assert_no_canary,
    free_port,
)

from garrison.config.schema import Config
from garrison.errors import SecretError
from garrison.secrets.backends.vault import VaultBackend

POLICY = """
path "secret/data/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "secret/metadata/*" { capabilities = ["read", "list", "delete"] }
"""


def vault_config(bao: Bao, prefix: str, **vault: object) -> Config:
    return Config.model_validate(
        {
            "secrets": {
                "backend": "openbao",
                "vault": {"address": bao.address, "path_prefix": prefix, **vault},
            }
        }
    )


def token_file(tmp_path: Path, token: str) -> Path:
    path = tmp_path / f"token-{pysecrets.token_hex(4)}"
    path.write_text(token + "\n")
    return path


@pytest.fixture(scope="module")
def approle(bao: Bao, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Enable AppRole with a garrison role and policy; return the role_id."""
    policy = tmp_path_factory.mktemp("policy") / "garrison.hcl"
    policy.write_text(POLICY)
    bao.run("policy", "write", "garrison", str(policy))
    bao.run("auth", "enable", "approle", check=False)
    bao.run(
        "write",
        "auth/approle/role/garrison",
        "token_policies=garrison",
        "token_ttl=5m",
        "secret_id_ttl=10m",
    )
    return bao.run("read", "-field=role_id", "auth/approle/role/garrison/role-id").strip()


def test_kv2_versions_via_cli(bao: Bao, genv: Env, tmp_path: Path) -> None:
    prefix = "t-" + pysecrets.token_hex(4)
    genv.write(f"""
        [secrets]
        backend = "openbao"
        [secrets.vault]
        address = "{bao.address}"
        path_prefix = "{prefix}"
        token_file = "{token_file(tmp_path, bao.root_token)}"
    """)
    first = genv.garrison("secrets", "put", "bybit_key", stdin=CANARY_KEY.encode())
    second = genv.garrison("secrets", "put", "bybit_key", stdin=CANARY_SECRET.encode())
    assert first.returncode == 0, first.stderr
    assert b"version 1" in first.stdout and b"version 2" in second.stdout
    got = genv.garrison("secrets", "get", "bybit_key", "-f", "json")
    assert b'"version": 2' in got.stdout and b'"length": 64' in got.stdout
    listed = genv.garrison("secrets", "list")
    assert b"bybit_key" in listed.stdout and b"v2" in listed.stdout
    as_json = json.loads(genv.garrison("secrets", "list", "-f", "json").stdout)
    assert [(i["name"], i["version"]) for i in as_json] == [("bybit_key", 2)]
    assert as_json[0]["updated"].startswith(str(datetime.now(UTC).year))
    # the value really is in OpenBao, version by version
    assert (
        bao.run("kv", "get", "-field=value", f"secret/{prefix}/bybit_key").strip() == CANARY_SECRET
    )
    assert (
        bao.run("kv", "get", "-version=1", "-field=value", f"secret/{prefix}/bybit_key").strip()
        == CANARY_KEY
    )
    status = genv.garrison("secrets", "status")
    assert b"backend: ok" in status.stdout
    rm = genv.garrison("secrets", "rm", "bybit_key", "--yes")
    assert rm.returncode == 0
    for result in (first, second, got, listed, status, rm):
        assert_no_canary(result.stdout, result.stderr)


def test_open_store_get_returns_bytearray(bao: Bao, tmp_path: Path) -> None:
    from garrison.secrets.store import open_store

    prefix = "t-" + pysecrets.token_hex(4)
    bao.run("kv", "put", f"secret/{prefix}/master", f"value={CANARY_KEY}")
    config = vault_config(bao, prefix, token_file=str(token_file(tmp_path, bao.root_token)))
    store = open_store(config)
    value = store.get("master")
    assert isinstance(value, bytearray) and value == bytearray(CANARY_KEY.encode())
    store.close()


def test_approle_login(bao: Bao, approle: str, tmp_path: Path) -> None:
    prefix = "t-" + pysecrets.token_hex(4)
    bao.run("kv", "put", f"secret/{prefix}/k", f"value={CANARY_KEY}")
    secret_id = bao.run(
        "write", "-f", "-field=secret_id", "auth/approle/role/garrison/secret-id"
    ).strip()
    config = vault_config(
        bao,
        prefix,
        auth="approle",
        role_id=approle,
        secret_id_file=str(token_file(tmp_path, secret_id)),
    )
    store = VaultBackend(config.secrets.vault, "openbao")
    assert store.get("k") == bytearray(CANARY_KEY.encode())
    store.close()


def test_response_wrapped_secret_id_is_single_use(bao: Bao, approle: str, tmp_path: Path) -> None:
    prefix = "t-" + pysecrets.token_hex(4)
    bao.run("kv", "put", f"secret/{prefix}/k", f"value={CANARY_KEY}")
    wrapped = bao.run(
        "write",
        "-f",
        "-wrap-ttl=60s",
        "-field=wrapping_token",
        "auth/approle/role/garrison/secret-id",
    ).strip()
    config = vault_config(
        bao,
        prefix,
        auth="approle",
        role_id=approle,
        secret_id_wrapped=True,
        secret_id_file=str(token_file(tmp_path, wrapped)),
    )
    store = VaultBackend(config.secrets.vault, "openbao")
    assert store.get("k") == bytearray(CANARY_KEY.encode())
    # a second start with the same (stolen) file fails: wrapping tokens unwrap once
    again = VaultBackend(config.secrets.vault, "openbao")
    with pytest.raises(SecretError, match="wrapping token invalid, already used or expired"):
        again.get("k")


def test_response_wrapped_token(bao: Bao, approle: str, tmp_path: Path) -> None:
    prefix = "t-" + pysecrets.token_hex(4)
    bao.run("kv", "put", f"secret/{prefix}/k", f"value={CANARY_KEY}")
    wrapped = bao.run(
        "token", "create", "-policy=garrison", "-wrap-ttl=60s", "-field=wrapping_token"
    ).strip()
    config = vault_config(
        bao, prefix, token_wrapped=True, token_file=str(token_file(tmp_path, wrapped))
    )
    store = VaultBackend(config.secrets.vault, "openbao")
    assert store.get("k") == bytearray(CANARY_KEY.encode())


def test_expired_token_is_a_clear_error(bao: Bao, approle: str, genv: Env, tmp_path: Path) -> None:
    prefix = "t-" + pysecrets.token_hex(4)
    bao.run("kv", "put", f"secret/{prefix}/k", f"value={CANARY_KEY}")
    short = bao.run(
        "token", "create", "-policy=garrison", "-ttl=1s", "-explicit-max-ttl=1s", "-field=token"
    ).strip()
    genv.write(f"""
        [secrets]
        backend = "openbao"
        [secrets.vault]
        address = "{bao.address}"
        path_prefix = "{prefix}"
        token_file = "{token_file(tmp_path, short)}"
    """)
    time.sleep(2.5)  # let the token expire (not a timing assertion)
    result = genv.garrison("secrets", "get", "k")
    assert result.returncode == 2
    assert b"permission denied (read metadata 'k')" in result.stderr
    assert b"token expired, revoked or lacking policy" in result.stderr
    assert b"Traceback" not in result.stderr
    assert_no_canary(result.stdout, result.stderr)
    assert short.encode() not in result.stderr


def test_sealed_server(fresh_bao: Bao, genv: Env, tmp_path: Path) -> None:
    fresh_bao.run("kv", "put", "secret/garrison/k", f"value={CANARY_KEY}")
    genv.write(f"""
        [secrets]
        backend = "openbao"
        [secrets.vault]
        address = "{fresh_bao.address}"
        token_file = "{token_file(tmp_path, fresh_bao.root_token)}"
        [[strategies]]
        name = "bot"
        secrets = ["k"]
    """)
    fresh_bao.run("operator", "seal")
    get = genv.garrison("secrets", "get", "k")
    assert get.returncode == 2 and b"sealed or down (read metadata 'k')" in get.stderr
    run = genv.garrison("secrets", "run", "bot", "--", "true")
    assert run.returncode == 2 and b"sealed" in run.stderr
    status = genv.garrison("secrets", "status")
    assert status.returncode == 1 and b"backend: FAIL" in status.stdout
    for result in (get, run, status):
        assert b"Traceback" not in result.stderr
        assert_no_canary(result.stdout, result.stderr)


def test_unreachable_server(genv: Env, tmp_path: Path) -> None:
    genv.write(f"""
        [secrets]
        backend = "vault"
        [secrets.vault]
        address = "http://127.0.0.1:{free_port()}"
        timeout_s = 2
        token_file = "{token_file(tmp_path, "hvs.whatever")}"
    """)
    result = genv.garrison("secrets", "get", "k")
    assert result.returncode == 2
    assert b"unreachable (read metadata)" in result.stderr
    assert b"hvs.whatever" not in result.stderr


def test_missing_token_and_approle_settings(tmp_path: Path, bao: Bao) -> None:
    config = vault_config(bao, "x", token_env="GARRISON_TEST_NO_SUCH_VAR")
    with pytest.raises(SecretError, match=r"no token \(\$GARRISON_TEST_NO_SUCH_VAR"):
        VaultBackend(config.secrets.vault).get("k")
    config = vault_config(bao, "x", auth="approle")
    with pytest.raises(SecretError, match="approle auth needs role_id and secret_id_file"):
        VaultBackend(config.secrets.vault).get("k")
