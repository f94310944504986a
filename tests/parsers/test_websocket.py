"""WebSocket frames (RFC 6455, RFC 7692) on crafted bytes, and through the sessions after an HTTP upgrade."""

from __future__ import annotations

import struct
import zlib

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from parsers.events import AppRecord, HttpRecord
from parsers.lan import DEFAULT_LAN, LanPrefixes
from parsers.meter import FlowMeter
from parsers.protocols.websocket import MAX_MESSAGE, WsParser, deflate_negotiated, unmask

KEY = bytes.fromhex("37fa213d")
IMEI_JSON = b'{"imei":"861234567890127","lat":39.908720,"lng":116.397470}'


def frame(payload: bytes, op: int = 1, fin: bool = True, key: bytes = b"", rsv1: bool = False) -> bytes:
    """One frame as a peer writes it: 7-, 16- or 64-bit length, masked when given a key."""
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | op
    m, n = 0x80 if key else 0, len(payload)
    if n < 126:
        head = bytes((b0, m | n))
    elif n < 1 << 16:
        head = bytes((b0, m | 126)) + struct.pack("!H", n)
    else:
        head = bytes((b0, m | 127)) + struct.pack("!Q", n)
    if key:
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload


class Deflater:
    """permessage-deflate as a sender does it: one raw deflate stream, sync-flushed, tail stripped."""

    def __init__(self) -> None:
        self.z = zlib.compressobj(wbits=-15)

    def __call__(self, msg: bytes) -> bytes:
        out = self.z.compress(msg) + self.z.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]


def read_all(p: WsParser, stream: bytes, step: int = 0) -> list[tuple[str, bytes]]:
    """Feed ``stream`` whole, or ``step`` bytes at a time keeping what was not consumed."""
    if not step:
        msgs, used = p.feed(stream)
        assert used == len(stream)
        return [(m.kind, m.payload) for m in msgs]
    out, held, base = [], b"", 0
    for i in range(0, len(stream), step):
        held += stream[i : i + step]
        msgs, used = p.feed(held, base)
        out += [(m.kind, m.payload) for m in msgs]
        held, base = held[used:], base + used
    assert held == b""
    return out


def test_unmasked_and_masked_frames_with_every_length_form() -> None:
    big = bytes(range(256)) * 300  # 76,800 bytes: the 64-bit length form
    stream = frame(b"hi") + frame(IMEI_JSON, key=KEY) + frame(b"b" * 300, op=2, key=KEY) + frame(big, op=2)
    assert stream[4 + 6 + len(IMEI_JSON) + 1] == 126 | 0x80  # 16-bit length, masked
    msgs, used = WsParser().feed(stream, 1000)
    assert used == len(stream)
    assert [(m.kind, m.payload) for m in msgs] == [
        ("text", b"hi"),
        ("text", IMEI_JSON),
        ("binary", b"b" * 300),
        ("binary", big),
    ]
    assert [m.offset for m in msgs] == [
        1000,
        1004,
        1004 + 6 + len(IMEI_JSON),
        1004 + 6 + len(IMEI_JSON) + 308,
    ]


def test_unmask_any_phase() -> None:
    data = bytes(range(50))
    masked = bytes(b ^ KEY[i % 4] for i, b in enumerate(data))
    assert unmask(masked, KEY, 0) == data
    assert unmask(masked[3:], KEY, 3) + unmask(masked[:3], KEY, 0) == data[3:] + data[:3]


def test_fragments_with_a_ping_between_are_one_message() -> None:
    stream = frame(b'{"imei":', fin=False, key=KEY) + frame(b"", op=9, key=KEY)
    stream += frame(b'"861234567890127"', op=0, fin=False, key=KEY) + frame(b"}", op=0, key=KEY)
    stream += frame(b"pong", op=10, key=KEY)
    assert read_all(WsParser(), stream) == [("text", b'{"imei":"861234567890127"}')]


def test_every_split_point_gives_the_same_messages() -> None:
    stream = (
        frame(IMEI_JSON, key=KEY) + frame(b"x" * 200, op=2, fin=False, key=KEY) + frame(b"y", op=0, key=KEY)
    )
    want = [("text", IMEI_JSON), ("binary", b"x" * 200 + b"y")]
    for step in (1, 2, 3, 5, 7, 13, 64):
        assert read_all(WsParser(), stream, step) == want, step


def test_permessage_deflate_with_context_takeover() -> None:
    z = Deflater()
    # the second message repeats the first: its compressed form refers back into the first's window
    stream = frame(z(IMEI_JSON), rsv1=True, key=KEY) + frame(z(IMEI_JSON), rsv1=True, key=KEY)
    stream += frame(b"plain", key=KEY)
    p = WsParser(deflate=True)
    msgs, _used = p.feed(stream)
    assert [(m.payload, m.compressed) for m in msgs] == [
        (IMEI_JSON, True),
        (IMEI_JSON, True),
        (b"plain", False),
    ]
    assert p.errors == 0
    # fragmented compressed message: RSV1 on the first frame only
    data = z(b"abc" * 100)
    stream = frame(data[:5], fin=False, rsv1=True) + frame(data[5:], op=0)
    assert read_all(p, stream) == [("text", b"abc" * 100)]


