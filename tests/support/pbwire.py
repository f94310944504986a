"""Protobuf wire format written by hand, for tests of the schema-less reader."""

from __future__ import annotations

import struct


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int32/int64 go out as ten bytes of two's complement
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def field(number: int, value: int | float | bytes | str, wire: int | None = None) -> bytes:
    """One field: ints as varints, floats as doubles (or floats with wire 5), str/bytes length-delimited."""
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return varint(number << 3 | 2) + varint(len(value)) + value
    if isinstance(value, float):
        if wire == 5:
            return varint(number << 3 | 5) + struct.pack("<f", value)
        return varint(number << 3 | 1) + struct.pack("<d", value)
    if wire == 1:
        return varint(number << 3 | 1) + struct.pack("<Q", value)
    return varint(number << 3) + varint(value)
