"""Typed records that dissectors emit besides flows (inventory evidence for now)."""

from __future__ import annotations

from dataclasses import dataclass

from parsers.dhcp import DhcpMessage


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


Event = AddressSeen | DhcpSeen | NameSeen
