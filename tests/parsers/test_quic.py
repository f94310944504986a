"""QUIC Initials decrypted to their ClientHello, against Zeek's quic.log and suricata-verify."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import pytest
import yaml

from parsers.capture_write import write_pcap
from parsers.events import TlsRecord
from parsers.protocols import gquic
from parsers.protocols.quic import InitialCrypto, QuicError, client_initials, client_keys
from parsers.protocols.tls import ClientHello
from pcaps.synth.frames import tls_client_hello
from tests.support import quicwrite as qw
from tests.support.paths import SHARED, shared_path
from tests.support.sessionrun import run_sessions
from tests.support.tcpflows import udp_datagrams
from tests.support.tshark import needs_tshark, tshark_fields
from tests.support.zeekconn import read_conn, trace_of


def hellos(pcap: Path) -> list[tuple[int, bytes, ClientHello]]:
    """(version, original destination connection id, ClientHello) per client connection."""
    conns: dict[tuple[bytes, int, bytes, int], tuple[bytes, int, InitialCrypto]] = {}
    out = []
    for key, payload in udp_datagrams(pcap):
        try:
            packets = client_initials(payload)
        except QuicError:
            continue
        for p in packets:
            dcid, version, crypto = conns.setdefault(key, (p.dcid, p.version, InitialCrypto()))
            if p.dcid != dcid:
                continue
            try:
                ch = crypto.add(p)
            except QuicError:
                continue
            if ch is not None and not any(d == dcid for _v, d, _c in out):
                out.append((version, dcid, ch))
    return out


def zeek_dirs() -> list[Path]:
    base = SHARED / "zeek" / "Baseline"
    if not base.exists():
        return []
    return sorted(d for d in base.iterdir() if (d / "quic.log").exists() and trace_of(d))


def test_rfc9001_appendix_a_keys() -> None:
    """The client Initial keys of RFC 9001 A.1 and RFC 9369 A.1 (dcid 8394c8f03e515708)."""
    dcid = bytes.fromhex("8394c8f03e515708")
    key, iv, hp = client_keys(1, dcid)
    assert (key.hex(), iv.hex(), hp.hex()) == (
        "1f369613dd76d5467730efcbe3b1a22d",
        "fa044b2f42a3fd3b46fb255c",
        "9f50449e04a0e810283a1e9933adedd2",
    )
    key2, iv2, hp2 = client_keys(0x6B3343CF, dcid)
    assert (key2.hex(), iv2.hex(), hp2.hex()) == (
        "8b1a0bc121284290a29e0971b5cd045d",
        "91f73e2351d8fa91660e909f",
        "45b95e15235d6f45a6b19cbcb0294ba9",
    )


@pytest.mark.parametrize("test_dir", zeek_dirs(), ids=lambda d: d.name)
def test_matches_zeek_quic_log(test_dir: Path) -> None:
    got = hellos(shared_path("zeek", "Traces", str(trace_of(test_dir))))
    rows = read_conn(test_dir / "quic.log")
    assert rows
    for row in rows:
        dcid = bytes.fromhex(row["client_initial_dcid"])
        match = [ch for _v, d, ch in got if d == dcid]
        assert match, f"no ClientHello for dcid {row['client_initial_dcid']}"
        ch = match[0]
        assert ch.sni == row["server_name"]
        assert ch.alpn[0] == row["client_protocol"]  # Zeek logs the first ALPN offered


def suricata_cases() -> list[tuple[str, dict[str, str]]]:
    base = SHARED / "suricata-verify"
    out = []
    for name in ("quic-ietf", "ja4-quic"):
        ty = base / name / "test.yaml"
        if not ty.exists():
            continue
        for check in yaml.safe_load(ty.read_text()).get("checks") or []:
            match = (check.get("filter") or {}).get("match") or {}
            want = {k: str(v) for k, v in match.items() if k.startswith("quic.")}
            if match.get("event_type") == "quic" and want:
                out.append((name, want))
    return out


@pytest.mark.parametrize(("test_dir", "want"), suricata_cases())
def test_matches_suricata_verify(test_dir: str, want: dict[str, str]) -> None:
    pcap = next(iter(shared_path("suricata-verify", test_dir).glob("*.pcap")))
    recs = run_sessions(pcap).records
    got = [r.client for r in recs if isinstance(r, TlsRecord) and r.transport == "quic" and r.client]
    assert got, "the replay's sessions read no QUIC ClientHello"
    seen = {
        "quic.ja4": {ch.ja4("q") for ch in got},
        "quic.extensions[1].values[0]": {ch.sni for ch in got},
        "quic.extensions[2].values[0]": {ch.alpn[0] for ch in got if ch.alpn},
    }
    names = {"quic.extensions[1].name": "server_name", "quic.extensions[2].name": "alpn"}
    for key, value in want.items():
        if key in names:
            assert value == names[key]
        else:
            assert value in seen[key], f"{key}: want {value}, saw {seen[key]}"


def test_garbage_raises_only_quic_error() -> None:
    import random

    rng = random.Random(5)
    for n in range(0, 1300, 7):
        blob = bytes((0xC0,)) + (1).to_bytes(4, "big") + bytes((8,)) + rng.randbytes(max(n - 6, 0))
        with contextlib.suppress(QuicError):
            client_initials(blob)


# ---- Google QUIC: the CHLO's server name, against Wireshark's gQUIC dissector and nDPI ----------

# nDPI's captures of every gQUIC version it reads: Q024 ... Q046 in clear, Q050/T050/T051 protected
GQUIC_CAPTURES = (
    "quic.pcap", "http_ipv6.pcap", "wechat.pcap", "youtube_quic.pcap", "youtubeupload.pcap",
    "quic_q43.pcap", "quic046.pcap", "quic_q46_b.pcap", "telegram.pcap", "quic_q50.pcap",
    "gquic.pcap", "quic_t50.pcap", "quic_t51.pcap",
)  # fmt: skip


@needs_tshark
@pytest.mark.parametrize("name", GQUIC_CAPTURES)
def test_gquic_server_names_match_tshark(name: str) -> None:
    """Every gQUIC client hello's server name, per flow, as tshark reads it (the CHLO's SNI tag; a
    T05x TLS ClientHello's server_name), and the version tshark names it by."""
    pcap = shared_path("nDPI", "pcap", name)
    fields = ["udp.srcport", "udp.dstport", "gquic.tag.sni", "tls.handshake.extensions_server_name"]
    want: dict[frozenset[int], set[str]] = {}
    for row in tshark_fields(pcap, "gquic.tag.sni || (quic && tls.handshake.type == 1)", fields).values():
        ports = frozenset(int(p) for p in row["udp.srcport"] + row["udp.dstport"])
        want.setdefault(ports, set()).update(
            row["gquic.tag.sni"] + row["tls.handshake.extensions_server_name"]
        )
    versions: set[str] = set()
    for row in tshark_fields(
        pcap, "gquic.version || quic.version", ["gquic.version", "quic.version"]
    ).values():
        versions.update(row["gquic.version"])
        versions.update(bytes.fromhex(v[2:]).decode() for v in row["quic.version"] if v.startswith("0x5"))
    assert want, "tshark read no gQUIC client hello"
    got: dict[frozenset[int], set[str]] = {}
    marked: set[str] = set()
    for r in run_sessions(pcap).records:
        if isinstance(r, TlsRecord) and r.transport == "quic" and r.client is not None:
            marked.add(r.client.gquic or "tls")
            if r.client.sni:  # quic.pcap's Q033 hellos to port 6121 carry no SNI tag (tshark shows none)
                got.setdefault(frozenset((r.flow.ap, r.flow.bp)), set()).add(r.client.sni)
    assert got == want
    assert marked - {"tls"} == versions - {"T050", "T051"}  # T05x carry a TLS ClientHello, not a CHLO


