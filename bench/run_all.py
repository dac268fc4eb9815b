"""Run every side-by-side benchmark in bench/ one after the other (`make bench`).

Each benchmark prints garrison's figures next to its anchor's (Lynis, AIDE, no ruleset and a
linear chain, aide --check, sha256sum) and the ratio. They run one at a time so that they do
not load the 2 CPUs for each other.

    .venv/bin/python bench/run_all.py [--only audit,firewall] [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
#: name -> (arguments for a normal run, arguments for --quick)
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "audit": ([], ["--garrison-runs", "3", "--lynis-runs", "1"]),
    "integrity": ([], ["--no-cold"]),
    "firewall": ([], ["--rounds", "3", "--rtts", "2000"]),
    "guard": ([], ["--writes", "300", "--idle", "10", "--burst-seconds", "2"]),
    "respond": ([], ["--incidents", "10", "--mb", "128"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated subset of " + ",".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    failed = []
    for name in names:
        normal, quick = BENCHMARKS[name]
        argv = [sys.executable, str(HERE / f"{name}_bench.py"), *(quick if args.quick else normal)]
        print(f"\n=== {name}: {' '.join(argv[1:])}", flush=True)
        start = time.monotonic()
        code = subprocess.call(argv)
        print(f"=== {name}: exit {code} after {time.monotonic() - start:.0f} s", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
