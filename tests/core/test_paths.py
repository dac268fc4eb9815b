from __future__ import annotations

import os
from pathlib import Path

import pytest

from garrison.host.paths import SymlinkLoopError, resolve_in_root


def test_absolute_symlink_resolves_inside_root(tmp_path: Path) -> None:
    (tmp_path / "usr/share/zoneinfo").mkdir(parents=True)
    (tmp_path / "usr/share/zoneinfo/UTC").write_text("tz")
    (tmp_path / "etc").mkdir()
    os.symlink("/usr/share/zoneinfo/UTC", tmp_path / "etc/localtime")
    assert resolve_in_root(tmp_path, "/etc/localtime") == tmp_path / "usr/share/zoneinfo/UTC"


def test_dotdot_never_climbs_above_root(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    os.symlink("../../../../etc/passwd", tmp_path / "etc/evil")
    assert resolve_in_root(tmp_path, "/etc/evil") == tmp_path / "etc/passwd"
    assert resolve_in_root(tmp_path, "/../../etc/shadow") == tmp_path / "etc/shadow"


def test_relative_directory_symlink(tmp_path: Path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/os-release").write_text("ID=debian\n")
    os.symlink("usr/lib", tmp_path / "lib")
    assert resolve_in_root(tmp_path, "/lib/os-release").read_text() == "ID=debian\n"


def test_symlink_loop_is_an_error(tmp_path: Path) -> None:
    os.symlink("/b", tmp_path / "a")
    os.symlink("/a", tmp_path / "b")
    with pytest.raises(SymlinkLoopError):
        resolve_in_root(tmp_path, "/a")


def test_follow_last_false_keeps_the_link(tmp_path: Path) -> None:
    os.symlink("/target", tmp_path / "link")
    assert resolve_in_root(tmp_path, "/link", follow_last=False) == tmp_path / "link"
