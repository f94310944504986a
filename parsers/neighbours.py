"""Which MAC owns which address, from neighbour discovery: ARP (IPv4) and NDP (IPv6).

The meter calls these on the few packets that are ARP or ICMPv6 neighbour messages; the
events go to the device inventory, like the DHCP, mDNS and SSDP evidence.
"""

from __future__ import annotations

from parsers.capture import Frame
from parsers.events import AddressSeen

ARP_ETH_IPV4 = b"\x00\x01\x08\x00\x06\x04"  # hardware Ethernet, protocol IPv4, lengths 6 and 4
ZERO4 = bytes(4)
ZERO16 = bytes(16)


def arp_event(ts: int, data: Frame, off: int) -> AddressSeen | None:
    """ARP (RFC 826) for Ethernet/IPv4: the sender's MAC owns the sender's IP (none for a probe
    from 0.0.0.0); ValueError if the packet is not Ethernet/IPv4 ARP or is cut short."""
    if len(data) < off + 28 or data[off : off + 6] != ARP_ETH_IPV4:
        raise ValueError("not an Ethernet/IPv4 ARP packet")
    spa = bytes(data[off + 14 : off + 18])
    return AddressSeen(ts, bytes(data[off + 8 : off + 14]), spa, "arp") if spa != ZERO4 else None


def ndp_event(ts: int, data: Frame, l4: int, end: int, smac: bytes, src: bytes) -> AddressSeen | None:
    """NDP (RFC 4861) solicitation or advertisement: the target address and its link-layer
    option (else the frame's source MAC), for an advertisement or a duplicate-address probe."""
    if len(data) < l4 + 24:
        return None
    target = bytes(data[l4 + 8 : l4 + 24])
    mac = smac
    pos = l4 + 24
    while pos + 8 <= min(end, len(data)):
        otype, olen = data[pos], data[pos + 1] * 8
        if olen == 0:
            break
        if otype in (1, 2) and olen == 8:
            mac = bytes(data[pos + 2 : pos + 8])
        pos += olen
    if (data[l4] == 136 or src == ZERO16) and mac:
        return AddressSeen(ts, mac, target, "ndp")
    return None
