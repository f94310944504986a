"""TLS handshake dissector: hellos, clear certificates and alerts from a reassembled TCP byte stream.

What a lab needs without decrypting: the server name (SNI), ALPN, offered and chosen
versions and ciphers, and the JA3/JA3S/JA4 fingerprints that tell one client stack
from another. Handshake messages may span records and records may span segments;
the caller hands over the stream's first bytes (``parsers.tcpstream``).
"""

from __future__ import annotations

import hashlib
import struct
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.utils import CryptographyDeprecationWarning

GREASE = frozenset(0x0A0A + 0x1010 * i for i in range(16))
# JA4's two-character version code (FoxIO's spec), used only in the JA4 string
JA4_VERSION = {
    0xFEFC: "d3",
    0xFEFD: "d2",
    0xFEFF: "d1",
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
}
# The one spelling of a version that reaches the database (flows.security, tls.*_version(s)):
# the policies compare flows.security with these names, so every column uses them.
VERSIONS = {
    0xFEFC: "dtls1.3",
    0xFEFD: "dtls1.2",
    0xFEFF: "dtls1.0",
    0x0304: "tls1.3",
    0x0303: "tls1.2",
    0x0302: "tls1.1",
    0x0301: "tls1.0",
    0x0300: "ssl3",
}
MAX_HANDSHAKE = 1 << 16  # a ClientHello beyond 64 kB is not one we will read


def version_name(v: int) -> str:
    """A protocol version as the database spells it: ``tls1.3`` ... ``ssl3``, ``0x7f1c`` if unnamed."""
    return VERSIONS.get(v) or f"0x{v:04x}"


class TlsError(ValueError):
    """Malformed TLS: lengths past the end, wrong types (counted by the caller)."""


@dataclass
class ClientHello:
    legacy_version: int
    ciphers: list[int]
    extensions: list[int]  # in order sent, GREASE included
    sni: str = ""
    alpn: list[str] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)  # supported_versions
    groups: list[int] = field(default_factory=list)
    point_formats: list[int] = field(default_factory=list)
    signature_algorithms: list[int] = field(default_factory=list)
    gquic: str = ""  # a Google QUIC CHLO's version (Q043...): only its server name is read, no TLS fields
    random: bytes = b""  # the 32-byte ClientHello random (RFC 8446 4.1.2): names the flow in a key log

    @property
    def version(self) -> int:
        """The highest version offered (supported_versions, else the legacy field)."""
        offered = [v for v in self.versions if v not in GREASE]
        return max(offered) if offered else self.legacy_version

    @property
    def ja3_string(self) -> str:
        def j(xs: list[int]) -> str:
            return "-".join(str(x) for x in xs if x not in GREASE)

        return ",".join(
            (
                str(self.legacy_version),
                j(self.ciphers),
                j(self.extensions),
                j(self.groups),
                j(self.point_formats),
            )
        )

    @property
    def ja3(self) -> str:
        return _md5(self.ja3_string)

    def ja4(self, transport: str = "t") -> str:
        """JA4 (FoxIO): transport, version, SNI, counts, ALPN; hashes of ciphers and extensions."""
        return _ja4(
            transport,
            self.version,
            bool(self.sni),
            tuple(self.ciphers),
            tuple(self.extensions),
            self.alpn[0] if self.alpn else "",
            tuple(self.signature_algorithms),
        )


