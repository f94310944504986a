"""Google QUIC client hellos: the server name of a gQUIC connection, as nDPI and Wireshark read it.

Before IETF QUIC, Chrome and Google's apps spoke gQUIC. Its client hello (a ``CHLO``
message of tag/value pairs) carries the server name in clear in its ``SNI`` tag:

- Q024-Q043: the old public header (flags, 8-byte connection id, version, packet number),
  a 12-byte message hash, a private-flags byte before Q034, then frames; the CHLO is the
  data of a STREAM frame on stream 1;
- Q046: an IETF-like long header (``0xc3``, version, connection id lengths ``0x50``,
  8-byte connection id, 4-byte packet number), then the same hash and frames;
- Q050, T050, T051: an IETF long header whose Initial is protected like IETF QUIC's with a
  salt of its own; ``parsers.protocols.quic`` decrypts it and gathers its gQUIC CRYPTO frames
  (type ``0x08``), which carry the CHLO (Q050, read here) or a TLS ClientHello (T05x).

Layouts follow Chromium's gQUIC wire format notes and nDPI's ``protocols/quic.c``
(``get_clear_payload``, ``get_crypto_data``, ``process_chlo``); Wireshark's
``packet-gquic.c`` is the oracle the tests compare with.
"""

from __future__ import annotations

import re

from parsers.protocols.tls import ClientHello

CLEAR = re.compile(rb"Q0(2[4-9]|3\d|4[0-6])")  # versions whose CHLO is in clear (Q024..Q046)
HASH = 12  # message authentication hash of an unencrypted packet (FNV-1a 128 truncated)
MIN_HELLO = 1200  # a client hello datagram is padded to at least this (nDPI's bound too)
PN_LENGTHS = (1, 2, 4, 6)  # old public header: packet number length by flags bits 0x30
MAX_TAGS = 128


class GquicError(ValueError):
    """Not a gQUIC client hello we can read."""


def clear_version(datagram: bytes) -> str:
    """``Q0xx`` when the datagram is a gQUIC client packet whose CHLO is in clear, else ''."""
    if len(datagram) < 30:
        return ""
    first = datagram[0]
    if first & 0x80:  # Q046's long header: version right after the first byte, then 0x50
        v = datagram[1:5]
        return v.decode() if v == b"Q046" and datagram[5] == 0x50 and first & 0x03 == 0x03 else ""
    # old public header: version flag (0x01) and an 8-byte connection id (0x08) present
    if first & 0x09 != 0x09 or first & 0x40:
        return ""
    v = datagram[9:13]
    return v.decode() if CLEAR.fullmatch(v) and v != b"Q046" else ""


def sniff(datagram: bytes) -> bool:
    """A gQUIC client hello packet in clear (Q024..Q046)."""
    return len(datagram) >= MIN_HELLO and bool(clear_version(datagram))


def clear_hello(datagram: bytes) -> ClientHello | None:
    """The CHLO of a clear gQUIC packet (None when the packet is not a client hello)."""
    version = clear_version(datagram)
    if not version:
        return None
    n = int(version[1:])
    if version == "Q046":
        pos = 1 + 4 + 1 + 8 + (datagram[0] & 0x03) + 1
    else:
        pos = 1 + 8 + 4 + PN_LENGTHS[(datagram[0] >> 4) & 0x03]
    pos += HASH + (1 if n < 34 else 0)  # private flags before Q034
    data = _stream_one(datagram, pos, big_endian=n >= 39)
    return chlo(data, version) if data is not None else None


def _stream_one(frames: bytes, pos: int, big_endian: bool) -> bytes | None:
    """The data of the first STREAM frame on stream 1 (the crypto stream), after padding and ACKs."""
    end = len(frames)
    while pos < end:
        ftype = frames[pos]
        if ftype == 0x00:  # padding
            pos += 1
            continue
        if ftype in (0x40, 0x60):  # an ACK before a repeated CHLO (nDPI skips 6 or 9 bytes too)
            pos += 6 if ftype == 0x40 else 9
            continue
        if not ftype & 0x80:
            return None  # another frame: not a client hello packet
        sid_len = (ftype & 0x03) + 1
        off_len = (ftype >> 2) & 0x07
        off_len = off_len + 1 if off_len else 0
        p = pos + 1
        sid = int.from_bytes(frames[p : p + sid_len], "little")
        p += sid_len + off_len
        if ftype & 0x20:
            if p + 2 > end:
                raise GquicError("STREAM frame cut before its length")
            size = int.from_bytes(frames[p : p + 2], "big" if big_endian else "little")
            p += 2
        else:
            size = end - p
        if sid != 1:
            return None
        if p + size > end:
            raise GquicError("STREAM frame runs past the packet")
        return frames[p : p + size]
    return None


def chlo_length(data: bytes) -> int:
    """Bytes the CHLO at the start of ``data`` takes (0 while its index is not whole)."""
    if len(data) < 8 or data[:4] != b"CHLO":
        raise GquicError("not a CHLO message")
    count = int.from_bytes(data[4:6], "little")
    if count > MAX_TAGS:
        raise GquicError(f"absurd CHLO tag count {count}")
    index_end = 8 + 8 * count
    if len(data) < index_end:
        return 0
    last = int.from_bytes(data[index_end - 4 : index_end], "little") if count else 0
    return index_end + last


def chlo(data: bytes, version: str) -> ClientHello:
    """A CHLO's server name (``SNI`` tag) as a ClientHello of no TLS fields, marked ``gquic``."""
    need = chlo_length(data)
    if need == 0 or need > len(data):
        raise GquicError("CHLO cut short")
    count = int.from_bytes(data[4:6], "little")
    base = 8 + 8 * count
    hello = ClientHello(0, [], [], gquic=version)
    prev = 0
    for i in range(count):
        tag = data[8 + 8 * i : 12 + 8 * i]
        end = int.from_bytes(data[12 + 8 * i : 16 + 8 * i], "little")
        if end < prev:
            raise GquicError("CHLO tag offsets go backwards")
        if tag == b"SNI\x00":
            hello.sni = data[base + prev : base + end].decode("ascii", "replace")
        prev = end
    return hello
