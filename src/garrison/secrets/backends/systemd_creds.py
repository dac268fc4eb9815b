"""systemd-creds: each version encrypted with the host key (and TPM2 where present).

`systemd-creds encrypt --name=NAME - FILE` / `systemd-creds decrypt --name=NAME FILE -`; values
travel over stdin/stdout pipes, never argv. The same encrypted files can be given to a unit with
LoadCredentialEncrypted= (systemd's own in-memory delivery).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from garrison.config.secrets import SystemdCredsConfig
from garrison.errors import SecretError
from garrison.secrets.backends.interface import SecretBackend, SecretInfo, valid_name
from garrison.secrets.backends.versioned_files import VersionedFiles


class SystemdCredsStore(SecretBackend):
    """Files encrypted by systemd-creds under a private directory."""

    kind = "systemd-creds"

    def __init__(self, config: SystemdCredsConfig, store_dir: Path, timeout_s: float = 20) -> None:
        self.config = config
        self.store_dir = store_dir
        self.files = VersionedFiles(store_dir, "cred", config.keep_versions)
        self.timeout_s = timeout_s

    def describe(self) -> str:
        return f"systemd-creds store {self.store_dir}"

    def _run(self, argv: list[str], data: bytes, what: str) -> bytes:
        if shutil.which("systemd-creds") is None:
            raise SecretError("systemd-creds is not installed (systemd >= 250 needed)")
        env = dict(os.environ)
        if self.config.credential_secret:
            env["SYSTEMD_CREDENTIAL_SECRET"] = self.config.credential_secret
        try:
            proc = subprocess.run(
                ["systemd-creds", *argv],
                input=data,
                capture_output=True,
                timeout=self.timeout_s,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SecretError(f"systemd-creds {what}: no answer in {self.timeout_s:g}s") from None
        if proc.returncode != 0:
            lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = lines[-1][:200] if lines else f"exit {proc.returncode}"
            raise SecretError(f"systemd-creds {what}: {detail}")
        return proc.stdout

    def get(self, name: str) -> bytearray:
        version, path = self.files.current(valid_name(name))
        plain = self._run(
            ["decrypt", f"--name={name}", str(path), "-"], b"", f"decrypt {name!r} v{version}"
        )
        return bytearray(plain)

    def put(self, name: str, value: bytes | bytearray) -> SecretInfo:
        valid_name(name)
        args = ["encrypt", f"--name={name}", f"--with-key={self.config.with_key}", "-", "-"]
        return self.files.add(name, lambda: self._run(args, bytes(value), f"encrypt {name!r}"))

    def info(self, name: str) -> SecretInfo:
        return self.files.info(valid_name(name))

    def list(self) -> list[SecretInfo]:
        return self.files.list()

    def delete(self, name: str) -> None:
        self.files.delete(name)

    def host_key(self) -> Path:
        return Path(self.config.credential_secret or "/var/lib/systemd/credential.secret")

    def ping(self) -> str:
        # probing without a host key would make systemd-creds create one: an audit writes nothing
        if self.config.with_key in ("auto", "host", "tpm2+host") and not self.host_key().exists():
            raise SecretError(
                f"systemd-creds host key {self.host_key()} does not exist yet "
                "(`garrison secrets put` creates it)"
            )
        probe = self._run(
            ["encrypt", "--name=garrison-probe", f"--with-key={self.config.with_key}", "-", "-"],
            b"probe",
            "probe",
        )
        back = self._run(["decrypt", "--name=garrison-probe", "-", "-"], probe, "probe")
        if back != b"probe":
            raise SecretError("systemd-creds: probe round trip failed")
        return f"{self.describe()}: systemd-creds works, {len(self.list())} secrets"
