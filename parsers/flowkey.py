"""The flow key of one captured frame, exactly as the flow meter keys it (for evidence export).

``parsers.meter`` decodes inline in its hot loop, with no call per layer; this module
decodes one frame at a time for the few tools that need to find a flow's packets again
(``appliance.findings.evidence``). It shares the meter's header layouts and tables (its struct
unpackers, ICMP type pairs, IPv6 extension headers), its link decoders
(``parsers.linklayer``) and its fragment reassembly (``parsers.ipfrag``), and repeats only
the meter's decisions: which frames count, and which bytes are the ports. The tests feed
every packet of the lab capture, and edge frames, to both and require the same key.

Where the meter keeps a quirk, so does this module, so that a flow record's packets are
found exactly: Ethernet frames of 34 bytes or more are only peeled further when their
ethertype is a VLAN tag (an untagged PPPoE session is not IP to the meter), and an IPv6
extension header cut short by the capture gives no key.
"""

from __future__ import annotations

from typing import Generic, NamedTuple, TypeVar

from parsers.capture import Frame
from parsers.ipfrag import TIMEOUT_NS, FragKey, Reassembler
from parsers.linklayer import ETH_IPV4, ETH_IPV6, LINK_DECODERS, SHIMS
from parsers.meter import (
    ETH_HEADER,
    ICMP,
    ICMP6,
    ICMP6_PAIR,
    ICMP_PAIR,
    IPV4_HEADER,
    IPV6_EXT,
    IPV6_HEADER,
    PORTS,
    TCP,
    TUNNEL,
    UDP,
)
from parsers.registry import INVENTORY_PORTS
from parsers.tunnels import IP_TUNNELS, MAX_DEPTH, UDP_TUNNEL_PORTS, inner

# The meter's UDP port table: a tunnel port counts only where no inventory port came first.
_UDP_PORTS = {**INVENTORY_PORTS, **dict.fromkeys(UDP_TUNNEL_PORTS, TUNNEL)}

# (protocol, source address, source port, destination address, destination port), as sent:
# the meter's flow-table key. ICMP and ICMPv6 carry (type, reply type or code) as ports.
Key = tuple[int, bytes, int, bytes, int]
# A key without its direction: both directions of a flow give the same one.
Undirected = tuple[int, tuple[bytes, int], tuple[bytes, int]]


class Keyed(NamedTuple):
    """A frame the meter accounts as one packet of a flow."""

    key: Key
    vlan: int


class Fragment(NamedTuple):
    """An IPv4 or IPv6 fragment: the meter accounts its datagram once the datagram is whole."""

    fkey: FragKey  # (IP version, source, destination, identification, protocol)
    offset: int
    more: bool
    payload: bytes
    vlan: int


def undirected(key: Key) -> Undirected:
    proto, a, ap, b, bp = key
    x, y = (a, ap), (b, bp)
    return (proto, x, y) if x <= y else (proto, y, x)


def decode(lt: int, data: Frame, depth: int = 0) -> Keyed | Fragment | None:
    """Key one frame of link type ``lt``; a Fragment to reassemble; None if the meter skips it.

    A tunnel packet is keyed by the packet it carries, as the meter accounts it (``depth``
    counts the tunnels already opened)."""
    size = len(data)
    # ---- link layer (the meter inlines plain Ethernet and hands the rest to LINK_DECODERS)
    if lt == 1 and size >= 34:
        et = ETH_HEADER(data, 0)[2]
        off, vlan = 14, 0
        if et in SHIMS:
            l2 = LINK_DECODERS[1](data)
            if l2 is None:
                return None
            et, off, _s, _d, vlan = l2
    else:
        dec = LINK_DECODERS.get(lt)
        l2 = dec(data) if dec is not None else None
        if l2 is None:
            return None
        et, off, _s, _d, vlan = l2
    # ---- network layer
    if et == ETH_IPV4:
        if size < off + 20:
            return None
        vihl, tot, frag, proto, src, dst = IPV4_HEADER(data, off)
        ihl = (vihl & 0x0F) << 2
        if vihl >> 4 != 4 or ihl < 20:
            return None
        if tot < ihl:  # TSO/GRO captures carry 0: the meter trusts the frame
            tot = size - off
        if frag & 0x3FFF:
            ident = (data[off + 4] << 8) | data[off + 5]
            return Fragment(
                (4, src, dst, ident, proto),
                (frag & 0x1FFF) * 8,
                bool(frag & 0x2000),
                bytes(data[off + ihl : off + tot]),
                vlan,
            )
        return _transport(proto, src, dst, data, off + ihl, off + tot, vlan, depth)
    if et == ETH_IPV6:
        if size < off + 40:
            return None
        ver, plen, proto, src, dst = IPV6_HEADER(data, off)
        if ver >> 4 != 6:
            return None
        if plen == 0:  # jumbogram or offloaded capture
            plen = size - off - 40
        l4 = off + 40
        end = l4 + plen
        while proto in IPV6_EXT:
            if size < l4 + 8:
                return None
            hlen = (data[l4 + 1] + 2) << 2 if proto == 51 else (data[l4 + 1] + 1) << 3
            proto = data[l4]
            l4 += hlen
        if proto == 44:
            if size < l4 + 8:
                return None
            fo = (data[l4 + 2] << 8) | data[l4 + 3]
            ident = int.from_bytes(data[l4 + 4 : l4 + 8], "big")
            return Fragment(
                (6, src, dst, ident, data[l4]), fo & 0xFFF8, bool(fo & 1), bytes(data[l4 + 8 : end]), vlan
            )
        return _transport(proto, src, dst, data, l4, end, vlan, depth)
    return None  # ARP and everything that is not IP: no flow


