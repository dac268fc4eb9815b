"""A tiny authoritative DNS server for lab namespaces (dnspython), answering from a JSON zone.

  dns_server.py ZONE.json PORT      zone: {"name.": {"A": [...], "AAAA": [...], "ttl": 300}}

The zone file is re-read on every query, so a test changes DNS by rewriting it.
Unknown names get NXDOMAIN. Prints READY when listening on 0.0.0.0 and ::.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


def answer(zone_file: Path, wire: bytes) -> bytes:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    zone = json.loads(zone_file.read_text())
    question = query.question[0]
    name = question.name.to_text().lower()
    entry = zone.get(name)
    if entry is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()
    rdtype = dns.rdatatype.to_text(question.rdtype)
    values = entry.get(rdtype, [])
    if values:
        response.answer.append(
            dns.rrset.from_text_list(name, int(entry.get("ttl", 300)), "IN", rdtype, values)
        )
    return response.to_wire()


def main() -> None:
    zone_file, port = Path(sys.argv[1]), int(sys.argv[2])
    socks = []
    for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):  # noqa: S104 (lab netns)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((addr, port))
        socks.append(sock)

    def loop(sock: socket.socket) -> None:
        while True:
            wire, peer = sock.recvfrom(4096)
            try:
                sock.sendto(answer(zone_file, wire), peer)
            except Exception as exc:  # a bad query must not kill the lab's DNS
                print(f"dns_server: {exc}", file=sys.stderr, flush=True)

    for sock in socks:
        threading.Thread(target=loop, args=(sock,), daemon=True).start()
    print("READY", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
