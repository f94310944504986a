"""Typed records that dissectors emit besides flows: inventory evidence and application records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from parsers.protocols.dhcp import DhcpMessage
from parsers.protocols.dns import DnsMessage
from parsers.protocols.http import HttpRequest, HttpResponse
from parsers.protocols.tls import Certificate, ClientHello, ServerHello


@dataclass(slots=True)
class AddressSeen:
    """A MAC claimed or used an IP address (source: arp, ndp, dhcp)."""

    ts: int
    mac: bytes
    ip: bytes
    source: str


@dataclass(slots=True)
class DhcpSeen:
    """A DHCP message from or about a client MAC."""

    ts: int
    mac: bytes
    msg: DhcpMessage


@dataclass(slots=True)
class NameSeen:
    """A device announced a name of itself (kind: mdns, mdns-service, ssdp-server, ssdp-usn)."""

    ts: int
    mac: bytes
    ip: bytes
    kind: str
    name: str


@dataclass(slots=True)
class LanSeen:
    """A router or DHCP server told the link what the LAN is: an on-link prefix from a router
    advertisement's prefix information option (RFC 4861 4.6.2), the address and mask a DHCPv4
    server assigned (RFC 2132 option 1), an address a DHCPv6 server assigned (its /64, RFC 4291
    2.5.1). ``prefix`` is empty when the message only shows that ``mac`` is a router or a server."""

    ts: int
    mac: bytes  # the router or server that sent it
    prefix: bytes  # network address bytes (4 or 16), or b""
    length: int
    source: str  # ra, dhcp, dhcpv6


Event = AddressSeen | DhcpSeen | NameSeen | LanSeen


# ---- application records: stored in their own tables, each tied to the flow that carried it


@dataclass(slots=True)
class DnsRecord:
    """One DNS, mDNS or LLMNR message (query or response)."""

    flow: Any
    ts: int
    protocol: str  # dns, mdns, llmnr
    transport: str  # udp, tcp
    msg: DnsMessage
    plain_source: str = "clear"  # where the bytes were read: clear, tls-keylog, tls-dsb (issue 16)


@dataclass(slots=True)
class TlsRecord:
    """One TLS or QUIC handshake as far as it is readable: hellos, clear certificates, alerts."""

    flow: Any
    ts: int
    transport: str  # tcp, quic
    client: ClientHello | None = None
    server: ServerHello | None = None
    certs: list[Certificate] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)


@dataclass(slots=True)
class HttpRecord:
    """One HTTP/1.x or HTTP/2 request (``up``) or response; ``index``: its order on the connection
    (HTTP/1), its stream id (HTTP/2)."""

    flow: Any
    ts: int
    up: bool
    index: int
    msg: HttpRequest | HttpResponse
    plain_source: str = "clear"  # clear, or decrypted with keys from tls-keylog or tls-dsb (issue 16)


@dataclass(slots=True)
class AppRecord:
    """A message of another protocol (MQTT, CoAP, RTSP, NTP, DHCP, DHCPv6, SSDP, WebSocket), or
    the first bytes each way of a flow no dissector reads (protocol ``raw``, kind tcp or udp).

    ``name`` is what the message is about (topic, URI, hostname, search target);
    ``detail`` holds the protocol's own fields; ``payload`` the application data it
    carried (kept in memory for the content detectors, never stored as such).
    """

    flow: Any
    ts: int
    up: bool
    protocol: str
    kind: str
    name: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    payload: bytes = b""
    plain_source: str = "clear"  # clear, or decrypted with keys from tls-keylog or tls-dsb (issue 16)


Record = DnsRecord | TlsRecord | HttpRecord | AppRecord
