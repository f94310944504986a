"""Tunnels opened to the devices' flows: real captures against tshark and nDPI, crafted ones against
the packets they were built from (and tshark), malformed and nested ones against the guards."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific
from scapy.contrib.gtp import GTP_PDCP_PDU_ExtensionHeader, GTP_U_Header, GTPEchoRequest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import GRE, Dot1Q, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw

from parsers import tunnels
from parsers.lan import ip_text, mac_text
from tests.support.capwriter import pcap_bytes
from tests.support.innerflows import meter_flows, tshark_inner_flows
from tests.support.ndpinames import our_names
from tests.support.paths import shared_path

NS = 1_000_000_000
T0 = 1_700_000_000 * NS
DEV_MAC, GW_MAC = "02:00:00:00:00:01", "02:00:00:00:00:fe"
DEV, CLOUD = "192.168.7.20", "52.1.2.3"
OUTER_A, OUTER_B = "10.200.0.1", "10.200.0.2"

# nDPI captures with tunnels (tshark's frame.protocols): the tunnel counter the meter keeps
# for each, and how many of its packets were carried in one.
REAL = {
    "4in4tunnel.pcap": ("tunnel_ip_in_ip", 5),  # IPv4 in IPv4 behind QinQ
    "4in6tunnel.pcap": ("tunnel_ip_in_ip", 4),  # IPv4 in IPv6
    "6in6tunnel.pcap": ("tunnel_ipv6_in_ip", 2),  # IPv6 in IPv6
    "syslog.pcap": ("tunnel_ipv6_in_ip", 6),  # 6in4
    "gre.pcapng": ("tunnel_gre", 1),  # PPTP's enhanced GRE carrying PPP
    "dtls.pcap": ("tunnel_gtpu", 4),
    "tls_invalid_reads.pcap": ("tunnel_gtpu", 3),
    "false_positives.pcapng": ("tunnel_gtpu", 54),
    "rtmp.pcap": ("tunnel_gtpu", 34),
    "zoom.pcap": ("tunnel_gtpu", 81),
    "tls_change_cipher.pcap": ("tunnel_gtpu", 14),
}


@pytest.mark.tshark
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_tunnels_give_the_inner_flows_tshark_sees(name: str) -> None:
    path = shared_path("nDPI", "pcap", name)
    ours, stats, _m = meter_flows(path)
    assert ours == tshark_inner_flows(path)
    counter, carried = REAL[name]
    assert stats[counter] == carried
    assert not any(k.startswith("tunnel_") for k in stats if k != counter)


def test_real_tunnels_give_the_flows_ndpi_names() -> None:
    """nDPI's result files: the inner flows of 4in6 and GTP-U captures, by 5-tuple and name."""
    names = our_names(shared_path("nDPI", "pcap", "4in6tunnel.pcap"))
    key = ("TCP", frozenset((("192.168.0.1", 64455), ("10.10.10.1", 443))))
    assert names[key]["sni"] == {"www.bing.com"}
    _ours, _stats, m = meter_flows(shared_path("nDPI", "pcap", "tls_invalid_reads.pcap"))
    gtp = [f for f in m.done if ip_text(f.a) == "10.191.139.17"]
    assert [(f.ap, ip_text(f.b), f.bp, f.pk_up, f.pk_dn) for f in gtp] == [
        (58552, "54.221.224.45", 443, 2, 1)
    ]
    _ours, _stats, m = meter_flows(shared_path("nDPI", "pcap", "dtls.pcap"))
    gtp = [f for f in m.done if ip_text(f.a) == "10.191.227.13"]
    assert [(f.ap, ip_text(f.b), f.bp, f.pk_up, f.pk_dn) for f in gtp] == [
        (54162, "157.240.16.128", 3478, 3, 1)
    ]


# ---- crafted: every kind, with the inner flow it carries as ground truth ----------------------


