"""Captures as bytes for reader tests, built on ``parsers.capture_write``.

Block-level pieces take raw timestamps (in the interface's units) and can be put
together in any order, so a test controls every header field: an EPB naming an
interface that was never described, a custom block, a second section in the other
byte order.
"""

from __future__ import annotations

import io

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
