"""HTTP/2 (RFC 9113) read as requests and responses: against the ``h2`` library's own client and
server (the generator's ground truth), against tshark on the same captures, and on bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hyperframe.frame import DataFrame, HeadersFrame, PriorityFrame

from parsers.events import HttpRecord
from parsers.lan import DEFAULT_LAN, LanPrefixes
from parsers.meter import FlowMeter
from parsers.protocols.http import HttpRequest, HttpResponse
from parsers.protocols.http2 import PREFACE, H2Connection, H2Message
from tests.support.h2gen import IMEI_JSON, NS, Capture, generate
from tests.support.h2oracle import h2_streams
from tests.support.paths import shared_path
from tests.support.sessionrun import run_sessions
from tests.support.tshark import needs_tshark

NDPI_H2C = "nDPI/pcap/http2.pcapng"  # a 5G core's h2c request (free5GC AMF), prior knowledge, port 29518


def records(packets: list[tuple[int, bytes]]) -> tuple[list[HttpRecord], dict[str, int]]:
    """The connection through the flow meter and its sessions: HTTP records and the meter's counts."""
    m = FlowMeter(LanPrefixes(DEFAULT_LAN).is_local)
    for ts, frame in packets:
        m.feed(ts, 1, len(frame), frame)
    m.flush()
    return [r for r in m.records if isinstance(r, HttpRecord)], dict(m.stats)


def summary(recs: list[HttpRecord]) -> dict[tuple[int, bool], tuple[str, str, str, str, int]]:
    """(stream id, up) -> method, authority, path, status, DATA bytes: what tshark gives too."""
    out = {}
    for r in recs:
        if r.msg.version != "2":
            continue
        m = r.msg
        if isinstance(m, HttpRequest):
            out[(r.index, r.up)] = (m.method, m.host, m.uri, "", m.body_len)
        else:
            assert isinstance(m, HttpResponse)
            out[(r.index, r.up)] = ("", "", "", str(m.status), m.body_len)
    return out


def check_truth(cap: Capture, recs: list[HttpRecord]) -> None:
    reqs = {r.index: r.msg for r in recs if r.up and r.msg.version == "2"}
    resps = {r.index: r.msg for r in recs if not r.up and r.msg.version == "2"}
    for ex in cap.exchanges:
        resp = resps.get(ex.stream_id)
        if ex.stream_id in reqs:
            req = reqs[ex.stream_id]
            assert isinstance(req, HttpRequest)
            assert (req.method, req.host, req.uri, req.body) == (ex.method, ex.authority, ex.path, ex.body)
            assert not req.truncated
        if ex.status:
            assert isinstance(resp, HttpResponse)
            assert (resp.status, resp.body, resp.body_len) == (ex.status, ex.response, ex.response_wire)
        else:
            assert resp is None  # reset before an answer
    assert set(resps) == {ex.stream_id for ex in cap.exchanges if ex.status}


@pytest.mark.parametrize("mss", [1200, 7])
def test_prior_knowledge_h2c_gives_every_stream(mss: int) -> None:
    cap = generate()
    recs, stats = records(cap.packets(mss=mss))
    assert {r.index for r in recs if r.up} == {1, 3, 5, 7, 9}
    check_truth(cap, recs)
    big = next(r.msg for r in recs if r.up and r.index == 3)
    assert big.header("cookie") == "session=" + "a" * 20000  # read across CONTINUATION frames
    assert stats["http2_rst_stream"] == 1 and stats["http2_goaway"] == 1
    assert stats["dissected_http2"] == 9
    assert not any(k.startswith(("malformed", "truncated")) or k == "http2_hpack_lost" for k in stats)
    # the record's time is that of the segment holding the first byte of stream 1's HEADERS frame
    # (type 1, flags END_HEADERS | PRIORITY, stream 1: RFC 9113 6.2)
    at = directions(cap)[0].index(b"\x01\x24\x00\x00\x00\x01") - 3
    pieces = [(u, len(d[i : i + mss])) for u, d in cap.segments for i in range(0, len(d), mss)]
    n = sent = 0
    while not (pieces[n][0] and sent + pieces[n][1] > at):
        sent += pieces[n][1] if pieces[n][0] else 0
        n += 1
    first = next(r for r in recs if r.up and r.index == 1)
    assert first.ts == (4 + n) * NS // 100  # packets are 10 ms apart, three before the data
    gz = next(r.msg for r in recs if not r.up and r.index == 3)
    assert gz.body == gzip.decompress(gzip.compress(gz.body, mtime=0))  # content-decoded
    assert IMEI_JSON in next(r.msg.body for r in recs if r.up and r.index == 1)


