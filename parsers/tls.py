"""TLS handshake dissector: ClientHello and ServerHello from a reassembled TCP byte stream.

What a lab needs without decrypting: the server name (SNI), ALPN, offered and chosen
versions and ciphers, and the JA3/JA3S/JA4 fingerprints that tell one client stack
from another. Handshake messages may span records and records may span segments;
the caller hands over the stream's first bytes (``parsers.tcpstream``).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from parsers.wire import Reader

GREASE = frozenset(0x0A0A + 0x1010 * i for i in range(16))
VERSION_NAMES = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2"}
MAX_HANDSHAKE = 1 << 16  # a ClientHello beyond 64 kB is not one we will read


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
        return hashlib.md5(self.ja3_string.encode(), usedforsecurity=False).hexdigest()

    def ja4(self, transport: str = "t") -> str:
        """JA4 (FoxIO): transport, version, SNI, counts, ALPN; hashes of ciphers and extensions."""
        ciphers = [c for c in self.ciphers if c not in GREASE]
        exts = [e for e in self.extensions if e not in GREASE]
        alpn = self.alpn[0] if self.alpn else ""
        if not alpn:
            a = "00"
        elif alpn[0].isalnum() and alpn[-1].isalnum():
            a = alpn[0] + alpn[-1]
        else:
            hx = alpn.encode("latin-1", "replace").hex()
            a = hx[0] + hx[-1]
        head = (
            f"{transport}{VERSION_NAMES.get(self.version, '00')}{'d' if self.sni else 'i'}"
            f"{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{a}"
        )
        b = _sha12(",".join(f"{c:04x}" for c in sorted(ciphers))) if ciphers else "0" * 12
        rest = sorted(e for e in exts if e not in (0x0000, 0x0010))
        text = ",".join(f"{e:04x}" for e in rest)
        sigs = [s for s in self.signature_algorithms if s not in GREASE]
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


def parse_client_hello(body: bytes) -> ClientHello:
    r = Reader(body, TlsError)
    version = r.u16()
    r.skip(32)
    r.skip(r.u8())  # session id
    ciphers = _u16s(r.vec16())
    r.skip(r.u8())  # compression methods
    ch = ClientHello(version, ciphers, [])
    if r.left() < 2:
        return ch
    ext = Reader(r.vec16(), TlsError)
    while ext.left() >= 4:
        etype = ext.u16()
        data = Reader(ext.vec16(), TlsError)
        ch.extensions.append(etype)
        if etype == 0 and data.left() >= 2:  # server_name: the host_name entry
            names = Reader(data.vec16(), TlsError)
            while names.left() >= 3:
                kind, name = names.u8(), names.vec16()
                if kind == 0:
                    ch.sni = name.decode("ascii", "replace")
                    break
        elif etype == 16 and data.left() >= 2:
            protos = Reader(data.vec16(), TlsError)
            while protos.left() >= 1:
                ch.alpn.append(protos.take(protos.u8()).decode("latin-1"))
        elif etype == 43 and data.left() >= 1:
            ch.versions = _u16s(data.vec8())
        elif etype == 10 and data.left() >= 2:
            ch.groups = _u16s(data.vec16())
        elif etype == 11 and data.left() >= 1:
            ch.point_formats = list(data.vec8())
        elif etype == 13 and data.left() >= 2:
            ch.signature_algorithms = _u16s(data.vec16())
    return ch


def parse_server_hello(body: bytes) -> ServerHello:
    r = Reader(body, TlsError)
    version = r.u16()
    r.skip(32)
    draft = version >> 8 == 0x7F  # TLS 1.3 drafts before 22: no session id, no compression
    if not draft:
        r.skip(r.u8())
    cipher = r.u16()
    if not draft:
        r.skip(1)
    sh = ServerHello(version, cipher, [])
    if r.left() >= 2:
        ext = Reader(r.vec16(), TlsError)
        while ext.left() >= 4:
            etype = ext.u16()
            data = Reader(ext.vec16(), TlsError)
            sh.extensions.append(etype)
            if etype == 43 and data.left() >= 2:
                sh.selected_version = data.u16()
    return sh
