"""Which old pcap variant a classic pcap file is: the length of its record headers.

Besides the standard 16-byte record header, Wireshark reads (wiretap/libpcap.c) the record
headers of patched libpcaps of 1999: Alexey Kuznetsov's "modified" pcap, with its own magic
(a1b2cd34), in two layouts (SuSE 6.3's ss990915, 28 bytes; ss991029, 24 bytes), and, behind
the standard magic, Red Hat 6.1's ss990417 (24 bytes) and Nokia's (20 bytes). Nothing in the
file header tells them apart, so, as wiretap does, the first three records are read as each
variant in turn and scored by what looks wrong; the first that reads cleanly wins, else the
least wrong (the earlier on a tie). A standard file scores 0 as the standard variant, so
ordinary captures never reach the others.
"""

from __future__ import annotations

import struct
from typing import Protocol


class Window(Protocol):
    """The reader's byte window (``parsers.capture``): ``need(n)`` makes ``buf[pos:pos+n]`` available."""

    @property
    def buf(self) -> bytes: ...

    @property
    def pos(self) -> int: ...

    def need(self, n: int) -> bool: ...


# Record header lengths of the pcap variants (wiretap/libpcap.c): the standard 16 bytes;
# ss990417 and ss991029 add interface index, protocol, packet type and a pad byte (24);
# ss990915 two CPU bytes and three pad bytes more (28); Nokia 4 unknown bytes (20).
STANDARD, SS990417, SS991029, SS990915, NOKIA = 16, 24, 24, 28, 20
VARIANTS_STANDARD = (STANDARD, SS990417, NOKIA)  # tried in Wireshark's order
VARIANTS_MODIFIED = (SS991029, SS990915)
TRY_RECORDS = 3
MAX_SNAPLEN = 262144  # wiretap's largest snapshot length for most link types
NOKIA_STUFF = ((0x90000000, 0xB0000000), (0xB000, 0xD000), (0x600, 0x900), (1, 2))


def _variant_merit(ch: Window, order: str, hlen: int, snaplen: int) -> int:
    """How many things look wrong when the first records are read with ``hlen``-byte headers
    (0: nothing); the checks are wiretap's ``libpcap_try_record``."""
    merit = at = 0
    for _ in range(TRY_RECORDS):
        if not ch.need(at + 16):
            return merit + (len(ch.buf) - ch.pos > at)  # a header cut short counts, EOF does not
        base = ch.pos + at
        _sec, frac, incl, orig = struct.unpack_from(order + "IIII", ch.buf, base)
        merit += (frac >= 1_000_000) + (incl > MAX_SNAPLEN) + (incl > snaplen)
        merit += (orig > 128 << 20) + (incl > orig)
        if hlen > 16 and not ch.need(at + hlen):
            return merit + 1
        base = ch.pos + at
        if hlen in (SS990417, SS990915):
            ifindex, proto, pkt_type = struct.unpack_from(order + "IHB", ch.buf, base + 16)
            merit += (ifindex > 10000) + (pkt_type > 4)
            merit += not (proto >= 0x0600 or proto in (0x60, 0x200, 0x400) or proto <= 0x17)
        elif hlen == NOKIA:
            (stuff,) = struct.unpack_from(order + "I", ch.buf, base + 16)
            ok = stuff & 0x0FFF00F0 == 0x0FBF0000
            for part, (m1, m2) in zip((0xF0000000, 0xF000, 0xF00, 0xF), NOKIA_STUFF, strict=True):
                ok = ok and stuff & part in (m1, m2)
            merit += not ok
        if incl > MAX_SNAPLEN:
            return merit
        at += hlen + incl
        if not ch.need(at):
            return merit + 1
    return merit


def record_header_length(ch: Window, order: str, modified: bool, snaplen: int) -> int:
    """The variant's record header length: the first that reads cleanly, else the least bad."""
    best, best_merit = 0, -1
    for hlen in VARIANTS_MODIFIED if modified else VARIANTS_STANDARD:
        merit = _variant_merit(ch, order, hlen, snaplen)
        if merit == 0:
            return hlen
        if best_merit < 0 or merit < best_merit:
            best, best_merit = hlen, merit
    return best
