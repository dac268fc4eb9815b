"""Write lab configs for the firewall tests: TOML from plain dicts, paths in a temp dir."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.lab.netns import Lab

BROKER_TCP = 443
BROKER_UDP = 4443
OTHER_PORT = 8080
SSH_PORT = 22
DNS_PORT = 53


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def to_toml(data: Mapping[str, Any]) -> str:
    """TOML for dicts of scalars/lists, nested tables and arrays of tables (enough here)."""
    lines: list[str] = []

    def table(prefix: str, body: Mapping[str, Any]) -> None:
        scalars = {k: v for k, v in body.items() if not _is_table(v) and not _is_array_of_tables(v)}
        for key, val in scalars.items():
            lines.append(f"{key} = {_value(val)}")
        for key, val in body.items():
            name = f"{prefix}.{key}" if prefix else key
            if _is_table(val):
                lines.append(f"\n[{name}]")
                table(name, val)
            elif _is_array_of_tables(val):
                for item in val:
                    lines.append(f"\n[[{name}]]")
                    table(name, item)

    table("", data)
    return "\n".join(lines) + "\n"


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _is_array_of_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def lab_config(lab: Lab, tmp: Path, **firewall: Any) -> dict[str, Any]:
    """The lab's standard policy: SSH from admin only, broker by hostname, DNS on the dns host."""
    brokers = firewall.pop("brokers", None)
    strategies = firewall.pop("strategies", [])
    fw: dict[str, Any] = {
        "resolvers": [lab["dns"].v4],
        "persist_path": str(tmp / "nftables.conf"),
        "confirm_timeout_s": 30,
        "inbound": [
            {
                "name": "ssh",
                "port": SSH_PORT,
                "sources": [lab["admin"].net_v4, lab["admin"].net_v6],
            }
        ],
    }
    fw.update(firewall)
    if brokers is None:
        brokers = [
            {
                "name": "bybit",
                "hostnames": ["api.broker.lab"],
                "ports": [BROKER_TCP, BROKER_UDP],
                "protocol": "both",
            }
        ]
    data: dict[str, Any] = {
        "paths": {"state_dir": str(tmp / "state"), "run_dir": str(tmp / "run")},
        "firewall": fw,
        "brokers": brokers,
    }
    if strategies:
        data["strategies"] = strategies
    return data


def write_config(tmp: Path, data: Mapping[str, Any], name: str = "garrison.toml") -> Path:
    path = tmp / name
    path.write_text(to_toml(data))
    return path
