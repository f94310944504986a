"""A TLS 1.3 connection written for the lab: hellos in clear, every later record protected with
keys from chosen traffic secrets, and the NSS key log lines that open it (issue 16).

No key exchange happens: the generator draws the four traffic secrets from its seeded RNG and
logs them, as an instrumented device's ``SSLKEYLOGFILE`` would (draft-ietf-tls-keylogfile 3).
Keys and IVs come from those secrets through the appliance's own key schedule
(``parsers.decrypt.schedule.traffic_keys``, RFC 8446 7.3); records are sealed here with
``cryptography``'s AEADs as RFC 8446 5.2 lays them out (additional data = the record header,
nonce = IV xor sequence number, inner plaintext = content + real type), so a wrong schedule on
either side shows as records that do not open, and tshark with the key log is the independent
reader. The flight is the one RFC 8446 2 draws without client authentication, with the
compatibility ChangeCipherSpec of D.4: ServerHello, {EncryptedExtensions (ALPN, RFC 7301),
Finished}; the client's {Finished}; then application data. Certificates are left out (a PSK-like
flight): nothing that reads the capture checks them.
"""

from __future__ import annotations

import hashlib
import random
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from parsers.decrypt import schedule
from parsers.decrypt.suites import SUITES
from pcaps.synth import frames as fr

AES_128_GCM, AES_256_GCM, CHACHA20 = 0x1301, 0x1302, 0x1303  # RFC 8446 B.4
MAX_PLAIN = 1 << 14  # TLSPlaintext.length limit (RFC 8446 5.1)
OFFERED = b"\x13\x01\x13\x02\xc0\x2f\xc0\x30"  # frames.tls_client_hello's suites
OFFER_13 = b"\x13\x01\x13\x03\x13\x02\xc0\x2f"  # the same length: the three suites the lab uses first
LOG_LABELS = (
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
)
_CCS = b"\x14\x03\x03\x00\x01\x01"  # middlebox compatibility (RFC 8446 D.4)


class _Writer:
    """One direction's write state: AEAD, IV, sequence number."""

    def __init__(self, suite_id: int, secret: bytes) -> None:
        suite = SUITES[suite_id]
        if suite.cipher not in ("gcm", "chacha") or not suite.tls13:
            raise ValueError(f"the lab writes AES-GCM and ChaCha20 TLS 1.3 suites, not {suite.name}")
        key, self.iv = schedule.traffic_keys(suite, secret)
        self.aead = ChaCha20Poly1305(key) if suite.cipher == "chacha" else AESGCM(key)
        self.seq = 0

    def seal(self, ctype: int, data: bytes) -> bytes:
        """``data`` as protected records of inner type ``ctype`` (RFC 8446 5.2)."""
        out = b""
        for i in range(0, max(len(data), 1), MAX_PLAIN):
            inner = data[i : i + MAX_PLAIN] + bytes([ctype])
            header = b"\x17\x03\x03" + struct.pack("!H", len(inner) + 16)
            nonce = (int.from_bytes(self.iv, "big") ^ self.seq).to_bytes(12, "big")
            out += header + self.aead.encrypt(nonce, inner, header)
            self.seq += 1
        return out


class Tls13:
    """The bytes of one TLS 1.3 connection, in the order a client and server send them."""

    def __init__(self, rng: random.Random, sni: str, alpn: str, suite_id: int) -> None:
        self.suite_id = suite_id
        self.alpn = alpn
        hello = fr.tls_client_hello(sni, rng, alpn)
        self.hello = hello.replace(OFFERED, OFFER_13, 1) if suite_id == CHACHA20 else hello
        self.client_random = self.hello[11:43]  # record header 5, handshake header 4, version 2
        self.session_id = self.hello[44:76]
        n = hashlib.new(SUITES[suite_id].prf).digest_size
        self.secrets = {label: rng.randbytes(n) for label in LOG_LABELS}
        self.server_random = rng.randbytes(32)
        self.finished = (rng.randbytes(n), rng.randbytes(n))  # server's, client's verify_data
        s = self.secrets
        self.c_hs = _Writer(suite_id, s["CLIENT_HANDSHAKE_TRAFFIC_SECRET"])
        self.s_hs = _Writer(suite_id, s["SERVER_HANDSHAKE_TRAFFIC_SECRET"])
        self.c_app = _Writer(suite_id, s["CLIENT_TRAFFIC_SECRET_0"])
        self.s_app = _Writer(suite_id, s["SERVER_TRAFFIC_SECRET_0"])
        self.share = rng.randbytes(32)

    def keylog(self) -> str:
        """The NSS key log lines of this connection."""
        cr = self.client_random.hex()
        return "".join(f"{label} {cr} {self.secrets[label].hex()}\n" for label in LOG_LABELS)

    def server_flight(self) -> bytes:
        """ServerHello in clear, the compatibility CCS, then {EncryptedExtensions, Finished}."""
        exts = struct.pack("!HHH", 43, 2, 0x0304)  # supported_versions: TLS 1.3 (RFC 8446 4.2.1)
        exts += struct.pack("!HHHH", 51, 36, 0x001D, 32) + self.share  # key_share x25519 (4.2.8)
        body = (
            b"\x03\x03"
            + self.server_random
            + b"\x20"
            + self.session_id
            + struct.pack("!HB", self.suite_id, 0)
            + struct.pack("!H", len(exts))
            + exts
        )
        sh = _hs(2, body)
        proto = self.alpn.encode()
        alpn = struct.pack("!HHHB", 16, len(proto) + 3, len(proto) + 1, len(proto)) + proto
        ee = _hs(8, struct.pack("!H", len(alpn)) + alpn)
        flight = self.s_hs.seal(22, ee + _hs(20, self.finished[0]))
        return b"\x16\x03\x03" + struct.pack("!H", len(sh)) + sh + _CCS + flight

    def client_finished(self) -> bytes:
        return _CCS + self.c_hs.seal(22, _hs(20, self.finished[1]))

    def client(self, data: bytes) -> bytes:
        """Application data from the client, in as many records as it takes."""
        return self.c_app.seal(23, data)

    def server(self, data: bytes) -> bytes:
        return self.s_app.seal(23, data)


def _hs(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body
