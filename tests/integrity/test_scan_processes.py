"""Big scans in worker processes: the same manifest as one process, whatever the workers meet.

Worker processes are forked, so a monkeypatched hash_file is what they run too.
"""

from __future__ import annotations

import faulthandler
import gzip
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from garrison.integrity import chunk_work, scan_processes

from .conftest import write_config

BIG = 5 << 20  # at least hashing.BIG_FILE_BYTES: mapped in a worker


@pytest.fixture
def many(tmp_path: Path) -> Path:
    """More entries than PROCESS_THRESHOLD, with a big file in the middle of the walk."""
    tree = tmp_path / "many"
    for d in range(50):
        sub = tree / f"d{d:02}"
        sub.mkdir(parents=True)
        for f in range(100):
            (sub / f"f{f:03}").write_text(f"{d}-{f}\n")
    (tree / "d25" / "big").write_bytes(os.urandom(BIG))
    odd = tree / "d30"  # every kind of entry, and names the manifest must escape
    (odd / "link").symlink_to("f001")
    (odd / "dangling").symlink_to("/nowhere/at\tall")
    os.mkfifo(odd / "fifo")
    (odd / "empty").write_bytes(b"")
    (odd / "suid").write_text("#!/bin/sh\n")
    (odd / "suid").chmod(0o4755)
    (odd / "tab\tand\nnewline").write_text("x")
    (odd / "percent%20").write_text("y")
    (Path(os.fsdecode(bytes(odd) + b"/latin1-\xe9"))).write_text("z")
    if os.geteuid() == 0 and shutil.which("setcap"):
        (odd / "capped").write_text("cap")
        subprocess.run(["setcap", "cap_net_raw+ep", str(odd / "capped")], check=True)
    assert scan_processes.PROCESS_THRESHOLD < 50 * 100
    return tree


def _records(state: Path) -> list[str]:
    text = gzip.decompress((state / "baseline.gz").read_bytes()).decode()
    return [line for line in text.splitlines() if not line.startswith("#")]


def _baseline(
    cli: Callable[..., object], tmp_path: Path, key: Path, tree: Path, mode: str
) -> tuple[object, Path]:
    state = tmp_path / f"state-{mode}"
    config = write_config(
        tmp_path / f"{mode}.toml", state, key, paths=[str(tree)], parallelism=mode, workers=2
    )
    return cli("baseline", "-c", str(config), "--sign-with", str(key)), state


