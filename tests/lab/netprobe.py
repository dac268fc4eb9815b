"""Tiny echo server and prober for lab namespaces (stdlib only, runs as any user).

netprobe.py serve tcp|udp PORT         echo on 0.0.0.0 and :: ; prints READY
netprobe.py probe tcp|udp ADDR PORT T  exit 0 when the echo comes back within T seconds
"""

from __future__ import annotations

import socket
import sys
import threading


def serve(proto: str, port: int) -> None:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    socks = []
    for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):  # noqa: S104 (lab netns)
        sock = socket.socket(family, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((addr, port))
        if proto == "tcp":
            sock.listen(64)
        socks.append(sock)

    def tcp_loop(sock: socket.socket) -> None:
        while True:
            conn, _ = sock.accept()
            with conn:
                data = conn.recv(4096)
                if data:
                    conn.sendall(data)

    def udp_loop(sock: socket.socket) -> None:
        while True:
            data, peer = sock.recvfrom(4096)
            sock.sendto(data, peer)

    for sock in socks:
        target = tcp_loop if proto == "tcp" else udp_loop
        threading.Thread(target=target, args=(sock,), daemon=True).start()
    print("READY", flush=True)
    threading.Event().wait()


def probe(proto: str, addr: str, port: int, timeout: float) -> int:
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(family, kind) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((addr, port))
            sock.sendall(b"ping") if proto == "tcp" else sock.send(b"ping")
            return 0 if sock.recv(16) == b"ping" else 1
        except OSError:
            return 1


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(probe(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
