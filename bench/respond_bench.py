"""Incident-response benchmark: repeated incidents against local strategies and exchanges.

    sudo .venv/bin/python bench/respond_bench.py [--incidents 30] [--strategies 3] [--mb 512]

Measures, per incident (alert handed to run_playbook at t0):
  * all strategies frozen (real processes, cgroup freezer)       target p99 <= 50 ms
    anchor: `pkill -STOP -f PATTERN` (a shell responder's freeze) on the same processes
  * orders cancelled and keys locked + proven (Bybit v5 + Deribit, signature-checking local
    servers in a separate process)
  * notification delivered (apprise json:// to a local server)   target <= 2 s
  * steps 1-3 with a webhook that hangs: the playbook does not wait for it
and evidence hashing throughput: garrison's streaming SHA-256 vs `sha256sum` on the same files.
The fake exchanges/notify sink run in a child process so they do not share our GIL.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

BYBIT_SECRET = "bench-bybit-secret"
DERIBIT_SECRET = "bench-deribit-secret"


def serve_fakes() -> None:
    """Child mode: run the fake exchanges + a notify sink, print their URLs, wait for EOF."""
    import socket
    import threading

    from tests.respond.fakes.bybit import BybitKey, FakeBybit
    from tests.respond.fakes.chat import FakeChat
    from tests.respond.fakes.deribit import DeribitKey, FakeDeribit

    bybit = FakeBybit({"BENCHKEY": BybitKey(BYBIT_SECRET)}).__enter__()
    deribit = FakeDeribit({"BENCHCID": DeribitKey(1, DERIBIT_SECRET)}).__enter__()
    chat = FakeChat().__enter__()
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(64)  # accepts connections, never answers: a hung webhook
    held: list[socket.socket] = []
    threading.Thread(
        target=lambda: [held.append(hang.accept()[0]) for _ in iter(int, 1)], daemon=True
    ).start()
    print(
        json.dumps(
            {
                "bybit": bybit.url,
                "deribit": deribit.url,
                "chat": chat.port,
                "hang": hang.getsockname()[1],
            }
        ),
        flush=True,
    )
    sys.stdin.read()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def fmt(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1000:8.2f} ms   p99 {pct(values, 99) * 1000:8.2f} ms"


def start_bots(n: int, marker: str) -> list[subprocess.Popen[bytes]]:
    """n strategy stand-ins (each a process that wakes every 10 ms), one marker each."""
    code = "import time\nwhile True: time.sleep(0.01)"
    return [subprocess.Popen([sys.executable, "-c", code, f"{marker}-{i}"]) for i in range(n)]


def end_of(record: Any, t0: datetime) -> float:
    return (record.started - t0).total_seconds() + record.duration_s


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=30)
    parser.add_argument("--strategies", type=int, default=3)
    parser.add_argument("--mb", type=int, default=512, help="evidence data to hash")
    parser.add_argument("--serve-fakes", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fakes:
        serve_fakes()
        return 0
    # a SIGTERM (timeout, Ctrl-C in a pipeline) must still run the cleanup below: frozen
    # processes left behind cannot even be killed until thawed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if os.geteuid() != 0:
        print("run as root (the cgroup freezer needs it)", file=sys.stderr)
        return 2

    import httpx
    from tests.respond.conftest import secrets_from

    from garrison.config.loader import validate_config
    from garrison.model import ActionStatus
    from garrison.respond.context import ResponseContext
    from garrison.respond.custody import sha256_file
    from garrison.respond.freeze.cgroup import find_hierarchies
    from garrison.respond.freezing import thaw_all
    from garrison.respond.incident import Incident
    from garrison.respond.intake import manual_alert
    from garrison.respond.notify import Notifier
    from garrison.respond.playbook import execute_playbook

    fakes = subprocess.Popen(
        [sys.executable, __file__, "--serve-fakes"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert fakes.stdout is not None
    urls = json.loads(fakes.stdout.readline())
    tmp = Path(tempfile.mkdtemp(prefix="garrison-respond-bench-"))
    parent = f"garrison-bench-{uuid.uuid4().hex[:6]}"
    marker = f"garrison-bench-bot-{uuid.uuid4().hex[:8]}"
    bots = start_bots(args.strategies, marker)
    secrets = secrets_from({"by": f"BENCHKEY:{BYBIT_SECRET}", "dr": f"BENCHCID:{DERIBIT_SECRET}"})
    base = {
        "paths": {"state_dir": str(tmp / "state"), "run_dir": str(tmp / "run")},
        "strategies": [
            {"name": f"bot{i}", "match": f"{marker}-{i}$"} for i in range(args.strategies)
        ],
        "respond": {
            "cgroup_parent": parent,
            "steps": ["freeze", "broker", "notify"],
            "accounts": [
                {
                    "name": "bybit",
                    "exchange": "bybit",
                    "credential": "by",
                    "base_url": urls["bybit"],
                    "categories": ["linear"],
                },
                {
                    "name": "deribit",
                    "exchange": "deribit",
                    "credential": "dr",
                    "base_url": urls["deribit"],
                },
            ],
            "notify": {
                "urls": [f"json://127.0.0.1:{urls['chat']}/hook"],
                "max_per_hour": 10000,
                "dedup_window_s": 0,
            },
        },
    }
    config = validate_config(base, "bench")
    frozen, locked, notified, returned = [], [], [], []
    try:
        for n in range(-1, args.incidents):  # incident -1 warms imports and connections
            for exchange in ("bybit", "deribit"):
                httpx.post(f"{urls[exchange]}/__reset")
            notifier = Notifier(config.respond.notify, config.paths.state_dir)
            alert = manual_alert(f"bench.{n}", "benchmark incident")
            t0 = datetime.now(UTC)
            p0 = time.perf_counter()
            result = execute_playbook(
                alert, config, secrets=secrets, notifier=notifier, wait_notify_s=0
            )
            took = time.perf_counter() - p0
            notifier.flush(10)
            notifier.close()
            recs = result.records
            bad = [r for r in recs if r.status not in (ActionStatus.DONE,)]
            if bad:
                print("step not done:", bad[0].step, bad[0].target, bad[0].detail)
            thaw_all(ResponseContext(config, secrets), list(config.strategies), release=True)
            if n < 0:
                continue
            returned.append(took)
            frozen.append(max(end_of(r, t0) for r in recs if r.step in ("freeze", "kill_switch")))
            locked.append(max(end_of(r, t0) for r in recs if r.step.startswith("broker")))
            delivered = [
                r
                for r in Incident.open(config.paths.state_dir, result.incident_id).records()
                if r.step == "notify" and r.status == ActionStatus.DONE
            ]
            notified.append(max(end_of(r, t0) for r in delivered))
        # notify must not delay steps 1-3: same incidents with a webhook that never answers
        hang_cfg = validate_config(
            {
                **base,
                "respond": {
                    **base["respond"],
                    "notify": {
                        **base["respond"]["notify"],
                        "urls": [f"json://127.0.0.1:{urls['hang']}/hook"],
                        "timeout_s": 5,
                        "retries": 0,
                    },
                },
            },
            "bench",
        )
        hang_returned = []
        hang_notifier = Notifier(hang_cfg.respond.notify, hang_cfg.paths.state_dir)
        for n in range(min(10, args.incidents)):
            for exchange in ("bybit", "deribit"):
                httpx.post(f"{urls[exchange]}/__reset")
            p0 = time.perf_counter()
            execute_playbook(
                manual_alert(f"hang.{n}", "x"),
                hang_cfg,
                secrets=secrets,
                notifier=hang_notifier,
                wait_notify_s=0,
            )
            hang_returned.append(time.perf_counter() - p0)
            thaw_all(ResponseContext(hang_cfg, secrets), list(hang_cfg.strategies), release=True)
        # anchor: a shell responder freezing the same processes with pkill -STOP
        anchor = []
        for _ in range(args.incidents):
            p0 = time.perf_counter()
            subprocess.run(["pkill", "-STOP", "-f", marker], check=False)
            anchor.append(time.perf_counter() - p0)
            subprocess.run(["pkill", "-CONT", "-f", marker], check=False)
    finally:
        groups = [
            m / parent
            for m in (find_hierarchies().v1_freezer, find_hierarchies().v2)
            if m and (m / parent).is_dir()
        ]
        for group in groups:  # a frozen process cannot die: thaw before killing
            for child in group.iterdir():
                if (child / "freezer.state").exists():
                    (child / "freezer.state").write_text("THAWED")
                elif (child / "cgroup.freeze").exists():
                    (child / "cgroup.freeze").write_text("0")
        for bot in bots:
            bot.send_signal(signal.SIGKILL)
            bot.wait()
        fakes.stdin.close()  # type: ignore[union-attr]
        fakes.wait(timeout=10)
        groups = [
            m / parent
            for m in (find_hierarchies().v1_freezer, find_hierarchies().v2)
            if m and (m / parent).is_dir()
        ]  # again: a step thread may have made one late
        for group in groups:
            for child in group.iterdir():
                if child.is_dir():
                    child.rmdir()
            group.rmdir()

    print(
        f"respond bench: {args.incidents} incidents (+1 warm-up), {args.strategies} strategies "
        f"(one process each, cgroup freezer), Bybit v5 + Deribit cancel+lock+proof, "
        f"apprise json:// notify; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  alert -> all strategies frozen      {fmt(frozen)}   (target p99 <= 50 ms)")
    print(
        f"  anchor pkill -STOP -f               {fmt(anchor)}   "
        f"anchor/garrison p50 {pct(anchor, 50) / pct(frozen, 50):.2f}x"
    )
    print(f"  alert -> orders cancelled + locked  {fmt(locked)}")
    print(f"  alert -> notification delivered     {fmt(notified)}   (target <= 2 s)")
    print(f"  playbook returns (webhook OK)       {fmt(returned)}")
    print(
        f"  playbook returns (webhook HANGS)    {fmt(hang_returned)}   "
        "(same: delivery never delays steps 1-3)"
    )

    # evidence hashing throughput vs sha256sum on the same files
    data_dir = tmp / "hash"
    data_dir.mkdir()
    files = []
    chunk = os.urandom(1024 * 1024)
    per_file = max(1, args.mb // 8)
    for i in range(8):
        path = data_dir / f"artefact{i}.bin"
        with path.open("wb") as handle:
            for _ in range(per_file):
                handle.write(chunk)
        files.append(path)
    total_mb = per_file * 8
    subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)  # warm
    g_times, s_times = [], []
    for _ in range(3):
        p0 = time.perf_counter()
        for path in files:
            sha256_file(path)
        g_times.append(time.perf_counter() - p0)
        p0 = time.perf_counter()
        subprocess.run(["sha256sum", *map(str, files)], stdout=subprocess.DEVNULL, check=True)
        s_times.append(time.perf_counter() - p0)
    g, s = statistics.median(g_times), statistics.median(s_times)
    print(f"evidence hashing, {total_mb} MiB in 8 files (warm cache, median of 3):")
    print(f"  garrison sha256_file   {total_mb / g:8.0f} MiB/s  ({g:.2f} s)")
    print(
        f"  sha256sum              {total_mb / s:8.0f} MiB/s  ({s:.2f} s)   "
        f"ratio garrison/sha256sum {s / g:.2f}x"
    )
    shutil.rmtree(tmp, ignore_errors=True)  # incidents, evidence, hashing files
    return 0


if __name__ == "__main__":
    sys.exit(main())
