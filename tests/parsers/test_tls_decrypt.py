"""TLS records opened with session secrets (issue 16) and read by the same readers as clear traffic.

Oracles: tshark's decrypted requests for two Firefox captures (shared/pcaps/tls-decryption, from
Zeek's test suite); tshark -o tls.keylog_file on captures OpenSSL's s_client and s_server made over
loopback (pcaps/tlsloop/make.sh: TLS 1.0, 1.1 and 1.2 CBC with and without encrypt-then-MAC, GCM,
CCM_8, ChaCha20, a resumed session; TLS 1.3 CCM, CCM_8, ChaCha20 with a KeyUpdate each way,
AES-256-GCM after a HelloRetryRequest, a PSK resumption, MQTT on 8883); the RFC 8448 section 3
trace's secrets, keys and records.
"""

from __future__ import annotations

import csv
import random
import struct
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from parsers.capture import read_batches
from parsers.decrypt import schedule
from parsers.decrypt.keys import KeyLog
from parsers.decrypt.record import BadRecord, RecordCipher
from parsers.decrypt.suites import SUITES
from parsers.decrypt.tlsflow import KEY_WAIT_LIMIT
from parsers.events import AppRecord, HttpRecord, Record, TlsRecord
from parsers.sessions import TcpSession
from tests.support.paths import shared_path
from tests.support.sessionrun import run_sessions, wrong_keys
from tests.support.tshark import needs_tshark, tshark_fields

LOOP = Path(__file__).resolve().parents[2] / "pcaps" / "tlsloop"
LOOP_CASES = sorted(p.stem for p in LOOP.glob("*.pcap"))
HTTP_CASES = [n for n in LOOP_CASES if "mqtt" not in n]


def keylog(*paths: Path) -> KeyLog:
    k = KeyLog()
    for p in paths:
        k.add_file(str(p))
    return k


def requests(records: list[Record]) -> list[tuple[str, str, str]]:
    return [(r.msg.host, r.msg.uri, r.msg.user_agent) for r in records if isinstance(r, HttpRecord) and r.up]


# ---- real captures nobody here made ------------------------------------------------------------


@pytest.mark.parametrize("name", ["tls12-decryption", "tls12-stream-keylog"])
def test_firefox_requests_equal_tshark(name: str) -> None:
    """All 17 requests (1 + 16) with host, path and user agent as tshark decrypted them."""
    pcap = shared_path("tls-decryption", f"{name}.pcap")
    with open(pcap.with_suffix(".tshark-http.tsv"), newline="") as fh:
        want = [
            (r["http.host"], r["http.request.uri"], r["http.user_agent"])
            for r in csv.DictReader(fh, delimiter="\t")
        ]
    meter = run_sessions(pcap, keylog(pcap.with_suffix(".keylog")))
    assert requests(meter.records) == want
    assert len(want) == {"tls12-decryption": 1, "tls12-stream-keylog": 16}[name]
    assert {r.plain_source for r in meter.records if isinstance(r, HttpRecord)} == {"tls-keylog"}
    assert meter.stats["tls_decrypted"] == 1 and not meter.stats["tls_bad_key"]


def test_firefox_capture_without_its_key_is_counted_and_read_as_before() -> None:
    pcap = shared_path("tls-decryption", "tls12-decryption.pcap")
    meter = run_sessions(pcap, KeyLog())
    assert meter.stats["tls_no_key"] == 1 and not meter.stats["tls_decrypted"]
    assert not requests(meter.records)
    assert [r.client.sni for r in meter.records if isinstance(r, TlsRecord) and r.client] == ["heise.de"]
    assert [f.l7.security for f in meter.done if f.l7 is not None] == ["tls1.2"]


# ---- OpenSSL over loopback, against tshark -----------------------------------------------------


