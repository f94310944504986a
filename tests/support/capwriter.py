"""Captures as bytes for reader tests, built on ``parsers.capture_write``.

Block-level pieces take raw timestamps (in the interface's units) and can be put
together in any order, so a test controls every header field: an EPB naming an
interface that was never described, a custom block, a second section in the other
byte order.
"""

from __future__ import annotations

import io
import struct

from parsers import capture_write as cw


def pcap_bytes(
    packets: list[tuple[int, bytes]], linktype: int = 1, order: str = "<", nano: bool = False
) -> bytes:
    """Classic pcap; packets are (timestamp ns, frame)."""
    buf = io.BytesIO()
    with cw.PcapWriter(buf, linktype, nano=nano, order=order) as out:
        out.write_all(packets)
    return buf.getvalue()


def shb(order: str = "<") -> bytes:
    return cw.shb_block(order)


def idb(linktype: int, tsresol: int | None = None, order: str = "<") -> bytes:
    opts = [(cw.IF_TSRESOL, bytes((tsresol,)))] if tsresol is not None else []
    return cw.idb_block(linktype, opts=opts, order=order)


def epb(ifid: int, raw_ts: int, data: bytes, order: str = "<") -> bytes:
    return cw.epb_block(ifid, raw_ts, data, order=order)


def spb(data: bytes, order: str = "<") -> bytes:
    return cw.spb_block(data, order=order)


def custom_block(order: str = "<") -> bytes:
    """A block type no reader knows (0xBAD): readers must skip it."""
    return cw.block(0x00000BAD, b"tapaudit", order)


# The old pcap variants Wireshark reads (wiretap/libpcap.c): magic and record header length.
PCAP_MODIFIED_MAGIC = 0xA1B2CD34
PCAP_VARIANTS = {
    "rh6_1": (cw.PCAP_MAGIC_US, 24),  # ss990417, behind the standard magic
    "nokia": (cw.PCAP_MAGIC_US, 20),
    "modified": (PCAP_MODIFIED_MAGIC, 24),  # ss991029
    "suse6_3": (PCAP_MODIFIED_MAGIC, 28),  # ss990915
}
NOKIA_STUFF = 0x9FBFB601  # of the form 0xXfbfYZ0W that wiretap expects


def variant_pcap_bytes(packets: list[tuple[int, bytes]], variant: str, order: str = "<") -> bytes:
    """A microsecond pcap in an old variant: each record header carries what its libpcap added
    (interface index 2, protocol 0x0800, packet type 0 = to us, padding; Nokia's 4 bytes)."""
    magic, hlen = PCAP_VARIANTS[variant]
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, cw.SNAPLEN, 1)]
    for ts, frame in packets:
        sec, usec = divmod(ts // 1000, 1_000_000)
        out.append(struct.pack(order + "IIII", sec, usec, len(frame), len(frame)))
        if hlen == 20:
            out.append(struct.pack(order + "I", NOKIA_STUFF))
        else:
            out.append(struct.pack(order + "IHBB", 2, 0x0800, 0, 0) + b"\0" * (hlen - 24))
        out.append(frame)
    return b"".join(out)
