"""Serial link types (PPP, Cisco HDLC) and MPLS labels (on those and Ethernet): real captures and
crafted frames, with tshark."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6

from parsers.lan import ip_text
from tests.support.capwriter import pcap_bytes
from tests.support.innerflows import meter_flows, tshark_inner_flows
from tests.support.paths import shared_path

NS = 1_000_000_000
T0 = 1_700_000_000 * NS
LT_ETHERNET, LT_PPP, LT_CHDLC = 1, 9, 104
ETH_MPLS = bytes.fromhex("0200000000020200000000018847")


def label(value: int, bottom: bool) -> bytes:
    """One MPLS label stack entry (RFC 3032): label, traffic class 0, bottom-of-stack bit, TTL 64."""
    return (value << 12 | int(bottom) << 8 | 64).to_bytes(4, "big")


V4 = bytes(IP(src="192.168.3.3", dst="20.1.1.1") / UDP(sport=40000, dport=53))
V4_TCP = bytes(IP(src="192.168.3.3", dst="20.1.1.1") / TCP(sport=40001, dport=443, flags="S"))
V6 = bytes(IPv6(src="fd00::3", dst="2001:db8::9") / UDP(sport=40002, dport=123))
# (link type, frame, the flow it carries)
FRAMES = [
    (LT_PPP, b"\xff\x03\x00\x21" + V4, (17, ("192.168.3.3", 40000), ("20.1.1.1", 53))),  # PPP in HDLC framing
    (
        LT_PPP,
        b"\x0f\x00\x08\x00" + V4_TCP,
        (6, ("192.168.3.3", 40001), ("20.1.1.1", 443)),
    ),  # Cisco HDLC on PPP
    (
        LT_PPP,
        b"\x8f\x00\x86\xdd" + V6,
        (17, ("2001:db8::9", 123), ("fd00::3", 40002)),
    ),  # its multicast address
    (LT_PPP, b"\xff\x03\x02\x81" + label(16, True) + V4, (17, ("192.168.3.3", 40000), ("20.1.1.1", 53))),
    (LT_CHDLC, b"\x0f\x00\x88\x47" + label(17, False) + label(18, True) + V6, None),  # two labels
    (LT_ETHERNET, ETH_MPLS + label(19, True) + V4_TCP, (6, ("192.168.3.3", 40001), ("20.1.1.1", 443))),
]


def write(tmp_path: Path, lt: int, frames: list[bytes]) -> Path:
    p = tmp_path / f"lt{lt}.pcap"
    p.write_bytes(pcap_bytes([(T0 + i * NS, f) for i, f in enumerate(frames)], linktype=lt))
    return p


@pytest.mark.parametrize("lt", [LT_PPP, LT_CHDLC, LT_ETHERNET])
def test_serial_frames_give_the_flows_they_carry(tmp_path: Path, lt: int) -> None:
    path = write(tmp_path, lt, [f for t, f, _ in FRAMES if t == lt])
    ours, stats, _m = meter_flows(path)
    want: Counter[tuple[int, tuple[str, int], tuple[str, int]]] = Counter()
    for t, _f, flow in FRAMES:
        if t == lt:
            want[flow or (17, ("2001:db8::9", 123), ("fd00::3", 40002))] += 1
    assert ours == want
    assert not stats["non_ip"] and not stats["l2_malformed"]


@pytest.mark.tshark
@pytest.mark.parametrize("lt", [LT_PPP, LT_CHDLC, LT_ETHERNET])
def test_serial_frames_as_tshark_reads_them(tmp_path: Path, lt: int) -> None:
    path = write(tmp_path, lt, [f for t, f, _ in FRAMES if t == lt])
    assert meter_flows(path)[0] == tshark_inner_flows(path)


@pytest.mark.tshark
@pytest.mark.parametrize("name", ["BGP_redist.pcap", "dlt_ppp.pcap"])
def test_real_serial_captures_as_tshark_reads_them(name: str) -> None:
    """The manifest's one Cisco HDLC capture (one frame behind an MPLS label) and one PPP capture."""
    path = shared_path("nDPI", "pcap", name)
    ours, _stats, _m = meter_flows(path)
    assert ours == tshark_inner_flows(path) and ours


def test_bgp_replies_seen_first_keep_the_client_as_initiator() -> None:
    """BGP_redist holds only the router's segments from port 179: nDPI's result file too reads
    them as a server's ("No client to server traffic"); the initiator is the ephemeral port's end."""
    _ours, _stats, m = meter_flows(shared_path("nDPI", "pcap", "BGP_redist.pcap"))
    got = sorted((ip_text(f.a), f.ap, ip_text(f.b), f.bp, f.pk_up, f.pk_dn) for f in m.done)
    assert got == [("4.4.4.4", 63535, "2.2.2.2", 179, 0, 1), ("5.5.5.5", 49433, "2.2.2.2", 179, 0, 1)]