def device_packets(n: int = 3) -> list[Packet]:
    """A device's TCP exchange with a cloud host: SYN, SYN-ACK, then data each way."""
    up = IP(src=DEV, dst=CLOUD) / TCP(sport=40001, dport=443, flags="S")
    dn = IP(src=CLOUD, dst=DEV) / TCP(sport=443, dport=40001, flags="SA")
    data = [IP(src=DEV, dst=CLOUD) / TCP(sport=40001, dport=443, flags="PA") / Raw(b"u" * 50)]
    return [up, dn, *data][:n]


def eth_frame(inner: Packet, ethertype_inner: bool = False) -> Packet:
    return Ether(src=DEV_MAC, dst=GW_MAC) / inner if ethertype_inner else inner


def outer4(payload: Packet, proto: int | None = None) -> bytes:
    ip = IP(src=OUTER_A, dst=OUTER_B) if proto is None else IP(src=OUTER_A, dst=OUTER_B, proto=proto)
    return bytes(Ether(src="02:aa:00:00:00:01", dst="02:aa:00:00:00:02") / Dot1Q(vlan=9) / ip / payload)


def gtp(inner: Packet) -> Packet:
    """A G-PDU with a sequence number and a PDCP extension header before the user packet."""
    ext = GTP_PDCP_PDU_ExtensionHeader(pdcp_pdu=7, next_ex=0)
    return (
        UDP(sport=2152, dport=2152)
        / GTP_U_Header(gtp_type=255, teid=77, E=1, S=1, seq=5, next_ex=0xC0)
        / ext
        / inner
    )


