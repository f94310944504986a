"""Link-layer headers to (ethertype, layer-3 offset, source MAC, destination MAC, VLAN).

One small function per pcap LINKTYPE (tcpdump.org/linktypes.html), registered in
``LINK_DECODERS``. Ethernet is also inlined in the flow meter's hot loop; this
table serves every other link type and the Ethernet corner cases.
"""

from __future__ import annotations

from collections.abc import Callable

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_ARP = 0x0806
VLAN_TPIDS = frozenset((0x8100, 0x88A8, 0x9100))
PPPOE_SESSION = 0x8864
MPLS = frozenset((0x8847, 0x8848))  # unicast, multicast (RFC 3032)
MAX_LABELS = 8  # a label stack deeper than this is not IP to us
# Ethertypes with another header before the network layer: the meter's inline Ethernet
# path hands these frames to ``ethernet`` (tags, PPPoE and MPLS labels peeled there).
SHIMS = VLAN_TPIDS | MPLS | {PPPOE_SESSION}
# PPP protocol numbers (IANA PPP DLL protocol numbers): IPv4, IPv6, MPLS unicast
PPP_TO_ETHERTYPE = {0x0021: ETH_IPV4, 0x0057: ETH_IPV6, 0x0281: 0x8847}
CHDLC_ADDRESSES = (0x0F, 0x8F)  # Cisco HDLC unicast and multicast address bytes

# (ethertype, offset of layer 3, source MAC, destination MAC, outer VLAN id)
L2 = tuple[int, int, bytes, bytes, int]
LinkDecoder = Callable[[bytes | memoryview], L2 | None]  # MACs come back as bytes

LINKTYPE_NAMES = {
    0: "null",
    1: "ethernet",
    9: "ppp",
    12: "raw",
    14: "raw",
    50: "ppp-hdlc",
    101: "raw",
    104: "cisco-hdlc",
    108: "loop",
    113: "linux-sll",
    228: "ipv4",
    229: "ipv6",
    276: "linux-sll2",
}


def _after_ethertype(data: bytes | memoryview, et: int, off: int, src: bytes, dst: bytes) -> L2 | None:
    """Peel VLAN tags (802.1Q, QinQ), PPPoE sessions and MPLS labels behind an ethertype."""
    vlan = 0
    for _ in range(4):
        if et in VLAN_TPIDS:
            if len(data) < off + 4:
                return None
            if not vlan:
                vlan = ((data[off] << 8) | data[off + 1]) & 0x0FFF
            et = (data[off + 2] << 8) | data[off + 3]
            off += 4
        elif et == PPPOE_SESSION:
            if len(data) < off + 8:
                return None
            et = PPP_TO_ETHERTYPE.get((data[off + 6] << 8) | data[off + 7], 0)
            off += 8
        elif et in MPLS:
            et, off = _mpls(data, off)
        else:
            break
    return et, off, src, dst, vlan


def _mpls(data: bytes | memoryview, off: int) -> tuple[int, int]:
    """(ethertype, offset) past an MPLS label stack: the payload's IP version names it, as
    RFC 3032 leaves the payload's protocol to the label; 0 when it is not IP."""
    for _ in range(MAX_LABELS):
        if len(data) < off + 4:
            return 0, off
        bottom = data[off + 2] & 1
        off += 4
        if bottom:
            return _ip_version(data, off), off
    return 0, off


def ethernet(data: bytes | memoryview) -> L2 | None:
    """IEEE 802.3 / Ethernet II; 802.3 length frames (LLC) carry no IP here."""
    if len(data) < 14:
        return None
    et = (data[12] << 8) | data[13]
    if et < 0x0600:
        return 0, 14, bytes(data[6:12]), bytes(data[0:6]), 0
    return _after_ethertype(data, et, 14, bytes(data[6:12]), bytes(data[0:6]))


def _ip_version(data: bytes | memoryview, off: int) -> int:
    if len(data) <= off:
        return 0
    v = data[off] >> 4
    return ETH_IPV4 if v == 4 else ETH_IPV6 if v == 6 else 0


def raw_ip(data: bytes | memoryview) -> L2 | None:
    """LINKTYPE_RAW (101, and DLT 12/14 on some systems): bare IPv4 or IPv6."""
    return _ip_version(data, 0), 0, b"", b"", 0


def bsd_null(data: bytes | memoryview) -> L2 | None:
    """LINKTYPE_NULL: 4-byte address family in the *capturing host's* byte order."""
    if len(data) < 4:
        return None
    return _ip_version(data, 4), 4, b"", b"", 0


def linux_sll(data: bytes | memoryview) -> L2 | None:
    """LINKTYPE_LINUX_SLL: 16-byte cooked header, sender address when ARPHRD_ETHER."""
    if len(data) < 16:
        return None
    hatype = (data[2] << 8) | data[3]
    alen = (data[4] << 8) | data[5]
    src = bytes(data[6:12]) if hatype == 1 and alen == 6 else b""
    et = (data[14] << 8) | data[15]
    return _after_ethertype(data, et, 16, src, b"")


def linux_sll2(data: bytes | memoryview) -> L2 | None:
    """LINKTYPE_LINUX_SLL2: 20-byte cooked header with the protocol first."""
    if len(data) < 20:
        return None
    et = (data[0] << 8) | data[1]
    hatype = (data[8] << 8) | data[9]
    alen = data[11]
    src = bytes(data[12:18]) if hatype == 1 and alen == 6 else b""
    return _after_ethertype(data, et, 20, src, b"")


def ppp(data: bytes | memoryview) -> L2 | None:
    """LINKTYPE_PPP / PPP_HDLC: optional FF 03, then a 1- or 2-byte protocol.

    A frame that begins with a Cisco HDLC address byte is Cisco HDLC on the same serial
    line (BSD/OS and some routers write both under DLT_PPP; Wireshark reads it so too)."""
    if data[:1] and data[0] in CHDLC_ADDRESSES:
        return cisco_hdlc(data)
    off = 2 if data[:2] == b"\xff\x03" else 0
    if len(data) < off + 1:
        return None
    if data[off] & 1:  # protocol-field compression: one odd byte
        proto, off = data[off], off + 1
    else:
        if len(data) < off + 2:
            return None
        proto, off = (data[off] << 8) | data[off + 1], off + 2
    return _after_ethertype(data, PPP_TO_ETHERTYPE.get(proto, 0), off, b"", b"")


def cisco_hdlc(data: bytes | memoryview) -> L2 | None:
    """LINKTYPE_C_HDLC: address, control, then an Ethernet type (MPLS labels peeled)."""
    if len(data) < 4:
        return None
    return _after_ethertype(data, (data[2] << 8) | data[3], 4, b"", b"")


def ipv4_only(data: bytes | memoryview) -> L2 | None:
    """LINKTYPE_IPV4 (228)."""
    return ETH_IPV4, 0, b"", b"", 0


def ipv6_only(data: bytes | memoryview) -> L2 | None:
    """LINKTYPE_IPV6 (229)."""
    return ETH_IPV6, 0, b"", b"", 0


LINK_DECODERS: dict[int, LinkDecoder] = {
    0: bsd_null,
    1: ethernet,
    9: ppp,
    12: raw_ip,
    14: raw_ip,
    50: ppp,
    101: raw_ip,
    104: cisco_hdlc,
    108: bsd_null,
    113: linux_sll,
    228: ipv4_only,
    229: ipv6_only,
    276: linux_sll2,
}


def linktype_name(lt: int) -> str:
    return LINKTYPE_NAMES.get(lt, f"linktype-{lt}")
