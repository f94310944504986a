"""Key schedules: the TLS 1.0-1.2 PRF and key block, the TLS 1.3 HKDF-Expand-Label traffic keys.

TLS 1.2 (RFC 5246 5, 6.3): key_block = PRF(master_secret, "key expansion", server_random +
client_random), cut into client and server MAC keys, write keys and IVs in that order. TLS 1.0
and 1.1 (RFC 2246 5, RFC 4346 5) use P_MD5 xor P_SHA1 over the two halves of the secret.
TLS 1.3 (RFC 8446 7.1, 7.3, 7.2): key = HKDF-Expand-Label(secret, "key", "", key_length),
iv = HKDF-Expand-Label(secret, "iv", "", 12), and a KeyUpdate's next secret is
HKDF-Expand-Label(secret, "traffic upd", "", Hash.length).
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from parsers.decrypt.suites import MAC_LEN, Suite

HASHES: dict[str, type[hashes.SHA1 | hashes.SHA256 | hashes.SHA384]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
}


def p_hash(name: str, secret: bytes, seed: bytes, n: int) -> bytes:
    """P_hash of RFC 5246 5: HMAC chained until ``n`` bytes."""
    out = bytearray()
    a = seed
    while len(out) < n:
        a = hmac.new(secret, a, name).digest()
        out += hmac.new(secret, a + seed, name).digest()
    return bytes(out[:n])


def prf(version: int, hash_name: str, secret: bytes, label: bytes, seed: bytes, n: int) -> bytes:
    """The PRF of the negotiated version: TLS 1.2 P_<hash>; TLS 1.0/1.1 P_MD5 xor P_SHA1 (RFC 2246 5)."""
    if version >= 0x0303:
        return p_hash(hash_name, secret, label + seed, n)
    half = (len(secret) + 1) // 2
    md5 = p_hash("md5", secret[:half], label + seed, n)
    sha = p_hash("sha1", secret[-half:], label + seed, n)
    return bytes(a ^ b for a, b in zip(md5, sha, strict=True))


def key_block(
    suite: Suite, version: int, master: bytes, client_random: bytes, server_random: bytes
) -> tuple[tuple[bytes, bytes, bytes], tuple[bytes, bytes, bytes]]:
    """(MAC key, write key, IV) of the client, then of the server (RFC 5246 6.3). TLS 1.1+ CBC
    records carry their IV, so the key block's IV is used by TLS 1.0 only (RFC 4346 6.3)."""
    mac = MAC_LEN.get(suite.mac, 0)
    iv = suite.iv_len if suite.aead or version < 0x0302 else 0
    n = 2 * (mac + suite.key_len + iv)
    kb = prf(version, suite.prf, master, b"key expansion", server_random + client_random, n)
    cut = [mac, mac, suite.key_len, suite.key_len, iv, iv]
    parts, pos = [], 0
    for c in cut:
        parts.append(kb[pos : pos + c])
        pos += c
    cmac, smac, ckey, skey, civ, siv = parts
    return (cmac, ckey, civ), (smac, skey, siv)


def hkdf_expand_label(hash_name: str, secret: bytes, label: bytes, context: bytes, n: int) -> bytes:
    """HKDF-Expand-Label of RFC 8446 7.1 (HkdfLabel: length, "tls13 " + label, context)."""
    full = b"tls13 " + label
    info = n.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    return HKDFExpand(HASHES[hash_name](), n, info).derive(secret)


def traffic_keys(suite: Suite, secret: bytes) -> tuple[bytes, bytes]:
    """(key, iv) of a TLS 1.3 traffic secret (RFC 8446 7.3)."""
    key = hkdf_expand_label(suite.prf, secret, b"key", b"", suite.key_len)
    return key, hkdf_expand_label(suite.prf, secret, b"iv", b"", 12)


def next_secret(suite: Suite, secret: bytes) -> bytes:
    """The traffic secret after a KeyUpdate (RFC 8446 7.2)."""
    return hkdf_expand_label(suite.prf, secret, b"traffic upd", b"", hashlib.new(suite.prf).digest_size)
