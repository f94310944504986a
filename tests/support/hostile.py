"""Hostile captures, built by code with their ground truth (issue 17): timestamps out of range,
interface options cut short, interface and secrets bombs, compression bombs, broken compressed
streams, and deterministic mutations of real captures.

Every builder returns bytes (or writes a file) whose packets the test knows from how they were
built; the frames are Ethernet/IPv4/UDP datagrams numbered by their IP id, so a reader's output
can be checked frame by frame without the reader's own help.
"""

from __future__ import annotations

import gzip
import json
import random
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from parsers import capture_write as cw

BIG = (1 << 24) - 64  # just under the reader's largest record (parsers.capture.MAX_RECORD)
IF_TSOFFSET = 14  # pcapng if_tsoffset option: seconds added to every timestamp (signed 64 bits)


def frame(i: int, payload: bytes = b"") -> bytes:
    """Ethernet/IPv4/UDP 192.168.1.10:5000 -> 8.8.8.8:53, IP id ``i``: packet ``i`` of a test."""
    data = payload or b"packet %d" % i
    udp = struct.pack("!HHHH", 5000, 53, 8 + len(data), 0) + data
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
        socket.inet_aton("192.168.1.10"), socket.inet_aton("8.8.8.8"),
    )  # fmt: skip
    return bytes.fromhex("ffffffffffff0200000000010800") + ip + udp


def write_flow(path: Path, packets: int, payload: bytes, t0: int) -> None:
    """A nanosecond pcap of ``packets`` datagrams of one flow, 1 ms apart from ``t0``, packet i
    carrying ``payload`` and its number."""
    with path.open("wb") as fh, cw.PcapWriter(fh, 1, nano=True) as out:
        for i in range(packets):
            out.write(t0 + i * 1_000_000, frame(i, payload + b"%05d" % i))


def finding_on_all_flows(store: Any, cid: str, fid: str) -> None:
    """A finding ``fid`` on every flow of the capture (the columns evidence reads)."""
    sql = "SELECT max(ingest_id) AS i FROM {db}.captures WHERE capture_id = %(c)s"
    ingest = int(store.query(sql, {"c": cid})[0]["i"])
    sql = "SELECT flow_id FROM {db}.flows WHERE capture_id = %(c)s"
    ids = [int(r["flow_id"]) for r in store.query(sql, {"c": cid})]
    head = (
        cid,
        ingest,
        time.time_ns(),
        fid,
        "02:00:00:00:00:01",
        "TEST-HOSTILE",
        "test:x",
        "test",
        "1",
        "",
        "",
        "high",
        [],
    )
    store.insert("findings", [(*head, "the packets", "", json.dumps({"subject": "x"}), ids, 0, 0, [], 0)])


def ip_id(data: bytes | memoryview) -> int:
    """The number ``frame`` gave a frame."""
    return int.from_bytes(bytes(data[18:20]), "big")


def idb(tsresol: int = 6, tsoffset: int | None = None) -> bytes:
    opts = [(cw.IF_TSRESOL, bytes((tsresol,)))]
    if tsoffset is not None:
        opts.append((IF_TSOFFSET, struct.pack("<q", tsoffset)))
    return cw.idb_block(1, opts=opts)


def pcapng(iface: bytes, raw_times: list[int]) -> bytes:
    """One section, one interface, an EPB per raw timestamp (packet i at raw_times[i])."""
    epbs = b"".join(cw.epb_block(0, t, frame(i)) for i, t in enumerate(raw_times))
    return cw.shb_block() + iface + epbs


def idb_cut_options(cut: str) -> bytes:
    """An Ethernet IDB whose options run past the block: ``first`` (an if_tsoffset claiming 8
    bytes with 2 left, padded to 4) or ``second`` (a nanosecond if_tsresol, then an option
    claiming 65,280 bytes)."""
    body = struct.pack("<HHI", 1, 0, 65535)
    if cut == "first":
        body += struct.pack("<HH", IF_TSOFFSET, 8) + b"\x01\x02"
    else:
        body += struct.pack("<HH", cw.IF_TSRESOL, 1) + b"\x09\x00\x00\x00" + struct.pack("<HH", 2, 0xFF00)
    return cw.block(1, body)


