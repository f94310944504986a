"""CoAP over DTLS opened with session secrets (issue 16: "CoAP-over-DTLS only if keys are available").

Captures: OpenSSL's s_client and s_server over loopback (pcaps/dtlsloop/make.py: DTLS 1.2 with
AES-128-GCM, ChaCha20-Poly1305, AES-128-CCM_8, AES-256-CBC with encrypt-then-MAC, AES-128-CBC
MAC-then-encrypt, and DTLS 1.0 CBC), each carrying two CoAP requests and one answer. Two oracles:
the messages the generator sent (its ground truth), and ``tshark -o tls.keylog_file``, which
opens every case but ChaCha20 (see ``test_tshark_cannot_open_dtls_chacha20``).
"""

from __future__ import annotations

import importlib.util
import struct
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from appliance.ingest.record_rows import JA4_TRANSPORT
from parsers.capture import read_batches
from parsers.decrypt.dtlsflow import Reassembly, dtls_records
from parsers.decrypt.keys import KeyLog
from parsers.decrypt.suites import SUITES
from parsers.decrypt.tlsflow import KEY_WAIT_LIMIT
from parsers.events import AppRecord, Record, TlsRecord
from parsers.protocols import coap
from parsers.registry import UDP_PORTS
from parsers.sessions import UdpSession
from tests.support.sessionrun import run_sessions, wrong_keys
from tests.support.tshark import needs_tshark, tshark_fields

