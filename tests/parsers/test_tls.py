"""TLS handshakes as the replay reads them: SNI, JA3, JA3S and JA4 against what suricata-verify checks."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
import yaml

from parsers.events import TlsRecord
from parsers.protocols import tls
from parsers.protocols.tls import (
    JA4_VERSION,
    TlsError,
    handshake_messages,
    parse_client_hello,
    parse_server_hello,
    version_name,
)
from parsers.tcpstream import HalfStream
from pcaps.synth import frames
from tests.support.paths import SHARED, shared_path
from tests.support.sessionrun import run_sessions
from tests.support.tshark import needs_tshark, tshark_fields

FIELDS = ("tls.sni", "tls.ja3.string", "tls.ja3.hash", "tls.ja3s.string", "tls.ja3s.hash", "tls.ja4")


def suricata_cases() -> list[tuple[str, str, dict[str, str]]]:
    base = SHARED / "suricata-verify"
    cases = []
    for ty in sorted(base.rglob("test.yaml")) if base.exists() else []:
        doc = yaml.safe_load(ty.read_text()) or {}
        pcap = doc.get("pcap") or next((p.name for p in ty.parent.glob("*.pcap")), None)
        if not pcap:
            continue
        for i, check in enumerate(doc.get("checks") or []):
            match = (check.get("filter") or {}).get("match") or {}
            want = {k: str(v) for k, v in match.items() if k in FIELDS}
            if want and match.get("event_type") == "tls":
                cases.append((str(ty.parent.relative_to(base)), f"{pcap}#{i}", want))
    return cases


def observed(path: Path) -> dict[str, set[str]]:
    """What the replay's sessions read of every TLS handshake in a capture (tapaudit's tls rows)."""
    got: dict[str, set[str]] = {k: set() for k in FIELDS}
    for rec in run_sessions(path).records:
        if not isinstance(rec, TlsRecord) or rec.transport != "tcp":
            continue
        if rec.client is not None:
            got["tls.sni"].add(rec.client.sni)
            got["tls.ja3.string"].add(rec.client.ja3_string)
            got["tls.ja3.hash"].add(rec.client.ja3)
            got["tls.ja4"].add(rec.client.ja4())
        if rec.server is not None:
            got["tls.ja3s.string"].add(rec.server.ja3s_string)
            got["tls.ja3s.hash"].add(rec.server.ja3s)
    return got


CASES = suricata_cases()


def test_suricata_cases_found() -> None:
    shared_path("suricata-verify")
    assert len(CASES) >= 10


@pytest.mark.parametrize(("test_dir", "which", "want"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_matches_suricata_verify(test_dir: str, which: str, want: dict[str, str]) -> None:
    pcap = (shared_path("suricata-verify", test_dir) / which.split("#")[0]).resolve()
    got = observed(pcap)
    for field, value in want.items():
        assert value in got[field], f"{field}: want {value!r}, tapaudit saw {sorted(got[field])}"


def test_generated_client_hello_round_trip() -> None:
    rng = random.Random(1)
    record = frames.tls_client_hello("api.watch.imoo.com", rng, alpn="h2")
    ((mtype, body),) = handshake_messages(record)
    ch = parse_client_hello(body)
    assert mtype == 1 and ch.sni == "api.watch.imoo.com" and ch.alpn == ["h2"]
    assert ch.version == 0x0304 and ch.legacy_version == 0x0303
    assert ch.ja4().startswith("t13d0404h2_")


def test_client_hello_split_across_records_and_segments() -> None:
    body = frames.tls_client_hello("example.cn", random.Random(2))[5:]
    recs = b"".join(b"\x16\x03\x01" + len(p).to_bytes(2, "big") + p for p in (body[:50], body[50:]))
    half = HalfStream()
    half.add(1000, b"", syn=True)
    for off in (40, 0, 90, 20):  # out of order and overlapping
        half.add(1001 + off, recs[off : off + 60])
    half.add(1001 + 150, recs[150:])
    assert bytes(half.data) == recs
    ((_t, hello),) = handshake_messages(bytes(half.data))
    assert parse_client_hello(hello).sni == "example.cn"


def test_malformed_hellos_raise_only_tls_error() -> None:
    body = frames.tls_client_hello("a.example.com", random.Random(3))[9:]
    rng = random.Random(4)
    for n in range(len(body)):
        for blob in (body[:n], bytes(rng.randrange(256) for _ in range(n)), body[:n] + b"\xff" * 8):
            try:
                parse_client_hello(blob)
                parse_server_hello(blob)
            except TlsError:
                pass
    with pytest.raises(TlsError):
        handshake_messages(b"GET / HTTP/1.1\r\n\r\n")


def test_version_names_one_spelling_and_ja4_keeps_its_code() -> None:
    assert [version_name(v) for v in (0x0304, 0x0303, 0x0302, 0x0301, 0x0300)] == [
        "tls1.3",
        "tls1.2",
        "tls1.1",
        "tls1.0",
        "ssl3",
    ]
    assert version_name(0x7F1C) == "0x7f1c"  # a draft: unnamed, shown as its number
    assert JA4_VERSION[0x0304] == "13" and JA4_VERSION[0x0300] == "s3"


# ---- a flow that ends inside a record: truncated; a record header no TLS stack writes: malformed --


def tls_counts(path: Path) -> dict[str, int]:
    stats = run_sessions(path).stats
    return {k: v for k, v in stats.items() if k.endswith("_tls")}


@needs_tshark
def test_handshake_cut_by_the_capture_end_is_truncated(tmp_path: Path) -> None:
    """443-curl.pcap cut after the server's first segment (editcap -r 1-6) ends inside the
    Certificate record: tshark then shows the ClientHello and ServerHello only, and so does the
    record, counted truncated; the whole capture is dissected with the certificate."""
    whole = shared_path("nDPI", "pcap", "443-curl.pcap")
    cut = tmp_path / "cut.pcap"
    subprocess.run(["editcap", "-r", str(whole), str(cut), "1-6"], check=True, capture_output=True)
    fields = ["tls.handshake.type", "tls.handshake.extensions_server_name"]
    shown = tshark_fields(cut, "tls.handshake", fields).values()
    types = {int(t) for row in shown for t in row["tls.handshake.type"]}
    assert types == {1, 2}
    meter = run_sessions(cut)
    (rec,) = [r for r in meter.records if isinstance(r, TlsRecord)]
    assert rec.client is not None and rec.server is not None and not rec.certs
    assert [rec.client.sni] == [n for row in shown for n in row["tls.handshake.extensions_server_name"]]
    assert tls_counts(cut) == {"truncated_tls": 1}
    full = [r for r in run_sessions(whole).records if isinstance(r, TlsRecord)]
    assert len(full) == 1 and full[0].certs
    assert tls_counts(whole) == {"dissected_tls": 1}


@needs_tshark
def test_flow_ending_in_a_record_of_unknown_type_is_malformed() -> None:
    """nDPI's tls_invalid_reads.pcap: the server's segment ends in a record whose header is not TLS
    (tshark: "Ignored Unknown Record"); the flow counts as malformed, not as a dissected TLS flow,
    and the hellos read before it are kept. The capture's other flow, in GTP-U, carries a
    ClientHello tshark calls a Malformed Packet: malformed too."""
    pcap = shared_path("nDPI", "pcap", "tls_invalid_reads.pcap")
    ignored = tshark_fields(pcap, "tls.ignored_unknown_record", ["tcp.srcport", "tcp.dstport"])
    malformed = tshark_fields(pcap, "tls && _ws.malformed", ["tcp.srcport", "tcp.dstport"])
    assert len(ignored) == 1

    def flows(rows: dict[int, dict[str, list[str]]]) -> set[frozenset[int]]:
        return {frozenset(int(p) for p in row["tcp.srcport"] + row["tcp.dstport"]) for row in rows.values()}

    (ports,) = flows(ignored)
    bad = flows(ignored) | flows(malformed)
    assert len(bad) == 2
    meter = run_sessions(pcap)
    assert tls_counts(pcap) == {"malformed_tls": len(bad)}
    (rec,) = [r for r in meter.records if isinstance(r, TlsRecord) and r.server is not None]
    assert frozenset((rec.flow.ap, rec.flow.bp)) == ports


def test_record_headers_told_apart() -> None:
    """Impossible headers (type, version, length over 2^14 + 2048) are malformed; bytes that stop
    inside a record or its header are truncated; a good stream is neither."""
    hello = frames.tls_client_hello("a.example.com", random.Random(5))
    alert = b"\x15\x03\x03\x00\x02\x02\x28"
    assert not tls.scan_records(hello + alert).truncated
    assert not tls.scan_records(hello + alert).malformed
    for cut in (len(hello) - 1, len(hello) + 3, len(hello) + 6):
        scan = tls.scan_records((hello + alert)[:cut])
        assert scan.truncated and not scan.malformed, cut
    for bad in (
        b"\x99\x03\x03\x00\x02",
        b"\x16\x02\x00\x00\x02",
        b"\x16\x03\x05\x00\x02",
        b"\x17\x03\x03\x48\x01",
    ):
        scan = tls.scan_records(hello + bad + b"\x00\x00")
        assert scan.malformed and not scan.truncated and [t for t, _b in scan.handshake] == [1], bad
        with pytest.raises(TlsError):
            tls.scan_records(bad + b"\x00\x00")
