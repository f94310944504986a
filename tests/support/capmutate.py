"""Mutations of whole capture files for the replay fuzzer (tests/fuzz), deterministic per ``Random``.

A capture is split into its units (``layout``): the pcap file header and its records, or the
pcapng blocks. Each mutation kind damages what a hostile or broken capture damages: bits and
fields anywhere, the length fields of records and blocks, the end of the file, whole units
(repeated or dropped), timestamps (negative or past 2^64 ns, through the raw fields, a pcapng
``if_tsresol`` or a negative ``if_tsoffset``), interface options cut short, the link type, the
packets' bytes alone (so the dissectors and decryptors read damaged payloads inside an intact
file), foreign blocks (secrets, simple packets, unknown types, a section in the other byte
order), the gzip layer (compressed then corrupted, or a small file that inflates past 1 GiB),
and the key log given with a TLS capture. Field layouts: draft-ietf-opsawg-pcap section 4-5,
draft-ietf-opsawg-pcapng sections 3-4 (option codes 9 ``if_tsresol`` and 14 ``if_tsoffset``).
"""

from __future__ import annotations

import gzip
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass

from parsers import capture_write as cw

PCAP_ORDERS = {
    b"\xd4\xc3\xb2\xa1": "<",
    b"\xa1\xb2\xc3\xd4": ">",
    b"\x4d\x3c\xb2\xa1": "<",
    b"\xa1\xb2\x3c\x4d": ">",
}
BOUNDARY = {  # width -> values a length, count or timestamp field is set to
    1: (0, 1, 0x7F, 0x80, 0xFF),
    2: (0, 1, 0x7FFF, 0x8000, 0xFFFF),
    4: (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFC),
    8: (0, 1, 2**63 - 1, 2**63, 2**64 - 1),
}
LINKTYPES = (0, 1, 12, 101, 113, 228, 229, 276, 105, 127, 147, 0xFFFF)  # null ... sll2, 802.11, user
TSRESOL = (0, 9, 0x3F, 0x7F, 0x80, 0x8A, 0xBF, 0xFF)  # if_tsresol: 1 s ... 2^-127 s
TSOFFSET = (-1, -(2**31), -(2**40), -(2**63), 2**40, 2**63 - 1)  # if_tsoffset, seconds (signed)
JUMBO_DATA = 1 << 18  # a snaplen-sized frame (tcpdump's default snaplen)
JUMBO_COPIES = 4608  # x 256 KiB = 1.1 GiB once inflated, from a few MB of gzip members


@dataclass(frozen=True)
class Unit:
    """One pcap record or pcapng block: where it starts, its bytes, its type (-1: a pcap record)."""

    off: int
    size: int
    btype: int


@dataclass(frozen=True)
class Layout:
    fmt: str  # pcap or pcapng
    order: str  # the byte order of the file header (pcapng: of the first section)
    head: int  # bytes before the first unit (pcap: the 24-byte header; pcapng: 0, the SHB is a unit)
    units: tuple[Unit, ...]

    def of_type(self, *btypes: int) -> list[Unit]:
        return [u for u in self.units if u.btype in btypes]


def layout(data: bytes) -> Layout:
    """The units of an intact pcap or pcapng (``ValueError`` for anything else)."""
    if data[:4] in PCAP_ORDERS:
        order = PCAP_ORDERS[data[:4]]
        units, pos = [], 24
        while pos + 16 <= len(data):
            incl = struct.unpack_from(order + "I", data, pos + 8)[0]
            units.append(Unit(pos, 16 + incl, -1))
            pos += 16 + incl
        return Layout("pcap", order, 24, tuple(units))
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        units, pos = [], 0
        while pos + 12 <= len(data):
            btype, blen = struct.unpack_from(order + "II", data, pos)
            units.append(Unit(pos, blen, btype))
            pos += blen
        return Layout("pcapng", order, 0, tuple(units))
    raise ValueError("not a pcap or pcapng")


