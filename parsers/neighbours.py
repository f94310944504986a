"""Which MAC owns which address, from neighbour discovery: ARP (IPv4) and NDP (IPv6); and which
prefixes the LAN has, from router advertisements.

The meter calls these on the few packets that are ARP or ICMPv6 neighbour discovery messages;
the events go to the device inventory, like the DHCP, mDNS and SSDP evidence.
"""

from __future__ import annotations

from parsers.capture import Frame
from parsers.events import AddressSeen, LanSeen

ARP_ETH_IPV4 = b"\x00\x01\x08\x00\x06\x04"  # hardware Ethernet, protocol IPv4, lengths 6 and 4
ZERO4 = bytes(4)
ZERO16 = bytes(16)
RA_HEADER = 16  # type, code, checksum, hop limit, flags, lifetime, reachable and retrans timers
PIO_ON_LINK, PIO_AUTONOMOUS = 0x80, 0x40  # prefix information flags L and A (RFC 4861 4.6.2)


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


def ra_events(ts: int, data: Frame, l4: int, end: int, smac: bytes) -> list[LanSeen]:
    """A router advertisement (RFC 4861 4.2): its sender is a router (its MAC from the frame, else
    the source link-layer address option), and each prefix information option marked on-link or
    for autoconfiguration (SLAAC, RFC 4862) is a prefix of the LAN."""
    stop = min(end, len(data))
    pos = l4 + RA_HEADER
    prefixes: list[tuple[bytes, int]] = []
    mac = smac
    while pos + 8 <= stop:
        otype, olen = data[pos], data[pos + 1] * 8
        if olen == 0 or pos + olen > stop:
            break
        if otype == 1 and olen == 8 and not mac:
            mac = bytes(data[pos + 2 : pos + 8])
        elif otype == 3 and olen == 32 and data[pos + 3] & (PIO_ON_LINK | PIO_AUTONOMOUS):
            length = min(data[pos + 2], 128)
            prefixes.append((bytes(data[pos + 16 : pos + 32]), length))
        pos += olen
    if not prefixes:
        return [LanSeen(ts, mac, b"", 0, "ra")]
    return [LanSeen(ts, mac, p, n, "ra") for p, n in prefixes]