@lru_cache(maxsize=4096)
def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@lru_cache(maxsize=4096)  # a device's stack sends the same hello shape on every connection
def _ja4(
    transport: str,
    version: int,
    has_sni: bool,
    all_ciphers: tuple[int, ...],
    all_exts: tuple[int, ...],
    alpn: str,
    all_sigs: tuple[int, ...],
) -> str:
    ciphers = [c for c in all_ciphers if c not in GREASE]
    exts = [e for e in all_exts if e not in GREASE]
    if not alpn:
        a = "00"
    elif alpn[0].isalnum() and alpn[-1].isalnum():
        a = alpn[0] + alpn[-1]
    else:
        hx = alpn.encode("latin-1", "replace").hex()
        a = hx[0] + hx[-1]
    head = (
        f"{transport}{JA4_VERSION.get(version, '00')}{'d' if has_sni else 'i'}"
        f"{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{a}"
    )
    b = _sha12(",".join(f"{c:04x}" for c in sorted(ciphers))) if ciphers else "0" * 12
    rest = sorted(e for e in exts if e not in (0x0000, 0x0010))
    text = ",".join(f"{e:04x}" for e in rest)
    sigs = [s for s in all_sigs if s not in GREASE]
    if sigs:
        text += "_" + ",".join(f"{s:04x}" for s in sigs)
    c = _sha12(text) if exts else "0" * 12
    return f"{head}_{b}_{c}"


@dataclass
class ServerHello:
    legacy_version: int
    cipher: int
    extensions: list[int]
    selected_version: int = 0

    @property
    def version(self) -> int:
        return self.selected_version or self.legacy_version

    @property
    def ja3s_string(self) -> str:
        exts = "-".join(str(e) for e in self.extensions if e not in GREASE)
        return f"{self.legacy_version},{self.cipher},{exts}"

    @property
    def ja3s(self) -> str:
        return hashlib.md5(self.ja3s_string.encode(), usedforsecurity=False).hexdigest()


def _u16s(data: bytes) -> list[int]:
    if len(data) % 2:
        raise TlsError(f"odd length {len(data)} for a list of 16-bit values")
    return list(struct.unpack(f"!{len(data) // 2}H", data))


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def handshake_messages(stream: bytes) -> list[tuple[int, bytes]]:
    """(type, body) of the handshake messages at the start of a TLS stream.

    Stops quietly at the end of the bytes given or at the first non-handshake record
    (ChangeCipherSpec, encrypted data); raises TlsError when the stream is not TLS.
    """
    buf = bytearray()
    pos = 0
    while pos + 5 <= len(stream):
        ctype, major, length = stream[pos], stream[pos + 1], struct.unpack_from("!H", stream, pos + 3)[0]
        if major != 3 or ctype not in (20, 21, 22, 23):
            raise TlsError(f"not a TLS record (type {ctype}, version major {major})")
        if ctype != 22:
            break
        buf += stream[pos + 5 : pos + 5 + length]
        pos += 5 + length
        if len(buf) > MAX_HANDSHAKE:
            break
    out: list[tuple[int, bytes]] = []
    i = 0
    while i + 4 <= len(buf):
        mtype = buf[i]
        mlen = int.from_bytes(buf[i + 1 : i + 4], "big")
        if i + 4 + mlen > len(buf):
            break  # the rest is in bytes not given yet
        out.append((mtype, bytes(buf[i + 4 : i + 4 + mlen])))
        i += 4 + mlen
    return out


def _vec(data: bytes, pos: int, width: int, end: int) -> tuple[int, int]:
    """(start, stop) of a ``width``-byte-length-prefixed vector at ``pos``, checked against ``end``."""
    if pos + width > end:
        raise TlsError("vector length runs past the end")
    n = int.from_bytes(data[pos : pos + width], "big")
    start = pos + width
    if start + n > end:
        raise TlsError(f"vector of {n} bytes runs past the end")
    return start, start + n


