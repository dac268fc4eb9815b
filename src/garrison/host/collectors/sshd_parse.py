"""Offline parser of sshd_config: Include (globs, relative to /etc/ssh), first value wins, Match.

This mirrors OpenSSH 9.x's servconf.c closely enough for an audit: keywords are
case-insensitive, the first occurrence of a keyword wins (except the accumulating ones such as
HostKey or Port), an `Include` is expanded in place, and a `Match` block lasts until the next
`Match` or the end of the file it is in (sshd restores the match state after an include).
Match blocks are recorded with their settings but never applied to the global values: which
block applies depends on the connecting user and address, which an audit does not have.
"""

from __future__ import annotations

import fnmatch
import posixpath
import shlex
from dataclasses import dataclass, field

from garrison.errors import HostError
from garrison.host.host import Host

#: sshd refuses deeper nesting ("Too many recursive configuration includes").
MAX_INCLUDE_DEPTH = 16
#: Where sshd looks for relative Include paths (SSHDIR at build time on Debian).
SSH_DIR = "/etc/ssh"

#: Deprecated spellings sshd still accepts, mapped to the keyword sshd -T prints.
ALIASES = {
    "challengeresponseauthentication": "kbdinteractiveauthentication",
    "pubkeyacceptedkeytypes": "pubkeyacceptedalgorithms",
    "hostbasedacceptedkeytypes": "hostbasedacceptedalgorithms",
    "skeyauthentication": "kbdinteractiveauthentication",
    "dsaauthentication": "pubkeyauthentication",
}

#: Keywords where every occurrence counts (sshd appends instead of keeping the first).
ACCUMULATING = frozenset(
    {
        "hostkey",
        "hostcertificate",
        "port",
        "listenaddress",
        "acceptenv",
        "allowusers",
        "denyusers",
        "allowgroups",
        "denygroups",
        "subsystem",
        "setenv",
        "include",
    }
)


@dataclass(frozen=True)
class SshdOption:
    """One keyword's value and where it came from (file:line, "default" or the command)."""

    keyword: str  # lowercased, aliases resolved
    value: str
    origin: str
    written_as: str = ""  # the spelling in the file when it was an alias

    @property
    def lower(self) -> str:
        return self.value.strip().lower()


@dataclass(frozen=True)
class MatchBlock:
    """A `Match` block: its criteria, where it starts, and the settings inside it."""

    criteria: str
    origin: str
    options: tuple[SshdOption, ...] = ()


@dataclass(frozen=True)
class ParsedSshdConfig:
    """What the files say: global settings in file order, Match blocks, files read, problems."""

    options: tuple[SshdOption, ...]
    match_blocks: tuple[MatchBlock, ...]
    files: tuple[str, ...]
    problems: tuple[str, ...] = field(default=())


