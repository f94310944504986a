"""QUIC v1/v2 Initial packets: remove protection and read the ClientHello (RFC 9000, 9001, 9369).

Initial keys derive from the client's destination connection id, which travels in
clear, so anyone on the path can read the ClientHello: server name, ALPN and the
JA4 (with transport ``q``). The ClientHello may span several Initial packets and
CRYPTO frames; ``InitialCrypto`` gathers them per connection. Once the server's first
Initial came, the client's next Initials carry the server's chosen connection id
(RFC 9000 7.2) but are still protected with the keys of its first one (RFC 9001 5.2),
so ``InitialCrypto`` keeps that first id and decrypts the later packets with it (as
nDPI and Wireshark do). Google's Q050/T050/T051 protect their Initials the same way
with salts of their own; their frames are gQUIC's (``parsers.protocols.gquic``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from parsers.protocols.gquic import GquicError, chlo, chlo_length
from parsers.protocols.tls import ClientHello, TlsError, parse_client_hello

V1, V2 = 0x00000001, 0x6B3343CF
SALTS = {
    V1: bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"),
    V2: bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9"),
}
# IETF drafts still seen in captures: 23-28 (and mvfst's 0xfaceb002) and 29-32 had their own salts,
# 33-34 already used v1's; they share v1's labels and packet types.
DRAFT_SALTS = {
    bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502"): (*range(0xFF000017, 0xFF00001D), 0xFACEB002),
    bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899"): (
        0xFF00001D,
        0xFF00001E,
        0xFF00001F,
        0xFF000020,
    ),
    SALTS[V1]: (0xFF000021, 0xFF000022),
}
for _salt, _versions in DRAFT_SALTS.items():
    SALTS.update(dict.fromkeys(_versions, _salt))
# Google QUIC with IETF-style protected Initials (Wireshark's packet-quic.c, nDPI's quic.c):
# Q050 carries a gQUIC CHLO, T050/T051 a TLS ClientHello, both in gQUIC CRYPTO frames (0x08).
GQUIC_SALTS = {
    0x51303530: bytes.fromhex("504574efd066fe2f9d945cfcdbd3a7f0d3b56b45"),  # Q050
    0x54303530: bytes.fromhex("7ff579e5acd072915580304c43a2367c60488310"),  # T050
    0x54303531: bytes.fromhex("7a4edef4e7ccee5fa4506c19124fc8ccda6e033d"),  # T051
}
SALTS.update(GQUIC_SALTS)
LABELS = {V1: ("quic key", "quic iv", "quic hp"), V2: ("quicv2 key", "quicv2 iv", "quicv2 hp")}
INITIAL_TYPE = {V1: 0, V2: 1}  # long-header packet type bits of an Initial
MAX_CRYPTO = 1 << 16


class QuicError(ValueError):
    """Not a QUIC Initial we can read (unknown version, failed decryption, bad frames)."""


@dataclass
class InitialPacket:
    version: int
    dcid: bytes
    scid: bytes
    frames: bytes  # decrypted payload
    keyed_by: bytes = b""  # the first Initial's id whose keys decrypted it, when not its own


def _expand_label(secret: bytes, label: str, length: int) -> bytes:
    full = b"tls13 " + label.encode()
    info = length.to_bytes(2, "big") + bytes((len(full),)) + full + b"\x00"
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes((i,)), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def client_keys(version: int, dcid: bytes) -> tuple[bytes, bytes, bytes]:
    """(key, iv, header-protection key) of the client's Initial packets."""
    initial = hmac.new(SALTS[version], dcid, hashlib.sha256).digest()
    secret = _expand_label(initial, "client in", 32)
    k, iv, hp = LABELS.get(version, LABELS[V1])
    return _expand_label(secret, k, 16), _expand_label(secret, iv, 12), _expand_label(secret, hp, 16)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise QuicError("varint past the end")
    size = 1 << (data[pos] >> 6)
    if pos + size > len(data):
        raise QuicError("varint past the end")
    value = data[pos] & 0x3F
    for b in data[pos + 1 : pos + size]:
        value = (value << 8) | b
    return value, pos + size


def client_initials(datagram: bytes, original: bytes = b"") -> list[InitialPacket]:
    """The decrypted client Initial packets coalesced in one UDP datagram.

    ``original``: the destination connection id of the connection's first client Initial,
    whose keys protect the later Initials that carry the server's id instead (RFC 9001 5.2);
    after a Retry the keys come from the new id, so the packet's own id is tried next."""
    out: list[InitialPacket] = []
    pos = 0
    while pos + 7 <= len(datagram):
        first = datagram[pos]
        if not first & 0x80:
            break  # a short-header packet ends the datagram
        version = int.from_bytes(datagram[pos + 1 : pos + 5], "big")
        if version not in SALTS:
            raise QuicError(f"QUIC version {version:#x} has no known Initial salt")
        p = pos + 5
        dlen = datagram[p]
        dcid = datagram[p + 1 : p + 1 + dlen]
        p += 1 + dlen
        slen = datagram[p] if p < len(datagram) else 0
        scid = datagram[p + 1 : p + 1 + slen]
        p += 1 + slen
        ptype = (first >> 4) & 3
        initial = INITIAL_TYPE.get(version, 0)
        if ptype == initial:
            token_len, p = _varint(datagram, p)
            p += token_len
        length, p = _varint(datagram, p)
        end = p + length
        if end > len(datagram) or length < 20:
            raise QuicError("packet length runs past the datagram")
        if ptype == initial:
            out.append(_decrypt_with(version, original, dcid, scid, datagram, pos, p, end))
        pos = end
    return out


