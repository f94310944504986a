"""Payload builders (DNS, TLS ClientHello, MQTT, HTTP, CoAP, NMEA, media) for the lab.

Frames themselves are built with scapy in the generator; this module holds the
application payloads scapy has no layer for. Capture files are written by
``parsers.capture_write``.
"""

from __future__ import annotations

import random
import struct


def dns_query(qid: int, name: str, qtype: int = 1) -> bytes:
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + _qname(name) + struct.pack("!HH", qtype, 1)


def dns_answer(qid: int, name: str, addrs: list[bytes], qtype: int = 1, flags: int = 0x8180) -> bytes:
    out = (
        struct.pack("!HHHHHH", qid, flags, 1, len(addrs), 0, 0) + _qname(name) + struct.pack("!HH", qtype, 1)
    )
    for a in addrs:
        out += b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 300, len(a)) + a
    return out


def mdns_announce(name: str, addr: bytes) -> bytes:
    """An unsolicited mDNS response claiming ``name`` (cache-flush A record)."""
    return (
        struct.pack("!HHHHHH", 0, 0x8400, 0, 1, 0, 0)
        + _qname(name)
        + struct.pack("!HHIH", 1, 0x8001, 120, 4)
        + addr
    )


def _qname(name: str) -> bytes:
    return b"".join(bytes((len(p),)) + p.encode() for p in name.split(".")) + b"\0"


def tls_client_hello(sni: str, rng: random.Random, alpn: str = "http/1.1") -> bytes:
    """A TLS 1.3-capable ClientHello record with SNI, ALPN and supported_versions."""
    host = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(host) + 5, len(host) + 3, 0, len(host)) + host
    proto = alpn.encode()
    alpn_ext = struct.pack("!HHHB", 16, len(proto) + 3, len(proto) + 1, len(proto)) + proto
    versions = struct.pack("!HHB", 43, 5, 4) + b"\x03\x04\x03\x03"
    groups = struct.pack("!HHH", 10, 6, 4) + b"\x00\x1d\x00\x17"
    exts = sni_ext + alpn_ext + versions + groups
    suites = b"\x13\x01\x13\x02\xc0\x2f\xc0\x30"
    body = (
        b"\x03\x03"
        + rng.randbytes(32)
        + b"\x20"
        + rng.randbytes(32)
        + struct.pack("!H", len(suites))
        + suites
        + b"\x01\x00"
        + struct.pack("!H", len(exts))
        + exts
    )
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls_record(kind: int, size: int, rng: random.Random) -> bytes:
    """An opaque TLS record (22 handshake, 23 application data) of ``size`` body bytes."""
    return bytes((kind,)) + b"\x03\x03" + struct.pack("!H", size) + rng.randbytes(size)


def mqtt_connect(client_id: str, user: str, password: str, keepalive: int = 60) -> bytes:
    var = b"\x00\x04MQTT\x04\xc2" + struct.pack("!H", keepalive)
    body = var + b"".join(
        struct.pack("!H", len(x)) + x for x in (client_id.encode(), user.encode(), password.encode())
    )
    return b"\x10" + _mqtt_len(len(body)) + body


def mqtt_publish(topic: str, payload: bytes) -> bytes:
    body = struct.pack("!H", len(topic)) + topic.encode() + payload
    return b"\x30" + _mqtt_len(len(body)) + body


MQTT_CONNACK = b"\x20\x02\x00\x00"
MQTT_PINGREQ = b"\xc0\x00"
MQTT_PINGRESP = b"\xd0\x00"


