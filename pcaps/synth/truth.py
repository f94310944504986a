"""Ground-truth flow records for generated frames, from scapy's own dissection of each frame.

The rules are tapaudit's documented flow semantics (README, "Flows"), applied here
independently of ``parsers.meter``: bidirectional 5-tuple, initiator = first sender,
ICMP type pairs as ports, a new record after 120 s idle, after 30 min active (same
initiator), or 5 s after a RST or FINs both ways (or at a new SYN).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether

NS = 1_000_000_000
IDLE_NS, ACTIVE_NS, LINGER_NS = 120 * NS, 1800 * NS, 5 * NS
ICMP_PAIRS = {4: {8: 0, 0: 8}, 6: {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135}}
PROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp6"}
LINK_SCOPE = [
    ipaddress.ip_network(n) for n in ("224.0.0.0/4", "255.255.255.255/32", "ff00::/8", "0.0.0.0/32", "::/128")
]


@dataclass
class Pkt:
    """What a frame contributes to a flow."""

    proto: int
    src: str
    sport: int
    dst: str
    dport: int
    ipbytes: int
    payload: int
    flags: int
    smac: str
    dmac: str
    vlan: int


def describe(frame: bytes) -> Pkt | None:
    """Dissect one Ethernet frame with scapy; None for frames that are not IP flows (ARP)."""
    e = Ether(frame)
    if e.haslayer(ARP):
        return None
    vlan = int(e[Dot1Q].vlan) if e.haslayer(Dot1Q) else 0
    if e.haslayer(IP):
        ip = e[IP]
        proto, src, dst, ipbytes, hdr, fam = int(ip.proto), ip.src, ip.dst, int(ip.len), int(ip.ihl) * 4, 4
        l4len = ipbytes - hdr
    else:
        ip6 = e[IPv6]
        proto, src, dst, fam = int(ip6.nh), ip6.src, ip6.dst, 6
        ipbytes, l4len = 40 + int(ip6.plen), int(ip6.plen)
    flags = 0
    if proto == 6:
        t = e[TCP]
        sport, dport, payload, flags = int(t.sport), int(t.dport), l4len - int(t.dataofs) * 4, int(t.flags)
    elif proto == 17:
        u = e[UDP]
        sport, dport, payload = int(u.sport), int(u.dport), l4len - 8
    else:
        icmp_type = bytes(e[IP].payload if fam == 4 else e[IPv6].payload)[0]
        code = bytes(e[ICMP])[1] if fam == 4 else 0
        sport, dport, payload = icmp_type, ICMP_PAIRS[fam].get(icmp_type, code), l4len - 8
    return Pkt(proto, src, sport, dst, dport, ipbytes, payload, flags, e.src, e.dst, vlan)


@dataclass
class Record:
    key: tuple[int, str, int, str, int]  # initiator first
    first: int
    last: int
    smac: str
    dmac: str
    rmac: str
    vlan: int
    pkts: list[int] = field(default_factory=lambda: [0, 0])
    ipbytes: list[int] = field(default_factory=lambda: [0, 0])
    payload: list[int] = field(default_factory=lambda: [0, 0])
    fin: list[bool] = field(default_factory=lambda: [False, False])
    closed: int = 0
    end: str = ""
    fragments: int = 0


class FlowBook:
    """Accumulates records in time order under the documented semantics."""

    def __init__(self) -> None:
        self.open: dict[tuple[int, frozenset[tuple[str, int]]], Record] = {}
        self.done: list[Record] = []

    def add(self, ts: int, p: Pkt, fragments: int = 0) -> None:
        k = (p.proto, frozenset(((p.src, p.sport), (p.dst, p.dport))))
        r = self.open.get(k)
        syn_only = p.flags & 0x12 == 0x02
        if r is not None and (
            ts - r.last > IDLE_NS or (r.closed and (ts - r.closed > LINGER_NS or syn_only))
        ):
            self.done.append(self.open.pop(k))
            r = None
        if r is not None and ts - r.first > ACTIVE_NS:
            self.done.append(self.open.pop(k))
            init = r.key
            r = Record(init, ts, ts, r.smac, r.dmac, r.rmac, p.vlan)
            self.open[k] = r
        if r is None:
            r = Record((p.proto, p.src, p.sport, p.dst, p.dport), ts, ts, p.smac, p.dmac, "", p.vlan)
            self.open[k] = r
        up = (p.src, p.sport) == (r.key[1], r.key[2])
        i = 0 if up else 1
        if not up and not r.rmac:
            r.rmac = p.smac
        r.last = max(r.last, ts)
        r.pkts[i] += 1
        r.ipbytes[i] += p.ipbytes
        r.payload[i] += max(p.payload, 0)
        r.fragments += fragments
        if p.flags & 0x04:
            r.closed, r.end = ts, "rst"
        elif p.flags & 0x01:
            r.fin[i] = True
            if all(r.fin):
                r.closed, r.end = ts, "fin"

    def finish(self) -> list[Record]:
        self.done.extend(self.open.values())
        self.open = {}
        return sorted(self.done, key=lambda r: (r.first, r.key))


def device_mac(r: Record, local: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str:
    """The local device a record belongs to (initiator unless only the responder is local)."""
    _proto, a, _ap, b, _bp = r.key

    def is_local(x: str) -> bool:
        ip = ipaddress.ip_address(x)
        return any(ip.version == n.version and ip in n for n in local)

    def is_group(x: str) -> bool:
        ip = ipaddress.ip_address(x)
        return any(ip.version == n.version and ip in n for n in LINK_SCOPE)

    if is_group(b) or is_local(a):
        return r.smac
    return (r.rmac or r.dmac) if is_local(b) else ""
