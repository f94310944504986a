"""Generator of h2c captures with ground truth: an ``h2`` client and server talk in memory, and
every byte each one sends goes into a TCP segment of a pcap (``capwriter``).

The ``h2`` state machines write the frames (RFC 9113) and the HPACK blocks (RFC 7541), so the
capture is what a real HTTP/2 stack sends, independent of the reader under test; ``Exchange``
lists what was asked and answered, the ground truth the tests hold the reader to.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.settings
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from tests.support.capwriter import pcap_bytes

NS = 1_000_000_000
DEV, GW = "aa:bb:cc:00:00:01", "aa:bb:cc:00:00:fe"
LOCAL, REMOTE = "192.168.1.10", "47.95.1.1"
IMEI_JSON = b'{"imei":"861234567890127","lat":39.908720,"lng":116.397470}'


@dataclass
class Exchange:
    """One stream as generated: the request, and the response or the reset that ended it."""

    stream_id: int
    method: str
    authority: str
    path: str
    body: bytes = b""
    status: int = 0  # 0: reset before a response
    response: bytes = b""  # the response body after content decoding
    response_wire: int = 0  # DATA bytes of the response (padding removed)


@dataclass
class Capture:
    """The segments each way in order (up: client to server) and the streams' ground truth."""

    segments: list[tuple[bool, bytes]] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    def pcap(self, dport: int = 8080, mss: int = 1200) -> bytes:
        """The connection as a classic pcap (Ethernet)."""
        return pcap_bytes(self.packets(dport, mss))

    def packets(self, dport: int = 8080, mss: int = 1200) -> list[tuple[int, bytes]]:
        """(timestamp ns, Ethernet frame) of the connection: handshake, data segments of at most
        ``mss`` bytes, FINs."""
        seq = {True: 1000, False: 90000}
        packets: list[tuple[int, bytes]] = []
        t = 0

        def send(up: bool, payload: bytes = b"", flags: str = "PA") -> None:
            nonlocal t
            ip = IP(src=LOCAL, dst=REMOTE) if up else IP(src=REMOTE, dst=LOCAL)
            ports = {"sport": 40000, "dport": dport} if up else {"sport": dport, "dport": 40000}
            seg = TCP(flags=flags, seq=seq[up], ack=seq[not up], **ports)
            eth = Ether(src=DEV, dst=GW) if up else Ether(src=GW, dst=DEV)
            t += NS // 100
            packets.append((t, bytes(eth / ip / seg / Raw(payload) if payload else eth / ip / seg)))
            seq[up] += len(payload) + (1 if "S" in flags or "F" in flags else 0)

        send(True, flags="S")
        send(False, flags="SA")
        send(True, flags="A")
        for up, data in self.segments:
            for i in range(0, len(data), mss):
                send(up, data[i : i + mss])
        send(True, flags="FA")
        send(False, flags="FA")
        return packets


def generate(upgrade: bool = False, hello: bytes = b"hello over h2c") -> Capture:
    """A device talking HTTP/2 to its cloud: requests with and without bodies, padding, a
    header block split over CONTINUATION frames, priority, a gzip response, a header table
    resize by SETTINGS, a reset stream and a GOAWAY at the end. ``upgrade``: the connection
    begins as HTTP/1.1 and upgrades to h2c, the server answering the upgrade request with
    ``hello`` on stream 1."""
    cc = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    sc = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    cap = Capture()

    def pump() -> None:
        while True:
            c, s = cc.data_to_send(), sc.data_to_send()
            if not c and not s:
                return
            if c:
                cap.segments.append((True, c))
                sc.receive_data(c)
            if s:
                cap.segments.append((False, s))
                cc.receive_data(s)

    host = "api.example-watch.com"
    if upgrade:
        settings = cc.initiate_upgrade_connection()
        assert settings is not None
        req = (
            f"GET /v1/hello HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            f"Upgrade: h2c\r\nHTTP2-Settings: {settings.decode()}\r\n\r\n"
        ).encode()
        cap.segments.append((True, req))
        cap.segments.append(
            (False, b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
        )
        sc.initiate_upgrade_connection(settings)
        pump()
        sc.send_headers(1, [(":status", "200"), ("content-type", "text/plain")])
        for i in range(0, len(hello), 16384):  # the peer's initial SETTINGS_MAX_FRAME_SIZE
            sc.send_data(1, hello[i : i + 16384], end_stream=i + 16384 >= len(hello))
        cap.exchanges.append(Exchange(1, "GET", host, "/v1/hello", b"", 200, hello, len(hello)))
    else:
        cc.initiate_connection()
        sc.initiate_connection()
    pump()

    def ask(
        method: str, path: str, body: bytes = b"", extra: tuple[tuple[str, str], ...] = (), **kw: object
    ) -> int:
        sid = cc.get_next_available_stream_id()
        heads = [(":method", method), (":scheme", "http"), (":authority", host), (":path", path), *extra]
        if body:
            heads.append(("content-type", "application/json"))
        cc.send_headers(sid, heads, end_stream=not body, **kw)
        if body:
            cc.send_data(sid, body[:20], pad_length=7)
            cc.send_data(sid, body[20:], end_stream=True)
        pump()
        cap.exchanges.append(Exchange(sid, method, host, path, body))
        return sid

    def answer(sid: int, status: int, body: bytes, gzipped: bool = False, pad: int | None = None) -> None:
        wire = gzip.compress(body, mtime=0) if gzipped else body
        heads = [(":status", str(status)), ("content-length", str(len(wire)))]
        if gzipped:
            heads.append(("content-encoding", "gzip"))
        sc.send_headers(sid, heads, end_stream=not wire)
        if wire:
            sc.send_data(sid, wire, end_stream=True, pad_length=pad)
        pump()
        ex = next(e for e in cap.exchanges if e.stream_id == sid)
        ex.status, ex.response, ex.response_wire = status, body, len(wire)

    s1 = ask("POST", "/v2/location?dev=861234567890127", IMEI_JSON, priority_weight=200)
    answer(s1, 200, b'{"ok":true}', pad=30)
    s2 = ask("GET", "/v2/profile", extra=(("cookie", "session=" + "a" * 20000),))  # over CONTINUATION
    answer(s2, 200, b'{"name":"Alice Example","birthday":"1990-04-01"}' * 20, gzipped=True)
    sc.update_settings({h2.settings.SettingCodes.HEADER_TABLE_SIZE: 256})  # the client's encoder shrinks
    cc.update_settings({h2.settings.SettingCodes.HEADER_TABLE_SIZE: 1024})
    pump()
    s3 = ask("PUT", "/v2/steps", b'{"steps":8421,"heart_rate":71}')
    answer(s3, 204, b"")
    s4 = ask("GET", "/v2/firmware")
    cc.reset_stream(s4)
    pump()
    s5 = ask("GET", "/v2/weather?lat=39.9087&lng=116.3975")
    answer(s5, 200, b'{"temp":21}')
    cc.close_connection()
    pump()
    return cap
