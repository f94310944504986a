"""Test harness: protected QUIC v1 Initials (RFC 9001 5), for crafted captures with a known ClientHello.

The packet protection is written here from RFC 9001 (5.2 initial secrets, 5.3 AEAD, 5.4
header protection) with the ``cryptography`` primitives, not with the parser's code, and
the captures it makes are read by tshark as the independent oracle.
"""

from __future__ import annotations

import hashlib
import hmac

import dpkt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")  # RFC 9001 5.2


def _label(secret: bytes, label: str, length: int) -> bytes:
    """HKDF-Expand-Label (RFC 8446 7.1) with an empty context, one SHA-256 block at most."""
    full = b"tls13 " + label.encode()
    info = length.to_bytes(2, "big") + bytes((len(full),)) + full + b"\x00\x01"
    return hmac.new(secret, info, hashlib.sha256).digest()[:length]


def keys(dcid: bytes, side: str) -> tuple[bytes, bytes, bytes]:
    """(key, iv, hp) of the ``client`` or ``server`` Initial packets of a connection whose first
    client Initial had destination id ``dcid``."""
    initial = hmac.new(SALT_V1, dcid, hashlib.sha256).digest()
    secret = _label(initial, f"{side} in", 32)
    return _label(secret, "quic key", 16), _label(secret, "quic iv", 12), _label(secret, "quic hp", 16)


def varint(n: int) -> bytes:
    """RFC 9000 16: the shortest encoding of n."""
    if n < 0x40:
        return bytes((n,))
    if n < 0x4000:
        return (n | 0x4000).to_bytes(2, "big")
    return (n | 0x80000000).to_bytes(4, "big")


def crypto_frame(offset: int, data: bytes) -> bytes:
    return b"\x06" + varint(offset) + varint(len(data)) + data


def initial(
    key_dcid: bytes, side: str, dcid: bytes, scid: bytes, pn: int, frames: bytes, pad_to: int = 0
) -> bytes:
    """One protected Initial packet (4-byte packet number), padded with PADDING frames to ``pad_to``."""
    key, iv, hp = keys(key_dcid, side)
    head_len = 1 + 4 + 1 + len(dcid) + 1 + len(scid) + 1 + 2 + 4
    if pad_to:
        frames += bytes(max(0, pad_to - head_len - len(frames) - 16))
    first = 0xC0 | 0x03  # long header, Initial, 4-byte packet number
    pn_bytes = pn.to_bytes(4, "big")
    length = (len(pn_bytes) + len(frames) + 16) | 0x4000
    header = (
        bytes((first,)) + (1).to_bytes(4, "big") + bytes((len(dcid),)) + dcid + bytes((len(scid),)) + scid
        + b"\x00" + length.to_bytes(2, "big") + pn_bytes
    )  # fmt: skip
    nonce = bytes(a ^ b for a, b in zip(iv, pn.to_bytes(12, "big"), strict=True))
    sealed = AESGCM(key).encrypt(nonce, frames, header)
    pn_off = len(header) - 4
    sample = sealed[:16]  # starts 4 bytes after the packet number's start (RFC 9001 5.4.2)
    enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = enc.update(sample) + enc.finalize()
    out = bytearray(header + sealed)
    out[0] ^= mask[0] & 0x0F
    for i in range(4):
        out[pn_off + i] ^= mask[1 + i]
    return bytes(out)


def udp_frame(src: bytes, sport: int, dst: bytes, dport: int, payload: bytes) -> bytes:
    """An Ethernet/IPv4/UDP frame (dpkt computes the checksums)."""
    udp = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    udp.ulen = 8 + len(payload)
    ip = dpkt.ip.IP(src=src, dst=dst, p=17, data=udp, ttl=64)
    ip.len = 20 + udp.ulen
    eth = dpkt.ethernet.Ethernet(
        src=b"\x02\x00\x00\x00\x00\x01" if src[0] == 192 else b"\x02\x00\x00\x00\x00\x02",
        dst=b"\x02\x00\x00\x00\x00\x02" if src[0] == 192 else b"\x02\x00\x00\x00\x00\x01",
        type=dpkt.ethernet.ETH_TYPE_IP,
        data=ip,
    )
    return bytes(eth)
