"""DNS wire format (RFC 1035, 3596, 2782, 6762): messages to questions and records.

Used for unicast DNS, mDNS and LLMNR alike. Name decompression follows at most
``MAX_POINTERS`` pointers and only backwards, so a compression loop or a
pointer past the end raises DnsError instead of spinning.

A message cut by a capture's snap length (``parse_partial``) gives what it holds: its
questions and records up to the last one whole before the cut, as tshark shows them.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

MAX_POINTERS = 32
MAX_RECORDS = 512
TYPES = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    41: "OPT",
    43: "DS",
    46: "RRSIG",
    47: "NSEC",
    48: "DNSKEY",
    50: "NSEC3",
    64: "SVCB",
    65: "HTTPS",
    99: "SPF",
    255: "ANY",
    257: "CAA",
}


class DnsError(ValueError):
    """The payload is not a well-formed DNS message."""


class DnsCut(DnsError):
    """The message ends before a field it announced: malformed when whole, truncated when a snap
    length cut it."""


@dataclass
class Record:
    name: str
    rtype: int
    rclass: int
    ttl: int
    data: str  # printable rdata: address, target name, "prio weight port target", TXT strings

    @property
    def type_name(self) -> str:
        return TYPES.get(self.rtype, str(self.rtype))


@dataclass
class DnsMessage:
    txid: int
    is_response: bool
    opcode: int
    rcode: int
    questions: list[tuple[str, int]] = field(default_factory=list)
    answers: list[Record] = field(default_factory=list)
    authority: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)
    cut: bool = False  # a snap length cut it: the sections end at the last whole entry


def read_name(buf: bytes, pos: int) -> tuple[str, int]:
    """Decode a possibly compressed name at pos; return (name, position after it)."""
    labels: list[str] = []
    jumps = 0
    after = -1
    total = 0
    while True:
        if pos >= len(buf):
            raise DnsCut("name runs past the end")
        n = buf[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(buf):
                raise DnsCut("compression pointer cut short")
            target = ((n & 0x3F) << 8) | buf[pos + 1]
            if after < 0:
                after = pos + 2
            jumps += 1
            if jumps > MAX_POINTERS:  # bounds loops; forward pointers are legal if odd (Suricata #8584)
                raise DnsError("compression pointer loop")
            pos = target
            continue
        if n & 0xC0:
            raise DnsError(f"unsupported label type {n:#x}")
        label = buf[pos + 1 : pos + 1 + n]
        if len(label) < n:
            raise DnsCut("label runs past the end")
        total += n + 1
        if total > 255:
            raise DnsError("name longer than 255 bytes")
        labels.append(label.decode("utf-8", "backslashreplace"))
        pos += 1 + n
    return ".".join(labels), (after if after >= 0 else pos)


def _rdata(buf: bytes, rtype: int, pos: int, end: int) -> str:
    rd = buf[pos:end]
    if rtype == 1 and len(rd) == 4:
        return socket.inet_ntop(socket.AF_INET, rd)
    if rtype == 28 and len(rd) == 16:
        return socket.inet_ntop(socket.AF_INET6, rd)
    if rtype in (2, 5, 12):
        return read_name(buf, pos)[0]
    if rtype == 33 and len(rd) >= 7:
        prio, weight, port = struct.unpack_from("!HHH", rd)
        return f"{prio} {weight} {port} {read_name(buf, pos + 6)[0]}"
    if rtype == 15 and len(rd) >= 3:
        return f"{struct.unpack_from('!H', rd)[0]} {read_name(buf, pos + 2)[0]}"
    if rtype == 16:
        parts, i = [], 0
        while i < len(rd):
            n = rd[i]
            parts.append(rd[i + 1 : i + 1 + n].decode("utf-8", "backslashreplace"))
            i += 1 + n
        return " ".join(parts)
    if rtype in (64, 65) and len(rd) >= 3:
        prio = struct.unpack_from("!H", rd)[0]
        return f"{prio} {read_name(buf, pos + 2)[0] or '.'}"
    return rd.hex()


def _records(buf: bytes, pos: int, count: int, out: list[Record]) -> int:
    for _ in range(count):
        name, pos = read_name(buf, pos)
        if pos + 10 > len(buf):
            raise DnsCut("record header past the end")
        rtype, rclass, ttl, rdlen = struct.unpack_from("!HHIH", buf, pos)
        pos += 10
        end = pos + rdlen
        if end > len(buf):
            raise DnsCut("rdata past the end")
        out.append(Record(name, rtype, rclass, ttl, _rdata(buf, rtype, pos, end)))
        pos = end
    return pos


def parse(buf: bytes) -> DnsMessage:
    """Parse one DNS message (no TCP length prefix); raises DnsError when malformed."""
    return _parse(buf, False)


def parse_partial(buf: bytes) -> DnsMessage:
    """A message cut by a snap length: its header, then every question and record whole before
    the cut (``cut`` set when any was lost); raises DnsError when not even the header is there
    or what is there is malformed."""
    return _parse(buf, True)


def _parse(buf: bytes, partial: bool) -> DnsMessage:
    if len(buf) < 12:
        raise DnsCut("shorter than a DNS header")
    txid, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", buf, 0)
    if qd + an + ns + ar > MAX_RECORDS:
        raise DnsError(f"absurd record count {qd + an + ns + ar}")
    msg = DnsMessage(txid, bool(flags & 0x8000), (flags >> 11) & 0xF, flags & 0xF)
    pos = 12
    try:
        for _ in range(qd):
            name, after = read_name(buf, pos)
            if after + 4 > len(buf):
                raise DnsCut("question past the end")
            msg.questions.append((name, struct.unpack_from("!H", buf, after)[0]))
            pos = after + 4
        pos = _records(buf, pos, an, msg.answers)
        pos = _records(buf, pos, ns, msg.authority)
        _records(buf, pos, ar, msg.additional)
    except DnsCut:
        if not partial:
            raise
        msg.cut = True
    return msg
