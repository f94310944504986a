"""Tunnel headers to the frame they carry: the device's own packet inside the transport's.

A tap on a mobile backhaul, a mirrored (ERSPAN) or overlay (VXLAN) port, or a 6in4 uplink
sees the devices' packets wrapped in another IP packet. The inner packet is the device's
flow; the outer one is only how it travelled, so the flow meter (``parsers.meter``) and the
evidence keys (``parsers.flowkey``) both read on inside and the outer packet makes no flow of
its own: each unwrapped packet is counted per tunnel kind (``tunnel_<kind>`` in the meter's
counters, stored with the capture's decode statistics), which tells a reader that the capture
was taken on a tunnel without mixing the tunnel endpoints in with the devices.

``inner`` returns (kind, link type of the inner frame, its first byte, its end) or None when
the header is not one this module unwraps (a GTP echo, a VXLAN header without its I flag, a
GRE routing header...): the caller then keeps the packet as the outer flow it is. Nested
tunnels are read up to ``MAX_DEPTH`` deep; deeper ones stay the outer flow (counted as
``tunnel_too_deep``), so a crafted packet cannot make the meter recurse without end.
"""

from __future__ import annotations

from parsers.capture import Frame

IPIP, IPV6_IN_IP, GRE = 4, 41, 47  # IP protocol numbers (IANA): RFC 2003, RFC 4213, RFC 2784
IP_TUNNELS = frozenset((IPIP, IPV6_IN_IP, GRE))
VXLAN_PORT = 4789  # RFC 7348 (IANA)
GTPU_PORT = 2152  # 3GPP TS 29.281 (IANA gtp-user)
UDP_TUNNEL_PORTS = frozenset((VXLAN_PORT, GTPU_PORT))
MAX_DEPTH = 3

# Inner link types (tcpdump.org linktypes): Ethernet, PPP, IPv4 only, IPv6 only
LT_ETHERNET, LT_PPP, LT_IPV4, LT_IPV6 = 1, 9, 228, 229
GRE_PROTOCOLS = {
    0x0800: LT_IPV4,
    0x86DD: LT_IPV6,
    0x6558: LT_ETHERNET,  # transparent Ethernet bridging (RFC 1701)
    0x880B: LT_PPP,  # PPTP's enhanced GRE (RFC 2637)
}
ERSPAN_II, ERSPAN_III = 0x88BE, 0x22EB  # draft-foschiano-erspan-03
GTP_GPDU = 0xFF  # a user packet (T-PDU); other message types are GTP-U signalling

Inner = tuple[str, int, int, int]  # (kind, inner link type, start, end)


def _ip_linktype(data: Frame, at: int, end: int) -> int:
    """The link type of a whole IPv4 or IPv6 header at ``at``; 0 for anything else."""
    if at >= end:
        return 0
    v = data[at] >> 4
    if v == 4:
        return LT_IPV4 if end - at >= 20 else 0
    return LT_IPV6 if v == 6 and end - at >= 40 else 0


def inner(proto: int, sport: int, dport: int, data: Frame, at: int, end: int) -> Inner | None:
    """The frame inside an IP payload of protocol ``proto`` (UDP: by its ports) at ``at``..``end``.

    For UDP, ``at`` is the UDP payload; for the IP tunnel protocols, the IP payload.
    """
    end = min(end, len(data))
    if proto == IPIP:
        return ("ip_in_ip", LT_IPV4, at, end) if _ip_linktype(data, at, end) == LT_IPV4 else None
    if proto == IPV6_IN_IP:
        return ("ipv6_in_ip", LT_IPV6, at, end) if _ip_linktype(data, at, end) == LT_IPV6 else None
    if proto == GRE:
        return gre(data, at, end)
    if dport == GTPU_PORT or sport == GTPU_PORT:
        return gtpu(data, at, end)
    if dport == VXLAN_PORT or sport == VXLAN_PORT:
        return vxlan(data, at, end)
    return None


def gre(data: Frame, at: int, end: int) -> Inner | None:
    """GRE (RFC 2784, key and sequence RFC 2890; version 1 is PPTP's, RFC 2637) and ERSPAN."""
    if end - at < 4:
        return None
    flags = (data[at] << 8) | data[at + 1]
    ptype = (data[at + 2] << 8) | data[at + 3]
    version = flags & 0x7
    if flags & 0x4000 or version > 1:  # source routing (RFC 1701, obsolete), unknown versions
        return None
    off = at + 4
    if flags & 0x8000:  # checksum and reserved
        off += 4
    if flags & 0x2000:  # key (version 1: payload length and call id)
        off += 4
    if flags & 0x1000:  # sequence number
        off += 4
    if version == 1 and flags & 0x0080:  # acknowledgment number (PPTP)
        off += 4
    lt = GRE_PROTOCOLS.get(ptype)
    if lt is None:
        if ptype == ERSPAN_II:
            # type II has a sequence number and an 8-byte header; type I has neither
            off += 8 if flags & 0x1000 else 0
        elif ptype == ERSPAN_III:
            if end - off < 12:
                return None
            off += 20 if data[off + 11] & 1 else 12  # O flag: an 8-byte platform sub-header
        else:
            return None
        lt, kind = LT_ETHERNET, "erspan"
    else:
        kind = "gre"
        if lt in (LT_IPV4, LT_IPV6):
            lt = _ip_linktype(data, off, end)
    return (kind, lt, off, end) if lt and off < end else None


def vxlan(data: Frame, at: int, end: int) -> Inner | None:
    """VXLAN (RFC 7348): 8 bytes, the I flag set, then an Ethernet frame."""
    if end - at < 8 + 14 or not data[at] & 0x08:
        return None
    return "vxlan", LT_ETHERNET, at + 8, end


def gtpu(data: Frame, at: int, end: int) -> Inner | None:
    """GTP-U version 1 (3GPP TS 29.281 5.1, 5.2): a G-PDU's T-PDU, past its extension headers."""
    if end - at < 8:
        return None
    flags = data[at]
    if flags >> 5 != 1 or not flags & 0x10 or data[at + 1] != GTP_GPDU:
        return None
    stop = min(end, at + 8 + ((data[at + 2] << 8) | data[at + 3]))
    off = at + 8
    if flags & 0x07:  # E, S or PN: sequence number, N-PDU number and next extension type follow
        if stop - off < 4:
            return None
        nxt = data[off + 3] if flags & 0x04 else 0
        off += 4
        for _ in range(16):  # each extension header: length in 4-byte units, content, next type
            if not nxt:
                break
            if off >= stop or not data[off]:
                return None
            off += data[off] << 2
            if off > stop:
                return None
            nxt = data[off - 1]
        else:
            return None
    lt = _ip_linktype(data, off, stop)
    return ("gtpu", lt, off, stop) if lt else None
