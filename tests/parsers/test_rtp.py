"""RTP media by one datagram, and the raw payloads of flows no dissector reads, through the sessions."""

from __future__ import annotations

import random
import struct

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from appliance.ingest.inventory import Inventory
from appliance.ingest.observe import Observer
from parsers.detect.values import leaves
from parsers.events import AppRecord, HttpRecord, TlsRecord
from parsers.lan import DEFAULT_LAN, LanPrefixes
from parsers.meter import FlowMeter
from parsers.protocols import rtp
from parsers.sessions import RAW_LIMIT, RAW_SEGMENTS
from pcaps.synth import frames

SPS = bytes.fromhex("6742c01fda0140169b808080a0")  # Baseline profile (66), level 3.1, 1280x720
PPS = bytes.fromhex("68ce3c80")
IDR = bytes.fromhex("6588840021ffe1a3") + bytes(range(200))  # first_mb 0, slice_type 7 (I), pps 0
P_SLICE = bytes.fromhex("419a2480") + bytes(range(100))  # first_mb 0, slice_type 5 (P), pps 0


def packet(payload: bytes, pt: int = 96, seq: int = 1, marker: bool = False, b0: int = 0x80) -> bytes:
    return struct.pack("!BBHII", b0, pt | (0x80 if marker else 0), seq, 90000 + seq, 0x1234ABCD) + payload


def stap_a(*nals: bytes) -> bytes:
    return bytes((0x78,)) + b"".join(struct.pack("!H", len(n)) + n for n in nals)


def fu_a(nal: bytes, start: bool, end: bool, part: bytes) -> bytes:
    head = (nal[0] & 0xE0) | 28
    return bytes((head, (0x80 if start else 0) | (0x40 if end else 0) | (nal[0] & 0x1F))) + part


def test_h264_parameter_sets_and_idr_are_video_high() -> None:
    for body, nal in (
        (stap_a(SPS, PPS), 7),
        (SPS, 7),
        (PPS, 8),
        (IDR, 5),
        (fu_a(IDR, True, False, IDR[1:90]), 5),
    ):
        h = rtp.find(packet(body))
        assert h is not None and (h.data_type, h.value, h.confidence) == ("video", "video/h264", "high"), body
        assert h.detail["nal"] == nal and h.detail["payload_type"] == 96


def test_h264_other_slices_and_fragments_are_video_medium() -> None:
    for body in (
        P_SLICE,
        fu_a(P_SLICE, True, False, P_SLICE[1:60]),
        fu_a(P_SLICE, False, True, b"\x11" * 80),
    ):
        h = rtp.find(packet(body, pt=97))
        assert h is not None and h.value == "video/h264" and h.confidence == "medium" and h.detail["nal"] == 1


def test_rtp_header_extension_csrc_and_padding() -> None:
    ext = struct.pack("!HH", 0xBEDE, 1) + b"\x10\x01\x00\x00"  # one-byte header extension (WebRTC)
    assert rtp.find(packet(ext + IDR, b0=0x90)) is not None
    assert rtp.find(packet(b"\x00\x00\x00\x01" + IDR, b0=0x81)) is not None  # one CSRC
    assert rtp.find(packet(IDR + b"\x00\x00\x03", b0=0xA0)) is not None  # three bytes of padding
    assert rtp.find(packet(IDR + b"\x00", b0=0xA0)) is None  # padding count 0
    assert rtp.find(packet(ext[:2], b0=0x90)) is None  # extension cut short


def test_static_audio_payload_types() -> None:
    for pt, kind, size in (
        (0, "audio/pcmu", 160),
        (8, "audio/pcma", 240),
        (9, "audio/g722", 160),
        (3, "audio/gsm", 33),
    ):
        h = rtp.find(packet(bytes(range(256))[:size] if size <= 256 else bytes(size), pt=pt))
        assert h is not None and (h.data_type, h.value) == ("audio", kind), pt
    assert rtp.find(packet(bytes(161), pt=0)) is None  # not whole 5 ms frames
    assert rtp.find(packet(bytes(160 * 20), pt=0)) is None  # 400 ms in one packet: no phone sends that
    assert rtp.find(packet(bytes(188 * 7), pt=33)) is None  # MPEG-TS without its sync bytes
    ts = (b"\x47" + bytes(187)) * 7
    h = rtp.find(packet(ts, pt=33))
    assert h is not None and h.value == "video/mp2t"


