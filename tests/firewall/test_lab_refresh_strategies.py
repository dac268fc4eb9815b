"""DNS-driven allow-lists and per-strategy egress, with real packets in the lab."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.firewall.conftest import FirewallLab
from tests.firewall.labconfig import BROKER_TCP, BROKER_UDP, lab_config, write_config
from tests.firewall.test_lab_apply import wait_for

pytestmark = pytest.mark.root


def test_refresh_follows_dns_and_old_addresses_expire_by_ttl(
    lab: FirewallLab, tmp_path: Path
) -> None:
    net = lab.lab
    broker, moved = net["broker"], net["forbidden"]
    lab.set_dns("api.broker.lab.", [broker.v4], [broker.v6], ttl=8)
    try:
        config = write_config(tmp_path, lab_config(net, tmp_path, ttl_floor_s=1))
        assert lab.garrison(config, "firewall", "apply").returncode == 0
        assert lab.garrison(config, "firewall", "confirm").returncode == 0
        assert net.probe("vps", "tcp", broker.v4, BROKER_TCP)
        assert not net.probe("vps", "tcp", moved.v4, BROKER_TCP)

        # the broker "moves" to the other host: refresh admits the new addresses at once
        lab.set_dns("api.broker.lab.", [moved.v4], [moved.v6], ttl=300)
        refreshed = lab.garrison(config, "firewall", "refresh")
        assert refreshed.returncode == 0, refreshed.stderr
        assert moved.v4 in refreshed.stdout and moved.v6 in refreshed.stdout
        for addr in (moved.v4, moved.v6):
            assert net.probe("vps", "tcp", addr, BROKER_TCP), addr
            assert net.probe("vps", "udp", addr, BROKER_UDP), addr
        listing = net.run("vps", ["nft", "list", "set", "inet", "garrison", "br_bybit_v4"]).stdout
        assert f"{moved.v4} timeout 5m" in listing

        # the old address is not deleted by refresh; it expires with its 8 s TTL
        assert wait_for(lambda: not net.probe("vps", "tcp", broker.v4, BROKER_TCP))
        assert net.probe("vps", "tcp", moved.v4, BROKER_TCP)
        status = lab.garrison(config, "firewall", "status")
        assert "live == persisted: yes" in status.stdout  # DNS-learnt elements are not drift
    finally:
        lab.set_dns("api.broker.lab.", [broker.v4], [broker.v6], ttl=300)


def test_a_name_that_stops_resolving_does_not_hold_back_the_others(
    lab: FirewallLab, tmp_path: Path
) -> None:
    """One broker's DNS outage must not keep every other broker's addresses from refreshing
    (they would all expire by TTL, and every strategy would lose its exchange)."""
    net = lab.lab
    broker, moved = net["broker"], net["forbidden"]
    lab.set_dns("api.broker.lab.", [broker.v4], [broker.v6], ttl=300)
    lab.set_dns("api.other.lab.", [broker.v4], [broker.v6], ttl=300)
    brokers = [
        {
            "name": "bybit",
            "hostnames": ["api.broker.lab"],
            "ports": [BROKER_TCP, BROKER_UDP],
            "protocol": "both",
        },
        {"name": "other", "hostnames": ["api.other.lab"], "ports": [BROKER_TCP]},
    ]
    try:
        config = write_config(tmp_path, lab_config(net, tmp_path, brokers=brokers))
        assert lab.garrison(config, "firewall", "apply").returncode == 0
        assert lab.garrison(config, "firewall", "confirm").returncode == 0
        lab.drop_dns("api.other.lab.")
        lab.set_dns("api.broker.lab.", [moved.v4], [moved.v6], ttl=300)

        refreshed = lab.garrison(config, "firewall", "refresh")
        assert refreshed.returncode == 2, refreshed.stderr
        assert "brokers[1].hostnames: api.other.lab does not resolve (NXDOMAIN" in refreshed.stderr
        assert "every other hostname was refreshed" in refreshed.stderr
        assert moved.v4 in refreshed.stdout and moved.v6 in refreshed.stdout
        assert net.probe("vps", "tcp", moved.v4, BROKER_TCP)
        # the failed name's live address is neither removed nor extended: it runs out its TTL
        listing = net.run("vps", ["nft", "list", "set", "inet", "garrison", "br_other_v4"]).stdout
        assert broker.v4 in listing
    finally:
        lab.set_dns("api.broker.lab.", [broker.v4], [broker.v6], ttl=300)
        lab.drop_dns("api.other.lab.")


def test_each_strategy_reaches_only_its_own_brokers(lab: FirewallLab, tmp_path: Path) -> None:
    net = lab.lab
    broker, other = net["broker"], net["forbidden"]
    brokers = [
        {"name": "bybit", "hostnames": ["api.broker.lab"], "ports": [BROKER_TCP]},
        {"name": "other-ex", "cidrs": [f"{other.v4}/32", f"{other.v6}/128"], "ports": [BROKER_TCP]},
    ]
    strategies = [{"name": "grid", "user": "nobody", "brokers": ["bybit"]}]
    data = lab_config(net, tmp_path, brokers=brokers, strategies=strategies)
    config = write_config(tmp_path, data)
    assert lab.garrison(config, "firewall", "apply").returncode == 0
    assert lab.garrison(config, "firewall", "confirm").returncode == 0
    for b_addr, o_addr in ((broker.v4, other.v4), (broker.v6, other.v6)):
        assert net.probe("vps", "tcp", b_addr, BROKER_TCP, user="nobody"), b_addr
        assert not net.probe("vps", "tcp", o_addr, BROKER_TCP, user="nobody"), o_addr
        assert net.probe("vps", "tcp", o_addr, BROKER_TCP), f"root to other broker {o_addr}"
    script = lab.garrison(config, "firewall", "plan", "--script").stdout
    assert "meta skuid vmap { 65534 : jump st_grid }" in script
