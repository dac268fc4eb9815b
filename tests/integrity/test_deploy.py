"""Deploy verification and the pre-receive hook, with real git, real SSH and GPG signatures."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from garrison.config.loader import load_config
from garrison.integrity.deploy import load_deploy_manifests

from .conftest import Signer, sh, write_config


@pytest.fixture
def setup(
    tmp_path: Path, signing_key: Path, ssh_keys: dict[str, Path], gpg_keys: dict[str, object]
) -> Path:
    return write_config(
        tmp_path / "garrison.toml",
        tmp_path / "state",
        signing_key,
        allowed_signers=ssh_keys["allowed_signers"],
        gnupg_home=gpg_keys["trust_home"],
    )


def _deploy(cli: Callable[..., object], config: Path, repo: Path, key: Path, *extra: str):  # type: ignore[no-untyped-def]
    return cli("deploy", "verify", "-c", str(config), str(repo), "--sign-with", str(key), *extra)


@pytest.mark.parametrize("kind", ["ssh", "gpg"])
def test_signed_head_deploys_and_writes_a_signed_manifest(
    cli, setup: Path, signing_key: Path, make_repo, signers: dict[str, Signer], kind: str
) -> None:
    repo = make_repo()
    signers[kind].commit(repo, "first", {"bot.py": "print('trade')\n"})
    result = _deploy(cli, setup, repo, signing_key)
    assert result.code == 0, result.err
    assert "signed by allowed signers" in result.out
    deploys = load_deploy_manifests(load_config(str(setup)))
    assert [d.strategy for d in deploys] == [repo.name]
    manifest = gzip.decompress(deploys[0].manifest.read_bytes()).decode()
    assert f"{repo}/bot.py\tf" in manifest
    assert f"{repo}/.git\t" not in manifest and f"{repo}/.git/" not in manifest
    assert Path(str(deploys[0].manifest) + ".sig").exists()


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("ssh-rogue", "not in the allowed signers"),
        ("gpg-rogue", "signer's key not available"),
    ],
)
def test_wrong_signer_is_refused(
    cli, setup: Path, signing_key: Path, make_repo, signers: dict[str, Signer], kind: str, why: str
) -> None:
    repo = make_repo()
    signers[kind].commit(repo, "evil", {"bot.py": "steal()\n"})
    result = _deploy(cli, setup, repo, signing_key)
    assert result.code == 2
    assert "refusing deploy" in result.err and why in result.err
    assert "evil" in result.err
    assert load_deploy_manifests(load_config(str(setup))) == []


def test_unsigned_commit_since_last_deploy_is_refused(
    cli, setup: Path, signing_key: Path, make_repo, signers: dict[str, Signer]
) -> None:
    repo = make_repo()
    signers["ssh"].commit(repo, "first", {"bot.py": "a\n"})
    assert _deploy(cli, setup, repo, signing_key).code == 0
    signers["ssh"].commit(repo, "sneaky unsigned", {"bot.py": "b\n"}, sign=False)
    signers["ssh"].commit(repo, "signed on top", {"bot.py": "c\n"})
    result = _deploy(cli, setup, repo, signing_key)
    assert result.code == 2
    assert "sneaky unsigned" in result.err and "no signature" in result.err


def test_signed_then_amended_unsigned_is_refused(
    cli, setup: Path, signing_key: Path, make_repo, signers: dict[str, Signer]
) -> None:
    repo = make_repo()
    signers["gpg"].commit(repo, "release", {"bot.py": "a\n"})
    signers["gpg"].commit(repo, "release", {"bot.py": "tampered\n"}, sign=False, amend=True)
    result = _deploy(cli, setup, repo, signing_key)
    assert result.code == 2
    assert "no signature" in result.err


def test_dirty_tree_is_refused(
    cli, setup: Path, signing_key: Path, make_repo, signers: dict[str, Signer]
) -> None:
    repo = make_repo()
    signers["ssh"].commit(repo, "first", {"bot.py": "a\n"})
    (repo / "bot.py").write_text("hot patch\n")
    (repo / "extra.py").write_text("x\n")
    result = _deploy(cli, setup, repo, signing_key)
    assert result.code == 2
    assert "work tree differs from the signed commit" in result.err
    assert "bot.py" in result.err


def test_repo_config_cannot_fake_verification(
    cli, setup: Path, signing_key: Path, make_repo, signers: dict[str, Signer]
) -> None:
    """An attacker who can write .git/config must not be able to make unsigned code pass."""
    repo = make_repo()
    signers["ssh"].commit(repo, "unsigned", {"bot.py": "a\n"}, sign=False)
    sh("git", "config", "gpg.ssh.program", "/bin/true", cwd=repo)
    sh("git", "config", "gpg.program", "/bin/true", cwd=repo)
    result = _deploy(cli, setup, repo, signing_key)
    assert result.code == 2 and "no signature" in result.err


def test_deploy_status_reports_drift_of_the_deployed_tree(
    cli, setup: Path, signing_key: Path, make_repo, signers: dict[str, Signer]
) -> None:
    repo = make_repo()
    signers["ssh"].commit(repo, "first", {"bot.py": "a\n", "lib/risk.py": "limit = 1\n"})
    assert _deploy(cli, setup, repo, signing_key).code == 0
    clean = cli("deploy", "status", "-c", str(setup))
    assert clean.code == 0 and "no drift" in clean.out
    (repo / "lib/risk.py").write_text("limit = 1000\n")
    (repo / "backdoor.sh").write_text("#!/bin/sh\n")
    (repo / "backdoor.sh").chmod(0o755)
    drift = cli("deploy", "status", "-c", str(setup), "-f", "json")
    assert drift.code == 1
    import json

    items = json.loads(drift.out)
    changes = {(c["kind"], Path(c["path"]).name) for c in items[0]["changes"]}
    assert ("content", "risk.py") in changes
    assert ("added", "backdoor.sh") in changes


def test_tampered_deploy_manifest_is_not_trusted(
    cli, setup: Path, signing_key: Path, make_repo, signers: dict[str, Signer]
) -> None:
    repo = make_repo()
    signers["ssh"].commit(repo, "first", {"bot.py": "a\n"})
    assert _deploy(cli, setup, repo, signing_key).code == 0
    manifest = load_deploy_manifests(load_config(str(setup)))[0].manifest
    text = gzip.decompress(manifest.read_bytes()).decode().replace("\tf\t644", "\tf\t755")
    manifest.write_bytes(gzip.compress(text.encode()))
    result = cli("deploy", "status", "-c", str(setup))
    assert result.code == 1
    assert "NOT CHECKED" in result.out and "does not match its digest" in result.out


def test_pre_receive_hook_rejects_unsigned_push(
    cli, setup: Path, make_repo, signers: dict[str, Signer], tmp_path: Path
) -> None:
    bare = tmp_path / "server.git"
    sh("git", "init", "-q", "--bare", bare)
    result = cli("deploy", "hook", "install", "-c", str(setup), str(bare))
    assert result.code == 0, result.err
    repo = make_repo()
    sh("git", "remote", "add", "origin", bare, cwd=repo)
    signers["ssh"].commit(repo, "signed one", {"bot.py": "a\n"})
    ok = sh("git", "push", "-q", "origin", "main", cwd=repo, check=False)
    assert ok.returncode == 0, ok.stderr
    signers["gpg"].commit(repo, "gpg signed", {"bot.py": "b\n"})
    assert sh("git", "push", "-q", "origin", "main", cwd=repo, check=False).returncode == 0
    signers["ssh"].commit(repo, "quick fix", {"bot.py": "c\n"}, sign=False)
    rejected = sh("git", "push", "origin", "main", cwd=repo, check=False)
    assert rejected.returncode != 0
    assert "push to refs/heads/main rejected" in rejected.stderr
    assert "quick fix" in rejected.stderr and "it is not signed" in rejected.stderr
    server_head = sh("git", "rev-parse", "main", cwd=bare).stdout.strip()
    assert server_head != sh("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    # a rogue SSH key on a new branch is refused too
    sh("git", "checkout", "-q", "-b", "feature", "HEAD~1", cwd=repo)
    signers["ssh-rogue"].commit(repo, "rogue", {"x.py": "x\n"})
    rogue = sh("git", "push", "origin", "feature", cwd=repo, check=False)
    assert rogue.returncode != 0 and "not an allowed signer" in rogue.stderr


def test_hook_install_refuses_foreign_hook_and_non_bare(cli, setup: Path, tmp_path: Path) -> None:
    bare = tmp_path / "server.git"
    sh("git", "init", "-q", "--bare", bare)
    (bare / "hooks" / "pre-receive").write_text("#!/bin/sh\nexit 0\n")
    result = cli("deploy", "hook", "install", "-c", str(setup), str(bare))
    assert result.code == 2 and "exists already" in result.err
    assert cli("deploy", "hook", "install", "-c", str(setup), str(tmp_path)).code == 2


def test_deploy_without_trust_sources_is_a_clear_error(
    cli, tmp_path: Path, signing_key: Path, make_repo, signers: dict[str, Signer]
) -> None:
    config = write_config(tmp_path / "g.toml", tmp_path / "state", signing_key)
    repo = make_repo()
    signers["ssh"].commit(repo, "first", {"bot.py": "a\n"})
    result = _deploy(cli, config, repo, signing_key)
    assert result.code == 2
    assert "integrity.allowed_signers / integrity.gnupg_home: neither is set" in result.err


def test_strategy_code_dir_history_rewrite_and_since(
    cli, setup: Path, signing_key: Path, make_repo, signers: dict[str, Signer]
) -> None:
    repo = make_repo()
    setup.write_text(
        setup.read_text() + f'[[strategies]]\nname = "momentum"\ncode_dir = "{repo}"\n'
    )
    first = signers["ssh"].commit(repo, "v1", {"bot.py": "a\n"})
    ok = cli(
        "deploy",
        "verify",
        "-c",
        str(setup),
        "--strategy",
        "momentum",
        "--sign-with",
        str(signing_key),
        "-f",
        "json",
    )
    assert ok.code == 0, ok.err
    assert json.loads(ok.out)["strategy"] == "momentum"
    again = cli(
        "deploy",
        "verify",
        "-c",
        str(setup),
        "--strategy",
        "momentum",
        "--sign-with",
        str(signing_key),
    )
    assert again.code == 0 and "0 new commits" in again.out
    # history rewritten behind garrison's back: refused until a human names a base
    sh("git", "reset", "-q", "--hard", first, cwd=repo)
    signers["ssh"].commit(repo, "v1 rewritten", {"bot.py": "b\n"}, amend=True)
    rewritten = cli(
        "deploy",
        "verify",
        "-c",
        str(setup),
        "--strategy",
        "momentum",
        "--sign-with",
        str(signing_key),
    )
    assert rewritten.code == 2 and "history rewritten?" in rewritten.err
    root = sh("git", "rev-list", "--max-parents=0", "HEAD", cwd=repo).stdout.strip()
    assert root  # the amended commit is the new root; --since cannot name its parent
    forced = cli(
        "deploy",
        "verify",
        "-c",
        str(setup),
        "--strategy",
        "momentum",
        "--sign-with",
        str(signing_key),
        "--since",
        "HEAD",
    )
    assert forced.code == 0, forced.err
    unknown = cli("deploy", "verify", "-c", str(setup), "--strategy", "nope")
    assert unknown.code == 2 and "no such [[strategies]] entry (momentum)" in unknown.err
