"""The real /usr/bin of this machine, tampered with only inside a private mount namespace."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import write_config

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare"
)


def test_swapped_binary_and_setuid_copy_on_real_usr_bin(tmp_path: Path, signing_key: Path) -> None:
    garrison = str(Path(sys.executable).with_name("garrison"))
    config = write_config(
        tmp_path / "g.toml", tmp_path / "state", signing_key, paths=["/usr/bin", "/usr/sbin"]
    )
    made = subprocess.run(
        [garrison, "-c", str(config), "baseline", "--sign-with", str(signing_key)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    evil = tmp_path / "ls"
    shutil.copy2("/usr/bin/ls", evil)
    with evil.open("r+b") as handle:  # one byte, same size, mtime restored below
        handle.seek(1000)
        handle.write(b"X")
    stat = os.stat("/usr/bin/ls")
    os.utime(evil, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    suid = tmp_path / "true"
    shutil.copy2("/usr/bin/true", suid)
    suid.chmod(0o4755)
    script = (
        "mount --make-rprivate / && "
        f"mount --bind {evil} /usr/bin/ls && mount --bind {suid} /usr/bin/true && "
        f"{garrison} -c {config} verify -f json"
    )
    # the bind mounts exist only in this private mount namespace and vanish with it
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1, result.stderr
    changes = {(c["kind"], c["path"]): c for c in json.loads(result.stdout)["changes"]}
    assert changes[("content", "/usr/bin/ls")]["severity"] == "high"
    assert "mtime unchanged" in changes[("content", "/usr/bin/ls")]["detail"]
    assert changes[("setuid", "/usr/bin/true")]["severity"] == "critical"
    assert not any(
        kind in ("content", "setuid")
        for kind, path in changes
        if path not in ("/usr/bin/ls", "/usr/bin/true")
    )
    # outside the namespace nothing changed
    clean = subprocess.run(
        [garrison, "-c", str(config), "verify"], capture_output=True, text=True, check=False
    )
    assert clean.returncode == 0, clean.stdout
