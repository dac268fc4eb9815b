"""Talking to nft: validate, load, list, and canonicalise a script in a throwaway netns.

Every failure becomes one EnforceError line; a missing `nft` is a ToolMissingError.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from garrison.errors import EnforceError, ToolMissingError
from garrison.firewall import TABLE_FAMILY, TABLE_NAME
from garrison.host.runner import CommandResult, run_command

NFT_TIMEOUT_S = 60.0
_EXPIRES = re.compile(r" expires [0-9hmsd]+")
_HANDLE = re.compile(r" # handle \d+")


def _run(argv: Sequence[str], what: str) -> CommandResult:
    result = run_command(argv, timeout=NFT_TIMEOUT_S)
    if result.missing:
        raise ToolMissingError(f"{argv[0]} is not installed (apt-get install nftables)")
    if not result.ok and "Operation not permitted" in result.stderr:
        raise EnforceError(f"{what}: nft needs root (CAP_NET_ADMIN): Operation not permitted")
    return result


def first_error(result: CommandResult) -> str:
    """The most useful line of nft's error output (the 'Error:' line with its location)."""
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    for _index, line in enumerate(lines):
        if "Error:" in line:
            return line.strip()
    return result.problem() or (lines[-1] if lines else "failed")


def _with_file(text: str, argv_before: Sequence[str], what: str) -> CommandResult:
    fd, name = tempfile.mkstemp(prefix="garrison-fw-", suffix=".nft")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return _run([*argv_before, name], what)
    finally:
        Path(name).unlink(missing_ok=True)


def check(text: str) -> None:
    """`nft -c -f`: the kernel parses and validates the script; nothing changes."""
    result = _with_file(text, ["nft", "-c", "-f"], "nft -c")
    if not result.ok:
        raise EnforceError(f"nft rejected the ruleset: {first_error(result)}")


def load(text: str, what: str = "nft -f") -> None:
    """`nft -f`: one atomic transaction (all of the script or none of it)."""
    result = _with_file(text, ["nft", "-f"], what)
    if not result.ok:
        raise EnforceError(f"{what} failed, nothing changed: {first_error(result)}")


def list_table() -> str | None:
    """The live `table inet garrison` as nft prints it, or None when it does not exist."""
    result = _run(["nft", "list", "table", TABLE_FAMILY, TABLE_NAME], "nft list table")
    if result.ok:
        return result.stdout
    if "No such file or directory" in result.stderr:
        return None
    raise EnforceError(f"cannot read the live table: {first_error(result)}")


def list_ruleset(*, handles: bool = False) -> str:
    argv = ["nft", "-a", "list", "ruleset"] if handles else ["nft", "list", "ruleset"]
    result = _run(argv, "nft list ruleset")
    if not result.ok:
        raise EnforceError(f"cannot read the live ruleset: {first_error(result)}")
    return result.stdout


def normalise(listing: str, *, static_only: bool = False) -> str:
    """A listing without what changes by itself (timers, handles, blank lines, line wraps).

    static_only also drops the elements learnt from DNS (those with a timeout), so that a
    refresh does not count as drift.
    """
    out: list[str] = []
    joining = False
    for raw in listing.splitlines():
        line = _HANDLE.sub("", _EXPIRES.sub("", raw)).rstrip()
        if joining:
            out[-1] += " " + line.strip()
            joining = "}" not in line
            continue
        if line.strip():
            out.append(line)
            joining = "elements = {" in line and "}" not in line
    if static_only:
        out = [_static_elements(line) for line in out]
        out = [line for line in out if line]
    return "\n".join(out) + ("\n" if out else "")


def _static_elements(line: str) -> str:
    if "elements = {" not in line:
        return line
    head, _, rest = line.partition("elements = {")
    body = rest.rsplit("}", 1)[0]
    kept = [e.strip() for e in body.split(",") if e.strip() and " timeout " not in e]
    return f"{head}elements = {{ {', '.join(kept)} }}" if kept else ""


def canonical(text: str, *, whole_ruleset: bool = False) -> str | None:
    """How nft itself lists `text` once loaded, using a throwaway network namespace.

    None when that is not possible here (no unshare, not root); callers fall back to text.
    """
    listing = "ruleset" if whole_ruleset else f"table {TABLE_FAMILY} {TABLE_NAME}"
    fd, name = tempfile.mkstemp(prefix="garrison-fw-", suffix=".nft")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        result = run_command(
            [
                "unshare",
                "--net",
                "--",
                "sh",
                "-c",
                f'nft -f "$1" && nft list {listing}',
                "sh",
                name,
            ],
            timeout=NFT_TIMEOUT_S,
        )
    finally:
        Path(name).unlink(missing_ok=True)
    return result.stdout if result.ok else None


def split_tables(listing: str) -> dict[tuple[str, str], str]:
    """Top-level `table FAMILY NAME { ... }` blocks of an nft listing."""
    out: dict[tuple[str, str], str] = {}
    key: tuple[str, str] | None = None
    lines: list[str] = []
    for line in listing.splitlines():
        if key is None and line.startswith("table "):
            parts = line.split()
            key, lines = (parts[1], parts[2]), [line]
        elif key is not None:
            lines.append(line)
            if line == "}":
                out[key] = "\n".join(lines) + "\n"
                key = None
    return out
