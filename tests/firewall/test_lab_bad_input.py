"""Bad input against a live lab ruleset: a clear error and the ruleset unchanged, byte for byte."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.firewall.conftest import GARRISON, FirewallLab
from tests.firewall.labconfig import lab_config, write_config

pytestmark = pytest.mark.root


@pytest.fixture
def live(lab: FirewallLab, tmp_path: Path) -> Iterator[tuple[FirewallLab, Path, str]]:
    """A confirmed good ruleset; yields (lab, its config, the ruleset listing)."""
    config = write_config(tmp_path, lab_config(lab.lab, tmp_path))
    assert lab.garrison(config, "firewall", "apply").returncode == 0
    assert lab.garrison(config, "firewall", "confirm").returncode == 0
    yield lab, config, lab.lab.ruleset()


def _unchanged(lab: FirewallLab, before: str, tmp_path: Path) -> None:
    assert lab.lab.ruleset() == before
    assert not (tmp_path / "run" / "firewall" / "pending.json").exists()


def test_unresolvable_hostname(live: tuple[FirewallLab, Path, str], tmp_path: Path) -> None:
    lab, _config, before = live
    brokers = [{"name": "ghost", "hostnames": ["nx.broker.lab"], "ports": [443]}]
    config = write_config(tmp_path, lab_config(lab.lab, tmp_path, brokers=brokers), "nx.toml")
    for command in (("firewall", "apply"), ("firewall", "refresh"), ("firewall", "plan")):
        result = lab.garrison(config, *command)
        assert result.returncode == 2, command
        assert "brokers[0].hostnames: nx.broker.lab does not resolve (NXDOMAIN" in result.stderr
        _unchanged(lab, before, tmp_path)


def test_nft_missing(live: tuple[FirewallLab, Path, str], tmp_path: Path) -> None:
    lab, config, before = live
    result = lab.garrison(config, "firewall", "apply", env={"PATH": str(tmp_path)})
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "garrison: error: nft is not installed (apt-get install nftables)"
    )
    _unchanged(lab, before, tmp_path)


def test_not_root(live: tuple[FirewallLab, Path, str], tmp_path: Path) -> None:
    lab, config, before = live
    public = Path(tempfile.mkdtemp(prefix="gfw-nobody-"))  # pytest's tmp is root-only
    try:
        public.chmod(0o755)
        readable = public / "garrison.toml"
        shutil.copy(config, readable)
        readable.chmod(0o644)
        _as_nobody(lab, readable)
    finally:
        shutil.rmtree(public)
    _unchanged(lab, before, tmp_path)


def _as_nobody(lab: FirewallLab, config: Path) -> None:
    nobody = ("setpriv", "--reuid=nobody", "--regid=65534", "--clear-groups")
    for command in ("apply", "confirm", "refresh", "status"):
        result = lab.garrison(config, "firewall", command, prefix=nobody)
        assert result.returncode == 2, command
        assert f"firewall {command} needs root" in result.stderr


def test_ruleset_rejected_by_nft(live: tuple[FirewallLab, Path, str], tmp_path: Path) -> None:
    lab, config, before = live
    # a renderer bug stand-in: the script apply loads is replaced by one nft rejects
    code = (
        "import sys, garrison.firewall.plan as p\n"
        "p.apply_script = lambda c, pol: 'table inet garrison {\\n chain input {\\n"
        " tcp dport 99999 accept\\n }\\n}\\n'\n"
        "from garrison.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    python = str(Path(GARRISON).parent / "python")
    result = lab.lab.run("vps", [python, "-c", code, "-c", str(config), "firewall", "apply"])
    assert result.returncode == 2, result.stderr
    assert "nft rejected the ruleset" in result.stderr
    assert "Traceback" not in result.stderr
    _unchanged(lab, before, tmp_path)
    assert sys.executable  # the lab python is the venv one (same interpreter family)


@pytest.mark.parametrize(
    ("broker", "expected"),
    [
        ({"cidrs": ["10.1.0.0/24", "10.1.0.0/25"]}, "brokers[0].cidrs: '10.1.0.0/25' overlaps"),
        ({"cidrs": ["10.1.0.300/24"]}, "brokers[0].cidrs: '10.1.0.300/24' is not a valid CIDR"),
        ({"cidrs": ["10.1.0.0/24"], "ports": [0]}, "brokers[0].ports: port 0 out of range"),
    ],
)
def test_invalid_config(
    live: tuple[FirewallLab, Path, str], tmp_path: Path, broker: dict[str, object], expected: str
) -> None:
    lab, _config, before = live
    brokers = [{"name": "bad", **broker}]
    config = write_config(tmp_path, lab_config(lab.lab, tmp_path, brokers=brokers), "bad.toml")
    result = lab.garrison(config, "firewall", "apply")
    assert result.returncode == 2
    assert expected in result.stderr
    _unchanged(lab, before, tmp_path)
