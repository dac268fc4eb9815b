"""Firewall benchmark: added round-trip latency of garrison's ruleset, apply and refresh times.

Side by side in one run, in a network-namespace lab (never the host's own stack):
  none      no ruleset at all
  garrison  garrison's rendered ruleset with a 10,000-entry broker allow-list (named set)
  linear    an iptables-style chain: 1,000 `ip daddr X accept` rules before the match
A C UDP ping-pong (client pinned to CPU 0 in the "vps" namespace, echo server pinned to CPU 1
in the "broker" namespace) measures many thousands of round trips per configuration, in
interleaved rounds so drift hits all three alike. Prints p50/p99/p99.9 and the added p99.

Run (as root, from the repo): .venv/bin/python bench/firewall_bench.py [--rtts 20000]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.firewall.labconfig import to_toml  # noqa: E402
from tests.lab.netns import DNS_SERVER, Lab, network_lab  # noqa: E402

GARRISON = str(REPO / ".venv" / "bin" / "garrison")
PORT = 7000
#: SCHED_FIFO for the two ping-pong processes: the other work on this 2-CPU machine would
#: otherwise put milliseconds of scheduler noise into the p99 and hide microsecond effects.
RT = ["chrt", "-f", "50"]
#: Isolates the price of stateful filtering itself (conntrack), which garrison's ruleset pays
#: and the stateless linear chain does not.
CT_ONLY = """table inet ctonly {
  chain input {
    type filter hook input priority filter; policy accept;
    ct state established accept
  }
  chain output {
    type filter hook output priority filter; policy accept;
    ct state established accept
  }
}
"""

C_SOURCE = r"""
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static long long now_ns(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a; memset(&a, 0, sizeof a);
    a.sin_family = AF_INET; a.sin_port = htons(atoi(argv[2]));
    char buf[64] = "ping";
    if (strcmp(argv[1], "serve") == 0) {
        a.sin_addr.s_addr = INADDR_ANY;
        if (bind(s, (struct sockaddr *)&a, sizeof a)) { perror("bind"); return 1; }
        printf("READY\n"); fflush(stdout);
        for (;;) {
            struct sockaddr_in p; socklen_t pl = sizeof p;
            ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&p, &pl);
            if (n > 0) sendto(s, buf, n, 0, (struct sockaddr *)&p, pl);
        }
    }
    inet_pton(AF_INET, argv[3], &a.sin_addr);
    int n = atoi(argv[4]);
    struct timeval tv = {1, 0}; setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(s, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
    for (int i = 0; i < 2000; i++) { send(s, buf, 16, 0); recv(s, buf, sizeof buf, 0); }
    for (int i = 0; i < n; i++) {
        long long t0 = now_ns();
        send(s, buf, 16, 0);
        if (recv(s, buf, sizeof buf, 0) <= 0) { fprintf(stderr, "timeout\n"); return 2; }
        printf("%lld\n", now_ns() - t0);
    }
    return 0;
}
"""


def build_probe(tmp: Path) -> Path:
    src, exe = tmp / "pingpong.c", tmp / "pingpong"
    src.write_text(C_SOURCE)
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(src)], check=True)
    return exe


def dummy_v4(count: int) -> list[str]:
    base = int(ipaddress.IPv4Address("100.64.0.0"))
    return [f"{ipaddress.IPv4Address(base + i * 4)}/32" for i in range(count)]


def linear_ruleset(broker: str, count: int) -> str:
    dummies = [d.split("/")[0] for d in dummy_v4(count - 1)]
    out = [f"ip daddr {d} udp dport {PORT} accept" for d in dummies]
    inp = [f"ip saddr {d} udp sport {PORT} accept" for d in dummies]
    out.append(f"ip daddr {broker} udp dport {PORT} accept")
    inp.append(f"ip saddr {broker} udp sport {PORT} accept")
    body = "\n".join(
        [
            "table inet linear {",
            "  chain input {",
            "    type filter hook input priority filter; policy drop;",
            *(f"    {r}" for r in inp),
            "  }",
            "  chain output {",
            "    type filter hook output priority filter; policy drop;",
            *(f"    {r}" for r in out),
            "  }",
            "}",
        ]
    )
    return body + "\n"


def percentiles(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0

    return {
        "p50": pick(0.50),
        "p90": pick(0.90),
        "p99": pick(0.99),
        "p99.9": pick(0.999),
        "n": len(ordered),
    }


def run_rtts(lab: Lab, exe: Path, broker: str, count: int) -> list[int]:
    result = lab.run(
        "vps",
        [*RT, "taskset", "-c", "0", str(exe), "client", str(PORT), broker, str(count)],
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ping-pong failed: {result.stderr.strip()}")
    return [int(x) for x in result.stdout.split()]


def garrison_config(lab: Lab, tmp: Path, entries: int, hostnames: int) -> Path:
    broker = lab["broker"]
    cidrs = [*dummy_v4(entries - 1), f"{broker.v4}/32"]
    brokers = [{"name": "bench", "cidrs": cidrs, "ports": [PORT], "protocol": "udp"}]
    if hostnames:
        names = [f"api{i}.bench.lab" for i in range(hostnames)]
        brokers.append({"name": "dns-bench", "hostnames": names, "ports": [443]})
    data = {
        "paths": {"state_dir": str(tmp / "state"), "run_dir": str(tmp / "run")},
        "firewall": {
            "resolvers": [lab["dns"].v4],
            "persist_path": str(tmp / "nftables.conf"),
            "inbound": [{"name": "ssh", "port": 22}],
        },
        "brokers": brokers,
    }
    path = tmp / "garrison.toml"
    path.write_text(to_toml(data))
    return path


def timed(lab: Lab, argv: list[str]) -> float:
    start = time.perf_counter()
    result = lab.run("vps", argv, timeout=600)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{argv}: {result.stderr.strip()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rtts", type=int, default=5000, help="round trips per round")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--entries", type=int, default=10000, help="allow-list size")
    parser.add_argument("--linear", type=int, default=1000, help="rules in the linear chain")
    parser.add_argument("--hostnames", type=int, default=50, help="hostnames for refresh")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gfw-bench-") as tmpname:
        tmp = Path(tmpname)
        exe = build_probe(tmp)
        zone = tmp / "zone.json"
        zone.write_text(
            json.dumps(
                {
                    f"api{i}.bench.lab.": {
                        "A": [f"198.18.{i}.{j}" for j in range(1, 5)],
                        "AAAA": [f"2001:db8:{i:x}::{j}" for j in range(1, 3)],
                        "ttl": 300,
                    }
                    for i in range(args.hostnames)
                }
            )
        )
        with network_lab("gfwb", ["broker", "dns"]) as lab:
            broker = lab["broker"].v4
            lab.spawn("broker", [*RT, "taskset", "-c", "1", str(exe), "serve", str(PORT)])
            python = str(Path(GARRISON).parent / "python")
            lab.spawn("dns", [python, str(DNS_SERVER), str(zone), "53"])
            config = garrison_config(lab, tmp, args.entries, args.hostnames)

            # time to apply (garrison end to end) vs the bare nft load of the same script
            apply_s = []
            for _ in range(3):
                lab.run("vps", ["nft", "flush", "ruleset"], check=True)
                apply_s.append(timed(lab, [GARRISON, "-c", str(config), "firewall", "apply"]))
                timed(lab, [GARRISON, "-c", str(config), "firewall", "confirm"])
            script = tmp / "garrison.nft"
            plan = lab.run("vps", [GARRISON, "-c", str(config), "firewall", "plan", "--script"])
            script.write_text(plan.stdout)
            nft_s = [timed(lab, ["nft", "-f", str(script)]) for _ in range(3)]
            refresh_s = [
                timed(lab, [GARRISON, "-c", str(config), "firewall", "refresh"]) for _ in range(3)
            ]
            linear = tmp / "linear.nft"
            linear.write_text(linear_ruleset(broker, args.linear))

            ctonly = tmp / "ctonly.nft"
            ctonly.write_text(CT_ONLY)
            loads = {
                "none": ["nft", "flush", "ruleset"],
                "ct-only": ["sh", "-c", f"nft flush ruleset && nft -f {ctonly}"],
                "garrison": ["sh", "-c", f"nft flush ruleset && nft -f {script}"],
                "linear": ["sh", "-c", f"nft flush ruleset && nft -f {linear}"],
            }
            samples: dict[str, list[int]] = {name: [] for name in loads}
            round_p99: dict[str, list[float]] = {name: [] for name in loads}
            for _ in range(args.rounds):
                for name, argv in loads.items():
                    lab.run("vps", argv, check=True)
                    got = run_rtts(lab, exe, broker, args.rtts)
                    samples[name] += got
                    round_p99[name].append(percentiles(got)["p99"])
            lab.run("vps", ["nft", "flush", "ruleset"], check=True)

    stats = {name: percentiles(values) for name, values in samples.items()}
    for name, values in round_p99.items():
        # the median of per-round p99s: one round hit by another job's burst does not decide
        stats[name]["p99r"] = statistics.median(values)
    base = stats["none"]
    print(
        f"UDP round trip vps<->broker, {args.rounds} interleaved rounds x {args.rtts} per config, "
        "client on CPU 0, echo server on CPU 1"
    )
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average during the run: {' '.join(load)} (2 CPUs, shared with other work)")
    print(
        f"{'config':44} {'p50 us':>8} {'p90 us':>8} {'p99 us':>8} {'p99.9 us':>9} "
        f"{'+p50 us':>8} {'+p99 us':>8} {'p99r us':>8} {'+p99r us':>9}"
    )
    labels = {
        "none": "no ruleset",
        "ct-only": "conntrack only (1 rule per hook, accept)",
        "garrison": f"garrison ({args.entries:,}-entry allow-list set)",
        "linear": f"linear chain ({args.linear:,} rules, iptables-style)",
    }
    for name, s in stats.items():
        print(
            f"{labels[name]:44} {s['p50']:8.1f} {s['p90']:8.1f} {s['p99']:8.1f} "
            f"{s['p99.9']:9.1f} {s['p50'] - base['p50']:+8.1f} {s['p99'] - base['p99']:+8.1f} "
            f"{s['p99r']:8.1f} {s['p99r'] - base['p99r']:+9.1f}"
        )
    g_added = stats["garrison"]["p99r"] - base["p99r"]
    l_added = stats["linear"]["p99r"] - base["p99r"]
    print(
        f"added p99 (median of per-round p99s): garrison {g_added:+.1f} us (target <= 2 us), "
        f"linear chain {l_added:+.1f} us; p99r = median over rounds of each round's p99"
    )
    apply_med, nft_med = statistics.median(apply_s), statistics.median(nft_s)
    print(
        f"apply (garrison firewall apply, {args.entries:,} entries, end to end): "
        f"median {apply_med:.2f}s; bare `nft -f` of the same script: "
        f"median {nft_med:.2f}s; ratio {apply_med / nft_med:.1f}x"
    )
    print(
        f"refresh ({args.hostnames} hostnames, {args.hostnames * 6} addresses, one transaction): "
        f"median {statistics.median(refresh_s):.2f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
