"""File formats the scanner understands beyond single lines: JSON configs (freqtrade's
exchange/api_server/telegram sections, ccxt configs) and PEM private-key blocks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from garrison.secrets.scanner.rules import (
    ENCRYPTED_HUMMINGBOT_PREFIX,
    PEM_PRIVATE,
    SENSITIVE_NAME,
    Hit,
    is_placeholder,
    looks_secret,
)

#: JSON section -> keys whose non-empty values are secrets, whatever they look like
_JSON_SECTIONS: dict[str, frozenset[str]] = {
    "exchange": frozenset({"key", "secret", "password", "uid", "apikey", "privatekey"}),
    "ccxt_config": frozenset({"apikey", "secret", "password", "uid", "privatekey"}),
    "api_server": frozenset({"password", "jwt_secret_key", "ws_token"}),
    "telegram": frozenset({"token"}),
    "discord": frozenset({"webhook_url"}),
}
_CDP_NAME = re.compile(r"organizations/[0-9a-f\-]{36}/apiKeys/[0-9a-f\-]{36}")


def _walk(node: Any, parent: str) -> Iterator[tuple[str, str, str]]:
    """(section, key, string value) for every string leaf of a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                yield parent, str(key), value
            else:
                yield from _walk(value, str(key))
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, parent)


def json_hits(text: str) -> list[tuple[int, Hit]] | None:
    """Secrets in a JSON document with their 1-based line numbers; None if not JSON."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    lines = text.splitlines()
    out: list[tuple[int, Hit]] = []
    for section, key, value in _walk(document, ""):
        rule: str | None
        known = key.lower() in _JSON_SECTIONS.get(section.lower(), frozenset())
        if known and value and not is_placeholder(value):
            rule = f"freqtrade-{section}-{key}".lower() if section != "ccxt_config" else "ccxt-key"
        else:
            plausible = value and "\n" not in value and SENSITIVE_NAME.search(key)
            rule = looks_secret(key, value) if plausible else None
            if rule is None:
                continue
        out.append((_line_of(lines, key, value), Hit(rule, value, f"{section or 'top'}.{key}")))
    return out


def _line_of(lines: list[str], key: str, value: str) -> int:
    needle = json.dumps(value)[1:-1][:40]
    for number, line in enumerate(lines, 1):
        if needle in line and f'"{key}"' in line:
            return number
    for number, line in enumerate(lines, 1):
        if needle in line:
            return number
    return 1


def pem_hits(lines: list[str]) -> list[tuple[int, Hit]]:
    """Unencrypted PEM private keys (Coinbase CDP when the file also names a CDP key)."""
    out = []
    cdp = any(_CDP_NAME.search(line) for line in lines)
    for number, line in enumerate(lines, 1):
        match = PEM_PRIVATE.search(line)
        if not match or match.group(1).startswith("ENCRYPTED"):
            continue
        kind = match.group(1)
        if "Proc-Type: 4,ENCRYPTED" in "\n".join(lines[number : number + 3]):
            continue
        rest = line[match.end() :].lstrip("-").replace("\\n", " ").strip(' "')
        body = rest if len(rest) > 16 else (lines[number] if number < len(lines) else "")
        rule = "coinbase-cdp-private-key" if cdp and kind == "EC PRIVATE KEY" else "private-key-pem"
        out.append((number, Hit(rule, body.strip() or kind, f"{kind} block")))
    return out


_YAML_PAIR = re.compile(r"^\s*(?P<name>[A-Za-z0-9_]+)\s*:\s*(?P<value>.*?)\s*$")
# MT passwords are often plain words: only template markers count as placeholders here
_INI_PLACEHOLDER = re.compile(r"^(?:\*+|<.*>|\$\{.*\}|%\w+%|\{\{.*\}\})$")
_INI_PASSWORD = re.compile(r"^\s*(?P<name>\w*Password)\s*=\s*(?P<value>\S.*?)\s*$", re.IGNORECASE)


def hummingbot_hits(lines: list[str]) -> list[tuple[int, Hit]]:
    """Connector YAML (conf/connectors/*.yml): every non-empty key/secret/passphrase value
    must be Hummingbot-encrypted; a plain one is reported whatever it looks like."""
    out = []
    for number, line in enumerate(lines, 1):
        match = _YAML_PAIR.match(line)
        if not match or not SENSITIVE_NAME.search(match.group("name")):
            continue
        value = match.group("value").strip("'\"")
        if (
            value
            and value.lower() not in ("null", "none", "~", "''", '""')
            and not value.startswith(ENCRYPTED_HUMMINGBOT_PREFIX)
        ):
            out.append((number, Hit("hummingbot-unencrypted", value, match.group("name"))))
    return out


def ini_password_hits(lines: list[str]) -> list[tuple[int, Hit]]:
    """MT4/MT5 .ini: any non-empty Password= (also ProxyPassword=, InvestorPassword=)."""
    out = []
    for number, line in enumerate(lines, 1):
        match = _INI_PASSWORD.match(line)
        if match and not _INI_PLACEHOLDER.match(match.group("value")):
            out.append((number, Hit("ini-password", match.group("value"), match.group("name"))))
    return out
