"""/proc/PID/environ of running bots (live host only): keys passed as environment variables
are readable by root and by the same user for the life of the process."""

from __future__ import annotations

import re

import psutil

from garrison.config.schema import Config
from garrison.secrets.memory import redact
from garrison.secrets.scanner.rules import scan_line
from garrison.secrets.scanner.scan import ScanFinding

_BOT_COMMANDS = re.compile(r"(?i)freqtrade|hummingbot|terminal64\.exe|terminal\.exe|metatrader")


def scan_bot_environments(config: Config) -> list[ScanFinding]:
    """Secrets in the environment of processes that look like trading bots."""
    patterns = [re.compile(s.match) for s in config.strategies if s.match]
    findings: list[ScanFinding] = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if not cmdline or not (
            _BOT_COMMANDS.search(cmdline) or any(p.search(cmdline) for p in patterns)
        ):
            continue
        try:
            with open(f"/proc/{proc.pid}/environ", "rb") as handle:
                data = handle.read(1024 * 1024)
        except OSError:
            continue
        for number, entry in enumerate(data.split(b"\0"), 1):
            text = entry.decode("utf-8", "replace")
            if text.startswith("GARRISON_SECRETS_"):
                continue
            for hit in scan_line(text):
                findings.append(
                    ScanFinding(
                        f"/proc/{proc.pid}/environ",
                        number,
                        hit.rule,
                        redact(hit.value),
                        f"{hit.detail} in the environment of {cmdline[:60]}",
                    )
                )
    return findings