def test_a_worker_killed_by_sigbus_costs_nothing_but_time(
    cli, tmp_path: Path, signing_key: Path, many: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big file truncated under a worker's mapping kills it with SIGBUS: the chunks it had
    not answered are hashed again in the scanning process, by reading."""
    reference, ref_state = _baseline(cli, tmp_path, signing_key, many, "thread")
    assert reference.code == 0, reference.err  # type: ignore[attr-defined]
    real_hash = chunk_work.hash_file
    marker = tmp_path / "worker-died"
    big = str(many / "d25" / "big")

    def truncated_under_mapping(path: str, size: int, algorithm: str, mapped: bool = False) -> str:
        if mapped and path == big:
            marker.write_text(str(os.getpid()))
            faulthandler.disable()  # pytest's would print the worker's stack on the way out
            os.kill(os.getpid(), signal.SIGBUS)  # what touching a truncated mapping does
        return real_hash(path, size, algorithm, mapped=mapped)

    monkeypatch.setattr(chunk_work, "hash_file", truncated_under_mapping)
    result, state = _baseline(cli, tmp_path, signing_key, many, "process")
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker died, not us
    assert _records(state) == _records(ref_state)


def test_workers_write_exactly_what_one_process_writes(
    cli, tmp_path: Path, signing_key: Path, many: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers format lines straight from lstat; the single-process scan builds records first.
    Both must write the same bytes for every kind of entry."""
    started: list[int] = []
    real_pool = scan_processes.process_pool

    def spy(spec):  # type: ignore[no-untyped-def]
        started.append(spec.worker_count())
        return real_pool(spec)

    monkeypatch.setattr(scan_processes, "process_pool", spy)
    threads, thread_state = _baseline(cli, tmp_path, signing_key, many, "thread")
    assert threads.code == 0, threads.err  # type: ignore[attr-defined]
    assert started == []
    processes, process_state = _baseline(cli, tmp_path, signing_key, many, "process")
    assert processes.code == 0, processes.err  # type: ignore[attr-defined]
    assert started == [2]
    records = _records(process_state)
    assert records == _records(thread_state)
    by_name = {line.split("\t")[0].rsplit("/", 1)[-1]: line.split("\t") for line in records}
    assert by_name["link"][1] == "l" and by_name["link"][12] == "f001"
    assert by_name["fifo"][1] == "p" and by_name["fifo"][13] == "-"
    assert by_name["suid"][2] == "4755"
    assert "tab%09and%0Anewline" in by_name and "latin1-%E9" in by_name
    if "capped" in by_name:
        assert by_name["capped"][11].startswith("01000002")


def test_files_vanishing_or_unreadable_in_a_worker_are_reported_not_lost(
    cli, tmp_path: Path, signing_key: Path, many: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_hash = chunk_work.hash_file
    gone = str(many / "d10" / "f050")
    locked = str(many / "d40" / "f001")

    def flaky(path: str, size: int, algorithm: str, mapped: bool = False) -> str:
        if path == gone:
            os.unlink(path)  # deleted between the walk and the read
            raise FileNotFoundError(2, "No such file or directory")
        if path == locked:
            raise PermissionError(13, "Permission denied")
        return real_hash(path, size, algorithm, mapped=mapped)

    reference, ref_state = _baseline(cli, tmp_path, signing_key, many, "thread")
    assert reference.code == 0, reference.err  # type: ignore[attr-defined]
    monkeypatch.setattr(chunk_work, "hash_file", flaky)
    started: list[int] = []
    real_pool = scan_processes.process_pool

    def spy(spec):  # type: ignore[no-untyped-def]
        started.append(spec.worker_count())
        return real_pool(spec)

    monkeypatch.setattr(scan_processes, "process_pool", spy)
    result, state = _baseline(cli, tmp_path, signing_key, many, "process")
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert started == [2]
    assert "1 entries vanished during the scan" in result.err  # type: ignore[attr-defined]
    assert f"{locked}: Permission denied" in result.err  # type: ignore[attr-defined]
    records = {line.split("\t")[0]: line.split("\t") for line in _records(state)}
    assert gone not in records
    assert records[locked][-1] == "?"  # recorded, content unknown
    assert len(records) == len(_records(ref_state)) - 1  # all but the one that vanished


def test_auto_uses_processes_only_with_more_than_one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    from garrison.integrity.walk import use_processes

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    assert use_processes("auto") is True
    assert use_processes("auto", workers=1) is False  # one worker: no point in a process
    assert use_processes("thread") is False
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    assert use_processes("auto") is False
    assert use_processes("process") is True  # asked for explicitly


def test_no_worker_processes_here_means_threads(
    cli, tmp_path: Path, signing_key: Path, many: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where processes cannot be started (no /dev/shm for their locks, a task limit), the scan
    goes on in threads and records the same."""
    reference, ref_state = _baseline(cli, tmp_path, signing_key, many, "thread")
    assert reference.code == 0, reference.err  # type: ignore[attr-defined]

    def no_processes(spec):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(scan_processes, "process_pool", no_processes)
    result, state = _baseline(cli, tmp_path, signing_key, many, "process")
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert _records(state) == _records(ref_state)


def test_workers_that_cannot_be_forked_mean_threads(
    cli, tmp_path: Path, signing_key: Path, many: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fork() failing at the first submit (EAGAIN: a task limit) is not an internal error."""
    reference, ref_state = _baseline(cli, tmp_path, signing_key, many, "thread")
    assert reference.code == 0, reference.err  # type: ignore[attr-defined]

    class NoFork:
        def submit(self, *args: object) -> None:
            raise BlockingIOError(11, "Resource temporarily unavailable")

        def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
            pass

    monkeypatch.setattr(scan_processes, "process_pool", lambda spec: NoFork())
    result, state = _baseline(cli, tmp_path, signing_key, many, "process")
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert _records(state) == _records(ref_state)
