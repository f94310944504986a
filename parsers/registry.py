"""The one explicit list of application protocols the flow meter reads: ``PROTOCOLS``.

Per protocol: its name (as ``flows.app`` stores it), transport, the ports that name it
when its first bytes do not, a sniff function that knows it by those first bytes, its
reader (a ``parsers.streams`` class for TCP, a ``parsers.datagrams.Datagram`` for UDP),
the inventory extractor of the device evidence it carries (addresses, DHCP fingerprints,
names) and the security a flow of it has when the protocol alone says (``none`` for the
readable ones). Add a protocol by adding it here: nothing registers itself on import.

A flow's protocol is chosen once, when it starts. TCP: the first bytes of either
direction against the sniff functions in list order, then the ports (source first, as a
capture begun mid-connection shows the server's port either way). UDP: the destination
port, then the source port, then the first datagram against the sniff functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from parsers import datagrams as dg
from parsers import streams as st
from parsers.tls_reader import TlsReader


@dataclass(frozen=True, slots=True)
class Protocol:
    name: str
    transport: str  # "tcp" or "udp"
    ports: tuple[int, ...] = ()
    sniff: Callable[[bytes, bool], bool] | None = None  # (first bytes, sent by the initiator)
    stream: type[st.StreamReader] | None = None  # TCP: a reader per flow; None: nothing to read
    datagram: dg.Datagram | None = None  # UDP: how each datagram is read
    inventory: dg.Inventory | None = None  # (ts, source MAC, source IP, parsed message) -> events
    security: str = ""  # "none": readable (cleartext); "" until the handshake says (TLS)

    @property
    def readable(self) -> bool:
        """Whether the appliance reads the application data, not just a handshake."""
        return self.security == "none"


PROTOCOLS: tuple[Protocol, ...] = (
    # TCP, in the order the first bytes are tried (RTSP before HTTP: their requests look alike)
    Protocol("tls", "tcp", (853,), st.sniff_tls, TlsReader),
    Protocol("rtsp", "tcp", (554,), st.sniff_rtsp, st.RtspReader, security="none"),
    Protocol("http2", "tcp", (), st.sniff_h2c, st.Http2Reader, security="none"),  # h2c, prior knowledge
    Protocol("http", "tcp", (), st.sniff_http, st.HttpReader, security="none"),
    Protocol("mqtt", "tcp", (1883,), st.sniff_mqtt, st.MqttReader, security="none"),
    Protocol("ssh", "tcp", (), st.sniff_ssh, None, security="ssh"),
    Protocol("dns", "tcp", (53, 5353), None, st.DnsReader, security="none"),
    # UDP: named by the port; QUIC and DTLS by their first datagram
    Protocol("dns", "udp", (53,), datagram=dg.DNS, security="none"),
    Protocol("mdns", "udp", (5353,), datagram=dg.DNS, inventory=dg.mdns_events, security="none"),
    Protocol("llmnr", "udp", (5355,), datagram=dg.DNS, security="none"),
    Protocol("dhcp", "udp", (67, 68), datagram=dg.DHCP, inventory=dg.dhcp_events, security="none"),
    Protocol("dhcpv6", "udp", (546, 547), datagram=dg.DHCPV6, inventory=dg.dhcpv6_events, security="none"),
    Protocol("ssdp", "udp", (1900,), datagram=dg.SSDP, inventory=dg.ssdp_events, security="none"),
    Protocol("ntp", "udp", (123,), datagram=dg.NTP, security="none"),
    Protocol("coap", "udp", (5683,), datagram=dg.COAP, security="none"),
    Protocol("coaps", "udp", (5684,), security="dtls"),  # CoAP over DTLS: encrypted, named by the port
    Protocol("quic", "udp", (), dg.sniff_quic, datagram=dg.QUIC, security="quic"),
    Protocol("dtls", "udp", (), dg.sniff_dtls, security="dtls"),
)


def _by_port(transport: str, inventory_only: bool = False) -> dict[int, Protocol]:
    return {
        port: p
        for p in PROTOCOLS
        if p.transport == transport and (p.inventory is not None or not inventory_only)
        for port in p.ports
    }


TCP_PORTS = _by_port("tcp")
UDP_PORTS = _by_port("udp")
TCP_SNIFFED = tuple(p for p in PROTOCOLS if p.transport == "tcp" and p.sniff is not None)
UDP_SNIFFED = tuple(p for p in PROTOCOLS if p.transport == "udp" and p.sniff is not None)
# UDP ports whose datagrams carry device inventory evidence, for the meter to route every one
# of them to its extractor (through the flow's session when the session reads that protocol).
INVENTORY_PORTS = _by_port("udp", inventory_only=True)
READABLE = frozenset(p.name for p in PROTOCOLS if p.readable)