def test_not_rtp() -> None:
    dns_query = bytes(DNS(id=0x8123, rd=1, qd=DNSQR(qname="api.example.com")))
    dns_answer = bytes(DNS(id=0x9A21, qr=1, qd=DNSQR(qname="a.cn"), an=DNSRR(rrname="a.cn", rdata="1.2.3.4")))
    ntp = bytes.fromhex("e30003fa00010000000100000000000000000000000000000000000000000000") + bytes(16)
    ntp_alarm = bytes.fromhex("9c0106e9") + bytes(44)  # leap indicator 2: the top bits read as version 2
    stun = bytes.fromhex("000100002112a442") + bytes(12)
    rtcp = bytes.fromhex("80c80006") + bytes(24)  # a sender report
    negatives = [dns_query, dns_answer, ntp, ntp_alarm, stun, rtcp, b"", b"\x80", bytes(12), packet(b"")]
    negatives += [packet(SPS[:1] + b"\x00\x00\x00", pt=96)]  # SPS of an unknown profile
    negatives += [packet(IDR, pt=34), packet(P_SLICE, pt=95)]  # H.264 needs a dynamic type
    negatives += [packet(b"\xe5" + IDR[1:])]  # forbidden bit
    negatives += [packet(b"\x05" + IDR[1:])]  # IDR with nal_ref_idc 0
    negatives += [packet(b"\x65\x88\x00")]  # IDR whose slice type is not I
    negatives += [packet(stap_a(SPS, PPS)[:-1])]  # STAP-A cut inside a unit
    for data in negatives:
        assert rtp.find(data) is None, data.hex()


def test_random_datagrams_seldom_pass() -> None:
    rng = random.Random(11)
    n = 200_000
    hits = [h for h in (rtp.find(rng.randbytes(rng.choice((20, 60, 200, 1200)))) for _ in range(n)) if h]
    assert len(hits) / n < 1e-3
    assert sum(h.confidence == "high" for h in hits) / n < 2e-4


# ---- through the sessions ------------------------------------------------------------------------

NS = 1_000_000_000
DEV, GW = "aa:bb:cc:00:00:01", "aa:bb:cc:00:00:fe"
LOCAL, REMOTE = "192.168.1.10", "47.95.1.1"
IMEI_TEXT = b"\x00\x00\x00\x2c\x01\x02LOGIN imei=861234567890127 ver=2.1\x00"


def eth(up: bool) -> Ether:
    return Ether(src=DEV, dst=GW) if up else Ether(src=GW, dst=DEV)


def udp(t: float, up: bool, payload: bytes, sport: int = 40000, dport: int = 30000) -> tuple[float, bytes]:
    ip = IP(src=LOCAL, dst=REMOTE) if up else IP(src=REMOTE, dst=LOCAL)
    seg = UDP(sport=sport, dport=dport) if up else UDP(sport=dport, dport=sport)
    return t, bytes(eth(up) / ip / seg / Raw(payload))


class Tcp:
    def __init__(self, dport: int = 9000) -> None:
        self.dport, self.t = dport, 0.0
        self.seq = {True: 1000, False: 70000}
        self.packets: list[tuple[float, bytes]] = []

    def send(self, up: bool, payload: bytes = b"", flags: str = "PA") -> None:
        ip = IP(src=LOCAL, dst=REMOTE) if up else IP(src=REMOTE, dst=LOCAL)
        ports = dict(sport=40000, dport=self.dport) if up else dict(sport=self.dport, dport=40000)
        seg = TCP(flags=flags, seq=self.seq[up], ack=self.seq[not up], **ports)
        self.t += 0.01
        self.packets.append(
            (self.t, bytes(eth(up) / ip / seg / Raw(payload) if payload else eth(up) / ip / seg))
        )
        self.seq[up] += len(payload) + (1 if "S" in flags or "F" in flags else 0)

    def handshake(self) -> None:
        self.send(True, flags="S")
        self.send(False, flags="SA")
        self.send(True, flags="A")