def _put(buf: bytearray, at: int, width: int, value: int, order: str) -> None:
    if at >= 0 and at + width <= len(buf):
        buf[at : at + width] = (value % (1 << (8 * width))).to_bytes(
            width, "little" if order == "<" else "big"
        )


def _packets(lay: Layout) -> list[Unit]:
    return [u for u in lay.units if u.btype in (-1, 2, 3, 6)]


def _data_span(lay: Layout, u: Unit, data: bytes) -> tuple[int, int]:
    """Where a packet unit's frame bytes are: (start, length)."""
    if u.btype == -1:
        return u.off + 16, u.size - 16
    if u.btype == 3:
        return u.off + 12, u.size - 16
    incl = struct.unpack_from(lay.order + "I", data, u.off + 20)[0]
    return u.off + 28, max(0, min(incl, u.size - 32))


# ---- the kinds ------------------------------------------------------------------------------


def bitflip(data: bytes, lay: Layout, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        i = rng.randrange(4, len(buf))  # the magic kept: a flipped magic is only "not a capture"
        buf[i] ^= 1 << rng.randrange(8)
    return bytes(buf)


def boundary(data: bytes, lay: Layout, rng: random.Random) -> bytes:
    """Aligned fields of 1 to 8 bytes set to 0, 1, the signed and unsigned maxima."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        width = rng.choice((1, 2, 4, 4, 8))
        u = rng.choice(lay.units)
        at = u.off + rng.randrange(0, max(1, min(u.size, 40)) // width) * width
        _put(buf, at, width, rng.choice(BOUNDARY[width]), lay.order)
    return bytes(buf)


def length(data: bytes, lay: Layout, rng: random.Random) -> bytes:
    """A record's captured/original length, or a block's leading/trailing total length, or an
    EPB's captured/original length, set to a boundary or moved by a few bytes."""
    buf = bytearray(data)
    u = rng.choice(lay.units)
    if lay.fmt == "pcap":
        field = u.off + rng.choice((8, 12)) if rng.random() < 0.9 else 16  # snaplen in the header
        old = struct.unpack_from(lay.order + "I", data, field)[0]
    else:
        choices = [u.off + 4, u.off + u.size - 4]
        if u.btype == 6:
            choices += [u.off + 20, u.off + 24]
        field = rng.choice(choices)
        old = struct.unpack_from(lay.order + "I", data, field)[0] if field + 4 <= len(data) else 0
    new = rng.choice((*BOUNDARY[4], old + rng.choice((-4, -1, 1, 3, 4, 64)), old * 2, old // 2))
    _put(buf, field, 4, new, lay.order)
    return bytes(buf)


def truncate(data: bytes, lay: Layout, rng: random.Random) -> bytes:
    """The file cut at a random point, most often inside a unit past the first few."""
    if rng.random() < 0.2:
        return data[: rng.randrange(0, len(data))]
    u = rng.choice(lay.units)
    return data[: u.off + rng.randrange(1, max(2, u.size))]


def duplicate(data: bytes, lay: Layout, rng: random.Random) -> bytes:
    """Units repeated in place, up to 32 times (an IDB, a section header or a packet)."""
    units = list(lay.units)
    for _ in range(rng.randint(1, 3)):
        u = rng.choice(units)
        at = u.off + u.size
        data = data[:at] + data[u.off : at] * rng.randint(1, 32) + data[at:]
        units = list(layout_or_none(data, lay).units)
    return data


def remove(data: bytes, lay: Layout, rng: random.Random) -> bytes:
    """Units dropped: packets, an interface block (later packets name one that is gone), the SHB."""
    units = list(lay.units)
    gone = set(rng.sample(range(len(units)), min(len(units), rng.randint(1, 3))))
    if lay.fmt == "pcapng" and rng.random() < 0.3:
        gone |= {i for i, u in enumerate(units) if u.btype in (1, 0x0A0D0D0A)}
    keep = [data[u.off : u.off + u.size] for i, u in enumerate(units) if i not in gone]
    return data[: lay.head] + b"".join(keep)


def timestamp(data: bytes, lay: Layout, rng: random.Random) -> bytes:
    """Timestamps negative or past 2^64 ns: raw fields at their maxima (pcap seconds as a negative
    32-bit number, fractions past one second), or a pcapng interface given an extreme
    ``if_tsresol`` or a negative ``if_tsoffset`` (legal: the offset is signed)."""
    buf = bytearray(data)
    if lay.fmt == "pcapng" and rng.random() < 0.5:
        idbs = lay.of_type(1)
        if not idbs:
            return bytes(buf)
        u = rng.choice(idbs)
        opts: list[cw.Option] = []
        if rng.random() < 0.6:
            opts.append((cw.IF_TSRESOL, bytes((rng.choice(TSRESOL),))))
        if not opts or rng.random() < 0.6:
            opts.append((14, struct.pack(lay.order + "q", rng.choice(TSOFFSET))))
        linktype, _r, snap = struct.unpack_from(lay.order + "HHI", data, u.off + 8)
        idb = cw.idb_block(linktype, snap, opts, lay.order)
        return data[: u.off] + idb + data[u.off + u.size :]
    packets = _packets(lay)
    for u in rng.sample(packets, min(len(packets), rng.randint(1, 4))):
        if u.btype == -1:
            _put(
                buf,
                u.off + rng.choice((0, 4)),
                4,
                rng.choice((0xFFFFFFFF, 0x80000000, 999_999_999)),
                lay.order,
            )
        elif u.btype in (2, 6):
            _put(buf, u.off + rng.choice((12, 16)), 4, rng.choice(BOUNDARY[4]), lay.order)
    return bytes(buf)


def options(data: bytes, lay: Layout, rng: random.Random) -> bytes:
    """pcapng: a block's options cut short (an option longer than what is left, or the options
    ending mid-option with the block length fixed). pcap, which has none: the file header's
    version, time zone, snaplen or link type set to a boundary."""
    if lay.fmt == "pcap":
        buf = bytearray(data)
        field, width = rng.choice(((4, 2), (6, 2), (8, 4), (12, 4), (16, 4), (20, 4)))
        _put(buf, field, width, rng.choice(BOUNDARY[width]), lay.order)
        return bytes(buf)
    u = rng.choice(lay.of_type(1, 0x0A0D0D0A, 6) or list(lay.units))
    fixed = {1: 8, 0x0A0D0D0A: 16}.get(u.btype)
    if fixed is None:  # an EPB: its options start after the padded frame
        incl = struct.unpack_from(lay.order + "I", data, u.off + 20)[0]
        fixed = 20 + incl + (-incl & 3)
    body = bytearray(data[u.off + 8 : u.off + u.size - 4])
    opt = body[fixed:] if fixed <= len(body) else bytearray()
    if rng.random() < 0.5 or len(opt) < 4:  # one option claims more than the block holds
        code = rng.choice((2, 9, 14, 1, 4, 0xBAD))
        opt = bytearray(struct.pack(lay.order + "HH", code, rng.choice((1, 8, 255, 0xFFFF)))) + opt[:4]
    else:  # the options stop mid-option, with no end-of-options
        opt = opt[: rng.randrange(1, len(opt))]
    body = body[:fixed] + opt
    body += bytes(-len(body) & 3)
    n = 12 + len(body)
    block = struct.pack(lay.order + "II", u.btype, n) + body + struct.pack(lay.order + "I", n)
    return data[: u.off] + block + data[u.off + u.size :]


def linktype(data: bytes, lay: Layout, rng: random.Random) -> bytes:
    """The frames read as another link layer (the pcap header's network, an IDB's link type)."""
    buf = bytearray(data)
    new = rng.choice(LINKTYPES)
    if lay.fmt == "pcap":
        _put(buf, 20, 4, new, lay.order)
    else:
        for u in rng.sample(lay.of_type(1), min(len(lay.of_type(1)), rng.randint(1, 2))):
            _put(buf, u.off + 8, 2, new, lay.order)
    return bytes(buf)


def payload(data: bytes, lay: Layout, rng: random.Random) -> bytes:
    """Bytes changed inside frames only: the file stays intact, the link, IP, transport layers,
    dissectors and (with the keys given) decryptors read damaged packets."""
    buf = bytearray(data)
    packets = _packets(lay)
    for u in rng.sample(packets, min(len(packets), rng.randint(1, 6))):
        start, n = _data_span(lay, u, data)
        if n <= 0:
            continue
        for _ in range(rng.randint(1, 8)):
            i = start + rng.randrange(n)
            if rng.random() < 0.5:
                buf[i] ^= 1 << rng.randrange(8)
            else:
                buf[i] = rng.choice((0, 1, 0x7F, 0x80, 0xFF))
        if rng.random() < 0.2:  # a frame cut inside, its captured length kept (a lying header)
            cut = start + rng.randrange(n)
            buf[cut : start + n] = bytes(start + n - cut)
    return bytes(buf)


LINK_HEADER = {0: 4, 1: 14, 12: 0, 101: 0, 113: 16, 228: 0, 229: 0, 276: 20}  # bytes before the IP header


def _linktypes(lay: Layout, data: bytes) -> list[int]:
    """The link type of each packet unit, in order (pcapng: its interface's, by position)."""
    if lay.fmt == "pcap":
        lt = struct.unpack_from(lay.order + "I", data, 20)[0]
        return [lt for _u in _packets(lay)]
    ifaces: list[int] = []
    out = []
    for u in lay.units:
        if u.btype == 0x0A0D0D0A:
            ifaces = []
        elif u.btype == 1:
            ifaces.append(struct.unpack_from(lay.order + "H", data, u.off + 8)[0])
        elif u.btype in (2, 3, 6):
            ifid = 0 if u.btype == 3 else struct.unpack_from(lay.order + "I", data, u.off + 8)[0]
            out.append(ifaces[ifid] if ifid < len(ifaces) else -1)
    return out


def _l4_payload(frame: bytes, linktype: int) -> int:
    """Where the TCP or UDP payload of a frame starts (-1: not found), for IPv4 and IPv6 without
    extension headers, behind Ethernet (one VLAN tag), BSD loopback, Linux cooked or raw IP."""
    at = LINK_HEADER.get(linktype, -1)
    if at < 0 or len(frame) < at + 20:
        return -1
    if linktype == 1 and frame[12:14] == b"\x81\x00":
        at += 4
    version = frame[at] >> 4
    if version == 4:
        proto, l4 = frame[at + 9], at + (frame[at] & 15) * 4
    elif version == 6 and len(frame) >= at + 40:
        proto, l4 = frame[at + 6], at + 40
    else:
        return -1
    if proto == 6 and len(frame) >= l4 + 20:
        return l4 + (frame[l4 + 12] >> 4) * 4
    if proto == 17:
        return l4 + 8
    return -1


def l4(data: bytes, lay: Layout, rng: random.Random) -> bytes:
    """Bytes changed inside TCP and UDP payloads only, headers intact, so the flow and its session
    stay the same and the protocol reader gets the damage: the first bytes (a TLS or DTLS record
    header, an MQTT fixed header, a DNS header) set to boundaries, bits flipped in ciphertext and
    bodies, or the payload's end zeroed."""
    buf = bytearray(data)
    found = []
    for u, lt in zip(_packets(lay), _linktypes(lay, data), strict=True):
        start, n = _data_span(lay, u, data)
        at = _l4_payload(data[start : start + n], lt)
        if 0 <= at < n:
            found.append((start + at, n - at))
    for start, n in rng.sample(found, min(len(found), rng.randint(1, 4))):
        how = rng.choice(("head", "head", "flip", "zero"))
        if how == "head":
            i = rng.randrange(min(n, 16))
            _put(
                buf, start + i, rng.choice((1, 2)), rng.choice((0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x4000)), ">"
            )
        elif how == "flip":
            for _ in range(rng.randint(1, 4)):
                buf[start + rng.randrange(n)] ^= 1 << rng.randrange(8)
        else:
            cut = rng.randrange(n)
            buf[start + cut : start + n] = bytes(n - cut)
    return bytes(buf)


def reorder(data: bytes, lay: Layout, rng: random.Random) -> bytes:
    """Packets out of order (time going back, TCP segments and handshakes swapped), or, in pcapng,
    any two blocks swapped (a packet before the interface it names)."""
    units = list(lay.units)
    movable = [i for i, u in enumerate(units) if u.btype != 0x0A0D0D0A]
    for _ in range(rng.randint(1, 4)):
        if len(movable) < 2:
            break
        i, j = rng.sample(movable, 2)
        units[i], units[j] = units[j], units[i]
    return data[: lay.head] + b"".join(data[u.off : u.off + u.size] for u in units)


def foreign(data: bytes, lay: Layout, rng: random.Random) -> bytes:
    """pcapng: a block inserted between two others: a DSB with damaged or empty secrets, a
    Simple Packet Block, an unknown block type, an EPB naming no interface, a new section in
    the other byte order. pcap: a record of random bytes, or garbage between records."""
    units = list(lay.units)
    at = rng.choice(units[1:] or units).off
    if lay.fmt == "pcap":
        if rng.random() < 0.5:
            junk = rng.randbytes(rng.randint(1, 64))
        else:
            frame = rng.randbytes(rng.randint(0, 128))
            junk = struct.pack(lay.order + "IIII", 1_600_000_000, 0, len(frame), len(frame)) + frame
        return data[:at] + junk + data[at:]
    order = lay.order
    secret = b"CLIENT_RANDOM " + rng.randbytes(32).hex().encode() + b" " + rng.randbytes(24).hex().encode()
    choices = [
        lambda: cw.dsb_block(secret[: rng.randrange(len(secret))], order=order),
        lambda: cw.dsb_block(rng.randbytes(40), rng.choice((cw.DSB_TLS, 0x57474B4C, 0)), order),
        lambda: cw.spb_block(rng.randbytes(rng.randint(0, 60)), rng.choice((None, 0, 0xFFFFFFFF)), order),
        lambda: cw.block(rng.choice((0xBAD, 4, 5, 0x80000001, 0x40000BAD)), rng.randbytes(16), order),
        lambda: cw.epb_block(rng.choice((7, 0xFFFFFFFF)), 1, rng.randbytes(40), order=order),
        lambda: (
            cw.shb_block(">" if order == "<" else "<") + cw.idb_block(1, order=">" if order == "<" else "<")
        ),
    ]
    return data[:at] + rng.choice(choices)() + data[at:]


MUTATORS: dict[str, Callable[[bytes, Layout, random.Random], bytes]] = {
    "bitflip": bitflip,
    "boundary": boundary,
    "length": length,
    "truncate": truncate,
    "duplicate": duplicate,
    "remove": remove,
    "timestamp": timestamp,
    "options": options,
    "linktype": linktype,
    "payload": payload,
    "l4": l4,
    "reorder": reorder,
    "foreign": foreign,
}


def layout_or_none(data: bytes, fallback: Layout) -> Layout:
    try:
        return layout(data)
    except ValueError:
        return fallback


def mutate(data: bytes, kind: str, rng: random.Random) -> bytes:
    """One mutation of ``kind`` (a key of MUTATORS) applied to an intact capture."""
    return MUTATORS[kind](data, layout(data), rng)


def gzip_corrupt(data: bytes, rng: random.Random) -> bytes:
    """The capture (intact or mutated first) gzip-compressed, then damaged: a byte of the deflate
    stream, the CRC or the size (RFC 1952 2.3), the trailer cut, the stream cut, garbage or a
    second member after it."""
    if rng.random() < 0.5:
        data = mutate(data, rng.choice(sorted(MUTATORS)), rng)
    z = bytearray(gzip.compress(data, compresslevel=rng.choice((1, 6, 9)), mtime=0))
    how = rng.choice(("deflate", "crc", "isize", "trailer", "cut", "garbage", "member"))
    if how == "deflate":  # 1 byte often only fails the CRC; 16 mostly make an invalid stream
        for _ in range(rng.choice((1, 4, 16))):
            z[rng.randrange(10, len(z) - 8)] = rng.randrange(256)
    elif how == "crc":
        z[-8] ^= 0xFF
    elif how == "isize":
        z[-4:] = rng.choice((bytes(4), b"\xff\xff\xff\xff"))
    elif how == "trailer":
        z = z[: len(z) - rng.randint(1, 8)]
    elif how == "cut":
        z = z[: rng.randrange(10, len(z))]
    elif how == "garbage":
        z += rng.randbytes(rng.randint(1, 32))
    else:
        z += gzip.compress(rng.randbytes(64), mtime=0)
    return bytes(z)


def jumbo_gzip(data: bytes, rng: random.Random) -> bytes:
    """A small .gz whose capture inflates to ``JUMBO_COPIES`` snaplen-sized packets (1.1 GiB): the
    header, then one 256 KiB packet compressed once and repeated as gzip members (RFC 1952 2.2:
    a gzip file is a series of members). A reader that holds a batch of such packets whole
    passes 1 GiB; one that caps a batch's bytes does not."""
    lay = layout(data)
    frame = (data[_data_span(lay, _packets(lay)[0], data)[0] :][:64]).ljust(JUMBO_DATA, b"\0")
    if lay.fmt == "pcap":
        head = data[:16] + struct.pack(lay.order + "I", JUMBO_DATA) + data[20:24]
        unit = struct.pack(lay.order + "IIII", 1_600_000_000, 0, len(frame), len(frame)) + frame
    else:
        shb = lay.units[0]
        idb = cw.idb_block(
            1, JUMBO_DATA, [(14, struct.pack(lay.order + "q", -1))] * rng.randint(0, 1), lay.order
        )
        head = data[shb.off : shb.off + shb.size] + idb
        unit = cw.epb_block(0, 1_600_000_000_000_000, frame, order=lay.order)
    return gzip.compress(head, mtime=0) + gzip.compress(unit, compresslevel=1, mtime=0) * JUMBO_COPIES


def keylog_corrupt(text: bytes, rng: random.Random) -> bytes:
    """An NSS key log damaged: hex digits changed, a line cut, a label or secret of the wrong
    length, lines repeated with other secrets, bytes that are not text."""
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        line = bytearray(lines[i])
        how = rng.choice(("hex", "cut", "short", "repeat", "binary"))
        if how == "hex" and len(line) > 20:
            j = rng.randrange(len(line) - 1)
            line[j] = rng.choice(b"0fxg Z\t")
        elif how == "cut":
            line = line[: rng.randrange(len(line))] + b"\n"
        elif how == "short":
            parts = bytes(line).split()
            if len(parts) == 3:
                line = bytearray(b" ".join((parts[0], parts[1][: rng.randrange(64)], parts[2])) + b"\n")
        elif how == "repeat":
            lines.insert(i, bytes(line[: -len(line) // 3]) + rng.randbytes(8).hex().encode() + b"\n")
        else:
            line = bytearray(rng.randbytes(rng.randint(1, 40)))
        lines[i] = bytes(line)
    return b"".join(lines)