@pytest.mark.parametrize("hello", [b"hello over h2c", bytes(range(256)) * 24])
def test_upgrade_from_http1_switches_both_ways(hello: bytes) -> None:
    # 6 KiB on stream 1: the server's bytes are read before the client's upgrade request is
    cap = generate(upgrade=True, hello=hello)
    recs, stats = records(cap.packets(dport=80))
    h1 = [(r.up, r.msg.version, getattr(r.msg, "status", 0)) for r in recs if r.msg.version != "2"]
    assert sorted(h1) == [(False, "1.1", 101), (True, "1.1", 0)]
    check_truth(cap, recs)
    assert stats["dissected_http"] == 2 and stats["dissected_http2"] == 10
    assert "malformed_http" not in stats and "http_not_continued" not in stats


@needs_tshark
@pytest.mark.parametrize("upgrade", [False, True])
def test_generated_captures_agree_with_tshark(upgrade: bool, tmp_path: Path) -> None:
    cap = generate(upgrade=upgrade)
    path = tmp_path / "h2c.pcap"
    port = 80 if upgrade else 8080
    path.write_bytes(cap.pcap(dport=port, mss=500))
    ours = summary(m_records(path))
    opts = () if upgrade else ("-d", f"tcp.port=={port},http2")
    theirs = {
        (sid, up): (t.method, t.authority, t.path, t.status, t.data)
        for (_, sid, up), t in h2_streams(path, opts).items()
    }
    assert len(theirs) == (10 if upgrade else 9)
    assert ours == theirs


@needs_tshark
def test_real_h2c_capture_agrees_with_tshark() -> None:
    path = shared_path(NDPI_H2C)
    m = run_sessions(path)
    ours = summary([r for r in m.records if isinstance(r, HttpRecord)])
    theirs = {
        (sid, up): (t.method, t.authority, t.path, t.status, t.data)
        for (_, sid, up), t in h2_streams(path, ("-d", "tcp.port==29518,http2")).items()
    }
    assert theirs == {
        (3, True): ("POST", "127.0.0.1:29518", "/namf-comm/v1/subscriptions", "", 135),
        (3, False): ("", "", "", "201", 86),
    }
    assert ours == theirs
    req = next(r.msg for r in m.records if isinstance(r, HttpRecord) and r.up)
    assert req.body.startswith(b'{"amfStatusUri":"http://127.0.0.1:29507/npcf-callback')


def m_records(path: Path) -> list[HttpRecord]:
    return [r for r in run_sessions(path).records if isinstance(r, HttpRecord)]


def directions(cap: Capture) -> tuple[bytes, bytes]:
    up = b"".join(d for u, d in cap.segments if u)
    dn = b"".join(d for u, d in cap.segments if not u)
    return up, dn


def feed_all(conn: H2Connection, up: bool, data: bytes, step: int) -> list[H2Message]:
    """Feed ``step`` bytes at a time keeping what was not consumed, as the session does."""
    out: list[H2Message] = []
    held, base = b"", 0
    for i in range(0, len(data), step):
        held += data[i : i + step]
        msgs, used = conn.feed(up, held, base)
        out += msgs
        held, base = held[used:], base + used
    msgs, used = conn.feed(up, held, base, final=True)
    return out + msgs


def test_every_split_gives_the_same_messages() -> None:
    up, dn = directions(generate())
    whole = H2Connection()
    want = feed_all(whole, True, up, len(up)) + feed_all(whole, False, dn, len(dn))
    for step in (1, 9, 100):
        conn = H2Connection()
        got = feed_all(conn, True, up, step) + feed_all(conn, False, dn, step)
        assert [(m.up, m.stream_id, m.offset, m.msg) for m in got] == [
            (m.up, m.stream_id, m.offset, m.msg) for m in want
        ]
        assert "truncated_http2" not in conn.stats


