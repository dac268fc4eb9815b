"""Bad firewall config: one line naming the key, exit 2, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.firewall.labconfig import to_toml

BROKER = {"name": "bybit", "cidrs": ["10.1.0.0/24"], "ports": [443]}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"brokers": [{**BROKER, "cidrs": ["10.1.0.0/33"]}]},
            "brokers[0].cidrs: '10.1.0.0/33' is not a valid CIDR",
        ),
        (
            {"brokers": [{**BROKER, "cidrs": ["10.1.0.1/24"]}]},
            "brokers[0].cidrs: '10.1.0.1/24' is not a valid CIDR (10.1.0.1/24 has host bits set)",
        ),
        (
            {"brokers": [{**BROKER, "cidrs": ["10.1.0.0/24", "10.1.0.128/25"]}]},
            "brokers[0].cidrs: '10.1.0.128/25' overlaps '10.1.0.0/24'",
        ),
        (
            {"brokers": [{**BROKER, "cidrs": ["0.0.0.0/0"]}]},
            "brokers[0].cidrs: '0.0.0.0/0' allows every address",
        ),
        ({"brokers": [{**BROKER, "ports": [70000]}]}, "brokers[0].ports: port 70000 out of range"),
        (
            {"firewall": {"inbound": [{"name": "ssh", "port": 0}]}},
            "firewall.inbound[0].port: Input should be greater than or equal to 1",
        ),
        (
            {"firewall": {"inbound": [{"name": "ssh", "port": 22, "sources": ["fd00::1/64"]}]}},
            "firewall.inbound[0].sources: 'fd00::1/64' is not a valid CIDR",
        ),
        (
            {"brokers": [{"name": "bybit", "ports": [443]}]},
            "brokers[0]: bybit: give hostnames and/or cidrs",
        ),
        (
            {"brokers": [BROKER], "strategies": [{"name": "grid", "brokers": ["binance"]}]},
            "strategies[0].brokers: unknown broker 'binance' (known: bybit)",
        ),
        (
            {"brokers": [{**BROKER, "hostnames": ["bad host!"]}]},
            "brokers[0].hostnames: 'bad host!' is not a valid hostname",
        ),
        ({"firewall": {"resolvers": ["dns.google"]}}, "firewall.resolvers: 'dns.google' is not"),
        ({"firewall": {"nflog_group": 70000}}, "firewall.nflog_group: Input should be less"),
    ],
)
def test_bad_config_is_one_clear_line(
    cli: Callable[..., Any], tmp_path: Path, data: dict[str, Any], expected: str
) -> None:
    config = tmp_path / "garrison.toml"
    config.write_text(to_toml(data))
    result = cli("-c", str(config), "firewall", "plan", "--no-resolve")
    assert result.code == 2
    assert expected in result.err
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