def interface_bomb(n: int) -> bytes:
    """A section with ``n`` Ethernet interfaces, then a packet on the first and one on the last."""
    one = cw.idb_block(1)
    return cw.shb_block() + one * n + cw.epb_block(0, 1, frame(0)) + cw.epb_block(n - 1, 2, frame(1))


def write_gz_blocks(path: Path, kind: str, count: int) -> None:
    """A gzip pcapng of ``count`` blocks of nearly 16 MiB of zeros (``epb``, ``spb``, ``custom``,
    ``dsb``), after an Ethernet interface: 1 MB of gzip per 1 GiB decompressed."""
    f = frame(0)
    with gzip.open(path, "wb", compresslevel=6) as out:
        out.write(cw.shb_block() + cw.idb_block(1, snaplen=0))
        for i in range(count):
            if kind == "epb":
                out.write(cw.epb_block(0, 1000 + i, f + bytes(BIG - len(f))))
            elif kind == "spb":
                out.write(cw.spb_block(f + bytes(BIG - len(f))))
            elif kind == "dsb":
                out.write(cw.dsb_block(bytes(BIG)))
            else:
                out.write(cw.block(0xBAD, bytes(BIG)))


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def bad_crc(gz: bytes) -> bytes:
    """A gzip member whose CRC-32 trailer (RFC 1952 2.3.1) no longer matches its data."""
    return gz[:-8] + bytes([gz[-8] ^ 0xFF]) + gz[-7:]


# ---- deterministic mutations of real captures ------------------------------------------------


def pcapng_blocks(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(offset, type, length) of each whole block of a little-endian pcapng."""
    pos = 0
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        if blen < 12 or pos + blen > len(data):
            return
        yield pos, btype, blen
        pos += blen


def mutations(data: bytes, seed: int, count: int) -> Iterator[tuple[str, bytes]]:
    """``count`` mutants of one capture, the same for the same seed: cut anywhere, bytes flipped,
    a block's or record's length set to a random or huge value, an EPB's timestamp high word or
    an interface's options overwritten. Each is named for what was done."""
    rng = random.Random(seed)
    blocks = list(pcapng_blocks(data)) if data[:4] == b"\x0a\x0d\x0d\x0a" else []
    for n in range(count):
        kind = ("cut", "flip", "length", "time", "options")[n % 5]
        buf = bytearray(data)
        if kind == "cut" or len(buf) < 64:
            at = rng.randrange(1, len(buf))
            yield f"cut@{at}", bytes(buf[:at])
            continue
        if kind == "flip":
            for _ in range(rng.randint(1, 16)):
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
            yield "flip", bytes(buf)
            continue
        if blocks:
            pos, btype, blen = rng.choice(blocks[1:] or blocks)
            if kind == "length":
                value = rng.choice((0, 13, 0x7FFFFFFC, 0xFFFFFFFC, blen + 4, rng.randrange(1 << 32)))
                struct.pack_into("<I", buf, pos + 4, value)
            elif kind == "time" and btype == 6 and blen >= 28:
                struct.pack_into("<I", buf, pos + 12, rng.choice((0xFFFFFFFF, 0x80000000, 0x7FFFFFFF)))
            elif kind == "options" and blen > 24:
                # an option header in the last words of the block claiming far more than is left
                struct.pack_into("<HH", buf, pos + blen - 8, rng.choice((9, 14, 2)), 0xFFF0)
            yield f"{kind}@{pos}", bytes(buf)
            continue
        # classic pcap: a record header's captured length, or its seconds
        at = 24 + rng.randrange(max(1, len(buf) - 40))
        if kind == "length":
            struct.pack_into("<I", buf, at, rng.choice((0xFFFFFFFF, 1 << 24, rng.randrange(1 << 32))))
        else:
            struct.pack_into("<I", buf, at, 0xFFFFFFFF)
        yield f"{kind}@{at}", bytes(buf)