@needs_tshark
@pytest.mark.parametrize("name", HTTP_CASES)
def test_openssl_capture_equals_tshark(name: str) -> None:
    pcap, keys = LOOP / f"{name}.pcap", LOOP / f"{name}.keylog"
    opts = ("-o", f"tls.keylog_file:{keys}")
    fields = ["http.host", "http.request.uri", "http.user_agent"]
    rows = tshark_fields(pcap, "http.request", fields, opts).values()
    want = [(r["http.host"][0], r["http.request.uri"][0], r["http.user_agent"][0]) for r in rows]
    assert len(want) == (2 if "resume" in name else 1)  # the oracle did decrypt
    meter = run_sessions(pcap, keylog(keys))
    assert requests(meter.records) == want
    # s_server -www answers "HTTP/1.0 200 ok" and closes; tshark 4.0 does not show that
    # unframed response as HTTP, so its status is checked against s_server's fixed answer
    assert [r.msg.status for r in meter.records if isinstance(r, HttpRecord) and not r.up] == [200] * len(
        want
    )
    tls = [r for r in meter.records if isinstance(r, TlsRecord)]
    # TLS 1.3: read from the encrypted Certificate; a resumed session sends none
    assert [[c.subject for c in r.certs] for r in tls] == [["CN=device.test"]] + [[]] * (len(want) - 1)
    assert meter.stats["tls_decrypted"] == len(want)


@needs_tshark
def test_mqtt_over_tls_equals_tshark() -> None:
    """MQTT on 8883 inside TLS 1.3: the CONNECT's client id and the PUBLISH's topic and payload."""
    pcap, keys = LOOP / "tls13-mqtt-8883.pcap", LOOP / "tls13-mqtt-8883.keylog"
    fields = ["mqtt.msgtype", "mqtt.clientid", "mqtt.topic", "mqtt.msg"]
    rows = tshark_fields(pcap, "mqtt", fields, ("-o", f"tls.keylog_file:{keys}")).values()
    want = []
    for r in rows:
        for kind in r["mqtt.msgtype"]:
            if kind == "1":
                want.append(("connect", r["mqtt.clientid"][0], b""))
            elif kind == "3":
                want.append(("publish", r["mqtt.topic"][0], bytes.fromhex(r["mqtt.msg"][0])))
    assert [w[0] for w in want] == ["connect", "publish"]
    meter = run_sessions(pcap, keylog(keys))
    got = [
        (r.kind, r.name, r.payload)
        for r in meter.records
        if isinstance(r, AppRecord) and r.protocol == "mqtt"
    ]
    assert got == want
    assert {r.plain_source for r in meter.records if isinstance(r, AppRecord)} == {"tls-keylog"}


def test_openssl_cases_cover_the_suites() -> None:
    """The loopback captures negotiated what their names say (read from their ServerHellos)."""
    got = {}
    for name in LOOP_CASES:
        meter = run_sessions(LOOP / f"{name}.pcap")
        tls = next(r for r in meter.records if isinstance(r, TlsRecord))
        assert tls.server is not None
        got[name] = (tls.server.version, SUITES[tls.server.cipher].cipher, 22 in tls.server.extensions)
    assert got["tls10-cbc"] == (0x0301, "cbc", True)  # IV chained from the previous record
    assert got["tls11-cbc"] == (0x0302, "cbc", True)
    assert got["tls12-cbc-etm"] == (0x0303, "cbc", True)
    assert got["tls12-cbc-sha1-mte"] == (0x0303, "cbc", False)
    assert got["tls13-ccm8"][:2] == (0x0304, "ccm8") and got["tls12-ccm8"][:2] == (0x0303, "ccm8")
    assert {v[:2] for v in got.values()} >= {
        (0x0303, "gcm"),
        (0x0303, "chacha"),
        (0x0304, "chacha"),
        (0x0304, "ccm"),
    }


# ---- segmentation, late keys, bad keys ---------------------------------------------------------


def segments(pcap: Path) -> list[tuple[int, int, int, bytes, int]]:
    """(ts, up, seq, payload, syn) of a one-connection Ethernet/IPv4 capture, the client up."""
    out, client = [], None
    for batch in read_batches(str(pcap)):
        for ts, _lt, _wl, frame in batch:
            data = bytes(frame)
            ihl = (data[14] & 15) * 4
            tcp = 14 + ihl
            sport, _dport, seq, off, flags = struct.unpack_from("!HHI4xBB", data, tcp)
            total = struct.unpack_from("!H", data, 16)[0]
            payload = data[tcp + (off >> 4) * 4 : 14 + total]
            client = sport if client is None else client
            out.append((ts, int(sport == client), seq, payload, flags & 2))
    return out


