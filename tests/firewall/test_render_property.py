"""Property: every valid config renders a ruleset that the kernel (`nft -c`) accepts."""

from __future__ import annotations

import ipaddress
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.firewall.conftest import FirewallLab

from garrison.config.loader import validate_config
from garrison.errors import ConfigError
from garrison.firewall.policy import ResolvedAddress, build_policy
from garrison.firewall.render import render_ruleset

names = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
ports = st.lists(st.integers(1, 65535), min_size=1, max_size=4, unique=True)
protocol = st.sampled_from(["tcp", "udp", "both"])


@st.composite
def networks(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        prefix = draw(st.integers(8, 32))
        addr = ipaddress.IPv4Address(draw(st.integers(1, 2**32 - 1)))
        return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))
    prefix = draw(st.integers(16, 128))
    addr = ipaddress.IPv6Address(draw(st.integers(1, 2**128 - 1)))
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def _disjoint(nets: list[str]) -> list[str]:
    out: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for raw in nets:
        net = ipaddress.ip_network(raw)
        if not any(o.version == net.version and o.overlaps(net) for o in out):
            out.append(net)
    return [str(n) for n in out]


@st.composite
def configs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, list[ResolvedAddress]]]:
    broker_names = draw(
        st.lists(names, min_size=0, max_size=4, unique_by=lambda n: n.replace("-", "_"))
    )
    brokers = []
    resolved: dict[str, list[ResolvedAddress]] = {}
    for name in broker_names:
        cidrs = _disjoint(draw(st.lists(networks(), max_size=5)))
        addrs = draw(st.lists(networks(), max_size=4))
        hosts = [str(ipaddress.ip_network(a).network_address) for a in addrs]
        brokers.append(
            {
                "name": name,
                "cidrs": cidrs or ["192.0.2.0/24"],
                "hostnames": ["api.example.com"] if hosts else [],
                "ports": draw(ports),
                "protocol": draw(protocol),
            }
        )
        ttls = draw(st.lists(st.integers(1, 86400), min_size=len(hosts), max_size=len(hosts)))
        resolved[f"broker:{name}"] = [
            ResolvedAddress(h, t) for h, t in zip(hosts, ttls, strict=True)
        ]
    inbound = []
    for i, port in enumerate(draw(st.lists(st.integers(1, 65535), max_size=4, unique=True))):
        sources = _disjoint(draw(st.lists(networks(), max_size=3)))
        inbound.append(
            {"name": f"svc{i}", "port": port, "protocol": draw(protocol), "sources": sources}
        )
    strategies = []
    if broker_names and draw(st.booleans()):
        strategies.append({"name": "grid", "user": "1234", "brokers": broker_names[:1]})
    firewall = {
        "inbound": inbound,
        "resolvers": draw(
            st.lists(st.sampled_from(["10.0.0.53", "fd00::53", "9.9.9.9"]), unique=True)
        ),
        "ipv6": draw(st.booleans()),
        "drop_log_rate": draw(st.integers(0, 10000)),
        "nflog_group": draw(st.integers(0, 65535)),
        "forward": draw(st.sampled_from(["drop", "accept"])),
        "egress": [
            {
                "name": "git",
                "cidrs": ["140.82.112.0/20"],
                "ports": [22, 443],
                "during_updates": draw(st.booleans()),
            }
        ],
    }
    return {"firewall": firewall, "brokers": brokers, "strategies": strategies}, resolved


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=configs())
def test_every_valid_config_renders_a_ruleset_nft_accepts(
    fw_lab: FirewallLab, case: tuple[dict[str, Any], dict[str, list[ResolvedAddress]]]
) -> None:
    data, resolved = case
    try:
        config = validate_config(data, "generated")
    except ConfigError:
        return  # not a valid config; the property is about valid ones
    script = render_ruleset(build_policy(config, resolved=resolved))
    assert script == render_ruleset(build_policy(config, resolved=resolved))  # deterministic
    with tempfile.NamedTemporaryFile("w", suffix=".nft", dir="/tmp") as handle:
        handle.write(script)
        handle.flush()
        result = fw_lab.lab.run("vps", ["nft", "-c", "-f", handle.name])
    assert result.returncode == 0, f"{result.stderr}\n{script}"
    assert Path(handle.name).name.endswith(".nft")