LOOP = Path(__file__).resolve().parents[2] / "pcaps" / "dtlsloop"
CASES = sorted(p.stem for p in LOOP.glob("*.pcap"))
TSHARK_GAPS = {"dtls12-chacha"}  # tshark 4.0 leaves the epoch out of ChaCha20's DTLS nonce


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("dtlsloop_make", LOOP / "make.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MAKE = _generator()


def keylog(name: str) -> KeyLog:
    k = KeyLog()
    k.add_file(str(LOOP / f"{name}.keylog"))
    return k


Row = tuple[bool, str, str, int, str, int]
TYPES = ("CON", "NON", "ACK", "RST")  # RFC 7252 3


def coap_rows(records: list[Record]) -> list[Row]:
    """(client's, type, code, message id, path of a request, payload length) per CoAP record."""
    out = []
    for r in records:
        if isinstance(r, AppRecord) and r.protocol == "coap":
            path = r.name if r.detail["code"].startswith("0.") else ""
            out.append((r.up, r.detail["type"], r.detail["code"], r.detail["mid"], path, len(r.payload)))
    return out


def truth() -> list[Row]:
    """What make.py sent: its CoAP messages parsed, the client's two and the server's answer."""
    sent, answers = MAKE.messages()
    out = []
    for up, raw in ((True, sent[0]), (False, answers[0]), (True, sent[1])):
        m = coap.parse(raw)
        path = m.uri_path if m.is_request else ""
        out.append((up, m.type, m.code, m.message_id, path, len(m.payload)))
    return out


# ---- against the ground truth and tshark -----------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_dtls_capture_reads_what_was_sent(name: str) -> None:
    meter = run_sessions(LOOP / f"{name}.pcap", keylog(name))
    assert coap_rows(meter.records) == truth()
    assert {r.plain_source for r in meter.records if isinstance(r, AppRecord)} == {"tls-keylog"}
    assert meter.stats["tls_decrypted"] == 1 and meter.stats["dissected_coap"] == 3
    assert not any(meter.stats[k] for k in ("tls_bad_key", "tls_no_key", "tls_record_failed"))
    (flow,) = meter.done
    assert flow.l7 is not None and flow.l7.plaintext == "tls-keylog" and flow.l7.readable


@needs_tshark
@pytest.mark.parametrize("name", [n for n in CASES if n not in TSHARK_GAPS])
def test_dtls_capture_equals_tshark(name: str) -> None:
    """type, code, message id, request path and payload length of every CoAP message tshark decrypts."""
    fields = [
        "udp.srcport",
        "coap.type",
        "coap.code",
        "coap.mid",
        "coap.opt.uri_path_recon",
        "coap.payload_length",
    ]
    rows = tshark_fields(
        LOOP / f"{name}.pcap", "coap", fields, ("-o", f"tls.keylog_file:{LOOP / f'{name}.keylog'}")
    ).values()
    want = []
    for r in rows:
        code = int(r["coap.code"][0])
        path = r["coap.opt.uri_path_recon"][0] if code < 32 else ""  # tshark names an answer by its request
        plen = int(r["coap.payload_length"][0]) if r.get("coap.payload_length") else 0
        up = r["udp.srcport"][0] != str(MAKE.PORT)
        kind = TYPES[int(r["coap.type"][0])]
        want.append((up, kind, f"{code >> 5}.{code & 31:02d}", int(r["coap.mid"][0]), path, plen))
    assert len(want) == 3
    assert coap_rows(run_sessions(LOOP / f"{name}.pcap", keylog(name)).records) == want


@needs_tshark
def test_tshark_cannot_open_dtls_chacha20() -> None:
    """The one listed difference: tshark 4.0 computes a DTLS ChaCha20-Poly1305 record's nonce
    from its sequence number alone (its tls.debug_file says "tls_decrypt_aead_record seq 0 ...
    auth tag mismatch" on the epoch 1 Finished), where RFC 7905 2 and RFC 6347 4.1.2.1 use the
    epoch and sequence number together; it opens nothing of this capture, which tapaudit reads
    as make.py sent it (``test_dtls_capture_reads_what_was_sent``)."""
    name = "dtls12-chacha"
    rows = tshark_fields(
        LOOP / f"{name}.pcap", "coap", ["coap.mid"], ("-o", f"tls.keylog_file:{LOOP / f'{name}.keylog'}")
    )
    assert not rows


def test_dtls_cases_cover_what_their_names_say() -> None:
    got = {}
    for name in CASES:
        meter = run_sessions(LOOP / f"{name}.pcap")
        (tls,) = [r for r in meter.records if isinstance(r, TlsRecord)]
        assert tls.server is not None and tls.client is not None and tls.transport == "dtls"
        got[name] = (tls.server.version, SUITES[tls.server.cipher].cipher, 22 in tls.server.extensions)
    assert got == {
        "dtls10-cbc": (0xFEFF, "cbc", True),
        "dtls12-cbc-etm": (0xFEFD, "cbc", True),
        "dtls12-cbc-mte": (0xFEFD, "cbc", False),
        "dtls12-ccm8": (0xFEFD, "ccm8", False),
        "dtls12-chacha": (0xFEFD, "chacha", False),
        "dtls12-gcm": (0xFEFD, "gcm", False),
    }


# ---- without keys, wrong keys, late keys, cut datagrams --------------------------------------


def test_without_a_key_log_the_hellos_are_read_and_nothing_is_counted() -> None:
    meter = run_sessions(LOOP / "dtls12-gcm.pcap")
    (tls,) = [r for r in meter.records if isinstance(r, TlsRecord)]
    assert tls.client is not None and tls.client.sni == "coap.device.test"
    assert tls.client.ja4(JA4_TRANSPORT["dtls"]).startswith("dd2d")
    assert not coap_rows(meter.records) and not [k for k in meter.stats if k.startswith("tls_")]
    (flow,) = meter.done
    assert flow.l7 is not None and flow.l7.security == "dtls1.2" and flow.l7.sni == "coap.device.test"
    assert not flow.l7.readable and flow.l7.plaintext == ""


def test_a_key_log_without_the_flow_counts_no_key() -> None:
    meter = run_sessions(LOOP / "dtls12-gcm.pcap", keylog("dtls12-ccm8"))
    assert meter.stats["tls_no_key"] == 1 and not meter.stats["tls_decrypted"]
    assert not coap_rows(meter.records)
    assert len([r for r in meter.records if isinstance(r, TlsRecord)]) == 1


@pytest.mark.parametrize("name", ["dtls12-gcm", "dtls12-cbc-mte"])
def test_wrong_key_is_bad_key_and_nothing_is_read(name: str) -> None:
    meter = run_sessions(LOOP / f"{name}.pcap", wrong_keys(LOOP / f"{name}.keylog"))
    assert meter.stats["tls_bad_key"] == 1 and not meter.stats["tls_decrypted"]
    assert not coap_rows(meter.records)


def datagrams(pcap: Path) -> list[tuple[int, int, bytes, int]]:
    """(ts, up, payload, length as sent) of a one-flow loopback UDP capture, the client up."""
    out = []
    for batch in read_batches(str(pcap)):
        for ts, _lt, _wl, frame in batch:
            data = bytes(frame)
            udp = 14 + (data[14] & 15) * 4
            _sport, dport, length = struct.unpack_from("!HHH", data, udp)
            out.append((ts, int(dport == MAKE.PORT), data[udp + 8 : udp + length], length - 8))
    return out


def feed(
    dgrams: list[tuple[int, int, bytes, int]], keys: KeyLog | None
) -> tuple[list[Record], Counter[str], UdpSession]:
    stats: Counter[str] = Counter()
    s, out = UdpSession(UDP_PORTS[MAKE.PORT], stats, (50000, MAKE.PORT), keys), list[Record]()
    more = True
    for ts, up, payload, wire in dgrams:
        if more:
            more = s.feed(out, None, up, ts, wire, payload, 0)
    s.finish(out, None)
    return out, stats, s


def test_keys_arriving_after_the_handshake_still_decrypt() -> None:
    """Live: the key log grows after the handshake; the held records then open, in order."""
    dgrams = datagrams(LOOP / "dtls12-chacha.pcap")
    keys = KeyLog(growing=True)
    stats: Counter[str] = Counter()
    s, out = UdpSession(UDP_PORTS[MAKE.PORT], stats, (50000, MAKE.PORT), keys), list[Record]()
    first_app = next(i for i, d in enumerate(dgrams) if d[2][0] == 23)
    for ts, up, payload, wire in dgrams[: first_app + 2]:
        assert s.feed(out, None, up, ts, wire, payload, 0)
    assert not coap_rows(out) and not stats["tls_decrypted"]
    keys.add_text((LOOP / "dtls12-chacha.keylog").read_text())
    for ts, up, payload, wire in dgrams[first_app + 2 :]:
        s.feed(out, None, up, ts, wire, payload, 0)
    s.finish(out, None)
    assert coap_rows(out) == truth() and stats["tls_decrypted"] == 1 and not stats["tls_no_key"]


def test_records_held_for_late_keys_are_bounded() -> None:
    dgrams = datagrams(LOOP / "dtls12-gcm.pcap")
    app = next(d for d in dgrams if d[2][0] == 23)
    big = app[2][:13] + bytes(1200)  # more application data records of epoch 1
    flood = [(app[0], 1, big[:11] + len(big[13:]).to_bytes(2, "big") + big[13:], len(big))] * (
        KEY_WAIT_LIMIT // 1200 + 2
    )
    _out, stats, s = feed([d for d in dgrams if d[2][0] != 23] + flood, KeyLog(growing=True))
    assert stats["tls_no_key"] == 1 and s.dtls is not None and not s.dtls.held


def test_cut_and_corrupt_datagrams_are_counted_never_raised(tmp_path: Path) -> None:
    """A snap length that cuts the application data datagrams; bytes flipped in them."""
    cut = tmp_path / "cut.pcap"
    subprocess.run(["editcap", "-s", "100", str(LOOP / "dtls12-gcm.pcap"), str(cut)], check=True)
    meter = run_sessions(cut, keylog("dtls12-gcm"))
    assert meter.stats["truncated_dtls"] >= 3 and not coap_rows(meter.records)
    dgrams = datagrams(LOOP / "dtls12-gcm.pcap")
    flipped = [(t, u, p[:-1] + bytes([p[-1] ^ 1]) if p[0] == 23 and u else p, w) for t, u, p, w in dgrams]
    out, stats, _s = feed(flipped, keylog("dtls12-gcm"))
    assert stats["tls_decrypted"] == 1 and stats["tls_record_failed"] == 2  # the client's two requests
    assert [r[0] for r in coap_rows(out)] == [False]  # the server's answer still opens


def test_dtls_records_and_fragments() -> None:
    rec = bytes([23, 0xFE, 0xFD, 0, 1]) + (5).to_bytes(6, "big") + (3).to_bytes(2, "big") + b"abc"
    assert dtls_records(rec + rec) == ([(23, b"\xfe\xfd", 1, 5, b"abc")] * 2, False)
    assert dtls_records(rec + rec[:-1]) == ([(23, b"\xfe\xfd", 1, 5, b"abc")], True)
    assert dtls_records(b"\x17\x03\x03" + rec) == ([], True)  # a TLS header is not DTLS
    r = Reassembly(10)
    assert r.add(4, b"efgh") is None and r.add(0, b"abcde") is None  # overlapping
    assert r.add(4, b"efgh") is None  # a retransmission adds nothing
    assert r.add(8, b"ij") == b"abcdefghij"
