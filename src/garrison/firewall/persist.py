"""Persist the confirmed ruleset into the boot-time file (/etc/nftables.conf on Debian).

Only garrison's block (between BEGIN/END markers) is replaced; everything else in the file
(`flush ruleset`, other tables, include lines) is kept as it was. Written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

from garrison.errors import EnforceError
from garrison.firewall.pending import write_atomic

BEGIN = "# BEGIN garrison firewall (managed by `garrison firewall confirm`; do not edit)"
END = "# END garrison firewall"
SHEBANG = "#!/usr/sbin/nft -f"


def split_persisted(text: str) -> tuple[str, str | None, str]:
    """(text before garrison's block, the block or None, text after it)."""
    start = text.find(BEGIN)
    if start < 0:
        return text, None, ""
    end = text.find(END, start)
    if end < 0:
        raise EnforceError(f"persisted ruleset: {BEGIN!r} without {END!r}; fix the file by hand")
    block = text[start + len(BEGIN) : end].strip("\n") + "\n"
    return text[:start], block, text[end + len(END) :].lstrip("\n")


def merge(existing: str | None, ruleset: str) -> str:
    block = f"{BEGIN}\n{ruleset.rstrip()}\n{END}\n"
    if existing is None or not existing.strip():
        return f"{SHEBANG}\n\n{block}"
    before, _old, after = split_persisted(existing)
    before = before.rstrip("\n") + "\n\n" if before.strip() else ""
    return before + block + (("\n" + after) if after.strip() else "")


def persisted_block(path: Path) -> str | None:
    """garrison's ruleset in the boot file, or None when absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EnforceError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return split_persisted(text)[1]


def persist(path: Path, ruleset: str) -> None:
    """Write garrison's block into `path` (temp file + rename), keeping the rest and the mode."""
    try:
        existing: str | None = path.read_text(encoding="utf-8")
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        existing, mode = None, 0o755
    except OSError as exc:
        raise EnforceError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not path.parent.is_dir():
        raise EnforceError(f"{path}: directory {path.parent} does not exist")
    write_atomic(path, merge(existing, ruleset), mode)