def _mqtt_len(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def http_post(host: str, path: str, body: bytes, ua: str, ctype: str = "application/json") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


def http_get(host: str, path: str, ua: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept: */*\r\n\r\n".encode()


def multipart(boundary: str, parts: list[tuple[str, str, str, bytes]]) -> bytes:
    """A multipart/form-data body of (field name, file name or '', content type or '', data) parts."""
    out = b""
    for name, filename, ctype, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{boundary}\r\nContent-Disposition: {disp}\r\n"
        head += f"Content-Type: {ctype}\r\n" if ctype else ""
        out += head.encode() + b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def http_ok(body: bytes = b'{"code":0}') -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def ssdp_notify(location: str, server: str, usn: str) -> bytes:
    return (
        "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n"
        f"LOCATION: {location}\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nSERVER: {server}\r\n"
        f"USN: {usn}::upnp:rootdevice\r\n\r\n"
    ).encode()


def ntp_packet(mode: int, rng: random.Random) -> bytes:
    return bytes((0x20 | mode,)) + rng.randbytes(47)


# ---- CoAP (RFC 7252) -----------------------------------------------------------------------

COAP_CON, COAP_ACK = 0, 2
COAP_POST, COAP_CHANGED = 0x02, 0x44  # 0.02 POST, 2.04 Changed
COAP_JSON = 50  # Content-Format application/json


def coap_message(
    mtype: int,
    code: int,
    mid: int,
    token: bytes = b"",
    options: list[tuple[int, bytes]] | None = None,
    payload: bytes = b"",
) -> bytes:
    """One CoAP datagram: header, token, options (sorted, delta-encoded), payload marker and payload."""
    out = bytes((0x40 | mtype << 4 | len(token), code)) + struct.pack("!H", mid) + token
    last = 0
    for number, value in sorted(options or [], key=lambda o: o[0]):
        delta, size = number - last, len(value)
        last = number
        head, ext = _coap_nibble(delta), _coap_nibble(size)
        out += bytes((head[0] << 4 | ext[0],)) + head[1] + ext[1] + value
    return out + (b"\xff" + payload if payload else b"")


def _coap_nibble(n: int) -> tuple[int, bytes]:
    if n < 13:
        return n, b""
    if n < 269:
        return 13, bytes((n - 13,))
    return 14, struct.pack("!H", n - 269)


def coap_post(mid: int, token: bytes, host: str, path: str, payload: bytes) -> bytes:
    """A confirmable POST with Uri-Host, Uri-Path segments and a JSON payload."""
    opts = [(3, host.encode())] + [(11, seg.encode()) for seg in path.strip("/").split("/")]
    opts.append((12, bytes((COAP_JSON,))))
    return coap_message(COAP_CON, COAP_POST, mid, token, opts, payload)


def coap_ack(mid: int, token: bytes, code: int = COAP_CHANGED) -> bytes:
    return coap_message(COAP_ACK, code, mid, token)


# ---- NMEA 0183 and media samples -----------------------------------------------------------


def nmea(body: str) -> str:
    """``$body*CS`` with the XOR checksum of the characters between $ and *."""
    cs = 0
    for ch in body:
        cs ^= ord(ch)
    return f"${body}*{cs:02X}"


def nmea_coord(value: float, degree_digits: int, places: int) -> str:
    """Degrees as NMEA (d)ddmm.mmmm with ``places`` decimals of minutes."""
    deg = int(abs(value))
    minutes = (abs(value) - deg) * 60
    return f"{deg:0{degree_digits}d}{minutes:0{3 + places}.{places}f}"


def jpeg(rng: random.Random, size: int) -> bytes:
    """A JPEG-shaped blob: SOI, a JFIF APP0 segment, entropy-coded filler, EOI."""
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + app0 + rng.randbytes(max(size - 24, 0)) + b"\xff\xd9"


def mp4(rng: random.Random, size: int) -> bytes:
    """An MP4-shaped blob: an ``ftyp`` box (isom) and an ``mdat`` box of filler."""
    ftyp = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    body = rng.randbytes(max(size - len(ftyp) - 8, 0))
    return ftyp + struct.pack("!I", len(body) + 8) + b"mdat" + body


def amr(rng: random.Random, frames: int) -> bytes:
    """AMR-NB storage format: the ``#!AMR`` magic and 12.2 kbit/s frames (a header byte and 31 bytes)."""
    return b"#!AMR\n" + b"".join(b"\x3c" + rng.randbytes(31) for _ in range(frames))


def ogg_opus(rng: random.Random, size: int) -> bytes:
    """An Ogg page starting an Opus stream (``OggS``, ``OpusHead``), then filler."""
    head = b"OggS\x00\x02" + bytes(8) + rng.randbytes(4) + bytes(8) + b"\x01\x13"
    return head + b"OpusHead\x01\x01\x38\x01\x80\x3e\x00\x00\x00\x00\x00" + rng.randbytes(size)
