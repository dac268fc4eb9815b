"""`garrison verify`: rescan the baseline's paths and report the drift.

The baseline is trusted only after its digest and signature check out and it is from this host.
Fast mode reuses the baseline's hash for files whose size, mtime, ctime and inode are unchanged
(ctime cannot be set from user space, so a write that restores mtime still shows); --full rehashes
everything.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from garrison.config.schema import Config
from garrison.errors import IntegrityError
from garrison.integrity.baseline import load_trusted_manifest, protected_paths
from garrison.integrity.diff import Change, diff_lines, diff_records
from garrison.integrity.manifest import LoadedManifest
from garrison.integrity.records import FileRecord, sort_key
from garrison.integrity.scan import ProgressCallback, scan, scan_lines
from garrison.integrity.walk import ScanProblems, ScanSpec, use_processes
from garrison.model import Severity, to_jsonable

LAST_VERIFY_FILE = "last-verify.json"


@dataclass(frozen=True)
class DriftReport:
    """What changed since the baseline (changes sorted by severity, then path)."""

    manifest: str
    kind: str
    baseline_created: str
    checked_at: str
    mode: str  # "fast" or "full"
    entries_checked: int
    files_hashed: int
    changes: tuple[Change, ...]
    unreadable: tuple[str, ...] = ()
    vanished: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    duration_s: float = 0.0
    signed_by: str = ""

    @property
    def clean(self) -> bool:
        return not self.changes

    def worst(self) -> Severity | None:
        return max((c.severity for c in self.changes), default=None)

    def counts(self) -> dict[str, int]:
        return dict(Counter(c.kind for c in self.changes))

    def at_or_above(self, threshold: Severity) -> list[Change]:
        return [c for c in self.changes if c.severity >= threshold]


class _FastModeCursor:
    """Walks the baseline alongside the scan and hands over the baseline's record of a path."""

    def __init__(self, records: Iterator[FileRecord]) -> None:
        self._records = records
        self._current: FileRecord | None = next(self._records, None)

    def __call__(self, path: str) -> FileRecord | None:
        current = self._current
        if current is None or current.path != path:
            key = sort_key(path)
            while current is not None and sort_key(current.path) < key:
                current = next(self._records, None)
            if current is None or current.path != path:
                self._current = current
                return None
        # paths arrive in strictly increasing order, so a matched record is never asked again
        self._current = next(self._records, None)
        return current


class _Counting:
    """Counts records flowing from the scan into the diff."""

    def __init__(self) -> None:
        self.count = 0


def verify_manifest(
    loaded: LoadedManifest,
    *,
    full: bool = False,
    progress: ProgressCallback | None = None,
    root: Path = Path("/"),
    workers: int = 0,
    processes: bool = False,
    signed_by: str = "",
) -> DriftReport:
    """Rescan what a (trusted) manifest covers and diff it against the manifest."""
    started = time.monotonic()
    header = loaded.header
    spec = ScanSpec(
        paths=header.paths,
        excludes=header.excludes,
        algorithm=header.algorithm,
        workers=workers,
        one_filesystem=header.one_filesystem,
        root=root,
        processes=processes,
    )
    problems = ScanProblems()
    counter = _Counting()
    changes: list[Change]
    if full:
        # Workers format each fresh record's manifest line; identical lines skip parsing.
        def counted_lines() -> Iterator[tuple[str, str]]:
            for pair in scan_lines(spec, problems, progress=progress):
                counter.count += 1
                yield pair

        changes = list(diff_lines(loaded.record_lines(), counted_lines(), loaded.parse))
    else:
        # One parse of the baseline feeds both the fast-mode cursor and the diff; tee keeps only
        # the records between the two (the scan's in-flight window), not the whole manifest.
        for_diff, for_cursor = itertools.tee(loaded.records())
        cursor = _FastModeCursor(for_cursor)

        def counted() -> Iterator[FileRecord]:
            for record in scan(spec, problems, progress=progress, reuse=cursor):
                counter.count += 1
                yield record

        changes = list(diff_records(for_diff, counted()))
    changes.sort(key=lambda c: (-c.severity, sort_key(c.path), c.kind))
    return DriftReport(
        manifest=str(loaded.summary.path),
        kind=header.kind,
        baseline_created=header.created,
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
        mode="full" if full else "fast",
        entries_checked=counter.count,
        files_hashed=problems.files_hashed,
        changes=tuple(changes),
        unreadable=tuple(problems.unreadable),
        vanished=tuple(problems.vanished),
        duration_s=time.monotonic() - started,
        signed_by=signed_by,
    )


def verify_baseline(
    config: Config,
    *,
    full: bool = False,
    progress: ProgressCallback | None = None,
    manifest: Path | None = None,
    root: Path = Path("/"),
    record_result: bool = True,
) -> DriftReport:
    """Check the signed baseline and report drift since it was made (the guard calls this).

    Raises IntegrityError when the baseline is missing, unsigned, tampered or from another host.
    The summary is saved under state_dir for the audit's "last verify clean" check.
    """
    loaded, signature = load_trusted_manifest(config, manifest, root=root)
    report = verify_manifest(
        loaded,
        full=full,
        progress=progress,
        root=root,
        workers=config.integrity.workers,
        processes=use_processes(config.integrity.parallelism, config.integrity.workers),
        signed_by=signature.get("key", ""),
    )
    warnings = []
    configured = set(protected_paths(config))
    if configured != set(loaded.header.paths):
        warnings.append(
            "the configured paths differ from the baseline's; run `garrison baseline` to cover "
            + ", ".join(sorted(configured ^ set(loaded.header.paths)))
        )
    if record_result:
        try:
            save_last_verify(config, report)
        except IntegrityError as exc:  # the drift report matters more than its bookkeeping
            warnings.append(str(exc))
    if warnings:
        report = replace(report, warnings=tuple(warnings))
    return report


def last_verify_path(config: Config) -> Path:
    return Path(config.paths.state_dir) / LAST_VERIFY_FILE


def save_last_verify(config: Config, report: DriftReport) -> None:
    """Persist a summary of the last verify (counts, worst severity, first changes)."""
    worst = report.worst()
    summary = {
        "checked_at": report.checked_at,
        "manifest": report.manifest,
        "mode": report.mode,
        "clean": report.clean,
        "worst": worst.label if worst is not None else None,
        "counts": report.counts(),
        "first_changes": [to_jsonable(c) for c in report.changes[:20]],
    }
    target = last_verify_path(config)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise IntegrityError(f"{target}: cannot save the verify result ({exc.strerror})") from None


def report_to_json(report: DriftReport) -> str:
    data = to_jsonable(report)
    data["clean"] = report.clean
    worst = report.worst()
    data["worst"] = worst.label if worst is not None else None
    data["counts"] = report.counts()
    return json.dumps(data, indent=2) + "\n"
