"""The LAN learnt from the capture: router advertisements, DHCP subnets, addresses local MACs use."""

from __future__ import annotations

import ipaddress
import subprocess

import pytest
from scapy.layers.dhcp import BOOTP, DHCP

from parsers.capture import read_pcap
from parsers.datagrams import dhcp_events, mask_length
from parsers.events import LanSeen
from parsers.lan import DEFAULT_LAN, LanPrefixes, eui64
from parsers.meter import FlowMeter
from parsers.protocols import dhcp
from tests.support.paths import shared_path

HOST, ROUTER, OTHER = (
    bytes.fromhex("78acc0a70d4c"),
    bytes.fromhex("f4b52ffcafc2"),
    bytes.fromhex("0260970a0b0c"),
)


def v6(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


@pytest.mark.tshark
def test_router_advertisement_prefixes_as_tshark_reads_them() -> None:
    """anyconnect-vpn.pcap's router advertises 2601:646:8402:44b0::/64 for SLAAC (its events and
    tshark's reading of the prefix information options agree)."""
    path = shared_path("nDPI", "pcap", "anyconnect-vpn.pcap")
    out = subprocess.run(
        ["tshark", "-r", str(path), "-Y", "icmpv6.type == 134", "-T", "fields", "-e", "eth.src",
         "-e", "icmpv6.opt.prefix", "-e", "icmpv6.opt.prefix.length", "-e", "icmpv6.opt.prefix.flag.a"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    want = set()
    for line in out.splitlines():  # tshark lists a route information option's ::/0 with the prefixes
        mac, prefixes, lengths, auto = line.split("\t")
        assert auto == "1"  # the one prefix information option is for autoconfiguration
        want |= {
            (mac, p, int(n)) for p, n in zip(prefixes.split(","), lengths.split(","), strict=True) if int(n)
        }
    assert want == {("2c:7e:81:b0:4a:a1", "2601:646:8402:44b0::", 64)}
    meter = FlowMeter(LanPrefixes().is_local)
    for pkt in read_pcap(str(path)):
        meter.feed(*pkt)
    got = {
        (e.mac.hex(":"), str(ipaddress.ip_address(e.prefix)), e.length)
        for e in meter.events
        if isinstance(e, LanSeen) and e.prefix
    }
    assert got == want


def test_dhcp_server_names_a_public_subnet() -> None:
    """A DHCP ack from a public subnet: the subnet (address under option 1's mask) is the LAN and the
    server is a router; a private subnet adds nothing (it is local already)."""
    ack = BOOTP(op=2, chaddr=HOST, yiaddr="203.0.113.7") / DHCP(
        options=[("message-type", "ack"), ("subnet_mask", "255.255.255.0"), "end"]
    )
    events = dhcp_events(1, ROUTER, v6("::"), dhcp.parse(bytes(ack)))
    lan_seen = [e for e in events if isinstance(e, LanSeen)]
    assert lan_seen == [LanSeen(1, ROUTER, bytes((203, 0, 113, 0)), 24, "dhcp")]
    lan = LanPrefixes(DEFAULT_LAN, learn=True)
    lan.announce(lan_seen[0].prefix, lan_seen[0].length)
    assert lan.is_local(bytes((203, 0, 113, 200))) and not lan.is_local(bytes((203, 0, 114, 1)))
    assert lan.text[-1] == "203.0.113.0/24"
    assert mask_length(bytes((255, 255, 0, 255))) == 0 and mask_length(bytes((255, 255, 254, 0))) == 23


def test_addresses_used_by_a_host_once_a_router_is_known() -> None:
    """A global source counts as the LAN when a non-router MAC used it and a router of its IP
    version is known; the router's sources (every server's) never do; an EUI-64 address of its own
    frame's MAC counts at once; with learning off nothing is learnt."""
    lan = LanPrefixes(DEFAULT_LAN, learn=True)
    host_addr, server = v6("2a00:d40:1:3::1234"), v6("2a03:b0c0:3:d0::70:1001")
    lan.used(HOST, host_addr)
    lan.used(ROUTER, server)
    assert not lan.is_local(host_addr) and not lan.is_local(server)  # either could be the router
    for i in range(2):
        lan.used(ROUTER, v6(f"2a02:26f0:ad:19{i}::236"))
    assert lan.is_router(ROUTER) and not lan.is_router(HOST)
    assert lan.is_local(host_addr) and lan.is_local(v6("2a00:d40:1:3::99")) and not lan.is_local(server)
    assert lan.text[len(DEFAULT_LAN) :] == ["2a00:d40:1:3::/64"]
    assert not lan.is_local(bytes((1, 2, 3, 4)))  # no IPv4 router known: IPv4 learns nothing yet
    own = v6("2a00:d40:9:9::")[:8] + eui64(OTHER)
    fresh = LanPrefixes(DEFAULT_LAN, learn=True)
    fresh.used(OTHER, own)
    assert fresh.is_local(own)  # its SLAAC address: no router needed
    off = LanPrefixes(DEFAULT_LAN)
    off.used(OTHER, own)
    assert not off.is_local(own)
