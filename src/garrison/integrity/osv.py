"""Known-vulnerable Python packages: installed dists in a venv against an offline OSV database.

The database is what the user downloads from OSV (https://osv-vulnerabilities.storage.googleapis
.com/PyPI/all.zip) or a directory of OSV JSON files; nothing is fetched. Matching follows the OSV
schema: an `affected` entry for ecosystem PyPI matches when the installed version is listed in
`versions` or falls in an ECOSYSTEM range (introduced <= v < fixed, or <= last_affected).
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from garrison.errors import IntegrityError
from garrison.host.host import Host


def normalize(name: str) -> str:
    """PEP 503 name normalisation (Foo_Bar == foo-bar)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str
    metadata: str  # system path of the METADATA file (evidence)


@dataclass(frozen=True)
class Vulnerability:
    id: str
    package: str
    version: str
    summary: str
    aliases: tuple[str, ...]
    fixed: tuple[str, ...]  # versions that fix it, when the database says


def site_packages(host: Host, venv: str) -> list[str]:
    """The site-packages directories of a virtualenv (system paths)."""
    out = []
    for lib in ("lib", "lib64"):
        for entry in host.listdir(f"{venv}/{lib}"):
            if entry.startswith("python"):
                candidate = f"{venv}/{lib}/{entry}/site-packages"
                if host.is_dir(candidate) and candidate not in out:
                    out.append(candidate)
    return out


def installed_distributions(host: Host, venv: str) -> list[Distribution]:
    """Name and version of every *.dist-info in the venv's site-packages."""
    found: dict[str, Distribution] = {}
    for directory in site_packages(host, venv):
        for entry in host.listdir(directory):
            if not entry.endswith(".dist-info"):
                continue
            path = f"{directory}/{entry}/METADATA"
            text = host.read_text_or_none(path)
            if text is None:
                continue
            headers = HeaderParser().parsestr(text, headersonly=True)
            name, version = headers.get("Name"), headers.get("Version")
            if name and version:
                found[normalize(name)] = Distribution(name.strip(), version.strip(), path)
    return sorted(found.values(), key=lambda d: normalize(d.name))


def _documents(database: Path, wanted: set[str]) -> Iterator[dict[str, Any]]:
    """OSV documents that may concern one of the wanted names (cheap byte filter first)."""
    needles = [name.encode() for name in wanted]

    def relevant(raw: bytes) -> bool:
        low = raw.lower()
        return any(n in low for n in needles) or any(n.replace(b"-", b"_") in low for n in needles)

    def parse(raw: bytes, label: str) -> dict[str, Any] | None:
        if not relevant(raw):
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            raise IntegrityError(f"{label}: not valid OSV JSON") from None
        return data if isinstance(data, dict) else None

    if database.is_file():
        try:
            with zipfile.ZipFile(database) as archive:
                for info in archive.infolist():
                    if info.filename.endswith(".json"):
                        doc = parse(archive.read(info), f"{database}:{info.filename}")
                        if doc is not None:
                            yield doc
        except zipfile.BadZipFile:
            raise IntegrityError(f"{database}: not a zip of OSV JSON files") from None
        return
    if not database.is_dir():
        raise IntegrityError(f"integrity.osv_database: {database}: no such file or directory")
    for path in sorted(database.rglob("*.json")):
        doc = parse(path.read_bytes(), str(path))
        if doc is not None:
            yield doc


def _parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _in_ranges(version: str, ranges: Iterable[dict[str, Any]]) -> bool:
    current = _parse_version(version)
    if current is None:
        return False
    for spec in ranges:
        if spec.get("type") != "ECOSYSTEM":
            continue
        # Events are read in order: introduced opens an interval, fixed/last_affected close it.
        start: Version | None = None
        open_interval = False
        for event in spec.get("events", []):
            if "introduced" in event:
                intro = event["introduced"]
                start = Version("0") if intro == "0" else _parse_version(intro)
                open_interval = start is not None
            elif "fixed" in event and open_interval:
                fixed = _parse_version(event["fixed"])
                if start is not None and fixed is not None and start <= current < fixed:
                    return True
                open_interval = False
            elif "last_affected" in event and open_interval:
                last = _parse_version(event["last_affected"])
                if start is not None and last is not None and start <= current <= last:
                    return True
                open_interval = False
        if open_interval and start is not None and current >= start:
            return True
    return False