def test_gquic_clear_hello_needs_the_crypto_stream() -> None:
    """A clear gQUIC packet whose first frame is on another stream, or whose CHLO is cut, is no hello
    (None) or raises GquicError (a ValueError: the session counts it malformed)."""
    _key, payload = udp_datagrams(shared_path("nDPI", "pcap", "quic_q43.pcap"))[0]
    assert gquic.clear_hello(payload) is not None
    other_stream = payload[:27] + b"\x03" + payload[28:]  # STREAM frame on stream 3
    assert gquic.clear_hello(other_stream) is None
    with pytest.raises(gquic.GquicError):
        gquic.clear_hello(payload[:600])  # the frame says 1024 bytes of CHLO follow
    with pytest.raises(gquic.GquicError):
        gquic.chlo(payload[30:200], "Q043")  # the index is whole, the values are not


# ---- a ClientHello split across a connection id change (RFC 9000 7.2, RFC 9001 5.2) -------------


def split_hello_capture(path: Path, sni: str, cut: int) -> None:
    """A client Initial with the ClientHello's first ``cut`` bytes, the server's Initial choosing
    its own connection id, and the client's second Initial to that id with the rest, protected
    with the keys of the first id (as a client must)."""
    ch = tls_client_hello(sni, random.Random(7), alpn="h3")[5:]  # the handshake message, no record
    d0, c0, s1 = (
        bytes.fromhex("0011223344556677"),
        bytes.fromhex("a1a2a3a4"),
        bytes.fromhex("b1b2b3b4b5b6b7b8"),
    )
    cli, srv = bytes((192, 168, 1, 10)), bytes((93, 184, 216, 34))
    ack = b"\x02\x00\x00\x00\x00"  # ACK of packet 0, no more ranges
    first = qw.initial(d0, "client", d0, c0, 0, qw.crypto_frame(0, ch[:cut]), 1200)
    answer = qw.initial(d0, "server", c0, s1, 0, ack)
    second = qw.initial(d0, "client", s1, c0, 1, ack + qw.crypto_frame(cut, ch[cut:]), 1200)
    packets = [
        (1_000_000_000, qw.udp_frame(cli, 50000, srv, 443, first)),
        (1_010_000_000, qw.udp_frame(srv, 443, cli, 50000, answer)),
        (1_020_000_000, qw.udp_frame(cli, 50000, srv, 443, second)),
    ]
    with path.open("wb") as fh:
        write_pcap(fh, packets)


@needs_tshark
def test_client_hello_split_across_connection_id_change(tmp_path: Path) -> None:
    """The second half comes in an Initial to the server's id: read with the first id's keys, the
    ClientHello is whole, with the server name tshark reassembles from the same capture."""
    pcap = tmp_path / "split.pcap"
    split_hello_capture(pcap, "split.example.org", 80)
    shown = tshark_fields(
        pcap, "tls.handshake.type == 1", ["tls.handshake.extensions_server_name", "quic.dcid"]
    )
    assert [row["tls.handshake.extensions_server_name"] for row in shown.values()] == [["split.example.org"]]
    assert next(iter(shown.values()))["quic.dcid"] == ["b1b2b3b4b5b6b7b8"]  # completed by the second Initial
    meter = run_sessions(pcap)
    hellos = [r.client for r in meter.records if isinstance(r, TlsRecord) and r.client is not None]
    assert [(h.sni, h.alpn) for h in hellos] == [("split.example.org", ["h3"])]
    assert meter.stats["malformed_quic"] == 0
    assert [f.l7.sni for f in meter.done if f.l7 is not None] == ["split.example.org"]
