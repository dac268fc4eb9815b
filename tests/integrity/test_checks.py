"""Item 6 audit checks on a temp root: fresh signed baseline ticks the box; each gap opens it."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from garrison.checks.engine import run_check
from garrison.checks.integrity import (
    BaselineCoversCode,
    BaselineFresh,
    BaselinePresent,
    BaselineSigned,
    LastVerifyClean,
    NoKnownVulnerablePackages,
    StrategyCodeSigned,
)
from garrison.config.loader import load_config
from garrison.host.facts import Facts
from garrison.host.host import Host
from garrison.integrity.baseline import create_baseline
from garrison.integrity.manifest import load_manifest
from garrison.integrity.osv import Distribution, find_vulnerabilities
from garrison.integrity.verify import save_last_verify, verify_baseline
from garrison.model import Status

from .conftest import Signer, sh

OSV_DIR = Path(__file__).parent / "data" / "osv"


def _dist_info(site: Path, name: str, version: str) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A fake host root with its own machine-id, a strategy's code and venv."""
    base = tmp_path / "root"
    (base / "etc").mkdir(parents=True)
    (base / "etc" / "machine-id").write_text("feedfacefeedfacefeedfacefeedface\n")
    (base / "etc" / "hostname").write_text("trader-01\n")
    (base / "usr" / "bin").mkdir(parents=True)
    (base / "usr" / "bin" / "python3").write_text("python\n")
    code = base / "opt" / "trading" / "momentum"
    code.mkdir(parents=True)
    (code / "bot.py").write_text("trade()\n")
    site = code / ".venv" / "lib" / "python3.11" / "site-packages"
    _dist_info(site, "requests", "2.28.0")
    _dist_info(site, "ccxt", "4.0.3")
    return base


def _config(tmp_path: Path, signing_key: Path, *, osv: Path | None = None, code: bool = True):  # type: ignore[no-untyped-def]
    lines = [
        "[paths]",
        'state_dir = "/var/lib/garrison"',
        "[integrity]",
        'paths = ["/usr/bin", "/etc"]',
        f'public_key = "{signing_key}.pub"',
        'allowed_signers = "/dev/null"',
    ]
    if osv is not None:
        lines.append(f'osv_database = "{osv}"')
    if code:
        lines += ["[[strategies]]", 'name = "momentum"', 'code_dir = "/opt/trading/momentum"']
    path = tmp_path / "garrison.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_config(str(path)), path


def _results(root: Path, config, *checks):  # type: ignore[no-untyped-def]
    facts = Facts(Host(root), config)
    out = {}
    for check in checks:
        for finding in run_check(check, facts):
            out.setdefault(check.meta.id, []).append(finding)
    return out


def _make_baseline(root: Path, config, key: Path | None) -> Path:  # type: ignore[no-untyped-def]
    target = root / "var" / "lib" / "garrison" / "baseline.gz"
    create_baseline(config, sign_with=key, root=root, output=target)
    return target


ALL = (BaselinePresent, BaselineSigned, BaselineFresh, BaselineCoversCode, LastVerifyClean)


def test_fresh_signed_clean_baseline_passes_every_fim_check(
    root: Path, tmp_path: Path, signing_key: Path
) -> None:
    config, _ = _config(tmp_path, signing_key)
    target = _make_baseline(root, config, signing_key)
    # the verify result is stored under the root's state dir, as on the host itself
    report = verify_baseline(config, manifest=target, root=root, record_result=False)
    assert report.clean
    save_last_verify(
        config.model_copy(
            update={
                "paths": config.paths.model_copy(
                    update={"state_dir": str(root / "var/lib/garrison")}
                )
            }
        ),
        report,
    )
    results = _results(root, config, *ALL)
    assert {cid: [f.status for f in fs] for cid, fs in results.items()} == {
        "GAR-FIM-001": [Status.PASS],
        "GAR-FIM-002": [Status.PASS],
        "GAR-FIM-003": [Status.PASS],
        "GAR-FIM-004": [Status.PASS],
        "GAR-FIM-005": [Status.PASS],
    }
    assert "/opt/trading/momentum" in load_manifest(target).header.paths


def test_missing_baseline_fails(root: Path, tmp_path: Path, signing_key: Path) -> None:
    config, _ = _config(tmp_path, signing_key)
    results = _results(root, config, *ALL)
    assert results["GAR-FIM-001"][0].status == Status.FAIL
    assert results["GAR-FIM-002"][0].status == Status.SKIP
    assert results["GAR-FIM-005"][0].status == Status.FAIL