def run(packets: list[tuple[float, bytes]]) -> FlowMeter:
    m = FlowMeter(LanPrefixes(DEFAULT_LAN).is_local)
    for t, data in packets:
        m.feed(int(t * NS), 1, len(data), data)
    m.flush()
    return m


def raw(m: FlowMeter) -> list[tuple[str, bool, bytes]]:
    return [(r.kind, r.up, r.payload) for r in m.records if isinstance(r, AppRecord) and r.protocol == "raw"]


def observed(m: FlowMeter) -> set[tuple[str, str, str]]:
    """(carrier, data type, confidence) of the observation rows the records make."""
    obs = Observer("cap", 1, Inventory(LanPrefixes(DEFAULT_LAN)), b"k" * 32, {})
    return {(row[7], row[8], row[10]) for r in m.records for row in obs.observe(r)}


def test_rtp_flow_is_one_record_and_a_video_observation() -> None:
    first = packet(stap_a(SPS, PPS), seq=1)
    pkts = [udp(0.0, True, first)] + [udp(0.001 * i, True, packet(P_SLICE, seq=i)) for i in range(2, 200)]
    pkts.append(udp(0.5, False, b"\x81\xc9\x00\x07" + bytes(28)))  # the far end's RTCP receiver report
    m = run(pkts)
    assert raw(m) == [("udp", True, first)]
    assert observed(m) == {("raw.udp", "video", "high")}


def test_unknown_udp_first_datagram_each_way() -> None:
    pkts = [udp(0.1 * i, i % 3 != 1, b"\x55\xaa" + bytes((i,)) * 30 + IMEI_TEXT) for i in range(12)]
    m = run(pkts)
    assert [(k, up, p[:3]) for k, up, p in raw(m)] == [
        ("udp", True, b"\x55\xaa\x00"),
        ("udp", False, b"\x55\xaa\x01"),
    ]
    assert ("raw.udp", "imei", "medium") in observed(m)  # up only: what the device sent
    assert m.stats["raw_udp"] == 2


def test_udp_of_known_protocols_is_not_raw() -> None:
    dns_query = bytes(DNS(id=1, rd=1, qd=DNSQR(qname="a.example.com")))
    quic = bytes((0xC3,)) + (1).to_bytes(4, "big") + bytes(40)
    m = run(
        [
            udp(0, True, dns_query, dport=53),
            udp(0.1, True, quic, dport=443),
            udp(0.2, True, b"x" * 40, dport=5684),
        ]
    )
    assert raw(m) == []


def test_unknown_tcp_first_bytes_each_way_bounded() -> None:
    c = Tcp()
    c.handshake()
    c.send(True, IMEI_TEXT)
    c.send(False, b"\x00\x00\x00\x04\x01\x00OK")
    big = bytes(range(256)) * 4
    for _ in range(8):  # 8 kB more from the device: only the first RAW_LIMIT bytes are kept
        c.send(True, big)
    c.send(False, b"\x00\x00\x00\x04\x01\x00OK")
    c.send(True, flags="FA")
    c.send(False, flags="FA")
    m = run(c.packets)
    got = raw(m)
    assert [(k, up) for k, up, _p in got] == [("tcp", True), ("tcp", False)]
    assert got[0][2] == (IMEI_TEXT + big * 4)[:RAW_LIMIT]
    assert got[1][2] == b"\x00\x00\x00\x04\x01\x00OK" * 2  # under the limit: read until the flow ended
    assert ("raw.tcp", "imei", "medium") in observed(m)
    recs = [r for r in m.records if isinstance(r, AppRecord)]
    assert recs[0].ts == int(0.04 * NS)  # the first byte's segment