WRAPS = {
    "vxlan": lambda p: outer4(
        UDP(sport=49152, dport=4789) / VXLAN(vni=42) / Ether(src=DEV_MAC, dst=GW_MAC) / p
    ),
    "gtpu": lambda p: outer4(gtp(p)),
    "gre_key_seq": lambda p: outer4(GRE(key_present=1, key=7, seqnum_present=1, sequence_number=3) / p),
    "gre_checksum": lambda p: outer4(GRE(chksum_present=1) / p),
    "gre_teb": lambda p: outer4(GRE(proto=0x6558) / Ether(src=DEV_MAC, dst=GW_MAC) / p),
    "erspan_ii": lambda p: outer4(
        GRE(proto=0x88BE, seqnum_present=1) / ERSPAN_II(session_id=3) / Ether(src=DEV_MAC, dst=GW_MAC) / p
    ),
    "erspan_iii": lambda p: outer4(
        GRE(proto=0x22EB)
        / ERSPAN_III(session_id=4, o=1)
        / ERSPAN_PlatformSpecific()
        / Ether(src=DEV_MAC, dst=GW_MAC)
        / p
    ),
    "ip_in_ip": lambda p: outer4(p, proto=4),
    "4in6": lambda p: bytes(Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2", nh=4) / p),
}
COUNTER = {
    "vxlan": "tunnel_vxlan",
    "gtpu": "tunnel_gtpu",
    "gre_key_seq": "tunnel_gre",
    "gre_checksum": "tunnel_gre",
    "gre_teb": "tunnel_gre",
    "erspan_ii": "tunnel_erspan",
    "erspan_iii": "tunnel_erspan",
    "ip_in_ip": "tunnel_ip_in_ip",
    "4in6": "tunnel_ip_in_ip",
}
ETHERNET_INSIDE = {"vxlan", "gre_teb", "erspan_ii", "erspan_iii"}


def write(tmp_path: Path, frames: list[bytes], name: str = "t.pcap") -> Path:
    p = tmp_path / name
    p.write_bytes(pcap_bytes([(T0 + i * NS // 100, f) for i, f in enumerate(frames)]))
    return p


@pytest.mark.parametrize("kind", sorted(WRAPS))
def test_each_tunnel_kind_gives_the_device_flow(tmp_path: Path, kind: str) -> None:
    path = write(tmp_path, [WRAPS[kind](p) for p in device_packets()])
    ours, stats, m = meter_flows(path)
    assert ours == Counter({(6, (DEV, 40001), (CLOUD, 443)): 3})
    assert stats[COUNTER[kind]] == 3
    (f,) = m.done
    assert (ip_text(f.a), f.ap, f.pk_up, f.pk_dn, f.handshake) == (DEV, 40001, 2, 1, True)
    assert f.by_up == 40 + 40 + 50 and f.pl_up == 50  # the inner packet's bytes, not the tunnel's
    # the device's own MAC when the tunnel carries its Ethernet frame; none when only its IP packet
    assert mac_text(f.smac) == (DEV_MAC if kind in ETHERNET_INSIDE else "")


@pytest.mark.tshark
@pytest.mark.parametrize("kind", sorted(WRAPS))
def test_each_tunnel_kind_as_tshark_reads_it(tmp_path: Path, kind: str) -> None:
    path = write(tmp_path, [WRAPS[kind](p) for p in device_packets()])
    assert meter_flows(path)[0] == tshark_inner_flows(path)


def test_tunnel_signalling_and_broken_headers_stay_the_outer_flow(tmp_path: Path) -> None:
    inner = device_packets(1)[0]
    ext_zero = bytearray(outer4(gtp(inner)))
    at = ext_zero.index(bytes.fromhex("010007"))  # the PDCP extension header: length 1
    ext_zero[at] = 0  # a zero-length extension header cannot be stepped over
    frames = [
        outer4(UDP(sport=2152, dport=2152) / GTP_U_Header(teid=0) / GTPEchoRequest()),  # signalling
        bytes(ext_zero),
        outer4(UDP(sport=49152, dport=4789) / Raw(b"\x00" * 8) / Ether() / inner),  # no I flag
        outer4(UDP(sport=49153, dport=4789) / Raw(b"\x08\x00\x00")),  # cut short
        outer4(GRE(routing_present=1) / inner),  # source routing: not opened
        outer4(GRE(proto=0x1234) / Raw(b"x" * 20)),  # an unknown payload type
        outer4(Raw(bytes(inner)[:10]), proto=4),  # not a whole IPv4 header inside
    ]
    ours, stats, _m = meter_flows(write(tmp_path, frames))
    assert not any(k.startswith("tunnel_") for k in stats)
    assert ours == Counter(
        {
            (17, (OUTER_A, 2152), (OUTER_B, 2152)): 2,
            (17, (OUTER_A, 49152), (OUTER_B, 4789)): 1,
            (17, (OUTER_A, 49153), (OUTER_B, 4789)): 1,
        }
    )


def test_nested_tunnels_are_opened_three_deep_and_no_deeper(tmp_path: Path) -> None:
    inner: Packet = device_packets(1)[0]
    for depth in range(5):
        inner = IP(src=f"10.9.{depth}.1", dst=f"10.9.{depth}.2", proto=4) / inner
    # Ethernet / IPIP x5 / TCP: the meter opens three, the fourth IP-in-IP header stays a flow
    _ours, stats, m = meter_flows(write(tmp_path, [bytes(Ether() / inner)]))
    assert stats["tunnel_ip_in_ip"] == 3 and stats["tunnel_too_deep"] == 1
    (f,) = m.done
    assert (f.proto, ip_text(f.a), ip_text(f.b)) == (4, "10.9.1.1", "10.9.1.2")


def test_vxlan_in_gtp_is_opened_twice(tmp_path: Path) -> None:
    frames = [WRAPS["vxlan"](p) for p in device_packets()]
    path = write(tmp_path, [outer4(gtp(IP(f[18:]))) for f in frames])  # the VXLAN packet in GTP-U
    ours, stats, _m = meter_flows(path)
    assert ours == Counter({(6, (DEV, 40001), (CLOUD, 443)): 3})
    assert (stats["tunnel_gtpu"], stats["tunnel_vxlan"]) == (3, 3)


@settings(max_examples=300, deadline=None)
@given(
    proto=st.sampled_from([4, 41, 47, 17]),
    port=st.sampled_from([2152, 4789, 53]),
    payload=st.binary(max_size=80),
)
def test_any_bytes_in_a_tunnel_header_are_read_or_refused(proto: int, port: int, payload: bytes) -> None:
    got = tunnels.inner(proto, 1, port, payload, 0, len(payload))
    if got is not None:
        _kind, lt, start, stop = got
        assert lt in (1, 9, 228, 229) and 0 <= start < stop <= len(payload)
