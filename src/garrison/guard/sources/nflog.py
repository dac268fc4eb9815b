"""Network source: the firewall's NFLOG group over NETLINK_NETFILTER (no per-packet polling).

The firewall logs dropped outbound packets to group `firewall.nflog_group`; this source binds
that group with copy_range 64 (IP + transport header) and qthresh 1, so each drop arrives in
milliseconds. Only dropped packets reach user space; allowed traffic never does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import struct
from datetime import UTC, datetime
from typing import Any

from garrison.guard.sources.base import EmitEvent, Source, SourceStatus, SourceUnavailable
from garrison.model import Event

NETLINK_NETFILTER = 12
NFNL_SUBSYS_ULOG = 4
NFULNL_MSG_PACKET = 0
NFULNL_MSG_CONFIG = 1
NFULA_CFG_CMD = 1
NFULA_CFG_MODE = 2
NFULA_CFG_TIMEOUT = 4
NFULA_CFG_QTHRESH = 5
NFULNL_CFG_CMD_BIND = 1
NFULNL_CFG_CMD_UNBIND = 2
NFULNL_COPY_PACKET = 2
NFULA_PACKET_HDR = 1
NFULA_PAYLOAD = 9
NFULA_PREFIX = 10
NFULA_UID = 11
NFULA_GID = 14
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
NLMSG_HDR = struct.Struct("=IHHII")
NFGEN = struct.Struct("=BBH")  # family, version, res_id (big endian, packed by hand)
PROTOS = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6", 132: "sctp"}
COPY_RANGE = 64


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def config_message(group: int, seq: int, attrs: bytes, family: int = 0) -> bytes:
    body = struct.pack("=BB", family, 0) + struct.pack("!H", group) + attrs
    msg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG
    return (
        NLMSG_HDR.pack(NLMSG_HDR.size + len(body), msg_type, NLM_F_REQUEST | NLM_F_ACK, seq, 0)
        + body
    )


def parse_attrs(data: bytes) -> dict[int, bytes]:
    attrs: dict[int, bytes] = {}
    pos = 0
    while pos + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, pos)
        if length < 4:
            break
        attrs[kind & 0x3FFF] = data[pos + 4 : pos + length]
        pos += (length + 3) & ~3
    return attrs


def parse_payload(payload: bytes) -> dict[str, Any]:
    """dst, src, proto and dport from the copied IPv4/IPv6 header."""
    if not payload:
        return {}
    version = payload[0] >> 4
    out: dict[str, Any] = {}
    if version == 4 and len(payload) >= 20:
        ihl = (payload[0] & 0x0F) * 4
        proto = payload[9]
        out["src"] = str(ipaddress.IPv4Address(payload[12:16]))
        out["dst"] = str(ipaddress.IPv4Address(payload[16:20]))
        transport = payload[ihl:]
    elif version == 6 and len(payload) >= 40:
        proto = payload[6]
        out["src"] = str(ipaddress.IPv6Address(payload[8:24]))
        out["dst"] = str(ipaddress.IPv6Address(payload[24:40]))
        transport = payload[40:]
    else:
        return {}
    out["proto"] = PROTOS.get(proto, str(proto))
    if proto in (6, 17, 132) and len(transport) >= 4:
        out["sport"], out["dport"] = struct.unpack_from("!HH", transport, 0)
    return out


class NflogSource(Source):
    name = "network"

    def __init__(self, group: int) -> None:
        self.group = group
        self.sock: socket.socket | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.emit: EmitEvent | None = None
        self.packets = 0
        self.errors = 0

    def start(self, loop: asyncio.AbstractEventLoop, emit: EmitEvent) -> None:
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
            sock.bind((0, 0))
        except OSError as exc:
            raise SourceUnavailable(f"NETLINK_NETFILTER socket: {exc.strerror}") from None
        self.sock = sock
        try:
            self._configure()
        except OSError as exc:
            sock.close()
            self.sock = None
            raise SourceUnavailable(
                f"NFLOG group {self.group} bind: {exc.strerror or exc}"
            ) from None
        sock.setblocking(False)
        self.loop, self.emit = loop, emit
        loop.add_reader(sock.fileno(), self._readable)

    def _request(self, seq: int, attrs: bytes) -> None:
        assert self.sock is not None
        self.sock.send(config_message(self.group, seq, attrs))
        reply = self.sock.recv(65536)
        _len, kind, _flags, _seq, _pid = NLMSG_HDR.unpack_from(reply, 0)
        if kind == NLMSG_ERROR:
            (code,) = struct.unpack_from("=i", reply, NLMSG_HDR.size)
            if code < 0:
                raise OSError(-code, os.strerror(-code))

    def _configure(self) -> None:
        self._request(1, _attr(NFULA_CFG_CMD, bytes([NFULNL_CFG_CMD_BIND])))
        self._request(
            2, _attr(NFULA_CFG_MODE, struct.pack("!IBB", COPY_RANGE, NFULNL_COPY_PACKET, 0))
        )
        self._request(3, _attr(NFULA_CFG_QTHRESH, struct.pack("!I", 1)))
        self._request(4, _attr(NFULA_CFG_TIMEOUT, struct.pack("!I", 0)))

    def stop(self) -> None:
        if self.sock is None:
            return
        if self.loop is not None:
            self.loop.remove_reader(self.sock.fileno())
        try:
            self.sock.setblocking(True)
            self.sock.settimeout(1)
            self._request(9, _attr(NFULA_CFG_CMD, bytes([NFULNL_CFG_CMD_UNBIND])))
        except OSError:
            pass  # the socket closing unbinds the group anyway
        self.sock.close()
        self.sock = None

    def status(self) -> SourceStatus:
        return SourceStatus(
            name=self.name,
            active=self.sock is not None,
            mechanism=f"NFLOG group {self.group} (qthresh 1)",
            detail={"packets": str(self.packets)},
        )

    def _readable(self) -> None:
        while self.sock is not None:
            try:
                data = self.sock.recv(262144)
            except BlockingIOError:
                return
            except OSError:
                self.errors += 1  # ENOBUFS: the socket buffer overflowed
                if self.emit is not None:
                    from garrison.guard.daemon import overflow_event

                    self.emit(overflow_event("NFLOG socket buffer overflow (ENOBUFS)"))
                return
            self.parse(data)

    def parse(self, data: bytes) -> None:
        pos = 0
        while pos + NLMSG_HDR.size <= len(data):
            length, kind, _flags, _seq, _pid = NLMSG_HDR.unpack_from(data, pos)
            if length < NLMSG_HDR.size:
                return
            if kind == (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET:
                body = data[pos + NLMSG_HDR.size + NFGEN.size : pos + length]
                self._packet(parse_attrs(body))
            pos += (length + 3) & ~3

    def _packet(self, attrs: dict[int, bytes]) -> None:
        self.packets += 1
        detail = parse_payload(attrs.get(NFULA_PAYLOAD, b""))
        prefix = attrs.get(NFULA_PREFIX, b"").rstrip(b"\0").decode("utf-8", "replace")
        if prefix:
            detail["prefix"] = prefix
        uid = struct.unpack("!I", attrs[NFULA_UID])[0] if NFULA_UID in attrs else None
        if NFULA_GID in attrs:
            detail["gid"] = struct.unpack("!I", attrs[NFULA_GID])[0]
        detail["group"] = self.group
        event = Event(
            source="nflog", kind="connect", time=datetime.now(UTC), uid=uid, detail=detail
        )
        if self.emit is not None:
            self.emit(event)