def test_binary_payload_reads_as_its_readable_runs() -> None:
    """Detectors cost by the character: a binary payload is handed over as what ``strings`` would print."""
    data = (
        b"\x00\x01imei\x00861234567890127\x02\x03user@example.com\xff\xfe"
        + bytes(2000)
        + "设备已上线".encode()
    )
    assert [leaf.value for leaf in leaves(data)] == ["imei\n861234567890127\nuser@example.com\n设备已上线"]
    assert list(leaves(bytes(1400))) == []  # padding: nothing to read
    text = b"text\twith\r\nwhitespace only"
    assert [leaf.value for leaf in leaves(text)] == [text.decode()]


def test_unknown_tcp_stops_after_its_segments() -> None:
    c = Tcp()
    c.handshake()
    for i in range(RAW_SEGMENTS + 10):
        c.send(True, b"msg %d;" % i)
        c.send(False, b"ack;")
    m = run(c.packets)
    got = raw(m)
    assert got[0][2] == b"".join(b"msg %d;" % i for i in range(RAW_SEGMENTS))
    assert got[1][2] == b"ack;" * RAW_SEGMENTS


@pytest.mark.parametrize("first", ["server", "client"])
def test_readable_flows_have_no_raw_record(first: str) -> None:
    c = Tcp(8080)
    c.handshake()
    req = frames.http_post("api.example.com", "/v1/x", b'{"a":1}', "okhttp/4")
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    for up, data in [(True, req), (False, resp)] if first == "client" else [(False, resp), (True, req)]:
        c.send(up, data)
    assert raw(run(c.packets)) == []


def test_capture_begun_mid_connection() -> None:
    """The client's first bytes seen are the tail of an upload: raw; the server's answer names HTTP."""
    c = Tcp(8080)
    c.send(True, b"tail of an uploaded body, imei=861234567890127")
    c.send(False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    c.send(
        True, frames.http_post("api.example.com", "/v1/x", b'{"a":1}', "okhttp/4")
    )  # that side stays unread
    m = run(c.packets)
    assert raw(m) == [("tcp", True, b"tail of an uploaded body, imei=861234567890127")]
    assert [r.up for r in m.records if isinstance(r, HttpRecord)] == [False]
    assert ("raw.tcp", "imei", "medium") in observed(m)


def test_tls_is_not_raw() -> None:
    c = Tcp(443)
    c.handshake()
    c.send(True, frames.tls_client_hello("api.example.com", random.Random(1)))
    c.send(False, b"\x16\x03\x03\x00\x04\x0e\x00\x00\x00")
    m = run(c.packets)
    assert raw(m) == [] and any(isinstance(r, TlsRecord) for r in m.records)


def test_rtsp_interleaved_media_frame() -> None:
    c = Tcp(554)
    c.handshake()
    c.send(True, b"ANNOUNCE rtsp://push.example.com/live/cam1 RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    c.send(False, b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")
    rtcp = b"$\x01" + struct.pack("!H", 28) + bytes.fromhex("80c80006") + bytes(24)
    media = [packet(stap_a(SPS, PPS), seq=1), packet(IDR, seq=2)]
    c.send(True, b"RECORD rtsp://push.example.com/live/cam1 RTSP/1.0\r\nCSeq: 2\r\n\r\n" + rtcp)
    c.send(True, b"".join(b"$\x00" + struct.pack("!H", len(p)) + p for p in media))
    m = run(c.packets)
    frames_out = [r for r in m.records if isinstance(r, AppRecord) and r.kind == "interleaved"]
    assert [(r.up, r.payload, r.detail) for r in frames_out] == [(True, media[0], {"channel": 0})]
    assert ("rtsp.interleaved", "video", "high") in observed(m)
