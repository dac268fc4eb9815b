"""A freqtrade stand-in: reads its exchange keys the way freqtrade does, proves it got them.

freqtrade merges every `--config FILE` in order (later files win) and then applies
FREQTRADE__SECTION__KEY environment variables. This script does the same, then writes a proof
(sha256 of key and secret, never the values) to --proof. With --hold it prints `ready PID` and
keeps its fds open until stdin closes, so a test can look at it from outside.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from typing import Any


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def apply_env(config: dict[str, Any]) -> None:
    for name, value in os.environ.items():
        if not name.startswith("FREQTRADE__"):
            continue
        path = name[len("FREQTRADE__") :].lower().split("__")
        node = config
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("--config", "-c", action="append", default=[])
    parser.add_argument("--proof", required=True)
    parser.add_argument("--hold", action="store_true")
    args = parser.parse_args()
    config: dict[str, Any] = {}
    for path in args.config:
        with open(path, encoding="utf-8") as handle:  # /proc/self/fd/N works like a file
            deep_merge(config, json.load(handle))
    apply_env(config)
    exchange = config.get("exchange", {})
    proof = {
        "name": exchange.get("name"),
        "key_sha256": hashlib.sha256(exchange.get("key", "").encode()).hexdigest(),
        "secret_sha256": hashlib.sha256(exchange.get("secret", "").encode()).hexdigest(),
        "dry_run": config.get("dry_run"),
    }
    with open(args.proof, "w", encoding="utf-8") as handle:
        json.dump(proof, handle)
    with open("trades.log", "a", encoding="utf-8") as log:
        log.write(f"started on {proof['name']} (dry_run={proof['dry_run']})\n")
    if args.hold:
        print(f"ready {os.getpid()}", flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main())
