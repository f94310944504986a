"""Opening one protected TLS record: the per-direction cipher state of TLS 1.0-1.3.

TLS 1.2 AEAD (RFC 5246 6.2.3.3): additional data = seq_num(8) + type + version + plaintext length;
GCM and CCM nonces are the key block's 4-byte salt + the record's 8-byte explicit nonce (RFC 5288
3, RFC 6655 3); ChaCha20-Poly1305's is the 12-byte IV xor the padded sequence number (RFC 7905 2).
TLS 1.2 CBC (RFC 5246 6.2.3.2): MAC-then-encrypt, the IV explicit from TLS 1.1 on (TLS 1.0 chains
from the previous record's last block); encrypt-then-MAC (RFC 7366 3) MACs the IV and ciphertext.
TLS 1.3 (RFC 8446 5.2-5.3): additional data is the record header, the nonce the IV xor the
sequence number, the plaintext ends with its real content type after zero padding.
A record that does not authenticate raises ``BadRecord``; the sequence number only moves on success.
"""

from __future__ import annotations

import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from parsers.decrypt.suites import MAC_LEN, Suite


class BadRecord(ValueError):
    """A record that does not open with the keys at hand (wrong key, cut or corrupt record)."""


def _aead(suite: Suite, key: bytes) -> AESGCM | AESCCM | ChaCha20Poly1305:
    if suite.cipher == "gcm":
        return AESGCM(key)
    if suite.cipher == "chacha":
        return ChaCha20Poly1305(key)
    return AESCCM(key, tag_length=suite.tag_len)


def _xor_seq(iv: bytes, seq: int) -> bytes:
    return (int.from_bytes(iv, "big") ^ seq).to_bytes(len(iv), "big")


class RecordCipher:
    """One direction's read state: suite, keys, sequence number."""

    __slots__ = ("aead", "etm", "iv", "key", "mac_key", "seq", "suite", "version")

    def __init__(
        self, suite: Suite, version: int, key: bytes, iv: bytes, mac_key: bytes = b"", etm: bool = False
    ) -> None:
        self.suite = suite
        self.version = version
        self.key = key
        self.iv = iv
        self.mac_key = mac_key
        self.etm = etm  # RFC 7366, CBC suites only
        self.seq = 0
        self.aead = _aead(suite, key) if suite.aead else None

    def open(self, ctype: int, header_version: bytes, frag: bytes) -> tuple[int, bytes]:
        """(content type, plaintext) of one record's fragment; BadRecord when it does not open."""
        if self.suite.tls13:
            out = self._open13(ctype, header_version, frag)
        elif self.aead is not None:
            out = ctype, self._open12_aead(ctype, header_version, frag)
        else:
            out = ctype, self._open12_cbc(ctype, header_version, frag)
        self.seq += 1
        return out

    def _open13(self, ctype: int, header_version: bytes, frag: bytes) -> tuple[int, bytes]:
        assert self.aead is not None
        aad = bytes([ctype]) + header_version + len(frag).to_bytes(2, "big")
        try:
            inner = self.aead.decrypt(_xor_seq(self.iv, self.seq), frag, aad)
        except (InvalidTag, ValueError) as e:
            raise BadRecord("record does not authenticate") from e
        end = len(inner.rstrip(b"\0"))
        if end == 0:
            raise BadRecord("TLS 1.3 record without a content type")
        return inner[end - 1], inner[: end - 1]

    def _open12_aead(self, ctype: int, header_version: bytes, frag: bytes) -> bytes:
        assert self.aead is not None
        tag = self.suite.tag_len
        if self.suite.cipher == "chacha":
            nonce, body = _xor_seq(self.iv, self.seq), frag
        else:
            nonce, body = self.iv + frag[:8], frag[8:]
        n = len(body) - tag
        if n < 0:
            raise BadRecord("record shorter than its tag")
        aad = self.seq.to_bytes(8, "big") + bytes([ctype]) + header_version + n.to_bytes(2, "big")
        try:
            return self.aead.decrypt(nonce, body, aad)
        except (InvalidTag, ValueError) as e:
            raise BadRecord("record does not authenticate") from e

    def _mac(self, ctype: int, header_version: bytes, data: bytes) -> bytes:
        head = self.seq.to_bytes(8, "big") + bytes([ctype]) + header_version + len(data).to_bytes(2, "big")
        return hmac.new(self.mac_key, head + data, self.suite.mac).digest()

    def _open12_cbc(self, ctype: int, header_version: bytes, frag: bytes) -> bytes:
        mac_len = MAC_LEN[self.suite.mac]
        if self.etm:  # RFC 7366: MAC over IV + ciphertext, checked before decrypting
            frag, mac = frag[:-mac_len], frag[-mac_len:]
            if not hmac.compare_digest(self._mac(ctype, header_version, frag), mac):
                raise BadRecord("record MAC does not match")
        explicit = self.version >= 0x0302
        if explicit:
            iv, body = frag[:16], frag[16:]
        else:
            iv, body = self.iv, frag
        if not body or len(body) % 16 or len(iv) != 16:
            raise BadRecord("CBC record not whole blocks")
        if not explicit:
            self.iv = body[-16:]  # TLS 1.0: the next record's IV (RFC 2246 6.2.3.2)
        dec = Cipher(algorithms.AES(self.key), modes.CBC(iv)).decryptor()
        plain = dec.update(body) + dec.finalize()
        pad = plain[-1] + 1
        if pad > len(plain) or plain[-pad:] != bytes([pad - 1]) * pad:
            raise BadRecord("CBC padding is wrong")
        plain = plain[:-pad]
        if self.etm:
            return plain
        if len(plain) < mac_len:
            raise BadRecord("CBC record shorter than its MAC")
        plain, mac = plain[:-mac_len], plain[-mac_len:]
        if not hmac.compare_digest(self._mac(ctype, header_version, plain), mac):
            raise BadRecord("record MAC does not match")
        return plain

    def update(self, key: bytes, iv: bytes) -> None:
        """TLS 1.3 KeyUpdate: the next generation's key and IV, sequence number back to 0."""
        self.key, self.iv, self.seq = key, iv, 0
        self.aead = _aead(self.suite, key)