def test_unsigned_and_foreign_baselines_fail_the_signature_check(
    root: Path, tmp_path: Path, signing_key: Path
) -> None:
    config, _ = _config(tmp_path, signing_key)
    _make_baseline(root, config, None)
    signed = _results(root, config, BaselineSigned)["GAR-FIM-002"][0]
    assert signed.status == Status.FAIL and "not signed" in signed.evidence[0].observed
    _make_baseline(root, config, signing_key)
    (root / "etc" / "machine-id").write_text("0" * 32 + "\n")  # the image is another machine
    foreign = _results(root, config, BaselineSigned)["GAR-FIM-002"][0]
    assert foreign.status == Status.FAIL
    assert "made on another host" in foreign.evidence[0].observed


def test_stale_and_narrow_baselines(root: Path, tmp_path: Path, signing_key: Path) -> None:
    config, _ = _config(tmp_path, signing_key, code=False)
    target = _make_baseline(root, config, signing_key)
    with_code, _ = _config(tmp_path, signing_key, code=True)
    covers = _results(root, with_code, BaselineCoversCode)["GAR-FIM-004"][0]
    assert covers.status == Status.FAIL and "/opt/trading/momentum" in covers.message
    stale = config.model_copy(
        update={"integrity": config.integrity.model_copy(update={"max_age_days": 1})}
    )
    import gzip

    text = gzip.decompress(target.read_bytes()).decode()
    assert '"created":"' in text
    from garrison.checks import integrity as checks_module

    class Later:
        @staticmethod
        def now(tz=None):  # type: ignore[no-untyped-def]
            from datetime import datetime, timedelta

            return datetime.now(tz) + timedelta(days=5)

    orig = checks_module.datetime
    checks_module.datetime = Later  # type: ignore[assignment,misc]
    try:
        fresh = _results(root, stale, BaselineFresh)["GAR-FIM-003"][0]
    finally:
        checks_module.datetime = orig  # type: ignore[misc]
    assert fresh.status == Status.FAIL and "5 days old" in fresh.message


def test_last_verify_with_drift_fails(root: Path, tmp_path: Path, signing_key: Path) -> None:
    config, _ = _config(tmp_path, signing_key)
    target = _make_baseline(root, config, signing_key)
    (root / "usr" / "bin" / "python3").chmod(0o4755)
    report = verify_baseline(config, manifest=target, root=root, record_result=False)
    rooted = config.model_copy(
        update={
            "paths": config.paths.model_copy(update={"state_dir": str(root / "var/lib/garrison")})
        }
    )
    save_last_verify(rooted, report)
    finding = _results(root, config, LastVerifyClean)["GAR-FIM-005"][0]
    assert finding.status == Status.FAIL
    assert "/usr/bin/python3" in finding.message
    assert "critical" in finding.evidence[0].observed


def test_strategy_code_deploy_checks(
    root: Path, tmp_path: Path, signing_key: Path, signers: dict[str, Signer]
) -> None:
    config, _ = _config(tmp_path, signing_key)
    missing = _results(root, config, StrategyCodeSigned)["GAR-CODE-001"][0]
    assert missing.status == Status.FAIL and missing.subject == "momentum"
    code = root / "opt" / "trading" / "momentum"
    sh("git", "init", "-q", "-b", "main", code)
    (code / ".gitignore").write_text(".venv/\n")
    head = signers["ssh"].commit(code, "release")
    deploys = root / "var" / "lib" / "garrison" / "deploys"
    deploys.mkdir(parents=True)
    record = {
        "strategy": "momentum",
        "tree": "/opt/trading/momentum",
        "head": head,
        "manifest": "/var/lib/garrison/deploys/momentum.gz",
        "verified_at": "2026-01-01T00:00:00+00:00",
        "signers": ["dev@example.com"],
    }
    (deploys / "momentum.json").write_text(json.dumps(record))
    ok = _results(root, config, StrategyCodeSigned)["GAR-CODE-001"][0]
    assert ok.status == Status.PASS and head[:12] in ok.message
    signers["ssh"].commit(code, "hotfix", {"bot.py": "x\n"}, sign=False)
    moved = _results(root, config, StrategyCodeSigned)["GAR-CODE-001"][0]
    assert moved.status == Status.FAIL and moved.message == "HEAD moved since the verified deploy"
    sh("git", "pack-refs", "--all", cwd=code)  # refs only in packed-refs now
    assert _results(root, config, StrategyCodeSigned)["GAR-CODE-001"][0].status == Status.FAIL


