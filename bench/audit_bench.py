"""`garrison audit` vs `lynis audit system --quick`, side by side on this host.

Runs the installed garrison CLI (zero config, report to /dev/null) a few times and Lynis once or
twice in the same run, then prints both wall times, the ratio and which go-live checklist boxes
each one covers. Lynis' log and report go to a temp dir, not /var/log.

    .venv/bin/python bench/audit_bench.py [--garrison-runs 5] [--lynis-runs 1]

Target (ARCHITECTURE.md): garrison takes at most 1/20 of Lynis' wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 20.0

#: What `lynis audit system` checks that touches each checklist box (Lynis 3.0.x test ids),
#: and how much of the box that is. Lynis has no notion of broker allow-lists, secret
#: rotation, per-strategy isolation, backups, DR or pentest cadence.
LYNIS_COVERAGE: dict[int, str] = {
    1: "partial: KRNL-5830 reboot needed, PKGS-7392 pending security updates; "
    "no kernel age, no live-patch detection",
    2: "partial: FIRE-4512/4513 a firewall is loaded; no default-deny outbound or allow-list",
    3: "partial: SSH-7408 sshd options (PermitRootLogin...); no authorized_keys strength, no MFA",
    5: "minimal: CONT-8104 docker info; no per-container capability review",
    6: "partial: FINT-4350 an FIM tool is installed; not linked to real-time alerts",
}


def garrison_binary() -> str:
    beside = Path(sys.executable).with_name("garrison")
    if beside.exists():
        return str(beside)
    found = shutil.which("garrison")
    if found is None:
        sys.exit("garrison CLI not found (make setup, or run with .venv/bin/python)")
    return found


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False
    )
    return time.perf_counter() - start, proc.returncode


def garrison_boxes(binary: str, env: dict[str, str]) -> dict[int, str]:
    """Boxes garrison's checks produced a verdict for on this host (not only SKIP)."""
    out = subprocess.run(
        [binary, "audit", "-f", "json"], capture_output=True, text=True, env=env, check=False
    ).stdout
    findings = json.loads(out)["findings"]
    boxes: dict[int, set[str]] = {}
    for finding in findings:
        boxes.setdefault(int(finding["item"]), set()).add(finding["status"])
    return {
        item: "/".join(sorted(states))
        for item, states in sorted(boxes.items())
        if states - {"skip"}
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--garrison-runs", type=int, default=5)
    parser.add_argument("--lynis-runs", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("lynis") is None:
        sys.exit("lynis not installed: apt-get install lynis")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARRISON")}
    binary = garrison_binary()

    garrison_times = []
    codes = set()
    timed([binary, "audit"], env)  # warm the page cache for the imports, as Lynis' is warm too
    for _ in range(args.garrison_runs):
        seconds, code = timed([binary, "audit"], env)
        garrison_times.append(seconds)
        codes.add(code)
    lynis_times = []
    with tempfile.TemporaryDirectory(prefix="garrison-bench-lynis.") as tmp:
        for run in range(args.lynis_runs):
            seconds, _ = timed(
                [
                    "lynis",
                    "audit",
                    "system",
                    "--quick",
                    "--no-colors",
                    "--logfile",
                    f"{tmp}/lynis-{run}.log",
                    "--report-file",
                    f"{tmp}/lynis-{run}.dat",
                ],
                env,
            )
            lynis_times.append(seconds)

    g_med = statistics.median(garrison_times)
    l_med = statistics.median(lynis_times)
    ratio = l_med / g_med
    print(f"host: {os.uname().nodename}, {os.cpu_count()} CPUs, kernel {os.uname().release}")
    print(
        f"garrison audit      : median {g_med:6.2f} s  (runs: "
        f"{', '.join(f'{t:.2f}' for t in garrison_times)}; exit codes {sorted(codes)})"
    )
    print(
        f"lynis --quick       : median {l_med:6.2f} s  (runs: "
        f"{', '.join(f'{t:.2f}' for t in lynis_times)})"
    )
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"ratio lynis/garrison: {ratio:6.1f}x  (target >= {TARGET_RATIO:.0f}x: {verdict})")
    print("\nchecklist boxes covered")
    covered = garrison_boxes(binary, env)
    for item in range(1, 10):
        ours = f"yes ({covered[item]})" if item in covered else "no"
        print(f"  box {item}: garrison {ours:28} lynis {LYNIS_COVERAGE.get(item, 'no')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
