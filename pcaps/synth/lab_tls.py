"""The lab's personal data inside TLS 1.3: the smartwatch, the children's watch and the speaker send
exactly what they send in the clear lab, but only over TLS 1.3, with the key log beside the capture
(issue 16).

The payloads are ``pcaps.synth.personal``'s own builders (``watch``, ``child_watch``, ``speaker``)
driven through a ``Sender`` whose transports are TLS 1.3 connections (``pcaps.synth.tls13``): the
smartwatch's HTTP over HTTP/2 (ALPN h2, AES-128-GCM), its MQTT over TLS on 8883 (ALPN mqtt,
AES-256-GCM), the children's watch's HTTP/1.1 over TLS (ChaCha20-Poly1305), the speaker's HTTP
over HTTP/2 (AES-256-GCM). With ``tls=False`` the very same plaintext streams go in clear (HTTP/2
with prior knowledge, RFC 9113 3.3, HTTP/1.1, MQTT on 1883) at the very same times: that twin is
what detection inside TLS is held to. The secrets come from an RNG of their own, so both builds
draw the same payloads and TCP numbers.

HTTP/2 frames and HPACK blocks are written by the ``h2`` library's client and server state
machines talking in memory, as ``tests.support.h2gen`` does: the framing is a real stack's,
independent of the reader under test.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import h2.config
import h2.connection
import h2.events

from pcaps.synth import frames as fr
from pcaps.synth import personal
from pcaps.synth.hosts import T0, Host
from pcaps.synth.network import CLOUD, Lab
from pcaps.synth.tls13 import AES_128_GCM, AES_256_GCM, CHACHA20, Tls13

DEVICES = ("watch", "child_watch", "speaker")
HTTP_OVER = {
    "watch": ("h2", AES_128_GCM),
    "child_watch": ("http/1.1", CHACHA20),
    "speaker": ("h2", AES_256_GCM),
}
MQTT_SUITE = AES_256_GCM
HTTPS, MQTTS = 443, 8883  # IANA
SUITE_NAMES = {AES_128_GCM: "TLS_AES_128_GCM_SHA256", AES_256_GCM: "TLS_AES_256_GCM_SHA384",
               CHACHA20: "TLS_CHACHA20_POLY1305_SHA256"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Request:
    """One request as sent (what tshark with the key log must see): time, device, carriage."""

    t: float
    device: str
    transport: str  # h2, http/1.1, mqtt
    method: str  # the HTTP method, or PUBLISH / CONNECT
    host: str
    path: str  # the HTTP path, or the MQTT topic (client id for CONNECT)
    body: int  # bytes of the request body (MQTT: the publish payload)


class TlsSender(personal.Sender):
    """``personal.Sender`` whose HTTP and MQTT go inside TLS 1.3 (or, ``tls=False``, its clear twin)."""

    def __init__(self, lab: Lab, seen: list[personal.Seen], tls: bool, crypto: random.Random) -> None:
        super().__init__(lab, seen)
        self.tls = tls
        self.crypto = crypto
        self.sessions: list[Tls13] = []
        self.requests: list[Request] = []

    def _session(self, host: str, alpn: str, suite: int) -> Tls13:
        c = Tls13(self.crypto, host, alpn, suite)
        self.sessions.append(c)
        return c

    def http(self, t: float, h: Host, host: str, request: bytes, response: bytes = b"") -> float:
        ip, clear_port = CLOUD[host]
        alpn, suite = HTTP_OVER[h.key]
        response = response or fr.http_ok()
        method, path, body = _split(request)
        if alpn == "h2":
            up, down, tail = h2_exchange(host, request, response)
        else:
            up, down, tail = request, response, b""
        n = len(self.lab.frames)
        if self.tls:
            c = self._session(host, alpn, suite)
            ups = [c.hello, c.client_finished() + c.client(up)] + ([c.client(tail)] if tail else [])
            self.lab.tcp(t, h, ip, HTTPS, ups, [c.server_flight(), c.server(down)])
        else:
            self.lab.tcp(t, h, ip, clear_port, [up] + ([tail] if tail else []), [down])
        sent = [ft for ft, p, _ in self.lab.frames[n:] if p.src == h.mac and personal._data(p)]
        at = sent[1 if self.tls else 0]  # the segment that starts the request (after the ClientHello)
        self.requests.append(Request(at, h.mac, alpn, method, host, path, len(body)))
        return at

    def mqtt(
        self,
        h: Host,
        host: str,
        start: float,
        stop: float,
        connect: bytes,
        messages: list[tuple[float, bytes]],
    ) -> None:
        ip = CLOUD[host][0]
        at = start + (0.1 if self.tls else 0.031)  # inside TLS: after the handshake's round trip
        self.requests.append(Request(at, h.mac, "mqtt", "CONNECT", host, _client_id(connect), 0))
        for tt, msg in messages:
            topic, payload = _publish(msg)
            self.requests.append(Request(tt, h.mac, "mqtt", "PUBLISH", host, topic, len(payload)))
        if not self.tls:
            super().mqtt(h, host, start, stop, connect, messages)
            return
        c = self._session(host, "mqtt", MQTT_SUITE)
        sends: list[tuple[float, bytes, bytes | None]] = [
            (start + 0.031, c.hello, c.server_flight()),  # after timed_tcp's handshake
            (at, c.client_finished() + c.client(connect), c.server(fr.MQTT_CONNACK)),
        ]
        sends += [(tt, c.client(msg), b"") for tt, msg in messages]
        self.lab.timed_tcp(h, ip, MQTTS, start, stop, sends)


def h2_exchange(host: str, request: bytes, response: bytes) -> tuple[bytes, bytes, bytes]:
    """An HTTP/1.1 request and response as one HTTP/2 stream on a new connection: (client's first
    bytes: preface, SETTINGS, HEADERS, DATA; server's: SETTINGS, ACK, HEADERS, DATA; client's ACK)."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    client.initiate_connection()
    server.initiate_connection()
    method, path, body = _split(request)
    headers = [(b":method", method.encode()), (b":scheme", b"https"), (b":authority", host.encode()),
               (b":path", path.encode())]  # fmt: skip
    headers += [(k.lower().encode(), v.encode()) for k, v in _headers(request) if k.lower() not in _HOP]
    client.send_headers(1, headers, end_stream=not body)
    if body:
        client.send_data(1, body, end_stream=True)
    up = client.data_to_send()
    server.receive_data(up)
    _version, status, answer = _split(response)
    rh = [(b":status", status.encode())]
    rh += [(k.lower().encode(), v.encode()) for k, v in _headers(response) if k.lower() not in _HOP]
    server.send_headers(1, rh, end_stream=not answer)
    if answer:
        server.send_data(1, answer, end_stream=True)
    down = server.data_to_send()
    client.receive_data(down)
    return up, down, client.data_to_send()


