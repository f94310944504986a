"""The PROTOCOLS registry: one entry per protocol, and a datagram with inventory evidence parsed once."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSRR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from parsers import datagrams, registry
from parsers.events import AppRecord, DhcpSeen, DnsRecord, NameSeen
from parsers.lan import DEFAULT_LAN, LanPrefixes
from parsers.meter import FlowMeter
from parsers.registry import INVENTORY_PORTS, PROTOCOLS, READABLE, TCP_PORTS, UDP_PORTS
from parsers.sessions import classify_tcp

DEV = "aa:bb:cc:00:00:01"
MAC = bytes.fromhex(DEV.replace(":", ""))


def test_each_protocol_once_per_transport_and_ports_unshared() -> None:
    names = [(p.name, p.transport) for p in PROTOCOLS]
    assert len(names) == len(set(names))
    for transport, table in (("tcp", TCP_PORTS), ("udp", UDP_PORTS)):
        ports = [port for p in PROTOCOLS if p.transport == transport for port in p.ports]
        assert len(ports) == len(set(ports)) == len(table), transport
    assert {p.name for p in INVENTORY_PORTS.values()} == {"dhcp", "dhcpv6", "mdns", "ssdp"}
    assert all(p.datagram is not None for p in INVENTORY_PORTS.values())
    assert {"http", "mqtt", "rtsp", "dns", "mdns", "dhcp", "ssdp"} <= READABLE and "tls" not in READABLE


@pytest.mark.parametrize(
    ("first", "up", "ports", "want"),
    [
        (b"\x16\x03\x01\x02\x00", True, (40000, 443), "tls"),
        (b"GET / HTTP/1.1\r\n", True, (40000, 80), "http"),
        (b"DESCRIBE rtsp://cam/ RTSP/1.0\r\n", True, (40000, 8554), "rtsp"),
        (b"RTSP/1.0 200 OK\r\n", False, (40000, 8554), "rtsp"),
        (b"HTTP/1.1 200 OK\r\n", False, (40000, 80), "http"),
        (b"\x10\x0c\x00\x04MQTT\x04\x02", True, (40000, 8883), "mqtt"),
        (b"SSH-2.0-OpenSSH\r\n", False, (40000, 22), "ssh"),
        (b"\x00\x1d\x12\x34", True, (40000, 53), "dns"),  # named by the port alone
        (b"\x01\x02\x03\x04", True, (40000, 9999), None),
    ],
)
def test_tcp_protocol_by_first_bytes_then_port(
    first: bytes, up: bool, ports: tuple[int, int], want: str
) -> None:
    got = classify_tcp(first, up, ports)
    assert (got.name if got else None) == want


def test_inventory_datagrams_parsed_once_for_records_and_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """A DHCP and an mDNS datagram each give their record and their inventory events from one parse."""
    calls: Counter[str] = Counter()

    def counting(name: str, parse: object) -> object:
        def counted(payload: bytes) -> object:
            calls[name] += 1
            return parse(payload)  # type: ignore[operator]

        return counted

    patched = {}
    for port, p in registry.INVENTORY_PORTS.items():
        assert p.datagram is not None
        dgram = datagrams.Datagram(counting(p.name, p.datagram.parse), p.datagram.read)
        patched[port] = dataclasses.replace(p, datagram=dgram)
    monkeypatch.setattr("parsers.sessions.UDP_PORTS", {**registry.UDP_PORTS, **patched})
    disc = (
        Ether(src=DEV, dst="ff:ff:ff:ff:ff:ff")
        / IP(src="0.0.0.0", dst="255.255.255.255")
        / UDP(sport=68, dport=67)
        / BOOTP(chaddr=MAC + bytes(10), xid=5)
        / DHCP(options=[("message-type", "discover"), ("hostname", b"watch-01"), "end"])
    )
    mdns = (
        Ether(src=DEV, dst="01:00:5e:00:00:fb")
        / IP(src="192.168.1.10", dst="224.0.0.251")
        / UDP(sport=5353, dport=5353)
        / DNS(qr=1, aa=1, qd=[], an=DNSRR(rrname="watch.local", type="A", rdata="192.168.1.10"))
    )
    m = FlowMeter(LanPrefixes(DEFAULT_LAN).is_local, inventory=patched)
    for i, pkt in enumerate((disc, mdns)):
        data = bytes(pkt)
        m.feed(i * 1_000_000_000, 1, len(data), data)
    m.flush()
    assert calls == {"dhcp": 1, "mdns": 1}
    assert [type(e) for e in m.events] == [DhcpSeen, NameSeen]
    assert m.events[1].name == "watch.local" and m.events[1].mac == MAC  # type: ignore[union-attr]
    assert [type(r) for r in m.records] == [AppRecord, DnsRecord]
    assert m.stats["dissected_dhcp"] == 1 and m.stats["dissected_mdns"] == 1
