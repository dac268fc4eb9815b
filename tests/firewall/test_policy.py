"""FirewallPolicy building and rendering details that need no kernel."""

from __future__ import annotations

import pytest

from garrison.config.loader import validate_config
from garrison.errors import ConfigError
from garrison.firewall.policy import ResolvedAddress, build_policy
from garrison.firewall.render import render_refresh, render_ruleset

BROKERS = [
    {"name": "bybit", "cidrs": ["203.0.113.0/24"], "hostnames": ["api.bybit.com"]},
    {"name": "okx", "cidrs": ["198.51.100.0/24"]},
]


def test_strategies_sharing_a_uid_are_merged_with_a_warning() -> None:
    data = {
        "brokers": BROKERS,
        "strategies": [
            {"name": "grid", "user": "1001", "brokers": ["bybit"]},
            {"name": "dca", "user": "1001", "brokers": ["okx"]},
            {"name": "idle", "user": "1002"},
        ],
    }
    policy = build_policy(validate_config(data, "t"))
    assert [(s.name, s.uid, s.brokers) for s in policy.strategies] == [
        ("grid", 1001, ("bybit", "okx"))
    ]
    assert any("share uid 1001" in w for w in policy.warnings)
    assert any("'idle' lists no brokers" in w for w in policy.warnings)
    assert "meta skuid vmap { 1001 : jump st_grid }" in render_ruleset(policy)


def test_unknown_strategy_user_and_clashing_names_are_config_errors() -> None:
    data = {"brokers": BROKERS, "strategies": [{"name": "g", "user": "ghost", "brokers": ["okx"]}]}
    with pytest.raises(ConfigError, match=r"strategies\[0\].user: no account 'ghost'"):
        build_policy(validate_config(data, "t"), accounts={"root": 0})
    clash = {
        "brokers": [
            {"name": "my-ex", "cidrs": ["10.0.0.0/8"]},
            {"name": "my_ex", "cidrs": ["11.0.0.0/8"]},
        ]
    }
    with pytest.raises(ConfigError, match=r"brokers\[1\].name: 'my_ex' clashes with 'my-ex'"):
        build_policy(validate_config(clash, "t"))
    inbound = {
        "firewall": {"inbound": [{"name": "ssh", "port": 22}, {"name": "SSH", "port": 2222}]}
    }
    with pytest.raises(ConfigError, match=r"firewall.inbound\[1\].name: 'SSH' clashes"):
        build_policy(validate_config(inbound, "t"))


def test_resolved_addresses_inside_static_ranges_are_not_added_twice() -> None:
    config = validate_config({"brokers": BROKERS}, "t")
    resolved = {
        "broker:bybit": [
            ResolvedAddress("203.0.113.7", 300),  # inside the fixed range: skipped
            ResolvedAddress("192.0.2.10", 120),
            ResolvedAddress("192.0.2.10", 600),  # same address twice: longest TTL wins
            ResolvedAddress("2001:db8::10", 60),
        ]
    }
    policy = build_policy(config, resolved=resolved)
    text = render_ruleset(policy)
    assert "elements = { 192.0.2.10 timeout 600s, 203.0.113.0/24 }" in text
    assert "elements = { 2001:db8::10 timeout 60s }" in text
    assert "203.0.113.7" not in text
    refresh = render_refresh(policy)
    assert refresh.splitlines() == [
        "add element inet garrison br_bybit_v4 { 192.0.2.10 timeout 1s }",
        "delete element inet garrison br_bybit_v4 { 192.0.2.10 }",
        "add element inet garrison br_bybit_v4 { 192.0.2.10 timeout 600s }",
        "add element inet garrison br_bybit_v6 { 2001:db8::10 timeout 1s }",
        "delete element inet garrison br_bybit_v6 { 2001:db8::10 }",
        "add element inet garrison br_bybit_v6 { 2001:db8::10 timeout 60s }",
    ]


def test_ipv6_off_drops_ipv6_and_renders_no_v6_sets() -> None:
    config = validate_config({"brokers": BROKERS, "firewall": {"ipv6": False}}, "t")
    text = render_ruleset(build_policy(config))
    assert "meta nfproto ipv6 drop" in text
    assert "_v6" not in text and "icmpv6" not in text
