"""Print the prefix of the first packet logged to an NFLOG group (stdlib only, for lab tests).

nflog_listen.py GROUP TIMEOUT_S    prints READY once bound, then PREFIX=<prefix> or TIMEOUT
"""

from __future__ import annotations

import socket
import struct
import sys

NETLINK_NETFILTER = 12
ULOG_CONFIG = (4 << 8) | 1  # NFNL_SUBSYS_ULOG, NFULNL_MSG_CONFIG
ULOG_PACKET = (4 << 8) | 0
CFG_CMD, CFG_MODE = 1, 2
CMD_BIND = 1
PREFIX_ATTR = 10


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def _config(group: int, seq: int, attrs: bytes) -> bytes:
    body = struct.pack("=BB", socket.AF_UNSPEC, 0) + struct.pack("!H", group) + attrs
    return struct.pack("=IHHII", 16 + len(body), ULOG_CONFIG, 1 | 4, seq, 0) + body


def main() -> int:
    group, timeout = int(sys.argv[1]), float(sys.argv[2])
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.bind((0, 0))
    sock.send(_config(group, 1, _attr(CFG_CMD, bytes([CMD_BIND]))))
    sock.send(_config(group, 2, _attr(CFG_MODE, struct.pack("!IBB", 64, 2, 0))))
    print("READY", flush=True)
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            pos = 0
            while pos + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, pos)
                if kind == ULOG_PACKET:
                    attrs = data[pos + 20 : pos + length]
                    apos = 0
                    while apos + 4 <= len(attrs):
                        alen, akind = struct.unpack_from("=HH", attrs, apos)
                        if alen < 4:
                            break
                        if akind & 0x3FFF == PREFIX_ATTR:
                            prefix = attrs[apos + 4 : apos + alen].split(b"\0")[0].decode()
                            print(f"PREFIX={prefix}", flush=True)
                            return 0
                        apos += (alen + 3) & ~3
                pos += (length + 3) & ~3 if length else len(data)
    except TimeoutError:
        print("TIMEOUT", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