def test_capture_begun_mid_connection_loses_headers_not_bodies() -> None:
    cap = generate()
    # the first exchange (preface, settings and stream 1) was before the capture began
    at = next(i for i, (u, d) in enumerate(cap.segments) if u and b"/v2/profile" not in d and i > 4)
    up = b"".join(d for u, d in cap.segments[at:] if u)
    dn = b"".join(d for u, d in cap.segments[at:] if not u)
    conn = H2Connection()
    msgs = feed_all(conn, True, up, 50) + feed_all(conn, False, dn, 50)
    assert conn.stats["http2_no_preface"] == 1
    # the client's first block names the authority entry stream 1 added: lost from there on
    assert [(m.stream_id, m.msg.headers) for m in msgs if m.up] == [(3, []), (5, []), (7, []), (9, [])]
    steps = [m for m in msgs if m.up and m.stream_id == 5]
    assert [m.msg.body for m in steps] == [b'{"steps":8421,"heart_rate":71}']  # the body, though not its path
    # the server's blocks for streams 3 and 5 use only entries the capture shows: decoded right;
    # stream 9's names the content-length entry of stream 1's response: lost
    resp = {m.stream_id: m.msg for m in msgs if not m.up}
    assert [(sid, getattr(r, "status", None)) for sid, r in resp.items()] == [(3, 200), (5, 204), (9, 0)]
    assert resp[3].body.startswith(b'{"name":"Alice Example"') and resp[9].body == b'{"temp":21}'
    assert conn.stats["http2_hpack_lost"] == 5


def test_cut_by_the_end_of_the_capture() -> None:
    _, dn = directions(generate())
    cut = dn.index(b'{"temp"') + 5
    conn = H2Connection()
    msgs = feed_all(conn, False, dn[:cut], 64)
    last = msgs[-1]
    assert (last.stream_id, last.msg.truncated, last.msg.body) == (9, True, b'{"tem')
    assert isinstance(last.msg, HttpResponse) and last.msg.status == 200
    assert conn.stats["truncated_http2"] == 1


def test_malformed_frames_are_counted_and_skipped() -> None:
    up, _ = directions(generate())
    body = up[len(PREFACE) :]
    bad_pad = bytes.fromhex("000003") + b"\x00\x08" + (1).to_bytes(4, "big") + b"\x09ab"  # pad 9 > 2 bytes
    bad_priority = PriorityFrame(1).serialize()[:-1]
    bad_priority = (4).to_bytes(3, "big") + bad_priority[3:]  # PRIORITY must be 5 bytes
    conn = H2Connection()
    msgs = feed_all(conn, True, PREFACE + bad_pad + bad_priority + body, 33)
    assert conn.stats["malformed_http2"] == 2
    assert [m.stream_id for m in msgs] == [1, 3, 5, 7, 9]  # framing went on past both


def test_header_block_cut_by_another_frame_is_malformed() -> None:
    h = HeadersFrame(1)
    h.data = b"\x82"  # :method GET, no END_HEADERS: a CONTINUATION must follow
    d = DataFrame(1)
    d.data = b"x"
    d.flags.add("END_STREAM")
    conn = H2Connection()
    msgs, _ = conn.feed(True, PREFACE + h.serialize() + d.serialize(), final=True)
    assert conn.stats["malformed_http2"] == 1
    assert conn.stats["http2_data_without_headers"] == 1
    assert msgs == []


def test_not_http2_after_the_preface_stops_without_a_traceback() -> None:
    cap = Capture([(True, PREFACE + b"\xff" * 3000), (False, b"HTTP/1.1 400 Bad Request\r\n\r\n")])
    recs, stats = records(cap.packets())
    assert recs == []
    # each way a frame header says 16 MiB or 4.7 MB ("HTTP/1"), above the 16 KiB allowed before SETTINGS
    assert stats["malformed_http2"] == 2
    assert "dissected_http2" not in stats
