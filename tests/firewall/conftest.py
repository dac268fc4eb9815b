"""The firewall lab: vps + admin, attacker, broker, forbidden and dns hosts, with servers."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.firewall.labconfig import BROKER_TCP, BROKER_UDP, DNS_PORT, OTHER_PORT, SSH_PORT
from tests.lab.netns import DNS_SERVER, Lab, network_lab

GARRISON = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "garrison")
HOSTS = ("admin", "attacker", "broker", "forbidden", "dns")


@dataclass
class FirewallLab:
    lab: Lab
    zone: Path

    def set_dns(self, name: str, v4: list[str], v6: list[str], ttl: int = 300) -> None:
        zone = json.loads(self.zone.read_text())
        zone[name] = {"A": v4, "AAAA": v6, "ttl": ttl}
        self.zone.write_text(json.dumps(zone))

    def drop_dns(self, name: str) -> None:
        """The name is no longer in the zone: the lab's DNS answers NXDOMAIN."""
        zone = json.loads(self.zone.read_text())
        zone.pop(name, None)
        self.zone.write_text(json.dumps(zone))

    def garrison(
        self,
        config: Path,
        *args: str,
        env: dict[str, str] | None = None,
        prefix: tuple[str, ...] = (),
    ) -> subprocess.CompletedProcess[str]:
        """`garrison -c CONFIG ARGS` inside the vps namespace."""
        run_env = {k: v for k, v in os.environ.items() if not k.startswith(("GARRISON", "SSH_"))}
        run_env.update(env or {})
        return self.lab.run("vps", [*prefix, GARRISON, "-c", str(config), *args], env=run_env)

    def reset(self) -> None:
        """Stop leftover watchdogs and empty the vps ruleset between tests."""
        listed = subprocess.run(
            ["ip", "netns", "pids", self.lab.vps], capture_output=True, text=True
        )
        for pid in listed.stdout.split():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"garrison.firewall.watchdog" in cmdline:
                os.kill(int(pid), 9)
        self.lab.run("vps", ["nft", "flush", "ruleset"], check=True)


@pytest.fixture(scope="session")
def fw_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirewallLab]:
    if os.geteuid() != 0:
        pytest.skip("the firewall lab needs root (network namespaces)")
    zone = tmp_path_factory.mktemp("dns") / "zone.json"
    zone.write_text("{}")
    with network_lab("gfw", HOSTS) as lab:
        flab = FirewallLab(lab, zone)
        flab.set_dns("api.broker.lab.", [lab["broker"].v4], [lab["broker"].v6], ttl=300)
        venv_python = str(Path(GARRISON).parent / "python")
        lab.spawn("dns", [venv_python, str(DNS_SERVER), str(zone), str(DNS_PORT)])
        lab.serve("broker", "tcp", BROKER_TCP)
        lab.serve("broker", "udp", BROKER_UDP)
        lab.serve("broker", "tcp", OTHER_PORT)
        lab.serve("forbidden", "tcp", BROKER_TCP)
        lab.serve("forbidden", "udp", BROKER_UDP)
        lab.serve("vps", "tcp", SSH_PORT)
        lab.serve("vps", "tcp", OTHER_PORT)
        yield flab


@pytest.fixture
def lab(fw_lab: FirewallLab) -> Iterator[FirewallLab]:
    fw_lab.reset()
    try:
        yield fw_lab
    finally:
        fw_lab.reset()
