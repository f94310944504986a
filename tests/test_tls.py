"""TLS handshakes: SNI, JA3, JA3S and JA4 against the values suricata-verify's tests check."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from conftest import SHARED, shared_path
from tcpflows import streams

from parsers.tcpstream import HalfStream
from parsers.tls import TlsError, handshake_messages, parse_client_hello, parse_server_hello
from pcaps.synth import frames

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
    got: dict[str, set[str]] = {k: set() for k in FIELDS}
    for client, server in streams(path):
        for side, data in (("c", client), ("s", server)):
            try:
                msgs = handshake_messages(data)
            except TlsError:
                continue
            for mtype, body in msgs:
                try:
                    if side == "c" and mtype == 1:
                        ch = parse_client_hello(body)
                        got["tls.sni"].add(ch.sni)
                        got["tls.ja3.string"].add(ch.ja3_string)
                        got["tls.ja3.hash"].add(ch.ja3)
                        got["tls.ja4"].add(ch.ja4())
                    elif side == "s" and mtype == 2:
                        sh = parse_server_hello(body)
                        got["tls.ja3s.string"].add(sh.ja3s_string)
                        got["tls.ja3s.hash"].add(sh.ja3s)
                except TlsError as exc:
                    got.setdefault("malformed", set()).add(f"{side}{mtype}: {exc}")
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
