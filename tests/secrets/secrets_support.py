"""Helpers for the secrets tests: OpenBao dev servers, temp garrison setups, canaries."""

from __future__ import annotations

import os
import secrets as pysecrets
import socket
import subprocess
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

BAO = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "bao"
GARRISON = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "garrison"

# Canaries: realistic-looking values (so the scanner would flag them) planted in tests and
# asserted absent from every output, log, report, record and exception text.
CANARY_KEY = "Zq" + pysecrets.token_hex(31)  # 64 chars, Binance-shaped
CANARY_SECRET = "Xw" + pysecrets.token_hex(31)
CANARIES = (CANARY_KEY, CANARY_SECRET)


def assert_no_canary(*texts: str | bytes, canaries: tuple[str, ...] = CANARIES) -> None:
    for text in texts:
        raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        for canary in canaries:
            assert canary not in raw, "a canary secret leaked"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Bao:
    address: str
    root_token: str
    proc: subprocess.Popen[bytes]
    home: Path

    def run(self, *args: str, token: str | None = None, check: bool = True) -> str:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.home),
            "BAO_ADDR": self.address,
            "BAO_TOKEN": token or self.root_token,
        }
        proc = subprocess.run(
            [str(BAO), *args], capture_output=True, text=True, env=env, timeout=30, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"bao {args[0]} failed: {proc.stderr.strip()[-300:]}")
        return proc.stdout


def start_bao(tmp: Path) -> Bao:
    port = free_port()
    token = "root-" + pysecrets.token_hex(8)
    address = f"http://127.0.0.1:{port}"
    home = tmp / "bao-home"
    home.mkdir(parents=True, exist_ok=True)
    log = (tmp / "bao.log").open("wb")
    proc = subprocess.Popen(
        [
            str(BAO),
            "server",
            "-dev",
            f"-dev-root-token-id={token}",
            f"-dev-listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={"PATH": os.environ["PATH"], "HOME": str(home)},
    )
    for _ in range(200):
        try:
            if httpx.get(f"{address}/v1/sys/health", timeout=1).status_code == 200:
                return Bao(address, token, proc, home)
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("OpenBao dev server did not start")


def stop_bao(bao: Bao) -> None:
    bao.proc.terminate()
    try:
        bao.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        bao.proc.kill()
        bao.proc.wait()


@dataclass
class Env:
    """A temp garrison setup: config file, state dir, and a runner for the real CLI."""

    root: Path
    config: Path
    state: Path

    def write(self, body: str) -> Path:
        text = (
            f'[paths]\nstate_dir = "{self.state}"\nrun_dir = "{self.root}/run"\n'
            f'log_dir = "{self.root}/log"\n' + textwrap.dedent(body)
        )
        self.config.write_text(text)
        return self.config

    def garrison(
        self,
        *args: str,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[bytes]:
        """The installed `garrison` binary, as a user runs it (stdin not a terminal)."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GARRISON")}
        full_env.update(env or {})
        full_env["GARRISON_CONFIG"] = str(self.config)
        return subprocess.run(
            [str(GARRISON), *args],
            input=stdin if stdin is not None else b"",
            capture_output=True,
            env=full_env,
            timeout=timeout,
            check=False,
        )
