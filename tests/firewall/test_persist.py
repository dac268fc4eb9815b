"""Persisting into the boot file: only garrison's block changes; the rest of the file stays."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from garrison.errors import EnforceError
from garrison.firewall.persist import BEGIN, END, persist, persisted_block

DEBIAN = """#!/usr/sbin/nft -f

flush ruleset

table inet filter {
	chain input {
		type filter hook input priority filter;
	}
}

include "/etc/nftables.d/*.nft"
"""


def test_first_persist_keeps_debian_file_and_include_lines(tmp_path: Path) -> None:
    boot = tmp_path / "nftables.conf"
    boot.write_text(DEBIAN)
    boot.chmod(0o755)
    persist(boot, "table inet garrison {\n}\n")
    text = boot.read_text()
    assert text.startswith(DEBIAN.rstrip("\n"))
    assert 'include "/etc/nftables.d/*.nft"' in text
    assert f"{BEGIN}\ntable inet garrison {{\n}}\n{END}\n" in text
    assert os.stat(boot).st_mode & 0o777 == 0o755
    assert persisted_block(boot) == "table inet garrison {\n}\n"


def test_second_persist_replaces_only_the_block(tmp_path: Path) -> None:
    boot = tmp_path / "nftables.conf"
    boot.write_text(DEBIAN)
    persist(boot, "table inet garrison {\n\t# v1\n}\n")
    with boot.open("a") as handle:
        handle.write('\ninclude "/etc/fail2ban.nft"\n')
    persist(boot, "table inet garrison {\n\t# v2\n}\n")
    text = boot.read_text()
    assert "# v1" not in text and "# v2" in text
    assert text.count(BEGIN) == 1
    assert 'include "/etc/fail2ban.nft"' in text and "flush ruleset" in text
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_new_file_gets_a_shebang_and_broken_markers_are_refused(tmp_path: Path) -> None:
    boot = tmp_path / "nftables.conf"
    persist(boot, "table inet garrison {\n}\n")
    assert boot.read_text().startswith("#!/usr/sbin/nft -f\n")
    boot.write_text(f"{BEGIN}\ntable inet garrison {{\n}}\n")  # END marker lost
    with pytest.raises(EnforceError, match="without"):
        persist(boot, "table inet garrison {\n}\n")
    with pytest.raises(EnforceError, match="does not exist"):
        persist(tmp_path / "missing" / "nftables.conf", "x\n")