def test_deflate_bomb_is_bounded() -> None:
    z = Deflater()
    msgs, _ = WsParser(deflate=True).feed(frame(z(bytes(8 << 20)), op=2, rsv1=True))
    assert len(msgs[0].payload) == MAX_MESSAGE and msgs[0].truncated


def test_a_message_larger_than_kept_is_cut_and_framing_goes_on() -> None:
    p = WsParser(max_message=100)
    (first, second), _ = p.feed(frame(b"a" * 1000, key=KEY) + frame(b"next", key=KEY))
    assert first.payload == b"a" * 100 and first.truncated
    assert second.payload == b"next" and not second.truncated


def test_truncated_frame_is_flushed_at_the_end() -> None:
    p = WsParser()
    whole = frame(IMEI_JSON, key=KEY)
    msgs, used = p.feed(frame(b"done") + whole[:-10])
    assert [m.payload for m in msgs] == [b"done"] and used == 6 + len(whole) - 10
    last = p.flush()
    assert last is not None and last.truncated and last.payload == IMEI_JSON[:-10]
    assert WsParser().flush() is None


def test_close_code_and_nothing_after_close() -> None:
    p = WsParser()
    msgs, used = p.feed(frame(struct.pack("!H", 1001) + b"going away", op=8) + frame(b"late"))
    assert [(m.kind, m.close_code) for m in msgs] == [("close", 1001)] and used > 0 and p.closed


def test_bad_framing_stops_without_raising() -> None:
    for bad in (
        b"\x83\x00",  # reserved opcode 3
        b"\xc1\x01x",  # RSV1 without permessage-deflate
        b"\xa1\x01x",  # RSV2
        b"\x80\x01x",  # continuation with nothing to continue
        b"\x09\x00",  # a fragmented ping
        frame(b"x", fin=False) + frame(b"y"),  # a new message inside a fragmented one
        bytes((0x82, 127)) + struct.pack("!Q", 1 << 63),  # 64-bit length with its top bit
    ):
        p = WsParser()
        msgs, used = p.feed(bad)
        assert msgs == [] and used == len(bad) and p.closed and p.error, bad


def test_extensions_header() -> None:
    assert deflate_negotiated("permessage-deflate; client_max_window_bits")
    assert deflate_negotiated("x-webkit-deflate-frame, Permessage-Deflate")
    assert not deflate_negotiated("") and not deflate_negotiated("permessage-deflate-x")


# ---- through the sessions: an HTTP upgrade, then frames both ways over TCP ------------------------

NS = 1_000_000_000
DEV, GW = "aa:bb:cc:00:00:01", "aa:bb:cc:00:00:fe"
LOCAL, REMOTE = "192.168.1.10", "47.95.1.1"
UPGRADE = (
    b"GET /ws/telemetry HTTP/1.1\r\nHost: iot.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)
SWITCH = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
)
DEFLATE = b"Sec-WebSocket-Extensions: permessage-deflate\r\n"


class Conn:
    """One TCP connection's packets with real sequence numbers, as a capture holds them."""

    def __init__(self, dport: int = 80) -> None:
        self.dport, self.t = dport, 0.0
        self.seq = {True: 1000, False: 90000}
        self.packets: list[tuple[float, bytes]] = []

    def send(self, up: bool, payload: bytes = b"", flags: str = "PA") -> None:
        ip = IP(src=LOCAL, dst=REMOTE) if up else IP(src=REMOTE, dst=LOCAL)
        ports = dict(sport=40000, dport=self.dport) if up else dict(sport=self.dport, dport=40000)
        seg = TCP(flags=flags, seq=self.seq[up], ack=self.seq[not up], **ports)
        eth = Ether(src=DEV, dst=GW) if up else Ether(src=GW, dst=DEV)
        self.t += 0.01
        self.packets.append((self.t, bytes(eth / ip / seg / Raw(payload) if payload else eth / ip / seg)))
        self.seq[up] += len(payload) + (1 if "S" in flags or "F" in flags else 0)

    def open(self) -> None:
        self.send(True, flags="S")
        self.send(False, flags="SA")
        self.send(True, flags="A")

    def close(self) -> None:
        self.send(True, flags="FA")
        self.send(False, flags="FA")

    def records(self) -> list[object]:
        m = FlowMeter(LanPrefixes(DEFAULT_LAN).is_local)
        for t, data in self.packets:
            m.feed(int(t * NS), 1, len(data), data)
        m.flush()
        return m.records


def ws_records(recs: list[object]) -> list[AppRecord]:
    return [r for r in recs if isinstance(r, AppRecord) and r.protocol == "websocket"]


