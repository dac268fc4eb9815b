"""Fixtures for integrity tests: signing keys, real SSH and GPG commit signers, git repos."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from garrison.integrity.signing import generate_keypair

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def sh(
    *argv: str | Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **GIT_ENV, **(env or {})}
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        check=check,
        input=input_text,
    )


@dataclass
class Signer:
    """Something that can sign a commit: git -c options and env to use."""

    name: str
    options: list[str]
    env: dict[str, str]

    def commit(
        self,
        repo: Path,
        message: str,
        files: dict[str, str] | None = None,
        sign: bool = True,
        amend: bool = False,
    ) -> str:
        for rel, text in (files or {}).items():
            path = repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        sh("git", "add", "-A", cwd=repo)
        args = ["git", *self.options, "commit", "-q", "-m", message]
        if amend:
            args.append("--amend")
        args.append("-S" if sign else "--no-gpg-sign")
        sh(*args, cwd=repo, env=self.env)
        return sh("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two SSH signing keys (good and rogue) and an allowed_signers file naming only the good."""
    base = tmp_path_factory.mktemp("sshkeys")
    keys = {}
    for name in ("good", "rogue"):
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", base / name)
        keys[name] = base / name
    public = (base / "good.pub").read_text().split()
    allowed = base / "allowed_signers"
    allowed.write_text(f'dev@example.com namespaces="git" {public[0]} {public[1]}\n')
    keys["allowed_signers"] = allowed
    return keys


def _gpg_key(home: Path, uid: str) -> str:
    home.mkdir(mode=0o700, exist_ok=True)
    sh(
        "gpg",
        "--batch",
        "--passphrase",
        "",
        "--quick-gen-key",
        uid,
        "ed25519",
        "sign",
        "never",
        env={"GNUPGHOME": str(home)},
    )
    out = sh("gpg", "--batch", "--with-colons", "--list-secret-keys", env={"GNUPGHOME": str(home)})
    return next(line.split(":")[9] for line in out.stdout.splitlines() if line.startswith("fpr"))


@pytest.fixture(scope="session")
def gpg_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | Path]:
    """A GPG signer, a rogue GPG signer, and a trust home holding only the signer's public key."""
    base = tmp_path_factory.mktemp("gpg")
    good_home, rogue_home, trust_home = base / "good", base / "rogue", base / "trust"
    good = _gpg_key(good_home, "Dev <dev@example.com>")
    rogue = _gpg_key(rogue_home, "Mallory <mallory@example.com>")
    exported = sh("gpg", "--batch", "--armor", "--export", good, env={"GNUPGHOME": str(good_home)})
    trust_home.mkdir(mode=0o700)
    sh("gpg", "--batch", "--import", env={"GNUPGHOME": str(trust_home)}, input_text=exported.stdout)
    yield {
        "good": good,
        "good_home": good_home,
        "rogue": rogue,
        "rogue_home": rogue_home,
        "trust_home": trust_home,
    }
    for home in (good_home, rogue_home, trust_home):
        subprocess.run(
            ["gpgconf", "--kill", "all"],
            env={**os.environ, "GNUPGHOME": str(home)},
            check=False,
            capture_output=True,
        )


@pytest.fixture
def signers(ssh_keys: dict[str, Path], gpg_keys: dict[str, str | Path]) -> dict[str, Signer]:
    return {
        "ssh": Signer(
            "ssh", ["-c", "gpg.format=ssh", "-c", f"user.signingkey={ssh_keys['good']}"], {}
        ),
        "ssh-rogue": Signer(
            "ssh-rogue", ["-c", "gpg.format=ssh", "-c", f"user.signingkey={ssh_keys['rogue']}"], {}
        ),
        "gpg": Signer(
            "gpg",
            ["-c", f"user.signingkey={gpg_keys['good']}"],
            {"GNUPGHOME": str(gpg_keys["good_home"])},
        ),
        "gpg-rogue": Signer(
            "gpg-rogue",
            ["-c", f"user.signingkey={gpg_keys['rogue']}"],
            {"GNUPGHOME": str(gpg_keys["rogue_home"])},
        ),
    }


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[str], Path]:
    counter = iter(range(100))

    def build(name: str = "strategy") -> Path:
        repo = tmp_path / f"{name}{next(counter)}"
        repo.mkdir()
        sh("git", "init", "-q", "-b", "main", repo)
        return repo

    return build


@pytest.fixture
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("key")
    return generate_keypair(base / "baseline.key").private_path


def write_config(path: Path, state: Path, key: Path | None, **integrity: object) -> Path:
    """A garrison.toml with state under `state` and the given [integrity] keys."""
    lines = ["[paths]", f'state_dir = "{state}"', f'run_dir = "{state}/run"', "[integrity]"]
    if key is not None:
        lines.append(f'public_key = "{key}.pub"')
    for name, value in integrity.items():
        if isinstance(value, bool):
            lines.append(f"{name} = {'true' if value else 'false'}")
        elif isinstance(value, (list, tuple)):
            items = ", ".join(f'"{v}"' for v in value)
            lines.append(f"{name} = [{items}]")
        elif isinstance(value, int):
            lines.append(f"{name} = {value}")
        else:
            lines.append(f'{name} = "{value}"')
    path.write_text("\n".join(lines) + "\n")
    return path
