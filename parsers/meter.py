"""Packets to bidirectional flows and inventory events: the replay hot loop.

One ``FlowMeter.feed`` call per packet. Ethernet + IPv4/IPv6 + TCP/UDP is
decoded inline with byte indexing (no per-layer objects); other link types go
through ``parsers.linklayer``, fragments through ``parsers.ipfrag``, and the
flow's payload through its session (``parsers.sessions``), which also hands the
inventory the evidence in DHCP, mDNS and SSDP datagrams (``INVENTORY_PORTS``).

Flow semantics (documented in README, compared with Zeek in the tests):
- key: (protocol, address, port, address, port); ICMP uses type and the
  matching reply type (echo 8/0, ...) as ports so both directions join;
- the initiator is the sender of the first packet seen, unless that packet shows the
  capture began with the answer (``parsers.initiator``: a SYN-ACK, an ICMP reply, a
  service port answering an ephemeral one, or from outside the LAN to it when the
  ports do not tell); the flow is then turned around;
- a tunnel's packet (IP-in-IP, GRE, ERSPAN, VXLAN, GTP-U: ``parsers.tunnels``) is
  accounted as the packet it carries, and counted per tunnel kind;
- a flow ends after ``idle`` without packets, after ``active`` since it began
  (the next packet continues in a new flow record), ``LINGER`` after a RST or
  after FINs both ways (later packets then start a new flow), or at the end;
- bytes are IP bytes (IPv4 total length, IPv6 40 + payload length), as Zeek's
  ``ip_bytes``; payload bytes are the transport payload.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable, Iterable

from parsers.capture import Frame, Packet
from parsers.decrypt.keys import KeyLog
from parsers.events import Event, Record
from parsers.flow import LARGE_PAYLOAD, SYN, TCP, Flow
from parsers.initiator import sent_by_responder
from parsers.ipfrag import Reassembler
from parsers.linklayer import ETH_ARP, ETH_IPV4, ETH_IPV6, LINK_DECODERS, SHIMS
from parsers.neighbours import arp_event, ndp_event, ra_events
from parsers.registry import INVENTORY_PORTS, Protocol
from parsers.sessions import MALFORMED, UdpSession, new_session
from parsers.tunnels import IP_TUNNELS, MAX_DEPTH, UDP_TUNNEL_PORTS, inner

NS = 1_000_000_000
LINGER_NS = 5 * NS
SWEEP_EVERY_NS = 30 * NS
# Open flows held at most (~1 kB each with their two keys): bounds memory whatever the
# capture; when full, idle-ish flows go first, then the least recently seen quarter.
MAX_FLOWS = 500_000
# Payload packets closer than this belong to one burst (a request and its answer, an
# upload): the beats whose period tells what an encrypted flow reports, and how often.
BURST_GAP_NS = NS

UDP, ICMP, ICMP6 = 17, 1, 58
FIN, RST, ACK = 0x01, 0x04, 0x10
ICMP_PAIR = {0: 8, 8: 0, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17, 9: 10, 10: 9}
ICMP6_PAIR = {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135}
IPV6_EXT = frozenset((0, 43, 60, 51, 135, 139, 140))
# Header fields in one C call each (twice as fast as indexing byte by byte).
ETH_HEADER = struct.Struct("!6s6sH").unpack_from  # destination, source, ethertype
IPV4_HEADER = struct.Struct("!BxHxxHxB2x4s4s").unpack_from  # ver/ihl, length, frag, proto, src, dst
IPV6_HEADER = struct.Struct("!B3xHBx16s16s").unpack_from  # version, payload length, next, src, dst
TCP_HEADER = struct.Struct("!HHI4xBB").unpack_from  # ports, sequence number, data offset, flags
PORTS = struct.Struct("!HH").unpack_from
# The three above for the common frame in one call, from its ethertype on (an IPv4 header of 20
# bytes, the first 14 bytes of TCP, of which UDP reads the ports): one call instead of three. Its
# MACs are read apart (``MACS``) only when a flow needs them: most packets do not.
ETH_IPV4_L4 = struct.Struct("!HBxHxxHxB2x4s4sHHI4xBB").unpack_from
MACS = struct.Struct("!6s6s").unpack_from  # destination, source
# Marks the UDP tunnel ports in the meter's port table (the inventory's ports and these), so
# that the one lookup every UDP packet already makes also finds the tunnels: no added test
# on the common path.
TUNNEL = Protocol("tunnel", "udp", tuple(sorted(UDP_TUNNEL_PORTS)))


class FlowMeter:
    """Feed packets; finished flows, application records and inventory events collect in ``done``,
    ``records`` and ``events`` until a consumer ``take``s them."""

    def __init__(
        self,
        is_local: Callable[[bytes], bool],
        idle_s: float = 120.0,
        active_s: float = 1800.0,
        inventory: dict[int, Protocol] | None = None,
        max_flows: int = MAX_FLOWS,
        sessions: bool = True,
        keys: KeyLog | None = None,
    ) -> None:
        if idle_s <= 0 or active_s <= 0:
            raise ValueError("timeouts must be positive")
        self.max_flows = max_flows
        self.sessions = sessions  # application dissection (TLS, HTTP, DNS...) per flow
        self.keys = keys  # TLS session secrets (key logs, DSBs): TLS flows are decrypted and read on
        self.is_local = is_local
        self.idle = int(idle_s * NS)
        self.active = int(active_s * NS)
        self.inventory = INVENTORY_PORTS if inventory is None else inventory  # UDP port -> protocol
        self._udp_ports = {**self.inventory, **dict.fromkeys(UDP_TUNNEL_PORTS, TUNNEL)}
        self._depth = 0  # tunnels being read inside one another (``_tunnel``)
        self.table: dict[tuple[int, bytes, int, bytes, int], tuple[Flow, int]] = {}
        self.done: list[Flow] = []
        self.events: list[Event] = []
        self.records: list[Record] = []
        self.stats: Counter[str] = Counter()
        self.clock = 0
        self._next_sweep = 0
        self.frags = Reassembler()

    def take(self) -> tuple[list[Flow], list[Record], list[Event]]:
        """The flows finished, records read and inventory events seen since the last take; the
        meter starts new lists, so what it hands out is the caller's to keep."""
        out = self.done, self.records, self.events
        self.done, self.records, self.events = [], [], []
        return out

    # ---- per packet -------------------------------------------------------------------

    def feed(self, ts: int, lt: int, wirelen: int, data: Frame) -> None:
        """Account one captured frame of link type ``lt``."""
        self.feed_many(((ts, lt, wirelen, data),))

    def feed_many(self, packets: Iterable[Packet]) -> None:
        """Account captured frames ``(ts_ns, linktype, wire_length, bytes)``.

        One straight loop (link, network, transport, flow update) with its state in
        locals and no calls on the common path: this is the replay's hot loop.
        """
        stats = self.stats
        records = self.records
        table_get = self.table.get
        udp_ports = self._udp_ports
        idle = self.idle
        clock, next_sweep = self.clock, self._next_sweep
        # module constants and unpackers as locals: a local load is the cheapest in the loop
        eth_header, ipv4_header, tcp_header, ports = ETH_HEADER, IPV4_HEADER, TCP_HEADER, PORTS
        eth_ip4, macs = ETH_IPV4_L4, MACS
        shims, large, gap, linger = SHIMS, LARGE_PAYLOAD, BURST_GAP_NS, LINGER_NS
        for ts, lt, _wirelen, data in packets:
            newest = ts > clock  # later than every packet before it: so later than its flow's last
            if newest:
                clock = ts
                if ts >= next_sweep:
                    self.clock = clock
                    self._sweep(ts)
                    next_sweep = self._next_sweep
            size = len(data)
            # ---- the common frame in one unpack: Ethernet, IPv4 without options, not a fragment,
            # TCP or UDP (the lab's and a home's traffic); the same fields the general path reads
            # (literals, not the module's names, in its tests: a constant load is cheaper than a
            # global one; 0x0800 IPv4, 6 TCP, 17 UDP)
            if lt == 1 and size >= 48:
                et, vihl, tot, frag, proto, src, dst, sport, dport, seq, doff, flags = eth_ip4(data, 12)
                fast = et == 0x0800 and vihl == 0x45 and not frag & 0x3FFF
            else:
                fast = False
            if fast and (proto == 6 or proto == 17):
                smac = None  # read from the frame when a flow needs it (most packets do not)
                vlan = 0
                if tot < 20:  # TSO/GRO captures carry 0: trust the frame
                    tot = size - 14
                end = 14 + tot
                ipbytes = tot
                if proto == 6:
                    inv = None
                    ps = 34 + ((doff >> 4) << 2)
                    pl = end - ps
                else:
                    flags = 0
                    ps = 42
                    pl = seq = end - 42  # a UDP session reads seq as the length sent
                    inv = udp_ports.get(dport) or udp_ports.get(sport)
                    if inv is TUNNEL:
                        if self._tunnel(ts, clock, proto, sport, dport, data, ps, end):
                            continue
                        inv = None
            else:
                # ---- link layer
                if lt == 1 and size >= 34:
                    dmac, smac, et = eth_header(data, 0)
                    off = 14
                    vlan = 0
                    if et in shims:
                        l2 = LINK_DECODERS[1](data)
                        if l2 is None:
                            stats["l2_malformed"] += 1
                            continue
                        et, off, _s, _d, vlan = l2
                else:
                    dec = LINK_DECODERS.get(lt)
                    if dec is None:
                        stats[f"linktype_unsupported_{lt}"] += 1
                        continue
                    l2 = dec(data)
                    if l2 is None:
                        stats["l2_malformed"] += 1
                        continue
                    et, off, smac, dmac, vlan = l2
                # ---- network layer: leaves proto, src, dst, l4..end and the IP byte count
                if et == ETH_IPV4:
                    if size < off + 20:
                        stats["ipv4_malformed"] += 1
                        continue
                    vihl, tot, frag, proto, src, dst = ipv4_header(data, off)
                    ihl = (vihl & 0x0F) << 2
                    if vihl >> 4 != 4 or ihl < 20:
                        stats["ipv4_malformed"] += 1
                        continue
                    if tot < ihl:  # TSO/GRO captures carry 0: trust the frame
                        tot = size - off
                    if frag & 0x3FFF:
                        whole = self._fragment(ts, data, off, ihl, tot, proto, src, dst)
                        if whole is None:
                            continue
                        data, size = whole, len(whole)
                        l4, end, ipbytes = 0, size, ihl + size
                    else:
                        l4, end, ipbytes = off + ihl, off + tot, tot
                elif et == ETH_IPV6:
                    if size < off + 40:
                        stats["ipv6_malformed"] += 1
                        continue
                    ver, plen, proto, src, dst = IPV6_HEADER(data, off)
                    if ver >> 4 != 6:
                        stats["ipv6_malformed"] += 1
                        continue
                    if plen == 0:  # jumbogram or offloaded capture
                        plen = size - off - 40
                    l4 = off + 40
                    end = l4 + plen
                    ipbytes = plen + 40
                    while proto in IPV6_EXT:
                        if size < l4 + 8:  # an extension header cut short
                            proto = -1
                            break
                        hlen = (data[l4 + 1] + 2) << 2 if proto == 51 else (data[l4 + 1] + 1) << 3
                        proto = data[l4]
                        l4 += hlen
                    if proto < 0:
                        stats["ipv6_malformed"] += 1
                        continue
                    if proto == 44:
                        got = self._fragment6(ts, data, l4, end, src, dst)
                        if got is None:
                            continue
                        proto, data = got
                        size = len(data)
                        l4, end, ipbytes = 0, size, 40 + size
                elif et == ETH_ARP:
                    self._arp(ts, data, off)
                    continue
                else:
                    stats["non_ip"] += 1
                    continue
                # ---- transport layer
                flags = seq = 0
                inv = None
                if proto == TCP:
                    if size >= l4 + 14:
                        sport, dport, seq, doff, flags = tcp_header(data, l4)
                        ps = l4 + ((doff >> 4) << 2)
                        pl = end - ps
                    else:
                        stats["tcp_truncated"] += 1
                        if size < l4 + 4:
                            continue
                        sport, dport = ports(data, l4)
                        ps = end
                        pl = end - l4 - 20
                elif proto == UDP:
                    if size < l4 + 8:
                        stats["udp_truncated"] += 1
                        continue
                    sport, dport = ports(data, l4)
                    ps = l4 + 8
                    pl = seq = end - ps  # a UDP session reads seq as the length sent (a snap length may cut)
                    inv = udp_ports.get(dport) or udp_ports.get(sport)
                    if inv is TUNNEL:
                        if self._tunnel(ts, clock, proto, sport, dport, data, ps, end):
                            continue
                        inv = None
                elif proto in (ICMP, ICMP6):
                    if size < l4 + 2:
                        stats["icmp_truncated"] += 1
                        continue
                    sport = data[l4]
                    dport = (ICMP_PAIR if proto == ICMP else ICMP6_PAIR).get(sport, data[l4 + 1])
                    pl = end - l4 - 8
                    if proto == ICMP6 and 134 <= sport <= 136:
                        self._ndp(ts, data, l4, end, smac, src)
                elif proto in IP_TUNNELS and self._tunnel(ts, clock, proto, 0, 0, data, l4, end):
                    continue
                else:
                    sport = dport = 0
                    pl = end - l4
            if pl < 0:
                pl = 0
            # ---- flow update
            key = (proto, src, sport, dst, dport)
            hit = table_get(key)
            if hit is None:
                if smac is None:  # the common frame's addresses, read only when a flow needs them
                    dmac, smac = macs(data, 0)
                f, up = self._new_flow(
                    key, ts, proto, src, sport, dst, dport, ipbytes, pl, flags, smac, dmac, vlan
                )
            else:
                f, up = hit
                if (ts > f.idle_end and _stale(f, ts, idle)) or (
                    f.closed and (ts - f.closed > linger or flags & 0x12 == SYN)
                ):
                    self._expire(f, "idle" if not f.closed else f.end)
                    if smac is None:
                        dmac, smac = macs(data, 0)
                    f, up = self._new_flow(
                        key, ts, proto, src, sport, dst, dport, ipbytes, pl, flags, smac, dmac, vlan
                    )
                elif ts > f.active_end:  # ts - f.first > the active timeout
                    self._expire(f, "active")
                    if smac is None:
                        dmac, smac = macs(data, 0)
                    g, up = self._new_flow(
                        key, ts, proto, src, sport, dst, dport, ipbytes, pl, flags, smac, dmac, vlan, f
                    )
                    g.seq = f.seq + 1
                    f = g
                else:
                    if newest or ts > f.last:
                        f.last = ts
                    if up:
                        f.pk_up += 1
                        f.by_up += ipbytes
                        f.pl_up += pl
                        if flags:
                            f.fl_up |= flags
                            if flags & 0x05:
                                self._tcp_close(f, flags, ts, True)
                    else:
                        f.pk_dn += 1
                        f.by_dn += ipbytes
                        f.pl_dn += pl
                        if not f.rmac:
                            f.rmac = smac if smac is not None else macs(data, 0)[1]
                        if flags:
                            f.fl_dn |= flags
                            if flags & 0x12 == 0x12:
                                f.synack = True
                            if flags & 0x05:
                                self._tcp_close(f, flags, ts, False)
            # ---- payload bursts (the shape of what an encrypted flow carries)
            if pl:
                b = f.burst
                if b is None or ts - b[1] > gap:
                    b = f.new_burst(ts)
                b[1] = ts
                if up:
                    b[2] += pl
                    b[4] += 1
                    b[6] += pl * pl
                    if pl >= large:
                        b[8] += 1
                else:
                    b[3] += pl
                    b[5] += 1
                    b[7] += pl * pl
                    if pl >= large:
                        b[9] += 1
            # ---- payload, while the flow's session still wants it
            app = f.app
            if inv is not None:  # a datagram with inventory evidence (DHCP, mDNS, SSDP)
                if smac is None:
                    dmac, smac = macs(data, 0)
                self._datagram(inv, f, up, ts, pl, smac, src, bytes(data[ps:end]))
            elif (
                app is not None
                and (pl or flags & SYN)
                and not app.feed(records, f, up, ts, seq, bytes(data[ps:end]), flags & SYN)
            ):
                app.finish(records, f)
                f.app = None
        self.clock = clock

    def _new_flow(
        self,
        key: tuple[int, bytes, int, bytes, int],
        ts: int,
        proto: int,
        src: bytes,
        sport: int,
        dst: bytes,
        dport: int,
        ipbytes: int,
        pl: int,
        flags: int,
        smac: bytes,
        dmac: bytes,
        vlan: int,
        prev: Flow | None = None,
    ) -> tuple[Flow, int]:
        rkey = (proto, dst, dport, src, sport)
        # A continuation keeps its initiator; a new flow's is decided from its first packet.
        flipped = (
            (prev.a != src or prev.ap != sport)
            if prev is not None
            else sent_by_responder(proto, src, sport, dst, dport, flags, self.is_local)
        )
        if flipped:
            f = Flow(proto, dst, dport, src, sport, ts, dmac, smac, vlan)
            f.rmac = smac
            f.pk_dn, f.by_dn, f.pl_dn, f.fl_dn = 1, ipbytes, pl, flags
            if flags & 0x12 == 0x12:
                f.synack = True
            self.table[key] = (f, 0)
            self.table[rkey] = (f, 1)
        else:
            f = Flow(proto, src, sport, dst, dport, ts, smac, dmac, vlan)
            f.pk_up, f.by_up, f.pl_up, f.fl_up = 1, ipbytes, pl, flags
            self.table[key] = (f, 1)
            self.table[rkey] = (f, 0)
        f.active_end = ts + self.active
        f.idle_end = ts + self.idle
        if flags & 0x05:
            self._tcp_close(f, flags, ts, not flipped)
        if prev is not None:  # a continuation reads on where its predecessor was
            f.app, f.l7, prev.app = prev.app, prev.l7, None
            f.prev = prev
        elif self.sessions:
            f.app = f.l7 = new_session(proto, sport, dport, self.stats, self.keys)
        if len(self.table) > 2 * self.max_flows:
            self.stats["flow_table_full_sweeps"] += 1
            self._sweep(self.clock, force=True)
        return f, 0 if flipped else 1

    def _tcp_close(self, f: Flow, flags: int, ts: int, up: bool) -> None:
        if flags & RST:
            f.rst = True
            f.closed, f.end = ts, "rst"
            return
        if up:
            f.fin_up = True
        else:
            f.fin_dn = True
        if f.fin_up and f.fin_dn:
            f.closed, f.end = ts, "fin"

    def _expire(self, f: Flow, reason: str) -> None:
        f.end = reason
        if f.app is not None and reason != "active":
            f.app.finish(self.records, f)
            f.app = None
        k = (f.proto, f.a, f.ap, f.b, f.bp)
        r = (f.proto, f.b, f.bp, f.a, f.ap)
        if self.table.get(k, (None,))[0] is f:
            del self.table[k]
        if self.table.get(r, (None,))[0] is f:
            del self.table[r]
        self.done.append(f)

    def expire_idle(self, now: int) -> None:
        """Expire flows idle at ``now`` (ns): a live capture's clock ticks when no packet comes."""
        if now >= self.clock:
            self._sweep(now)

    def _sweep(self, now: int, force: bool = False) -> None:
        """Expire idle and lingering-closed flows; each flow is listed under two keys."""
        self._next_sweep = now + SWEEP_EVERY_NS
        idle = self.idle // 4 if force else self.idle
        stale = []
        for f, up in self.table.values():
            if not up:
                continue
            if now - f.last > idle or (f.closed and now - f.closed > LINGER_NS):
                stale.append(f)
        if force and len(self.table) - 2 * len(stale) > 2 * self.max_flows * 3 // 4:
            live = sorted((f for f, up in self.table.values() if up), key=lambda f: f.last)
            stale = live[: len(live) - self.max_flows * 3 // 4]
        for f in stale:
            self._expire(f, f.end if f.closed else ("evicted" if force else "idle"))
        if force:
            self.stats["flows_evicted"] += len(stale)

    def flush(self) -> None:
        """End of input: every flow still open ends with reason ``eof``."""
        for f in [f for f, up in self.table.values() if up]:
            self._expire(f, f.end if f.closed else "eof")
        for reason, n in self.frags.flush().items():
            self.stats[reason] += n

    # ---- slow paths --------------------------------------------------------------------

    def _datagram(
        self, inv: Protocol, f: Flow, up: int, ts: int, pl: int, smac: bytes, src: bytes, payload: bytes
    ) -> None:
        """A datagram on an inventory port: the flow's session reads it once for both its records
        and the inventory when the session reads that protocol; else (sessions off, or the flow's
        first ports named another protocol) the inventory reads it on its own."""
        app = f.app
        if pl and isinstance(app, UdpSession) and app.proto is inv:
            more = app.feed_seen(self.records, self.events, f, up == 1, ts, payload, smac, src, pl)
        else:
            self._seen(inv, ts, smac, src, payload, pl > len(payload))
            if app is None or not pl:
                return
            more = app.feed(self.records, f, up, ts, pl, payload, 0)
        if not more:
            app.finish(self.records, f)
            f.app = None

    def _seen(self, inv: Protocol, ts: int, smac: bytes, src: bytes, payload: bytes, cut: bool) -> None:
        """The inventory evidence of a datagram no session reads as ``inv`` (read as far as it goes
        when the snap length ``cut`` it); counted here only when sessions are off (else the flow's
        session counts the datagram)."""
        dgram = inv.datagram
        assert dgram is not None and inv.inventory is not None
        parse = dgram.partial if cut and dgram.partial is not None else dgram.parse
        try:
            self.events.extend(inv.inventory(ts, smac, src, parse(payload)))
            if not self.sessions:
                self.stats[f"{'truncated' if cut else 'dissected'}_{inv.name}"] += 1
        except MALFORMED:
            if not self.sessions:
                self.stats[f"{'truncated' if cut else 'malformed'}_{inv.name}"] += 1

    def _fragment(
        self, ts: int, data: Frame, off: int, ihl: int, tot: int, proto: int, src: bytes, dst: bytes
    ) -> bytes | None:
        """Add an IPv4 fragment; the reassembled transport bytes once the datagram is whole."""
        self.stats["ipv4_fragments"] += 1
        ff = (data[off + 6] << 8) | data[off + 7]
        ident = (data[off + 4] << 8) | data[off + 5]
        whole = self.frags.add(
            ts,
            (4, src, dst, ident, proto),
            (ff & 0x1FFF) * 8,
            bool(ff & 0x2000),
            bytes(data[off + ihl : off + tot]),
        )
        if whole is not None:
            self.stats["ipv4_reassembled"] += 1
        return whole

    def _fragment6(
        self, ts: int, data: Frame, l4: int, end: int, src: bytes, dst: bytes
    ) -> tuple[int, bytes] | None:
        """Add an IPv6 fragment; (next header, transport bytes) once the datagram is whole."""
        self.stats["ipv6_fragments"] += 1
        if len(data) < l4 + 8:
            self.stats["ipv6_malformed"] += 1
            return None
        nxt = data[l4]
        fo = (data[l4 + 2] << 8) | data[l4 + 3]
        ident = int.from_bytes(data[l4 + 4 : l4 + 8], "big")
        whole = self.frags.add(
            ts, (6, src, dst, ident, nxt), fo & 0xFFF8, bool(fo & 1), bytes(data[l4 + 8 : end])
        )
        if whole is None:
            return None
        self.stats["ipv6_reassembled"] += 1
        return nxt, whole

    def _tunnel(
        self, ts: int, clock: int, proto: int, sport: int, dport: int, data: Frame, at: int, end: int
    ) -> bool:
        """Account the packet a tunnel carries as its own (``parsers.tunnels``); False when the
        payload is no tunnel packet this meter unwraps, or tunnels nest too deep: the caller then
        accounts the outer packet."""
        got = inner(proto, sport, dport, data, at, end)
        if got is None:
            return False
        if self._depth >= MAX_DEPTH:
            self.stats["tunnel_too_deep"] += 1
            return False
        kind, lt, start, stop = got
        self.stats[f"tunnel_{kind}"] += 1
        self.clock = clock  # the inner packet reads the clock this loop keeps in a local
        self._depth += 1
        try:
            self.feed_many(((ts, lt, stop - start, data[start:stop]),))
        finally:
            self._depth -= 1
        return True

    def _arp(self, ts: int, data: Frame, off: int) -> None:
        self.stats["arp"] += 1
        try:
            seen = arp_event(ts, data, off)
        except ValueError:
            self.stats["arp_malformed"] += 1
            return
        if seen is not None:
            self.events.append(seen)

    def _ndp(self, ts: int, data: Frame, l4: int, end: int, smac: bytes, src: bytes) -> None:
        if data[l4] == 134:  # a router advertisement: the router and the LAN's prefixes
            self.events.extend(ra_events(ts, data, l4, end, smac))
            return
        seen = ndp_event(ts, data, l4, end, smac, src)
        if seen is not None:
            self.events.append(seen)


def _stale(f: Flow, ts: int, idle: int) -> bool:
    """Whether ``f`` was idle longer than ``idle`` when a packet came at ``ts``, tested exactly once
    the packet is past ``f.idle_end``; if it was not, ``f.idle_end`` moves to ``ts + idle``, which
    stays at or before the flow's last packet's time plus ``idle`` (its last is at least ``ts``
    once this packet is counted), so the loop's comparison with it never misses an idle flow."""
    if ts - f.last > idle:
        return True
    f.idle_end = ts + idle
    return False