_HOP = {"host", "connection", "keep-alive", "transfer-encoding"}  # not sent in HTTP/2 (RFC 9113 8.2.2)


def _split(msg: bytes) -> tuple[str, str, bytes]:
    """(method or version, path or status, body) of an HTTP/1.1 message."""
    head, _, body = msg.partition(b"\r\n\r\n")
    first = head.split(b"\r\n", 1)[0].decode().split(" ")
    return first[0], first[1], body


def _headers(msg: bytes) -> list[tuple[str, str]]:
    head = msg.partition(b"\r\n\r\n")[0].decode("latin-1")
    return [tuple(x.strip() for x in line.split(":", 1)) for line in head.split("\r\n")[1:]]  # type: ignore[misc]


def _mqtt_body(msg: bytes) -> bytes:
    """An MQTT packet after its fixed header (remaining length: MQTT 3.1.1 2.2.3)."""
    pos = 1
    while msg[pos] & 0x80:
        pos += 1
    return msg[pos + 1 :]


def _publish(msg: bytes) -> tuple[str, bytes]:
    body = _mqtt_body(msg)
    n = int.from_bytes(body[:2], "big")
    return body[2 : 2 + n].decode(), body[2 + n :]


def _client_id(connect: bytes) -> str:
    body = _mqtt_body(connect)
    n = int.from_bytes(body[10:12], "big")  # after protocol name (6), level, flags, keep-alive
    return body[12 : 12 + n].decode()


def build(seed: int, tls: bool = True) -> tuple[Lab, TlsSender]:
    """The two devices' boot and personal data, inside TLS 1.3 or (``tls=False``) in clear."""
    lab = Lab(seed)
    for i, key in enumerate(DEVICES):
        lab.boot(20 + 9 * i, lab.hosts[key])
    seen: list[personal.Seen] = []
    lab.rng = random.Random(lab.rng.getrandbits(64))
    s = TlsSender(lab, seen, tls, random.Random(f"lab-tls secrets {seed}"))
    personal.watch(s)
    personal.child_watch(s)
    personal.speaker(s)
    lab.seen = sorted(seen, key=lambda x: (x.t, x.device, x.data_type, x.carrier))
    return lab, s


def requests_truth(s: TlsSender) -> list[dict[str, Any]]:
    return [
        {
            "ts": round(T0 + r.t, 6),
            "device": r.device,
            "transport": r.transport,
            "method": r.method,
            "host": r.host,
            "path": r.path,
            "body": r.body,
        }
        for r in sorted(s.requests, key=lambda r: (r.t, r.device))
    ]
