"""What a secret looks like: sensitive assignments, exchange key shapes, PEM keys, entropy.

Each rule returns (rule id, value, detail) for a line. Values that are placeholders
(empty, ${VAR}, <your key>, xxx, changeme, paths...) are never findings; neither is anything
in a comment.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

#: names whose values are secrets (matched case-insensitively as a whole or a suffix/prefix)
SENSITIVE_NAME = re.compile(
    r"(?i)(?:^|[_.\-])(?:api[_\-]?key|apikey|api[_\-]?secret|secret[_\-]?key|secret|"
    r"access[_\-]?key|private[_\-]?key|privkey|passphrase|password|passwd|pass|pwd|"
    r"token|auth[_\-]?token|jwt[_\-]?secret[_\-]?key|ws[_\-]?token|client[_\-]?secret|"
    r"credentials?|uid)$"
)
_WEAK_NAMES = re.compile(r"(?i)(?:^|[_.\-])(?:pass|pwd|uid|token|credentials?)$")

# KEY=VALUE, KEY: VALUE, "key": "value", export KEY=VALUE, Environment="KEY=VALUE", - KEY=VALUE
_ASSIGNMENT = re.compile(
    r"""(?x)
    (?:^|[\s;{,(]|Environment=["']?)            # start of a statement
    (?:export\s+|set\s+|-\s+)?
    ["']?(?P<name>[A-Za-z_][A-Za-z0-9_.\-]{1,80})["']?
    \s*(?P<op>=|:)\s*
    (?P<value>"[^"\n]*"|'[^'\n]*'|[^\s"',;}{)\]]+)
    """
)

_HEADERS = re.compile(
    r"(?i)(?P<name>X-MBX-APIKEY|X-BAPI-API-KEY|OK-ACCESS-KEY|OK-ACCESS-PASSPHRASE|API-Key|"
    r"CB-ACCESS-KEY|Authorization)\s*:\s*(?:Bearer\s+|Basic\s+|Token\s+)?"
    r"(?P<value>[A-Za-z0-9+/=_\-.]{16,})"
)

PEM_PRIVATE = re.compile(r"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY)")
_CDP_KEY_NAME = re.compile(r"organizations/[0-9a-f\-]{36}/apiKeys/[0-9a-f\-]{36}")
_OANDA = re.compile(r"(?<![0-9a-fA-F])[0-9a-f]{32}-[0-9a-f]{32}(?![0-9a-fA-F\-])")
_TELEGRAM = re.compile(r"(?<![0-9])[0-9]{8,10}:AA[A-Za-z0-9_\-]{33}(?![A-Za-z0-9_\-])")

#: value shapes, most specific first: (rule id, regex on the whole value)
_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("telegram-bot-token", re.compile(r"[0-9]{8,10}:AA[A-Za-z0-9_\-]{33}")),
    ("oanda-token", re.compile(r"[0-9a-f]{32}-[0-9a-f]{32}")),
    ("okx-api-key", re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")),
    ("binance-api-key", re.compile(r"[A-Za-z0-9]{64}")),
    ("kraken-private-key", re.compile(r"[A-Za-z0-9+/]{86}==")),
    ("kraken-api-key", re.compile(r"[A-Za-z0-9+/]{56}")),
    ("bybit-api-secret", re.compile(r"[A-Za-z0-9]{36}")),
    ("deribit-client-secret", re.compile(r"[A-Za-z0-9_\-]{43}")),
    ("bybit-api-key", re.compile(r"[A-Za-z0-9]{18}")),
)

_PLACEHOLDER = re.compile(
    r"""(?x)^(?:
      (?i:none|null|nil|true|false|yes|no|on|off|empty|undefined|default|required|optional|
          changeme|change[_\-]?me|secret|password|passwd|token|redacted|hidden|example|sample|
          dummy|test|todo|tbd|fixme|xxx+|
          (?:your|my|the|insert|enter|put|replace)[_\-\s].*|.*(?:_here|here_|-here))
      |\*+|\.+|-+|_+|0+|
      <.*|\[.*|\(.*|\{\{.*\}\}|\$.*|%\(.*\)s?|%[a-z]|@[A-Za-z_]+@|   # templates, expressions
      [A-Za-z_]+=|\w+\[.*|\w+\(.*|[A-Za-z_]\w*(?:\.\w+)+(?:[(\[].*)?|  # code
      _?[A-Z][a-z]+(?:[A-Z][a-z]+)+|                                 # CamelCase type names
      [A-Za-z]+://\S*|/\S*|~/\S*|\.\./\S*|\./\S*|                      # URLs and paths
      [A-Z][A-Z_]{2,}|[a-z]+(?:[_\-.][a-z]+)*|[a-z]+[0-9]{0,2}|[0-9]{1,6}|  # names, words
      .*\s.*
    )$"""
)

_SYSTEMD_ENV = re.compile(r"^\s*Environment=[\"']?")
ENCRYPTED_HUMMINGBOT_PREFIX = "7b2263727970746f22"  # hex of '{"crypto"'
_COMMENT = re.compile(r"^\s*(?:#|;|//|--|\*|/\*|<!--|REM\b|')")


@dataclass(frozen=True)
class Hit:
    """One secret found on one line (the value is kept only to redact it)."""

    rule: str
    value: str
    detail: str


def shannon_entropy(text: str) -> float:
    """Bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def strip_quotes(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def is_placeholder(value: str) -> bool:
    return bool(_PLACEHOLDER.match(value.strip()))


def shape_of(value: str) -> str | None:
    """The exchange/key family a value looks like, or None."""
    for rule, pattern in _SHAPES:
        if pattern.fullmatch(value):
            return rule
    return None


_PATH_LIKE = re.compile(r"[A-Za-z0-9_.\-]*(?:/[A-Za-z0-9_.\-]+)+/?")


def looks_secret(name: str, value: str) -> str | None:
    """A rule id when value, assigned to name, is a plausible real secret; None otherwise."""
    if is_placeholder(value) or value.startswith(ENCRYPTED_HUMMINGBOT_PREFIX):
        return None
    if len(value) > 8192:
        return None
    shape = shape_of(value)
    if shape is None and len(value) <= 64 and _PATH_LIKE.fullmatch(value):
        return None  # a file name (CONFDIR/exim.key), not the key itself
    entropy = shannon_entropy(value)
    lower = name.lower()
    if "password" in lower or "passwd" in lower or "passphrase" in lower:
        # passwords may be low-entropy, but must look like a chosen string, not a word
        if len(value) >= 6 and entropy >= 2.5 and re.search(r"[0-9\W_]", value):
            return shape or "password-assignment"
        return None
    if _WEAK_NAMES.search(lower):
        if len(value) >= 16 and entropy >= 3.5:
            return shape or "token-assignment"
        return None
    if len(value) >= 12 and entropy >= 3.2:
        return shape or "key-assignment"
    return None


def scan_line(line: str) -> list[Hit]:
    """Every secret on one line of text."""
    if _COMMENT.match(line) or len(line) > 4096:
        return []
    line = _SYSTEMD_ENV.sub("", line)
    hits: list[Hit] = []
    seen: set[str] = set()
    for match in _HEADERS.finditer(line):
        value = match.group("value")
        if not is_placeholder(value) and shannon_entropy(value) >= 3.0:
            rule = shape_of(value) or "api-key-header"
            hits.append(Hit(rule, value, f"HTTP header {match.group('name')}"))
            seen.add(value)
    for match in _ASSIGNMENT.finditer(line):
        name = match.group("name")
        if not SENSITIVE_NAME.search(name):
            continue
        value = strip_quotes(match.group("value"))
        if value in seen:
            continue
        verdict = looks_secret(name, value)
        if verdict:
            hits.append(Hit(verdict, value, f"value of {name}"))
            seen.add(value)
    for pattern, rule, detail in (
        (_OANDA, "oanda-token", "OANDA-shaped token"),
        (_TELEGRAM, "telegram-bot-token", "Telegram bot token"),
        (_CDP_KEY_NAME, "coinbase-cdp-key-name", "Coinbase CDP API key name"),
    ):
        for found in pattern.finditer(line):
            if found.group(0) not in seen and not any(found.group(0) in h.value for h in hits):
                hits.append(Hit(rule, found.group(0), detail))
                seen.add(found.group(0))
    return hits