def feed(
    segs: list[tuple[int, int, int, bytes, int]], keys: KeyLog | None, cut: int = 0
) -> tuple[list[Record], Counter[str]]:
    """Run one TcpSession over the segments, each payload cut into ``cut``-byte pieces if given."""
    stats: Counter[str] = Counter()
    s, out, more = TcpSession(stats, (50000, 443), keys), [], True
    for ts, up, seq, payload, syn in segs:
        pieces = [payload[i : i + cut] for i in range(0, len(payload), cut)] if cut and payload else [payload]
        for i, piece in enumerate(pieces):
            if more and (piece or syn):
                more = s.feed(out, None, up, ts, (seq + i * cut) % (1 << 32), piece, syn)
    s.finish(out, None)
    return out, stats


@pytest.mark.parametrize("name", ["tls12-cbc-etm", "tls13-chacha-keyupdate"])
def test_records_split_and_joined_read_alike(name: str) -> None:
    """Records cut across 7-byte segments, or many records in one segment, read the same."""
    segs = segments(LOOP / f"{name}.pcap")
    keys = keylog(LOOP / f"{name}.keylog")
    whole, _ = feed(segs, keys)
    split, stats = feed(segs, keys, cut=7)
    assert requests(split) == requests(whole) and len(requests(whole)) == 1
    joined: dict[int, bytes] = {}
    firsts: dict[int, tuple[int, int, int]] = {}
    for ts, up, seq, payload, syn in segs:  # each direction's payload as one segment
        if syn:
            firsts.setdefault(up, (ts, seq, syn))
        joined[up] = joined.get(up, b"") + payload
    one = [(firsts[u][0], u, firsts[u][1], b"", 2) for u in (1, 0)]
    one += [(segs[-1][0], 1, (firsts[1][1] + 1) % (1 << 32), joined[1], 0)]
    one += [(segs[-1][0], 0, (firsts[0][1] + 1) % (1 << 32), joined[0], 0)]
    together, _ = feed(one, keys)
    assert requests(together) == requests(whole)
    assert stats["tls_decrypted"] == 1


def test_keys_arriving_after_the_handshake_still_decrypt() -> None:
    """Live: the key log grows after the flow's handshake; the held records then open."""
    segs = segments(LOOP / "tls13-ccm.pcap")
    keys = KeyLog(growing=True)  # followed as it grows (capture --keylog)
    stats: Counter[str] = Counter()
    s, out = TcpSession(stats, (50000, 443), keys), []
    half = len(segs) // 2
    for ts, up, seq, payload, syn in segs[:half]:
        s.feed(out, None, up, ts, seq, payload, syn)
    assert not requests(out) and not stats["tls_decrypted"]
    keys.add_text((LOOP / "tls13-ccm.keylog").read_text())
    for ts, up, seq, payload, syn in segs[half:]:
        s.feed(out, None, up, ts, seq, payload, syn)
    s.finish(out, None)
    assert len(requests(out)) == 1 and stats["tls_decrypted"] == 1 and not stats["tls_no_key"]
    assert len([r for r in out if isinstance(r, TlsRecord)]) == 1  # out once, before the keys came


def test_ciphertext_held_for_late_keys_is_bounded() -> None:
    """Without keys a direction holds at most KEY_WAIT_LIMIT bytes, then the flow is no_key."""
    segs = segments(LOOP / "tls12-gcm384.pcap")[:-3]  # not the FIN exchange
    ts = segs[-1][0]
    extra = []
    record = b"\x17\x03\x03\x40\x00" + bytes(0x4000)
    nxt = max(sq + len(p) for _t, u, sq, p, _y in segs if u == 1)
    for i in range(8):  # 8 more 16 KiB records from the client
        extra.append((ts, 1, (nxt + i * len(record)) % (1 << 32), record, 0))
    stats: Counter[str] = Counter()
    s, out = TcpSession(stats, (50000, 443), KeyLog(growing=True)), []
    results = [s.feed(out, None, u, t, q, p, y) for t, u, q, p, y in segs + extra]
    assert results[-1] is False and stats["tls_no_key"] == 1
    assert s.up is not None and len(s.up.data) == 0
    assert KEY_WAIT_LIMIT == 1 << 16


