"""What a thief of the data folder can read: every file's bytes, ClickHouse's compressed blocks opened.

ClickHouse compresses column files (``data.bin``, ``*.bin``, marks, ``primary.cidx``) as a run
of blocks: a 16-byte CityHash128 checksum, then a 9-byte header (one byte method, the block's
compressed size including the header, its uncompressed size, both 32-bit little-endian), then the
payload (ClickHouse ``src/Compression/CompressionInfo.h``, ``CompressedReadBufferBase.cpp``).
Method 0x82 is LZ4 (LZ4 block format, the ``lz4`` package's ``lz4.block``); 0x90 is ZSTD
(marks, primary index: the ``zstandard`` package, RFC 8878 frames); 0x02 is none. A file that
parses as blocks to its last byte is read decompressed as well as raw; an unknown method fails
loudly (``Unreadable``) rather than hide bytes from the search, so a search over ``readable``
misses nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import lz4.block
import zstandard

NONE, LZ4, ZSTD = 0x02, 0x82, 0x90
HEADER = 9


class Unreadable(Exception):
    """A compressed block this oracle cannot open (a codec other than LZ4 or none)."""


def decompressed(data: bytes) -> bytes | None:
    """The file's content if it is a run of ClickHouse compressed blocks to its end, else None."""
    out, i = [], 0
    while i < len(data):
        if len(data) - i < 16 + HEADER:
            return None
        method, csize, usize = struct.unpack_from("<BII", data, i + 16)
        end = i + 16 + csize
        if csize < HEADER or end > len(data):
            return None
        payload = data[i + 16 + HEADER : end]
        if method in (0x91, 0x92, 0x93, 0x94, 0x95, 0x96) and i == 0:  # Multiple, Delta, T64...
            raise Unreadable(f"compressed block with method {method:#x}")
        if method == ZSTD:
            try:
                out.append(zstandard.ZstdDecompressor().decompress(payload, max_output_size=usize))
            except zstandard.ZstdError:
                return None
        elif method == NONE:
            if len(payload) != usize:
                return None
            out.append(payload)
        elif method == LZ4:
            try:
                out.append(lz4.block.decompress(payload, uncompressed_size=usize))
            except lz4.block.LZ4BlockError:
                return None
        else:
            return None
        i = end
    return b"".join(out)


def readable(folder: str | os.PathLike[str]) -> Iterator[tuple[Path, bytes]]:
    """Every file under ``folder``, raw, and again decompressed when it is made of blocks."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            data = path.read_bytes()
            yield path, data
            plain = decompressed(data)
            if plain is not None:
                yield path, plain


def files_with(folder: str | os.PathLike[str], values: Iterable[str]) -> dict[str, list[str]]:
    """For each value found in some file of ``folder`` (raw or decompressed): the files, relative."""
    wanted = [v.encode() for v in values]
    found: dict[str, set[str]] = {}
    for path, data in readable(folder):
        for v in wanted:
            if v in data:
                found.setdefault(v.decode(), set()).add(str(path.relative_to(folder)))
    return {k: sorted(v) for k, v in found.items()}


HEX_KEY = re.compile(rb"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")


def keys_in(folder: str | os.PathLike[str]) -> set[bytes]:
    """Every 32-byte key written in hex anywhere in the folder's files (as the store's meta kept its
    hash key until issue 17): what a thief would try first."""
    return {
        bytes.fromhex(m.group().decode()) for _p, data in readable(folder) for m in HEX_KEY.finditer(data)
    }


def luhn(digits14: str) -> str:
    """The IMEI with its Luhn check digit (3GPP TS 23.003 6.2.1, annex B)."""
    total = 0
    for k, ch in enumerate(reversed(digits14)):
        d = int(ch) * (2 if k % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits14 + str((10 - total % 10) % 10)


def imei_space(imei: str, digits: int = 6) -> Iterator[str]:
    """Every IMEI sharing all but the last ``digits`` serial digits with ``imei`` (6: its whole type
    allocation code's range, 10^6 serials), Luhn-checked."""
    head = imei[: 14 - digits]
    for serial in range(10**digits):
        yield luhn(f"{head}{serial:0{digits}d}")


def phone_space(national: str, radius: int) -> Iterator[str]:
    """Numbers within ``radius`` of an 11-digit national mobile number, national and +86 forms."""
    base = int(national)
    for n in range(base - radius, base + radius + 1):
        yield str(n)
        yield f"+86{n}"


def recover(key: bytes, hashes: dict[str, str], candidates: Iterable[str]) -> dict[str, str]:
    """Hash every candidate under ``key`` as the observer does (HMAC-SHA256 of data type, NUL,
    value; 16 hex digits kept) for each data type of ``hashes`` ({hash: data_type}): the values
    found, {hash: value}."""
    types = sorted(set(hashes.values()))
    prefixes = {t: hmac.new(key, f"{t}\x00".encode(), hashlib.sha256) for t in types}
    want = {bytes.fromhex(h) for h in hashes}
    found: dict[str, str] = {}
    for value in candidates:
        v = value.encode()
        for h0 in prefixes.values():
            h = h0.copy()
            h.update(v)
            d = h.digest()[:8]
            if d in want:
                found[d.hex()] = value
    return found