def test_vulnerable_packages_from_an_offline_osv_directory_and_zip(
    root: Path, tmp_path: Path, signing_key: Path
) -> None:
    config, _ = _config(tmp_path, signing_key, osv=OSV_DIR)
    findings = _results(root, config, NoKnownVulnerablePackages)["GAR-CODE-002"]
    failed = {f.subject: f for f in findings if f.status == Status.FAIL}
    assert set(failed) == {"momentum: requests"}
    assert "PYSEC-2023-74" in failed["momentum: requests"].message
    assert "fixed in 2.31.0" in failed["momentum: requests"].message
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in OSV_DIR.glob("*.json"):
            handle.write(path, path.name)
    zipped, _ = _config(tmp_path, signing_key, osv=archive)
    from_zip = _results(root, zipped, NoKnownVulnerablePackages)["GAR-CODE-002"]
    assert {f.subject for f in from_zip if f.status == Status.FAIL} == {"momentum: requests"}
    # upgrade: passes
    site = root / "opt/trading/momentum/.venv/lib/python3.11/site-packages"
    shutil.rmtree(site / "requests-2.28.0.dist-info")
    _dist_info(site, "requests", "2.31.0")
    clean = _results(root, config, NoKnownVulnerablePackages)["GAR-CODE-002"]
    assert [f.status for f in clean] == [Status.PASS]


def test_without_osv_database_the_check_warns(
    root: Path, tmp_path: Path, signing_key: Path
) -> None:
    config, _ = _config(tmp_path, signing_key)
    findings = _results(root, config, NoKnownVulnerablePackages)["GAR-CODE-002"]
    assert [f.status for f in findings] == [Status.WARN]


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("requests", "2.3.0", {"PYSEC-2023-74"}),
        ("requests", "2.30.0", {"PYSEC-2023-74"}),
        ("requests", "2.31.0", set()),
        ("requests", "2.2.9", set()),
        ("foo-bar", "1.4", {"GHSA-test-last"}),
        ("foo.bar", "1.4.post1", set()),
        ("ccxt", "4.0.2", {"GHSA-test-versions"}),
        ("ccxt", "4.0.3", set()),
        ("numpy", "1.26.0", set()),  # withdrawn
    ],
)
def test_osv_matching(name: str, version: str, expected: set[str]) -> None:
    found = find_vulnerabilities([Distribution(name, version, "x")], OSV_DIR)
    assert {v.id for v in found} == expected


def test_audit_cli_ticks_item_6_on_a_root_with_a_fresh_signed_baseline(
    cli, root: Path, tmp_path: Path, signing_key: Path
) -> None:
    config, path = _config(tmp_path, signing_key, code=False)
    target = _make_baseline(root, config, signing_key)
    report = verify_baseline(config, manifest=target, root=root, record_result=False)
    rooted = config.model_copy(
        update={
            "paths": config.paths.model_copy(update={"state_dir": str(root / "var/lib/garrison")})
        }
    )
    save_last_verify(rooted, report)
    result = cli("audit", "-c", str(path), "--root", str(root), "--area", "integrity")
    assert result.code == 0, result.out + result.err
    assert "[x]  6." in result.out
    (root / "var/lib/garrison/baseline.gz.sig").unlink()
    opened = cli("audit", "-c", str(path), "--root", str(root), "--area", "integrity")
    assert opened.code == 1 and "[ ]  6." in opened.out and "GAR-FIM-002" in opened.out


class _OsvApi:
    """A local server speaking the OSV API's querybatch and vulns endpoints."""

    def __init__(self) -> None:
        import http.server
        import threading

        advisories = {p.stem: json.loads(p.read_text()) for p in OSV_DIR.glob("*.json")}
        self.queries: list[dict] = []  # type: ignore[type-arg]
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, body: object, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                request = json.loads(self.rfile.read(length))
                api.queries.extend(request["queries"])
                results = []
                for query in request["queries"]:
                    name = query["package"]["name"]
                    version = query["version"]
                    hits = find_vulnerabilities([Distribution(name, version, "")], OSV_DIR)
                    results.append({"vulns": [{"id": v.id} for v in hits]})
                self._send({"results": results})

            def do_GET(self) -> None:
                vuln_id = self.path.rsplit("/", 1)[-1]
                doc = next((d for d in advisories.values() if d["id"] == vuln_id), None)
                self._send(doc or {"code": 5}, 200 if doc else 404)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_online_osv_lookup_against_a_local_api(
    root: Path, tmp_path: Path, signing_key: Path
) -> None:
    api = _OsvApi()
    try:
        config, path = _config(tmp_path, signing_key)
        path.write_text(
            path.read_text().replace(
                "[integrity]", f'[integrity]\nosv_online = true\nosv_api = "{api.url}"'
            )
        )
        config = load_config(str(path))
        findings = _results(root, config, NoKnownVulnerablePackages)["GAR-CODE-002"]
        failed = {f.subject: f for f in findings if f.status == Status.FAIL}
        assert set(failed) == {"momentum: requests"}
        assert "fixed in 2.31.0" in failed["momentum: requests"].message
        assert {q["package"]["name"] for q in api.queries} == {"requests", "ccxt"}
    finally:
        api.close()
    # the API gone: one clear error, no traceback
    down = _results(root, config, NoKnownVulnerablePackages)["GAR-CODE-002"][0]
    assert down.status == Status.ERROR and "OSV API http://127.0.0.1" in down.message
