"""The dpkg database cache must not hide an install made within one timestamp tick."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from garrison.config.guard import PackageManagerAllow
from garrison.guard.allowlist import PackageManagerVerifier


def test_md5sums_written_in_the_same_tick_are_still_seen(tmp_path: Path) -> None:
    root = tmp_path / "root"
    admin = root / "var/lib/dpkg"
    (admin / "info").mkdir(parents=True)
    (admin / "status").write_text("")
    tool = root / "usr/bin/grd-tool"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho trading tool\n")
    verifier = PackageManagerVerifier(
        PackageManagerAllow(root=str(root), admindir=str(admin), parents=[])
    )
    stamp = os.stat(admin / "info")
    # An earlier verification read the database before dpkg wrote this package's md5sums ...
    assert verifier.verify(str(tool)) == (False, "/usr/bin/grd-tool is in no package's md5sums")
    # ... which dpkg then writes within the same timestamp tick (the directory's mtime unchanged).
    digest = hashlib.md5(tool.read_bytes()).hexdigest()  # noqa: S324 - dpkg's own format
    (admin / "info/grd-tool.md5sums").write_text(f"{digest}  usr/bin/grd-tool\n")
    os.utime(admin / "info", ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert verifier.verify(str(tool)) == (True, "matches the dpkg database")