def _decrypt_with(
    version: int, original: bytes, dcid: bytes, scid: bytes, dg: bytes, start: int, pn_off: int, end: int
) -> InitialPacket:
    """Decrypt with the first Initial's keys when the packet's id is another, else its own."""
    if original and original != dcid:
        try:
            packet = _decrypt(version, original, scid, dg, start, pn_off, end)
        except QuicError:
            pass
        else:
            packet.dcid = dcid
            packet.keyed_by = original
            return packet
    return _decrypt(version, dcid, scid, dg, start, pn_off, end)


def _decrypt(
    version: int, dcid: bytes, scid: bytes, dg: bytes, start: int, pn_off: int, end: int
) -> InitialPacket:
    key, iv, hp = client_keys(version, dcid)
    sample = dg[pn_off + 4 : pn_off + 20]
    enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = enc.update(sample) + enc.finalize()
    first = dg[start] ^ (mask[0] & 0x0F)
    pn_len = (first & 3) + 1
    pn = bytes(b ^ m for b, m in zip(dg[pn_off : pn_off + pn_len], mask[1 : 1 + pn_len], strict=True))
    header = bytes((first,)) + dg[start + 1 : pn_off] + pn
    nonce = bytes(a ^ b for a, b in zip(iv, int.from_bytes(pn, "big").to_bytes(12, "big"), strict=True))
    try:
        plain = AESGCM(key).decrypt(nonce, dg[pn_off + pn_len : end], header)
    except Exception as exc:  # InvalidTag: not a client Initial, or keys from another connection id
        raise QuicError(f"Initial does not decrypt ({type(exc).__name__})") from None
    return InitialPacket(version, dcid, scid, plain)


def crypto_frames(frames: bytes, version: int = V1) -> list[tuple[int, bytes]]:
    """(offset, data) of the CRYPTO frames among PADDING, PING and ACK frames."""
    if version in GQUIC_SALTS:
        return _gquic_crypto_frames(frames)
    out = []
    pos = 0
    while pos < len(frames):
        ftype = frames[pos]
        pos += 1
        if ftype in (0x00, 0x01):
            continue
        if ftype in (0x02, 0x03):  # ACK: largest, delay, range count, first range, ranges (, ECN)
            _l, pos = _varint(frames, pos)
            _d, pos = _varint(frames, pos)
            count, pos = _varint(frames, pos)
            _f, pos = _varint(frames, pos)
            for _ in range(count * 2 + (3 if ftype == 0x03 else 0)):
                _x, pos = _varint(frames, pos)
            continue
        if ftype == 0x06:
            off, pos = _varint(frames, pos)
            n, pos = _varint(frames, pos)
            if pos + n > len(frames):
                raise QuicError("CRYPTO frame runs past the packet")
            out.append((off, frames[pos : pos + n]))
            pos += n
            continue
        if ftype == 0x1C:  # CONNECTION_CLOSE: nothing more to read
            break
        raise QuicError(f"frame type {ftype:#x} is not allowed in an Initial")
    return out


def _gquic_crypto_frames(frames: bytes) -> list[tuple[int, bytes]]:
    """Q050/T05x: gQUIC CRYPTO frames (0x08, offset and length as varints) after padding, PING and
    gQUIC ACKs (0x40, 0x60: skipped by their fixed sizes as nDPI does); other frames end the read."""
    out: list[tuple[int, bytes]] = []
    pos, end = 0, len(frames)
    while pos < end:
        ftype = frames[pos]
        if ftype in (0x00, 0x01):
            pos += 1
        elif ftype in (0x40, 0x60):
            pos += 6 if ftype == 0x40 else 9
        elif ftype == 0x08:
            off, pos = _varint(frames, pos + 1)
            n, pos = _varint(frames, pos)
            if pos + n > end:
                raise QuicError("CRYPTO frame runs past the packet")
            out.append((off, frames[pos : pos + n]))
            pos += n
        else:
            break
    return out


@dataclass
class InitialCrypto:
    """The CRYPTO stream of one connection's client Initials, until the ClientHello is whole.

    ``original`` is the destination id of the first client Initial: its keys decrypt the
    later Initials that carry the server's id (hand it to ``client_initials``)."""

    data: dict[int, bytes] = field(default_factory=dict)
    original: bytes = b""

    def add(self, packet: InitialPacket) -> ClientHello | None:
        if not self.original:
            self.original = packet.keyed_by or packet.dcid
        for off, chunk in crypto_frames(packet.frames, packet.version):
            if off < MAX_CRYPTO:
                self.data[off] = chunk
        stream = b""
        for off in sorted(self.data):
            if off > len(stream):
                break
            stream += self.data[off][len(stream) - off :]
        if stream[:4] == b"CHLO":  # Q050: a gQUIC client hello
            try:
                need = chlo_length(stream)
                label = packet.version.to_bytes(4, "big").decode("ascii", "replace")
                return chlo(stream, label) if need and len(stream) >= need else None
            except GquicError as exc:
                raise QuicError(f"CHLO: {exc}") from None
        if len(stream) < 4 or stream[0] != 1:
            return None
        need = 4 + int.from_bytes(stream[1:4], "big")
        if len(stream) < need:
            return None
        try:
            return parse_client_hello(stream[4:need])
        except TlsError as exc:
            raise QuicError(f"ClientHello: {exc}") from None