def test_a_key_log_read_whole_holds_nothing_for_a_flow_it_lacks() -> None:
    """Replay: every key the log will have is there before the packets, so a flow it lacks is
    no_key at its first protected record and nothing is held for it."""
    segs = segments(LOOP / "tls12-gcm384.pcap")
    stats: Counter[str] = Counter()
    s, out = TcpSession(stats, (50000, 443), KeyLog()), []
    results = [s.feed(out, None, u, t, q, p, y) for t, u, q, p, y in segs]
    assert False in results and stats["tls_no_key"] == 1
    assert all(h is None or not h.data for h in (s.up, s.dn))


@pytest.mark.parametrize("name", ["tls12-chacha", "tls13-aes256-hrr"])
def test_wrong_key_is_bad_key_and_the_flow_stays_as_without_keys(name: str) -> None:
    meter = run_sessions(LOOP / f"{name}.pcap", wrong_keys(LOOP / f"{name}.keylog"))
    assert meter.stats["tls_bad_key"] == 1 and not meter.stats["tls_decrypted"]
    assert not requests(meter.records)
    assert len([r for r in meter.records if isinstance(r, TlsRecord)]) == 1


def test_key_log_cut_mid_line_keeps_its_whole_lines() -> None:
    """Two flows' keys in one log, cut inside the second's line: the first decrypts, the second is no_key."""
    a, b = (LOOP / "tls12-gcm384.keylog").read_text(), (LOOP / "tls13-ccm8.keylog").read_text()
    keys = KeyLog()
    _taken, bad = keys.add_text(a + b[: len(b) - 20])
    assert bad == 1
    ra, rb = run_sessions(LOOP / "tls12-gcm384.pcap", keys), run_sessions(LOOP / "tls13-ccm8.pcap", keys)
    assert len(requests(ra.records)) == 1 and ra.stats["tls_decrypted"] == 1
    # the cut line is the last (SERVER_TRAFFIC_SECRET_0 or another): either way the flow is not fully keyed
    assert (
        not requests(rb.records)
        and rb.stats["tls_no_key"] + rb.stats["tls_bad_key"] + rb.stats["tls_decrypted"] == 1
    )


def test_tls13_with_traffic_secrets_only_reads_the_application_data() -> None:
    """A key log with only the *_TRAFFIC_SECRET_0 lines: the encrypted handshake is passed over."""
    text = (LOOP / "tls13-chacha-keyupdate.keylog").read_text()
    keys = KeyLog()
    keys.add_text("\n".join(x for x in text.splitlines() if "_TRAFFIC_SECRET_0" in x))
    meter = run_sessions(LOOP / "tls13-chacha-keyupdate.pcap", keys)
    assert len(requests(meter.records)) == 1 and meter.stats["tls_decrypted"] == 1


# ---- RFC 8448 section 3, "Simple 1-RTT Handshake" ---------------------------------------------

SUITE = SUITES[0x1301]  # TLS_AES_128_GCM_SHA256
H = bytes.fromhex
C_HS = H(
    "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"
)  # {server} derive secret "tls13 c hs traffic"
S_HS = H("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")  # "tls13 s hs traffic"
C_AP = H("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")  # "tls13 c ap traffic"
S_AP = H("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643")  # "tls13 s ap traffic"
FIFTY = bytes(range(50))  # the application data each way: 00 01 ... 31


def test_rfc8448_traffic_keys() -> None:
    """'derive write traffic keys for handshake data' / 'for application data' (RFC 8448 3)."""
    assert schedule.traffic_keys(SUITE, S_HS) == (
        H("3fce516009c21727d0f2e4e86ee403bc"),
        H("5d313eb2671276ee13000b30"),
    )
    assert schedule.traffic_keys(SUITE, C_HS) == (
        H("dbfaa693d1762c5b666af5d950258d01"),
        H("5bd3c71b836e0b76bb73265f"),
    )
    assert schedule.traffic_keys(SUITE, S_AP) == (
        H("9f02283b6c9c07efc26bb9f2ac92e356"),
        H("cf782b88dd83549aadf1e984"),
    )
    assert schedule.traffic_keys(SUITE, C_AP) == (
        H("17422dda596ed5d9acd890e3c63f5051"),
        H("5b78923dee08579033e523d9"),
    )


