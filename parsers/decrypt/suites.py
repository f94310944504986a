"""The cipher suites whose records ``parsers.decrypt`` opens: id -> cipher, key and IV lengths, MAC, PRF hash.

Sources: TLS 1.2 CBC suites RFC 5246 appendix C and RFC 4492/5289 (ECDHE, SHA-256/384 MACs);
AES-GCM RFC 5288 and RFC 5289 (4-byte salt from the key block, 8-byte explicit nonce per record);
AES-CCM and CCM_8 RFC 6655 and RFC 7251 (same nonce layout, 16- or 8-byte tag); ChaCha20-Poly1305
RFC 7905 (12-byte IV xor the sequence number, no explicit nonce); TLS 1.3 RFC 8446 B.4 (the five
suites, the hash names HKDF's). The key exchange does not matter here: the key log holds the
secrets the exchange produced, so RSA, DHE, ECDHE and PSK variants of one cipher share a row.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Suite:
    name: str
    cipher: str  # gcm, ccm, ccm8, chacha, cbc
    key_len: int
    iv_len: int  # TLS 1.2: the key block's IV (GCM/CCM salt 4, ChaCha 12, CBC block 16); TLS 1.3: 12
    mac: str = ""  # CBC suites' HMAC hash: sha1, sha256, sha384
    prf: str = "sha256"  # TLS 1.2 PRF hash (RFC 5246 5: SHA-256 unless the suite says), TLS 1.3 HKDF hash
    tls13: bool = False

    @property
    def aead(self) -> bool:
        return self.cipher != "cbc"

    @property
    def tag_len(self) -> int:
        return 8 if self.cipher == "ccm8" else 16


MAC_LEN = {"sha1": 20, "sha256": 32, "sha384": 48}


def _cbc(name: str, key: int, mac: str) -> Suite:
    return Suite(name, "cbc", key, 16, mac, "sha384" if mac == "sha384" else "sha256")


def _aead(name: str, cipher: str, key: int, prf: str = "sha256") -> Suite:
    return Suite(name, cipher, key, 12 if cipher == "chacha" else 4, prf=prf)


SUITES: dict[int, Suite] = {
    # AES-CBC with HMAC (RFC 5246 A.5, RFC 4492 6, RFC 5289 3.1, RFC 4279/5487 PSK)
    0x002F: _cbc("RSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
    0x0033: _cbc("DHE_RSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
    0x0035: _cbc("RSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
    0x0039: _cbc("DHE_RSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
    0x003C: _cbc("RSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
    0x003D: _cbc("RSA_WITH_AES_256_CBC_SHA256", 32, "sha256"),
    0x0067: _cbc("DHE_RSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
    0x006B: _cbc("DHE_RSA_WITH_AES_256_CBC_SHA256", 32, "sha256"),
    0x008C: _cbc("PSK_WITH_AES_128_CBC_SHA", 16, "sha1"),
    0x008D: _cbc("PSK_WITH_AES_256_CBC_SHA", 32, "sha1"),
    0x00AE: _cbc("PSK_WITH_AES_128_CBC_SHA256", 16, "sha256"),
    0x00AF: _cbc("PSK_WITH_AES_256_CBC_SHA384", 32, "sha384"),
    0xC009: _cbc("ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
    0xC00A: _cbc("ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
    0xC013: _cbc("ECDHE_RSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
    0xC014: _cbc("ECDHE_RSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
    0xC023: _cbc("ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
    0xC024: _cbc("ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", 32, "sha384"),
    0xC027: _cbc("ECDHE_RSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
    0xC028: _cbc("ECDHE_RSA_WITH_AES_256_CBC_SHA384", 32, "sha384"),
    # AES-GCM (RFC 5288 3, RFC 5289 3.2, RFC 5487 PSK)
    0x009C: _aead("RSA_WITH_AES_128_GCM_SHA256", "gcm", 16),
    0x009D: _aead("RSA_WITH_AES_256_GCM_SHA384", "gcm", 32, "sha384"),
    0x009E: _aead("DHE_RSA_WITH_AES_128_GCM_SHA256", "gcm", 16),
    0x009F: _aead("DHE_RSA_WITH_AES_256_GCM_SHA384", "gcm", 32, "sha384"),
    0x00A8: _aead("PSK_WITH_AES_128_GCM_SHA256", "gcm", 16),
    0x00A9: _aead("PSK_WITH_AES_256_GCM_SHA384", "gcm", 32, "sha384"),
    0xC02B: _aead("ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "gcm", 16),
    0xC02C: _aead("ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "gcm", 32, "sha384"),
    0xC02F: _aead("ECDHE_RSA_WITH_AES_128_GCM_SHA256", "gcm", 16),
    0xC030: _aead("ECDHE_RSA_WITH_AES_256_GCM_SHA384", "gcm", 32, "sha384"),
    # AES-CCM and CCM_8 (RFC 6655 3-4, RFC 7251 2)
    0xC09C: _aead("RSA_WITH_AES_128_CCM", "ccm", 16),
    0xC09D: _aead("RSA_WITH_AES_256_CCM", "ccm", 32),
    0xC09E: _aead("DHE_RSA_WITH_AES_128_CCM", "ccm", 16),
    0xC09F: _aead("DHE_RSA_WITH_AES_256_CCM", "ccm", 32),
    0xC0A0: _aead("RSA_WITH_AES_128_CCM_8", "ccm8", 16),
    0xC0A1: _aead("RSA_WITH_AES_256_CCM_8", "ccm8", 32),
    0xC0A2: _aead("DHE_RSA_WITH_AES_128_CCM_8", "ccm8", 16),
    0xC0A3: _aead("DHE_RSA_WITH_AES_256_CCM_8", "ccm8", 32),
    0xC0A4: _aead("PSK_WITH_AES_128_CCM", "ccm", 16),
    0xC0A5: _aead("PSK_WITH_AES_256_CCM", "ccm", 32),
    0xC0A8: _aead("PSK_WITH_AES_128_CCM_8", "ccm8", 16),
    0xC0A9: _aead("PSK_WITH_AES_256_CCM_8", "ccm8", 32),
    0xC0AC: _aead("ECDHE_ECDSA_WITH_AES_128_CCM", "ccm", 16),
    0xC0AD: _aead("ECDHE_ECDSA_WITH_AES_256_CCM", "ccm", 32),
    0xC0AE: _aead("ECDHE_ECDSA_WITH_AES_128_CCM_8", "ccm8", 16),
    0xC0AF: _aead("ECDHE_ECDSA_WITH_AES_256_CCM_8", "ccm8", 32),
    # ChaCha20-Poly1305 (RFC 7905 2)
    0xCCA8: _aead("ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "chacha", 32),
    0xCCA9: _aead("ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "chacha", 32),
    0xCCAA: _aead("DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "chacha", 32),
    0xCCAB: _aead("PSK_WITH_CHACHA20_POLY1305_SHA256", "chacha", 32),
    # TLS 1.3 (RFC 8446 B.4)
    0x1301: Suite("TLS_AES_128_GCM_SHA256", "gcm", 16, 12, tls13=True),
    0x1302: Suite("TLS_AES_256_GCM_SHA384", "gcm", 32, 12, prf="sha384", tls13=True),
    0x1303: Suite("TLS_CHACHA20_POLY1305_SHA256", "chacha", 32, 12, tls13=True),
    0x1304: Suite("TLS_AES_128_CCM_SHA256", "ccm", 16, 12, tls13=True),
    0x1305: Suite("TLS_AES_128_CCM_8_SHA256", "ccm8", 16, 12, tls13=True),
}