@dataclass
class _ParseState:
    options: list[SshdOption] = field(default_factory=list)
    blocks: list[MatchBlock] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def split_line(line: str) -> tuple[str, str] | None:
    """Split a config line into (keyword, value); None for blank and comment lines."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    head, sep, rest = stripped.partition("=") if _equals_form(stripped) else ("", "", "")
    if sep:
        keyword, value = head.strip(), rest.strip()
    else:
        pieces = stripped.split(None, 1)
        keyword, value = pieces[0], pieces[1] if len(pieces) > 1 else ""
    return keyword, _strip_comment(value)


def _equals_form(stripped: str) -> bool:
    # "Keyword=value" or "Keyword = value": '=' comes before any value whitespace.
    first_space = min((i for i, c in enumerate(stripped) if c in " \t"), default=len(stripped))
    eq = stripped.find("=")
    return eq != -1 and (eq < first_space or stripped[first_space:eq].strip() == "")


def _strip_comment(value: str) -> str:
    # sshd ends the arguments at an unquoted token starting with '#'.
    try:
        tokens = shlex.split(value, comments=True, posix=True)
    except ValueError:
        return value.strip()
    if not value.strip() or "#" not in value:
        return value.strip()
    return " ".join(shlex.quote(t) if " " in t else t for t in tokens)


def value_tokens(value: str) -> list[str]:
    """The space-separated arguments of a value, honouring double quotes like sshd."""
    try:
        return shlex.split(value, posix=True)
    except ValueError:
        return value.split()


def parse_sshd_config(host: Host, path: str) -> ParsedSshdConfig:
    """Parse `path` (a system path under host.root) with its includes.

    Raises HostError when the main file is missing or unreadable; problems in included files
    (unreadable, loops, too deep) are collected in `problems` instead, as sshd would stop there.
    """
    text = host.read_text(path)
    state = _ParseState()
    base_dir = SSH_DIR  # sshd resolves relative includes against its own dir, whatever -f says
    _parse_text(host, path, text, state, base_dir, match=None, stack=(path,))
    return ParsedSshdConfig(
        options=tuple(state.options),
        match_blocks=tuple(state.blocks),
        files=tuple(state.files),
        problems=tuple(state.problems),
    )


def _parse_text(
    host: Host,
    path: str,
    text: str,
    state: _ParseState,
    base_dir: str,
    match: int | None,
    stack: tuple[str, ...],
) -> None:
    """Parse one file's text into state; `match` is the index of the enclosing Match block."""
    state.files.append(path)
    current = match
    for number, line in enumerate(text.splitlines(), start=1):
        parts = split_line(line)
        if parts is None:
            continue
        written, value = parts
        keyword = ALIASES.get(written.lower(), written.lower())
        origin = f"{path}:{number}"
        if keyword == "match":
            criteria = value.strip()
            if criteria.lower() == "all":
                # "Match all" applies to every connection: back to global scope.
                current = None
                continue
            state.blocks.append(MatchBlock(criteria=criteria, origin=origin))
            current = len(state.blocks) - 1
            continue
        if keyword == "include":
            _include(host, value, origin, state, base_dir, current, stack)
            continue
        option = SshdOption(keyword, value, origin, written if keyword != written.lower() else "")
        if current is None:
            state.options.append(option)
        else:
            block = state.blocks[current]
            state.blocks[current] = MatchBlock(
                block.criteria, block.origin, (*block.options, option)
            )


def _include(
    host: Host,
    value: str,
    origin: str,
    state: _ParseState,
    base_dir: str,
    match: int | None,
    stack: tuple[str, ...],
) -> None:
    if len(stack) > MAX_INCLUDE_DEPTH:
        state.problems.append(f"{origin}: Include nested deeper than {MAX_INCLUDE_DEPTH} levels")
        return
    for pattern in value_tokens(value):
        # sshd resolves relative include paths against /etc/ssh, not the including file.
        absolute = pattern if pattern.startswith("/") else posixpath.join(base_dir, pattern)
        for included in _glob(host, absolute):
            if included in stack:
                state.problems.append(f"{origin}: Include loop back to {included}")
                continue
            try:
                text = host.read_text(included)
            except HostError as exc:
                state.problems.append(f"{origin}: Include {exc}")
                continue
            # After an included file ends, sshd restores the Match state it was included in.
            _parse_text(host, included, text, state, base_dir, match, (*stack, included))


def _glob(host: Host, pattern: str) -> list[str]:
    """System paths matching a glob pattern, sorted like glob(3); only the last part may glob."""
    if not any(c in pattern for c in "*?["):
        return [pattern] if host.exists(pattern) else []
    directory, name_pattern = posixpath.split(pattern)
    if any(c in directory for c in "*?["):
        return _glob_dirs(host, directory, name_pattern)
    names = [n for n in host.listdir(directory) if fnmatch.fnmatchcase(n, name_pattern)]
    return [posixpath.join(directory, n) for n in sorted(names) if not n.startswith(".")]


def _glob_dirs(host: Host, directory: str, name_pattern: str) -> list[str]:
    out: list[str] = []
    for parent in _glob(host, directory):
        if host.is_dir(parent):
            out.extend(_glob(host, posixpath.join(parent, name_pattern)))
    return out