def test_session_reads_frames_after_the_upgrade() -> None:
    c = Conn()
    c.open()
    c.send(True, UPGRADE + b"\r\n")
    c.send(False, SWITCH + b"\r\n" + frame(b'{"cmd":"hello"}'))
    up = frame(IMEI_JSON, key=KEY)
    c.send(True, up[:7])  # one frame over two segments, cut inside the masking key
    c.send(True, up[7:] + frame(b"\x08\x96\x01", op=2, key=KEY)[:3])
    c.send(True, frame(b"\x08\x96\x01", op=2, key=KEY)[3:])
    c.send(False, frame(struct.pack("!H", 1000), op=8))
    c.send(True, frame(struct.pack("!H", 1000), op=8, key=KEY))
    c.close()
    recs = c.records()
    http = [r for r in recs if isinstance(r, HttpRecord)]
    assert [getattr(r.msg, "status", 0) for r in http] == [0, 101]
    got = [(r.up, r.kind, r.payload) for r in ws_records(recs)]
    assert got == [
        (True, "text", IMEI_JSON),
        (True, "binary", b"\x08\x96\x01"),
        (True, "close", b""),
        (False, "text", b'{"cmd":"hello"}'),
        (False, "close", b""),
    ]
    ws = ws_records(recs)
    assert ws[0].ts == int(0.06 * NS)  # the segment that carried the frame's first byte
    assert ws[1].ts == int(0.07 * NS)
    assert ws[2].detail == {"code": 1000}


def test_session_deflate_negotiated_in_the_handshake() -> None:
    c = Conn(8080)
    c.open()
    c.send(True, UPGRADE + DEFLATE + b"\r\n")
    c.send(False, SWITCH + DEFLATE + b"\r\n")
    z = Deflater()
    c.send(True, frame(z(IMEI_JSON), rsv1=True, key=KEY) + frame(z(IMEI_JSON), rsv1=True, key=KEY))
    c.close()
    ws = ws_records(c.records())
    assert [(r.payload, r.detail) for r in ws] == [(IMEI_JSON, {"compressed": True})] * 2


def test_session_frames_before_the_answer_is_parsed_and_long_streams() -> None:
    """The client's frames are read as such whichever direction is parsed first; 300 kB of them too."""
    c = Conn()
    c.open()
    c.send(True, UPGRADE + b"\r\n")
    body = b"z" * 1400
    for _ in range(220):  # more than PARSE_AT many times over: parsed while the connection runs
        c.send(True, frame(body, op=2, key=KEY))
    c.send(False, SWITCH + b"\r\n")
    c.send(True, frame(b"x" * 100, key=KEY)[:50])  # cut by the end of the capture
    recs = c.records()
    ws = ws_records(recs)
    assert len(ws) == 221 and all(r.payload == body for r in ws[:220])
    assert ws[-1].payload == b"x" * 44 and ws[-1].detail == {"truncated": True}


def test_refused_upgrade_stays_http() -> None:
    c = Conn()
    c.open()
    c.send(True, UPGRADE + b"\r\n")
    c.send(False, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    c.send(True, b"GET /next HTTP/1.1\r\nHost: iot.example.com\r\n\r\n")
    c.send(False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    c.close()
    recs = c.records()
    assert not ws_records(recs)
    assert [r.msg.uri for r in recs if isinstance(r, HttpRecord) and r.up] == ["/ws/telemetry", "/next"]  # type: ignore[union-attr]


def test_observer_scans_websocket_messages(tmp_path) -> None:
    from appliance.ingest.inventory import Inventory
    from appliance.ingest.observe import Observer

    c = Conn()
    c.open()
    c.send(True, UPGRADE + b"\r\n")
    c.send(False, SWITCH + b"\r\n")
    c.send(True, frame(IMEI_JSON, key=KEY))
    c.close()
    obs = Observer("cap", 1, Inventory(LanPrefixes(DEFAULT_LAN)), b"k" * 32, {})
    found = [row for r in c.records() for row in obs.observe(r)]  # type: ignore[arg-type]
    kinds = {(row[7], row[8]) for row in found}  # carrier, data type
    assert ("websocket.text", "imei") in kinds and ("websocket.text", "location") in kinds


def test_real_capture_frames_as_tshark_reads_them() -> None:
    """nDPI's websocket.pcap begins after the handshake, so its bytes stay raw records; read as frames
    they give the messages tshark's WebSocket dissector shows (``-d tcp.port==12345,websocket``)."""
    from tests.support.paths import shared_path
    from tests.support.sessionrun import run_sessions

    recs = run_sessions(shared_path("nDPI", "pcap", "websocket.pcap")).records
    raw = {r.up: r.payload for r in recs if isinstance(r, AppRecord) and r.protocol == "raw"}
    got = {}
    for side, data in raw.items():
        p = WsParser()
        msgs, used = p.feed(data)
        assert used == len(data) and p.flush() is None and not p.error
        got[side] = [m.payload.decode() for m in msgs]
    # the capture's first packet is the server's, so the meter takes the server for the initiator
    assert got == {
        True: [
            "Welcome, 192.168.43.1 !",
            "21:33:52 ('192.168.43.1', 50999) say: test message",
            "21:34:53 ('192.168.43.1', 50999) say: hello websocket",
        ],
        False: ["test message", "hello websocket"],  # masked: the client's
    }
