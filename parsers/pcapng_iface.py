"""A pcapng Interface Description Block's link type and time base (draft-ietf-opsawg-pcapng 4.2).

Only the options that turn a packet's raw timestamp into nanoseconds are read: ``if_tsresol``
(code 9) and ``if_tsoffset`` (code 14, seconds, signed). Every option's length is checked
against what is left of the block: one that runs past it is reported (the reader counts it
as ``bad_interface_options``) and it and the options after it are ignored, the defaults
(microseconds, no offset) standing for what was not read (issue 17).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

IF_TSRESOL, IF_TSOFFSET = 9, 14


class Iface(NamedTuple):
    linktype: int
    mult_num: int  # ts units -> ns: ns = raw * mult_num // mult_den + offset
    mult_den: int
    offset_ns: int


def tsresol_units(value: int) -> tuple[int, int]:
    """One unit of an if_tsresol value as (num, den) nanoseconds: ns = units * num // den (pcapng 4.2).

    The writer converts the other way (units = ns * den // num) with the same fraction."""
    if value & 0x80:
        exp = value & 0x7F
        return (10**9, 2**exp) if exp else (10**9, 1)
    exp = value
    if exp <= 9:
        return 10 ** (9 - exp), 1
    return 1, 10 ** (exp - 9)


def parse_idb(body: bytes, order: str) -> tuple[Iface, bool]:
    """An IDB body's interface, and whether an option ran past the block (the rest ignored)."""
    linktype, _res, _snap = struct.unpack_from(order + "HHI", body, 0)
    num, den, offset = 1000, 1, 0  # default resolution: microseconds
    pos, size, cut = 8, len(body), False
    while pos < size:
        if pos + 4 > size:
            cut = True
            break
        code, length = struct.unpack_from(order + "HH", body, pos)
        pos += 4
        if code == 0:
            break
        if pos + length > size:
            cut = True
            break
        val = body[pos : pos + length]
        if code == IF_TSRESOL and length >= 1:
            num, den = tsresol_units(val[0])
        elif code == IF_TSOFFSET and length == 8:
            offset = struct.unpack(order + "q", val)[0] * 1_000_000_000
        pos += (length + 3) & ~3
    return Iface(linktype, num, den, offset), cut