def parse_client_hello(body: bytes) -> ClientHello:
    """Fields of a ClientHello body; indexes bytes directly (it runs once per TLS connection)."""
    n = len(body)
    if n < 35:
        raise TlsError("ClientHello too short")
    version = (body[0] << 8) | body[1]
    _s, pos = _vec(body, 34, 1, n)  # session id
    c0, c1 = _vec(body, pos, 2, n)
    ciphers = _u16s(body[c0:c1])
    _s, pos = _vec(body, c1, 1, n)  # compression methods
    ch = ClientHello(version, ciphers, [], random=bytes(body[2:34]))
    if n - pos < 2:
        return ch
    pos, end = _vec(body, pos, 2, n)
    exts = ch.extensions
    while pos + 4 <= end:
        etype = (body[pos] << 8) | body[pos + 1]
        d0, d1 = _vec(body, pos + 2, 2, end)
        exts.append(etype)
        pos = d1
        if etype == 0 and d1 - d0 >= 2:  # server_name: the host_name entry
            l0, l1 = _vec(body, d0, 2, d1)
            while l0 + 3 <= l1:
                kind = body[l0]
                h0, h1 = _vec(body, l0 + 1, 2, l1)
                if kind == 0:
                    ch.sni = body[h0:h1].decode("ascii", "replace")
                    break
                l0 = h1
        elif etype == 16 and d1 - d0 >= 2:
            l0, l1 = _vec(body, d0, 2, d1)
            while l0 < l1:
                p0, p1 = _vec(body, l0, 1, l1)
                ch.alpn.append(body[p0:p1].decode("latin-1"))
                l0 = p1
        elif etype == 43 and d1 - d0 >= 1:
            l0, l1 = _vec(body, d0, 1, d1)
            ch.versions = _u16s(body[l0:l1])
        elif etype == 10 and d1 - d0 >= 2:
            l0, l1 = _vec(body, d0, 2, d1)
            ch.groups = _u16s(body[l0:l1])
        elif etype == 11 and d1 - d0 >= 1:
            l0, l1 = _vec(body, d0, 1, d1)
            ch.point_formats = list(body[l0:l1])
        elif etype == 13 and d1 - d0 >= 2:
            l0, l1 = _vec(body, d0, 2, d1)
            ch.signature_algorithms = _u16s(body[l0:l1])
    return ch


def parse_server_hello(body: bytes) -> ServerHello:
    n = len(body)
    if n < 36:
        raise TlsError("ServerHello too short")
    version = (body[0] << 8) | body[1]
    draft = version >> 8 == 0x7F  # TLS 1.3 drafts before 22: no session id, no compression
    pos = 34 if draft else _vec(body, 34, 1, n)[1]
    if pos + 2 + (0 if draft else 1) > n:
        raise TlsError("ServerHello cut before its cipher suite")
    cipher = (body[pos] << 8) | body[pos + 1]
    pos += 2 if draft else 3
    sh = ServerHello(version, cipher, [])
    if n - pos >= 2:
        pos, end = _vec(body, pos, 2, n)
        while pos + 4 <= end:
            etype = (body[pos] << 8) | body[pos + 1]
            d0, d1 = _vec(body, pos + 2, 2, end)
            sh.extensions.append(etype)
            if etype == 43 and d1 - d0 >= 2:
                sh.selected_version = (body[d0] << 8) | body[d0 + 1]
            pos = d1
    return sh


ALERTS = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
    40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
    44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
    47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
    51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
    86: "inappropriate_fallback", 90: "user_canceled", 109: "missing_extension",
    110: "unsupported_extension", 112: "unrecognized_name", 113: "bad_certificate_status_response",
    115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol",
}  # fmt: skip
MAX_CERTS = 10


@dataclass
class Certificate:
    """What a lab reads from a certificate sent in clear (TLS 1.2 and earlier)."""

    subject: str
    issuer: str
    sans: list[str]
    not_before: str  # ISO 8601 UTC
    not_after: str
    serial: str
    sha256: str


# RFC 5246 6.2.3 (and 8446 5.2, stricter): a record's fragment is at most 2^14 + 2048 bytes.
MAX_RECORD = (1 << 14) + 2048
RECORD_TYPES = (20, 21, 22, 23, 24)  # ChangeCipherSpec, alert, handshake, application data, heartbeat


@dataclass
class RecordScan:
    """The clear part of one direction: handshake messages, alerts, and whether encryption began.

    A direction whose bytes stop inside a record is ``truncated`` (the capture or the flow
    ended there: nothing wrong with the record); one that reaches a record header no TLS
    stack writes (unknown type, version major other than 3, minor above TLS 1.3's, or a
    length over ``MAX_RECORD``) is ``malformed`` there, and nothing after it is read."""

    handshake: list[tuple[int, bytes]] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    encrypted: bool = False  # ChangeCipherSpec or application data seen: the rest is unreadable
    complete: int = 0  # bytes of whole records
    truncated: bool = False  # the bytes end inside a record (or its header)
    malformed: str = ""  # why a record header after good records is not TLS