def _fixed_versions(ranges: Iterable[dict[str, Any]]) -> list[str]:
    return [e["fixed"] for r in ranges for e in r.get("events", []) if "fixed" in e]


def find_vulnerabilities(
    distributions: Iterable[Distribution], database: Path
) -> list[Vulnerability]:
    """Every (distribution, advisory) pair where the installed version is affected."""
    by_name = {normalize(d.name): d for d in distributions}
    if not by_name:
        return []
    found: dict[tuple[str, str], Vulnerability] = {}
    for doc in _documents(database, set(by_name)):
        if doc.get("withdrawn"):
            continue
        for affected in doc.get("affected", []):
            package = affected.get("package", {})
            if package.get("ecosystem") != "PyPI":
                continue
            dist = by_name.get(normalize(str(package.get("name", ""))))
            if dist is None:
                continue
            ranges = affected.get("ranges", [])
            if dist.version in affected.get("versions", []) or _in_ranges(dist.version, ranges):
                vuln_id = str(doc.get("id", "?"))
                found[(vuln_id, dist.name)] = Vulnerability(
                    id=vuln_id,
                    package=dist.name,
                    version=dist.version,
                    summary=str(doc.get("summary") or doc.get("details", "")[:120]),
                    aliases=tuple(doc.get("aliases", [])),
                    fixed=tuple(_fixed_versions(ranges)),
                )
    return sorted(found.values(), key=lambda v: (normalize(v.package), v.id))


DEFAULT_OSV_API = "https://api.osv.dev"
ONLINE_TIMEOUT_S = 10.0
BATCH_SIZE = 1000  # api.osv.dev accepts up to 1000 queries per batch


def query_online(
    distributions: Iterable[Distribution],
    api: str = DEFAULT_OSV_API,
    *,
    timeout: float = ONLINE_TIMEOUT_S,
) -> list[Vulnerability]:
    """Ask an OSV API (querybatch, then each advisory) about the installed versions.

    Off unless [integrity].osv_online is set: this sends package names and versions off the box.
    """
    import httpx

    dists = list(distributions)
    found: dict[tuple[str, str], Vulnerability] = {}
    base = api.rstrip("/")
    try:
        with httpx.Client(timeout=timeout) as client:
            for start in range(0, len(dists), BATCH_SIZE):
                batch = dists[start : start + BATCH_SIZE]
                queries = [
                    {"package": {"name": d.name, "ecosystem": "PyPI"}, "version": d.version}
                    for d in batch
                ]
                response = client.post(f"{base}/v1/querybatch", json={"queries": queries})
                response.raise_for_status()
                results = response.json().get("results", [])
                for dist, result in zip(batch, results, strict=False):
                    for entry in result.get("vulns", []) or []:
                        vuln_id = str(entry.get("id", "?"))
                        detail = client.get(f"{base}/v1/vulns/{vuln_id}")
                        detail.raise_for_status()
                        doc = detail.json()
                        ranges = [
                            r
                            for a in doc.get("affected", [])
                            if normalize(str(a.get("package", {}).get("name", "")))
                            == normalize(dist.name)
                            for r in a.get("ranges", [])
                        ]
                        found[(vuln_id, dist.name)] = Vulnerability(
                            id=vuln_id,
                            package=dist.name,
                            version=dist.version,
                            summary=str(doc.get("summary") or doc.get("details", "")[:120]),
                            aliases=tuple(doc.get("aliases", [])),
                            fixed=tuple(_fixed_versions(ranges)),
                        )
    except httpx.HTTPError as exc:
        raise IntegrityError(f"OSV API {base}: {type(exc).__name__}: {exc}") from None
    except ValueError:
        raise IntegrityError(f"OSV API {base}: answer is not JSON") from None
    return sorted(found.values(), key=lambda v: (normalize(v.package), v.id))
