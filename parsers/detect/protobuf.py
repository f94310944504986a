"""Schema-less protobuf: the values of a message read from the wire format alone.

Apps and SDKs send telemetry as protobuf without the ``.proto`` that names its fields.
The wire format still says enough: every field is a tag (number, wire type) and a
varint, a fixed 32/64-bit value or a length-delimited run that is a nested message, a
string or bytes. Bytes are taken for a message only when they parse exactly to their
end with valid wire types and field numbers, each number keeps one wire type, the
numbers come in order as serializers write them (a descent per four fields is let
pass: unknown fields re-sent at the end), and they are not plain text (text parses by
chance: ``a`` is field 12, fixed64). Short binary still passes now and then (random
16 bytes: 0.4%), which is why only values come out, never a verdict. Parsing fails on
the first bad tag, so JSON and text bodies (``{`` ``[`` ``<`` are wire types 3 and 4)
cost a byte or two. Values come out with paths of field numbers (``pb:1.3.2``).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from itertools import pairwise

MAX_FIELDS = 20_000  # fields of one message: past this it is not read
MAX_NEST = 8  # messages inside messages
FIELD_MAX = (1 << 29) - 1
# bytes text may hold: printable ASCII, tab, LF, CR, and anything of UTF-8 beyond ASCII
TEXT_BYTES = bytes(range(0x20, 0x7F)) + b"\t\n\r" + bytes(range(0x80, 0x100))
Field = tuple[int, int, int, int]  # number, wire type, varint value or start, end (0 for varints)


def fields(data: bytes, start: int = 0, end: int = -1) -> list[Field] | None:
    """Every field of data[start:end] if the bytes parse exactly as one message, else None."""
    end = len(data) if end < 0 else end
    out: list[Field] = []
    wires: dict[int, int] = {}
    pos = start
    while pos < end:
        tag = data[pos]
        pos += 1
        if tag >= 0x80:
            tag, pos = _varint(data, pos - 1, end)
        number, wire = tag >> 3, tag & 7
        if number <= 0 or number > FIELD_MAX or len(out) >= MAX_FIELDS:  # <= 0: a tag cut short
            return None
        if wires.setdefault(number, wire) != wire:
            return None  # one number, one wire type: a serializer never mixes them
        if wire == 0:
            value, pos = _varint(data, pos, end)
            if value < 0:
                return None
            out.append((number, 0, value, 0))
            continue
        if wire == 2:
            size, pos = _varint(data, pos, end)
            if size < 0:
                return None
        elif wire == 1:
            size = 8
        elif wire == 5:
            size = 4
        else:
            return None  # groups (3, 4) are long deprecated; 6 and 7 do not exist
        if pos + size > end:
            return None
        out.append((number, wire, pos, pos + size))
        pos += size
    return out


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """(value, next position); value -1 when it runs past ``end`` or ten bytes, or exceeds 64 bits."""
    value = shift = 0
    while pos < end and shift < 70:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return (value, pos) if value >> 64 == 0 else (-1, pos)
        shift += 7
    return -1, pos


def is_text(data: bytes) -> bool:
    """No control bytes but tab, LF and CR: what a text (or a string field) is made of."""
    return not data.translate(None, TEXT_BYTES)


def message(data: bytes, start: int = 0, end: int = -1, nested: bool = False) -> list[Field] | None:
    """The fields of a plausible message: two at least (a nested one: one length-delimited will do)."""
    end = len(data) if end < 0 else end
    if end - start < 2:
        return None
    head = data[start]
    if head < 0x80 and (head < 8 or head & 7 not in (0, 1, 2, 5)):
        return None  # the common rejection: a first byte that is no tag
    found = fields(data, start, end)
    if found is None or not (len(found) >= 2 or (nested and found and found[0][1] == 2)):
        return None
    if sum(b[0] < a[0] for a, b in pairwise(found)) > len(found) // 4:
        return None  # numbers out of order: random bytes (or ASN.1, RTP...) that happened to parse
    return None if is_text(data[start:end]) else found


def walk(data: bytes, found: list[Field], path: str, parent: int) -> Iterator[tuple[str, int, str | bytes]]:
    """(path, parent id, value) of every scalar: numbers and strings as text, other bytes as they are.

    ``parent`` plus a message's offset in ``data`` tells sibling groups apart (``data`` is alive
    while the walk runs, so no other object can hold those ids).
    """
    stack: list[tuple[list[Field], str, int, int]] = [(found, path, parent, 0)]
    while stack:
        items, prefix, me, depth = stack.pop()
        for number, wire, a, b in items:
            p = f"{prefix}{number}"
            if wire == 0:
                yield p, me, str(a - (1 << 64) if a >> 63 else a)  # int64 negatives are sent in 10 bytes
            elif wire == 5:
                yield p, me, _fixed(data[a:b], "<f", "<I", 1e-6, 1e9)
            elif wire == 1:
                yield p, me, _fixed(data[a:b], "<d", "<Q", 1e-12, 1e15)
            else:
                inner = message(data, a, b, nested=True) if depth < MAX_NEST else None
                if inner is not None:
                    stack.append((inner, p + ".", parent + a, depth + 1))
                elif b > a:
                    yield p, me, _string(data[a:b])


def _fixed(raw: bytes, as_float: str, as_int: str, low: float, high: float) -> str:
    """A float's shortest text when the bits make a plausible one (finite, normal, in a sane range)."""
    x = struct.unpack(as_float, raw)[0]
    if math.isfinite(x) and low <= abs(x) <= high:
        if as_float == "<d":
            return repr(x)
        for digits in range(6, 10):  # the fewest digits that give back the same float32
            text = f"{x:.{digits}g}"
            if struct.pack("<f", float(text)) == raw:
                return text
    return str(struct.unpack(as_int, raw)[0])


def _string(raw: bytes) -> str | bytes:
    """UTF-8 text when it decodes and is mostly printable, else the bytes."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    controls = len(raw.translate(None, TEXT_BYTES))
    return text if controls * 20 <= len(raw) else raw
