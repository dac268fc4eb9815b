"""GAR-FW-0xx under --root: the boot file of an image (pass and fail fixture roots)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import fixture_root
from tests.firewall.labconfig import to_toml


def _findings(cli: Callable[..., Any], root: str, *config: str) -> list[dict[str, Any]]:
    args = ("audit", "--area", "firewall", "--root", str(fixture_root(root)), "-f", "json")
    result = cli(*config, *args)
    assert result.code in (0, 1), result.err
    return list(json.loads(result.out)["findings"])


def _status(findings: list[dict[str, Any]], check: str, subject: str | None = None) -> set[str]:
    return {
        f["status"]
        for f in findings
        if f["check_id"] == check and (subject is None or f["subject"] == subject)
    }


def test_garrison_rendered_boot_file_passes(cli: Callable[..., Any], tmp_path: Path) -> None:
    config = tmp_path / "garrison.toml"
    config.write_text(
        to_toml(
            {
                "firewall": {
                    "inbound": [
                        {"name": "ssh", "port": 22, "sources": ["198.51.100.0/24"]},
                        {"name": "https", "port": 443},
                    ]
                }
            }
        )
    )
    findings = _findings(cli, "firewall-pass", "-c", str(config))
    for hook in ("input", "output", "forward"):
        assert _status(findings, "GAR-FW-001", hook) == {"pass"}
    assert _status(findings, "GAR-FW-002", "tcp/22") == {"pass"}
    assert _status(findings, "GAR-FW-002", "tcp/443") == {"pass"}
    assert _status(findings, "GAR-FW-003") == {"pass"}
    assert _status(findings, "GAR-FW-004") == {"pass"}
    assert _status(findings, "GAR-FW-007") == {"pass"}
    assert _status(findings, "GAR-FW-005") == {"skip"}
    assert _status(findings, "GAR-FW-006") == {"skip"}
    assert all(f["status"] in ("pass", "skip") for f in findings)
    tcp22 = next(f for f in findings if f["subject"] == "tcp/22")
    assert "open from ip saddr @in_ssh_v4" in tcp22["message"]
    assert "chain inet garrison input" in tcp22["evidence"][0]["source"]


def test_port_open_but_not_configured_is_reported(cli: Callable[..., Any]) -> None:
    findings = _findings(cli, "firewall-pass")  # default config: only ssh
    assert _status(findings, "GAR-FW-002", "tcp/443") == {"fail"}
    assert _status(findings, "GAR-FW-002", "tcp/22") == {"pass"}  # narrower than config: fine


def test_handwritten_ipv4_only_boot_file_fails_where_it_should(cli: Callable[..., Any]) -> None:
    findings = _findings(cli, "firewall-fail")
    assert _status(findings, "GAR-FW-001", "input") == {"pass"}
    assert _status(findings, "GAR-FW-001", "forward") == {"fail"}  # docker.nft via include
    assert _status(findings, "GAR-FW-002", "tcp/3306") == {"fail"}
    assert _status(findings, "GAR-FW-002", "all ports") == {"fail"}
    bad_egress = [f for f in findings if f["check_id"] == "GAR-FW-003" and f["status"] == "fail"]
    assert [f["evidence"][0]["observed"] for f in bad_egress] == ["tcp dport 443 accept"]
    accept_all = [f for f in findings if f["check_id"] == "GAR-FW-004" and f["status"] == "fail"]
    assert [f["evidence"][0]["observed"] for f in accept_all] == ["counter accept"]
    assert _status(findings, "GAR-FW-007") == {"fail"}