def record_header_error(ctype: int, major: int, minor: int, length: int) -> str:
    """Why a record header is impossible ('' when it is a TLS 1.0-1.3 or SSL 3 record)."""
    if ctype not in RECORD_TYPES or major != 3:
        return f"not a TLS record (type {ctype}, version major {major})"
    if minor > 4:
        return f"record version 3.{minor} is none of SSL 3.0 to TLS 1.3"
    if length > MAX_RECORD:
        return f"record of {length} bytes exceeds 2^14 + 2048"
    return ""


def scan_records(stream: bytes) -> RecordScan:
    """Walk a direction's records; stop at the first encrypted record, a malformed header or the
    end of the bytes. Raises TlsError when the very first header is not TLS."""
    scan = RecordScan()
    hs = bytearray()
    pos = 0
    n = len(stream)
    while pos + 5 <= n:
        ctype, major, minor = stream[pos], stream[pos + 1], stream[pos + 2]
        length = struct.unpack_from("!H", stream, pos + 3)[0]
        error = record_header_error(ctype, major, minor, length)
        if error:
            if pos == 0:
                raise TlsError(error)
            scan.malformed = error
            break
        if ctype in (20, 23):
            scan.encrypted = True
            break
        if pos + 5 + length > n:
            scan.truncated = True
            break
        body = stream[pos + 5 : pos + 5 + length]
        if ctype == 22 and len(hs) <= MAX_HANDSHAKE:
            hs += body
        elif ctype == 21 and length == 2:
            level = "fatal" if body[0] == 2 else "warning"
            scan.alerts.append(f"{level}:{ALERTS.get(body[1], str(body[1]))}")
        pos += 5 + length
        scan.complete = pos
    else:
        scan.truncated = pos < n  # a record header cut short
    i = 0
    while i + 4 <= len(hs):
        mlen = int.from_bytes(hs[i + 1 : i + 4], "big")
        if i + 4 + mlen > len(hs):
            break
        scan.handshake.append((hs[i], bytes(hs[i + 4 : i + 4 + mlen])))
        i += 4 + mlen
    return scan


def parse_certificates(body: bytes) -> list[Certificate]:
    """The chain of a TLS 1.2 Certificate message (24-bit lengths, DER certificates)."""
    if len(body) < 3:
        raise TlsError("Certificate message too short")
    total = int.from_bytes(body[:3], "big")
    if total + 3 > len(body):
        raise TlsError(f"certificate list of {total} bytes runs past the message")
    out: list[Certificate] = []
    pos = 3
    while pos + 3 <= 3 + total and len(out) < MAX_CERTS:
        n = int.from_bytes(body[pos : pos + 3], "big")
        der = body[pos + 3 : pos + 3 + n]
        if len(der) < n:
            raise TlsError("certificate runs past the list")
        out.append(_certificate(der))
        pos += 3 + n
    return out


def _certificate(der: bytes) -> Certificate:
    # IoT certificates with a zero or negative serial are common: read them without a warning each
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return _read_certificate(der)


def _read_certificate(der: bytes) -> Certificate:
    # imported with the first clear certificate: ~0.03 CPU-s a replay without one does not pay
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
        try:
            ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            sans = [str(v) for v in ext.get_values_for_type(x509.DNSName)]
            sans += [str(v) for v in ext.get_values_for_type(x509.IPAddress)]
        except x509.ExtensionNotFound:
            sans = []
        before = cert.not_valid_before_utc.isoformat()
        after = cert.not_valid_after_utc.isoformat()
        serial = format(cert.serial_number, "x")
    except (ValueError, TypeError, KeyError) as exc:  # cryptography 44 (mitmproxy 11's pin) raises
        raise TlsError(f"unreadable certificate: {exc}") from None  # KeyError on some mangled names
    return Certificate(subject, issuer, sans, before, after, serial, hashlib.sha256(der).hexdigest())