def _transport(
    proto: int, src: bytes, dst: bytes, data: Frame, l4: int, end: int, vlan: int, depth: int
) -> Keyed | Fragment | None:
    """The key from the transport header at ``l4``, or from the packet a tunnel there carries."""
    if depth < MAX_DEPTH and (proto in IP_TUNNELS or proto == UDP):
        got = None
        if proto != UDP:
            got = inner(proto, 0, 0, data, l4, end)
        elif len(data) >= l4 + 8:
            sport, dport = PORTS(data, l4)
            if (_UDP_PORTS.get(dport) or _UDP_PORTS.get(sport)) is TUNNEL:
                got = inner(proto, sport, dport, data, l4 + 8, end)
        if got is not None:
            _kind, lt, start, stop = got
            return decode(lt, data[start:stop], depth + 1)
    key = transport_key(proto, src, dst, data, l4)
    return Keyed(key, vlan) if key is not None else None


def transport_key(proto: int, src: bytes, dst: bytes, data: Frame | bytes, l4: int) -> Key | None:
    """The flow key from the transport header at ``l4``; None where the meter drops the packet."""
    size = len(data)
    if proto == TCP:
        if size < l4 + 4:
            return None
        sport, dport = PORTS(data, l4)
    elif proto == UDP:
        if size < l4 + 8:
            return None
        sport, dport = PORTS(data, l4)
    elif proto in (ICMP, ICMP6):
        if size < l4 + 2:
            return None
        sport = data[l4]
        dport = (ICMP_PAIR if proto == ICMP else ICMP6_PAIR).get(sport, data[l4 + 1])
    else:
        sport = dport = 0
    return (proto, src, sport, dst, dport)


R = TypeVar("R")


class FrameKeys(Generic[R]):
    """Keys a stream of frames, reassembling fragments as the meter does.

    ``add`` returns, for each packet the meter accounts, its key, VLAN and the references
    of the frames it is made of: the frame itself, or every fragment of a datagram once
    its last piece arrives (the meter counts the datagram then, at that frame's time).
    """

    def __init__(self) -> None:
        self.frags = Reassembler()
        self._members: dict[FragKey, list[R]] = {}

    def add(self, ts: int, lt: int, data: Frame, ref: R) -> tuple[Key, int, list[R]] | None:
        got = decode(lt, data)
        if got is None:
            return None
        if isinstance(got, Keyed):
            return got.key, got.vlan, [ref]
        fkey = got.fkey
        before = self.frags.pending.get(fkey)
        if before is None or ts - before.first_ts > TIMEOUT_NS:  # the reassembler starts afresh
            self._members[fkey] = []
        whole = self.frags.add(ts, fkey, got.offset, got.more, got.payload)
        members = self._members.pop(fkey, [])
        members.append(ref)
        if fkey in self.frags.pending:
            self._members[fkey] = members
        if len(self._members) > len(self.frags.pending):  # forced out when the pending set was full
            self._members = {k: v for k, v in self._members.items() if k in self.frags.pending}
        if whole is None:
            return None
        keyed = _transport(fkey[4], fkey[1], fkey[2], whole, 0, len(whole), got.vlan, 0)
        # a fragment inside a reassembled tunnel packet is not followed further (None)
        return (keyed.key, keyed.vlan, members) if isinstance(keyed, Keyed) else None
