"""Test helpers that write captures byte by byte, so reader tests control every header field."""

from __future__ import annotations

import struct


def pcap_bytes(
    packets: list[tuple[int, bytes]], linktype: int = 1, order: str = "<", nano: bool = False
) -> bytes:
    """Classic pcap; packets are (timestamp ns, frame)."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)]
    for ts, data in packets:
        sec, rem = divmod(ts, 1_000_000_000)
        frac = rem if nano else rem // 1000
        out.append(struct.pack(order + "IIII", sec, frac, len(data), len(data)) + data)
    return b"".join(out)


def _block(btype: int, body: bytes, order: str = "<") -> bytes:
    pad = (-len(body)) % 4
    n = 12 + len(body) + pad
    return struct.pack(order + "II", btype, n) + body + b"\0" * pad + struct.pack(order + "I", n)


def shb(order: str = "<") -> bytes:
    return _block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order)


def idb(linktype: int, tsresol: int | None = None, order: str = "<") -> bytes:
    body = struct.pack(order + "HHI", linktype, 0, 262144)
    if tsresol is not None:
        body += (
            struct.pack(order + "HH", 9, 1) + bytes((tsresol,)) + b"\0\0\0" + struct.pack(order + "HH", 0, 0)
        )
    return _block(1, body, order)


def epb(ifid: int, raw_ts: int, data: bytes, order: str = "<") -> bytes:
    body = struct.pack(order + "IIIII", ifid, raw_ts >> 32, raw_ts & 0xFFFFFFFF, len(data), len(data))
    body += data + b"\0" * ((-len(data)) % 4)
    return _block(6, body, order)


def spb(data: bytes, order: str = "<") -> bytes:
    return _block(3, struct.pack(order + "I", len(data)) + data + b"\0" * ((-len(data)) % 4), order)


def custom_block(order: str = "<") -> bytes:
    return _block(0x00000BAD, b"tapaudit", order)
