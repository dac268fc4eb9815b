"""Privilege source: garrison's own keyed audit rules, read from the audit netlink multicast.

On start, rules keyed garrison-* are added with auditctl (setuid/setgid chmod, setxattr, watches
on sudoers/PAM/ld.so.preload); on stop exactly those rules are deleted again. Records arrive on
the AUDIT_NLGRP_READLOG multicast group, which works beside a running auditd. If auditing was
disabled it is enabled for the guard's lifetime and the previous state restored on stop.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import struct
import subprocess
from datetime import UTC, datetime
from typing import Any

from garrison.guard.fileevents import describe_file
from garrison.guard.pathglob import GLOB_CHARS, glob_match
from garrison.guard.procinfo import process_info
from garrison.guard.sources.base import EmitEvent, Source, SourceStatus, SourceUnavailable
from garrison.model import Event

NETLINK_AUDIT = 9
AUDIT_NLGRP_READLOG = 1
AUDIT_SYSCALL = 1300
AUDIT_PATH = 1302
AUDIT_CWD = 1307
AUDIT_EOE = 1320
AUDIT_USER_AUTH = 1100
KEY_PREFIX = "garrison-"
SERIAL = re.compile(r"audit\((\d+\.\d+):(\d+)\):\s*")
FIELD = re.compile(r'(\w+)=("(?:[^"]*)"|\S+)')
NLMSG_HDR = struct.Struct("=IHHII")


def setid_rules(tag: str) -> list[list[str]]:
    """auditctl argument lists for the syscall rules (mode argument has S_ISUID|S_ISGID)."""
    b64 = ["-a", "always,exit", "-F", "arch=b64"]
    return [
        [*b64, "-S", "chmod", "-F", "a1&06000", "-k", f"garrison-setid{tag}"],
        [*b64, "-S", "fchmod", "-F", "a1&06000", "-k", f"garrison-setid{tag}"],
        [*b64, "-S", "fchmodat", "-F", "a2&06000", "-k", f"garrison-setid{tag}"],
        [*b64, "-S", "setxattr,lsetxattr,fsetxattr", "-F", "success=1",
         "-k", f"garrison-setcap{tag}"],
    ]  # fmt: skip


def watch_rules(paths: list[str], tag: str) -> list[list[str]]:
    """-w rules for the privilege files that exist (globs are cut to their directory)."""
    out: list[list[str]] = []
    seen: set[str] = set()
    for pattern in paths:
        cut = min((pattern.find(c) for c in GLOB_CHARS if c in pattern), default=-1)
        head = pattern if cut < 0 else pattern[:cut]
        # "/etc/sudoers.d/**" watches /etc/sudoers.d; "/etc/cron.*" watches /etc.
        target = head if cut < 0 or head.endswith("/") else os.path.dirname(head)
        target = target.rstrip("/") or "/"
        if target in seen or target == "/" or not os.path.exists(target):
            continue
        seen.add(target)
        out.append(["-w", target, "-p", "wa", "-k", f"garrison-priv{tag}"])
    return out


def parse_fields(text: str) -> dict[str, str]:
    return {k: v.strip("\"'") for k, v in FIELD.findall(text)}


def _auditctl(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["auditctl", *args], capture_output=True, text=True, timeout=10, check=False
    )


def garrison_rules_installed() -> list[str]:
    """The lines of `auditctl -l` that carry a garrison-* key (tests assert none remain)."""
    if shutil.which("auditctl") is None:
        return []
    listing = _auditctl(["-l"]).stdout
    return [
        line for line in listing.splitlines() if "key=garrison-" in line or "-k garrison-" in line
    ]


def remove_stale_rules() -> list[str]:
    """Delete garrison-*-PID rules whose guard no longer runs (it was killed); returns them."""
    removed = []
    for line in garrison_rules_installed():
        match = re.search(r"garrison-[a-z]+-(\d+)", line)
        if not match or os.path.exists(f"/proc/{match.group(1)}"):
            continue
        args = line.split()
        if args and args[0] in ("-a", "-w"):
            args[0] = "-d" if args[0] == "-a" else "-W"
            if _auditctl(args).returncode == 0:
                removed.append(line)
    return removed


class AuditSource(Source):
    name = "privilege-audit"

    def __init__(
        self,
        privilege_files: list[str],
        *,
        required: bool = False,
        scope: list[str] | None = None,
        inherited_enabled: str | None = None,
    ) -> None:
        self.inherited_enabled = inherited_enabled
        self.privilege_files = privilege_files
        self.scope = scope or ["/**"]
        self.required = required
        self.sock: socket.socket | None = None
        self.installed: list[list[str]] = []
        self.enabled_before: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.emit: EmitEvent | None = None
        self.partial: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.records = 0
        self.problems: list[str] = []
        self.stale_removed: list[str] = []

    def start(self, loop: asyncio.AbstractEventLoop, emit: EmitEvent) -> None:
        if shutil.which("auditctl") is None:
            raise SourceUnavailable("auditctl is not installed (apt-get install auditd)")
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
            sock.bind((0, 1 << (AUDIT_NLGRP_READLOG - 1)))
        except OSError as exc:
            raise SourceUnavailable(
                "audit netlink multicast (AUDIT_NLGRP_READLOG, needs CAP_AUDIT_READ): "
                f"{exc.strerror}"
            ) from None
        self.sock = sock
        status = _auditctl(["-s"])
        if status.returncode != 0:
            self.stop()
            raise SourceUnavailable(f"auditctl -s: {status.stderr.strip() or 'failed'}")
        self.stale_removed = remove_stale_rules()
        enabled = parse_fields(status.stdout.replace("\n", " ").replace("enabled ", "enabled="))
        self.enabled_before = enabled.get("enabled")
        if self.inherited_enabled == "0" and self.stale_removed:
            # A killed guard enabled auditing; restore what it found, not what it left.
            self.enabled_before = "0"
        if self.enabled_before == "0":
            _auditctl(["-e", "1"])
        # Keys carry this guard's pid so two guards (tests, a restart overlap) never remove
        # each other's rules; records of any garrison-* key are accepted.
        tag = f"-{os.getpid()}"
        for rule in [*setid_rules(tag), *watch_rules(self.privilege_files, tag)]:
            done = _auditctl(rule)
            if done.returncode == 0:
                self.installed.append(rule)
            elif "exists" not in done.stderr:
                self.problems.append(f"auditctl {' '.join(rule)}: {done.stderr.strip()}")
        sock.setblocking(False)
        self.loop, self.emit = loop, emit
        loop.add_reader(sock.fileno(), self._readable)

    def stop(self) -> None:
        for rule in reversed(self.installed):
            delete = ["-d" if rule[0] == "-a" else "-W", *rule[1:]]
            _auditctl(delete)
        self.installed = []
        if self.enabled_before == "0" and not garrison_rules_installed():
            _auditctl(["-e", "0"])
            self.enabled_before = None
        if self.sock is not None:
            if self.loop is not None:
                self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None

    def status(self) -> SourceStatus:
        return SourceStatus(
            name=self.name,
            active=self.sock is not None,
            mechanism="audit netlink AUDIT_NLGRP_READLOG + keyed rules (garrison-*)",
            missing=tuple(self.problems),
            detail={
                "rules": str(len(self.installed)),
                "records": str(self.records),
                "audit_enabled_before": str(self.enabled_before),
                "stale_rules_removed": str(len(self.stale_removed)),
            },
        )

    def _readable(self) -> None:
        while self.sock is not None:
            try:
                data = self.sock.recv(262144)
            except BlockingIOError:
                return
            except OSError:
                if self.emit is not None:
                    from garrison.guard.daemon import overflow_event

                    self.emit(overflow_event("audit netlink buffer overflow (ENOBUFS)"))
                return
            pos = 0
            while pos + NLMSG_HDR.size <= len(data):
                length, kind, _f, _s, _p = NLMSG_HDR.unpack_from(data, pos)
                if length < NLMSG_HDR.size:
                    break
                text = (
                    data[pos + NLMSG_HDR.size : pos + length]
                    .rstrip(b"\0")
                    .decode("utf-8", "replace")
                )
                self.record(kind, text)
                pos += (length + 3) & ~3

    def record(self, kind: int, text: str) -> None:
        """Collect records by serial; a complete keyed SYSCALL group becomes one event."""
        self.records += 1
        match = SERIAL.match(text)
        if not match:
            return
        serial = match.group(2)
        if kind == AUDIT_USER_AUTH:
            self._user_auth(parse_fields(text[match.end() :]))
            return
        if kind == AUDIT_EOE:
            group = self.partial.pop(serial, None)
            if group:
                self._finish(group)
            return
        if kind in (AUDIT_SYSCALL, AUDIT_PATH, AUDIT_CWD):
            fields = parse_fields(text[match.end() :])
            if kind == AUDIT_SYSCALL and not fields.get("key", "").startswith(KEY_PREFIX):
                return
            if kind != AUDIT_SYSCALL and serial not in self.partial:
                return
            self.partial.setdefault(serial, []).append((kind, fields))
            if len(self.partial) > 1024:  # EOE never came for old serials
                self.partial.pop(next(iter(self.partial)))

    def _finish(self, group: list[tuple[int, dict[str, str]]]) -> None:
        syscall = next((f for k, f in group if k == AUDIT_SYSCALL), None)
        if syscall is None or self.emit is None:
            return
        cwd = next((f.get("cwd", "") for k, f in group if k == AUDIT_CWD), "")
        names = [f for k, f in group if k == AUDIT_PATH and f.get("nametype") != "PARENT"]
        name = names[0].get("name", "") if names else ""
        path = os.path.normpath(os.path.join(cwd, name)) if name and cwd else name
        if path and not any(glob_match(p, path) for p in self.scope):
            return
        key = re.sub(r"-\d+$", "", syscall.get("key", ""))  # drop the per-guard pid tag
        detail: dict[str, Any] = {
            "key": key,
            "syscall": syscall.get("syscall", ""),
            "auid": syscall.get("auid", ""),
            "comm": syscall.get("comm", ""),
        }
        if path:
            detail.update(describe_file(path))
        proc = process_info(int(syscall["pid"])) if syscall.get("pid", "").isdigit() else None
        if proc is not None and not proc.gone:
            detail["ancestors"] = list(proc.ancestors)  # for the package-manager allow-list
        if key == "garrison-setcap" and not detail.get("capability"):
            return  # some other xattr (user.*, security.selinux): not a capability
        kind = "attrib" if key in ("garrison-setid", "garrison-setcap") else "write"
        self.emit(
            Event(
                source="audit",
                kind=kind,
                time=datetime.now(UTC),
                path=path,
                pid=int(syscall["pid"]) if syscall.get("pid", "").isdigit() else None,
                exe=syscall.get("exe", ""),
                uid=int(syscall["uid"]) if syscall.get("uid", "").isdigit() else None,
                detail=detail,
            )
        )

    def _user_auth(self, fields: dict[str, str]) -> None:
        if fields.get("res") != "failed" or self.emit is None:
            return
        program = os.path.basename(fields.get("exe", ""))
        if program not in ("sudo", "su"):
            return
        self.emit(
            Event(
                source="audit",
                kind="auth_failure",
                time=datetime.now(UTC),
                pid=int(fields["pid"]) if fields.get("pid", "").isdigit() else None,
                exe=fields.get("exe", ""),
                detail={
                    "program": program,
                    "user": fields.get("acct", ""),
                    "by_auid": fields.get("auid", ""),
                    "terminal": fields.get("terminal", ""),
                },
            )
        )