def open_records(secret: bytes, records: list[str]) -> list[tuple[int, bytes]]:
    c = RecordCipher(SUITE, 0x0304, *schedule.traffic_keys(SUITE, secret))
    return [c.open(r[0], r[1:3], r[5:]) for r in map(H, records)]


def test_rfc8448_records_open() -> None:
    """The trace's protected records: the client's Finished, each side's 50 bytes, the alerts."""
    (fin,) = open_records(
        C_HS,
        [
            "170303003575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc44d87f38f80338ac98fc46deb384bd1caeacab6867d726c40546"
        ],
    )
    assert fin == (22, H("14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61"))
    client = open_records(C_AP, [
        "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a20441e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4",
        "1703030013c9872760655666b74d7ff1153efd6db6d0b0e3",
    ])  # fmt: skip
    assert client == [(23, FIFTY), (21, b"\x01\x00")]  # data, then close_notify
    c = RecordCipher(SUITE, 0x0304, *schedule.traffic_keys(SUITE, S_AP))
    c.seq = 1  # the server's first record under these keys was its NewSessionTicket
    rec = H(
        "17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36e30efaf97d90e6dffc602dcb501a59a8fcc49c4bf2e5f0a21c0047c2abf332540dd032e167c2955d"
    )
    assert c.open(rec[0], rec[1:3], rec[5:]) == (23, FIFTY)
    with pytest.raises(BadRecord):  # the same record again: sequence 2, does not authenticate
        c.open(rec[0], rec[1:3], rec[5:])


# ---- keys from the capture itself: a pcapng Decryption Secrets Block ---------------------------


def dsb_keys(pcapng: Path) -> KeyLog:
    """The TLS key log lines of a pcapng's Decryption Secrets Blocks (block type 0x0000000A,
    draft-ietf-opsawg-pcapng 4.7), read here until the capture reader hands them over itself."""
    data, pos, keys = pcapng.read_bytes(), 0, KeyLog()
    order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from(order + "II", data, pos)
        if btype == 0x0A:
            stype, slen = struct.unpack_from(order + "II", data, pos + 8)
            keys.add_dsb(stype, data[pos + 16 : pos + 16 + slen], str(pcapng))
        pos += blen
    return keys


@needs_tshark
def test_secrets_injected_into_the_capture_decrypt_and_say_so(tmp_path: Path) -> None:
    """editcap --inject-secrets: the same capture's keys from its DSB; records say tls-dsb."""
    out = tmp_path / "with-keys.pcapng"
    name = "tls13-chacha-keyupdate"
    cmd = [
        "editcap",
        "--inject-secrets",
        f"tls,{LOOP / f'{name}.keylog'}",
        str(LOOP / f"{name}.pcap"),
        str(out),
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    keys = dsb_keys(out)
    assert [s.kind for s in keys.sources] == ["tls-dsb"] and len(keys) == 1
    meter = run_sessions(out, keys)
    assert len(requests(meter.records)) == 1
    assert {r.plain_source for r in meter.records if isinstance(r, HttpRecord)} == {"tls-dsb"}


def test_corrupt_and_cut_segments_are_counted_never_raised() -> None:
    """Bytes flipped and segments cut short (as a snap length cuts them) in ciphertext and
    handshake alike: every run ends, each TLS flow counted under one of the decryption stats."""
    rng = random.Random(16)
    seen: Counter[str] = Counter()
    for name in LOOP_CASES:
        segs, keys = segments(LOOP / f"{name}.pcap"), keylog(LOOP / f"{name}.keylog")
        for _ in range(5):
            bad = []
            for ts, up, seq, p, syn in segs:
                if p and rng.random() < 0.3:
                    b = bytearray(p)
                    for _ in range(rng.randint(1, 4)):
                        b[rng.randrange(len(b))] = rng.randrange(256)
                    p = bytes(b[: rng.randrange(len(b))] if rng.random() < 0.3 else b)
                bad.append((ts, up, seq, p, syn))
            _out, stats = feed(bad, keys, cut=rng.choice([0, 3, 50]))
            seen.update(k for k in stats if k.startswith("tls_"))
    assert set(seen) <= {
        "tls_decrypted",
        "tls_record_failed",
        "tls_no_key",
        "tls_bad_key",
        "tls_unsupported_suite",
    }
    assert seen["tls_decrypted"] and seen["tls_record_failed"] and seen["tls_bad_key"]
