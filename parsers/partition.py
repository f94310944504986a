"""One capture's packets split among replay workers, by a symmetric hash of the address pair.

``tapaudit replay --jobs N`` (issue 20) runs N worker processes that each read the whole
capture and keep their share of it: a packet belongs to worker ``hash(sorted(src, dst)) % N``,
so both directions of a flow, every fragment of a datagram (later fragments carry no ports) and
every flow between the same two hosts go to one worker. Deciding costs a few field reads on the
raw frame, much less than what the worker skips (decode, flow update, dissection, rows).

Some packets are evidence every worker needs, because the inventory and the destination names
are read from them for every flow: ARP and NDP (who holds a local address), DHCP, DHCPv6, mDNS
and SSDP (names, leases, announced prefixes) and DNS answers (a flow's destination name). Those
are the *context* (``CTX``): every worker reads them, into a meter of their own, and only the
address pair's owner writes their rows.

A flow meter ends idle flows at sweeps timed by the capture's clock (``parsers.meter``): a worker's
meter, which sees only its share, is given a *tick* (``TICK``, a frame of an unknown link type) at
each packet where the whole capture's meter would sweep, so that every flow ends at the same place
in the capture as it does in one process. The meter counts the ticks as an unsupported link type;
``TICK_STAT`` names that counter for the caller to take out.

Every worker walks every record, so what it spends on the packets it skips does not divide among
workers: reading a classic pcap, a worker hands the reader its own record walk (``Partition.walker``)
that classifies each record from its bytes at fixed offsets and builds a packet only to keep it.
"""

from __future__ import annotations

import struct

from parsers.capture import Frame, Packet, Walker
from parsers.linklayer import ETH_ARP, ETH_IPV4, ETH_IPV6, LINK_DECODERS, SHIMS
from parsers.meter import SWEEP_EVERY_NS

TICK = -20  # the link type of a sweep tick: no decoder has it
TICK_STAT = f"linktype_unsupported_{TICK}"
OWN, CTX, SKIP = 0, 1, 2
# Transport ports whose datagrams or streams hold inventory or naming evidence (parsers.registry:
# the DNS, mDNS and LLMNR readers, the inventory's DHCP, DHCPv6, mDNS and SSDP extractors).
CTX_UDP = frozenset((53, 5353, 5355, 67, 68, 546, 547, 1900))
CTX_TCP = frozenset((53, 5353))
IPV6_EXT = frozenset((0, 43, 60, 51, 135, 139, 140))  # as the meter walks them (44, fragment, ends)
ETH = struct.Struct("!6s6sH").unpack_from
# Ethernet, then IPv4 with a 20-byte header, then the ports: the common frame in one unpack
# (ethertype, version/IHL, fragment field, protocol, source, destination, ports)
ETH_IP4_PORTS = struct.Struct("!12xHBxxxxxHxBxxIIHH").unpack_from
PORTS = struct.Struct("!HH").unpack_from


def mix(x: int) -> int:
    """32 well-mixed bits of an address pair's XOR (the XOR is what makes the pair symmetric):
    the halves of an IPv6 XOR folded, then a Fibonacci multiply (Knuth, TAOCP 6.4)."""
    x ^= x >> 64
    x ^= x >> 32
    return ((x & 0xFFFFFFFF) * 0x9E3779B1 & 0xFFFFFFFF) >> 16


def pair_worker(a: bytes, b: bytes, n: int) -> int:
    """The worker of the address pair (a, b) among ``n``: the same for (b, a)."""
    return mix(int.from_bytes(a, "big") ^ int.from_bytes(b, "big")) % n


def classify(lt: int, data: Frame, n: int) -> tuple[int, int]:
    """(worker, kind) of one frame: the address pair's worker, and ``CTX`` for the context every
    worker reads (the worker then only writes its rows), else ``OWN``. Frames the meter cannot read
    as IP go to worker 0; ARP is context."""
    if lt == 1 and len(data) >= 34:
        et = ETH(data, 0)[2]
        off = 14
        if et in SHIMS:
            l2 = LINK_DECODERS[1](data)
            if l2 is None:
                return 0, OWN
            et, off = l2[0], l2[1]
    else:
        dec = LINK_DECODERS.get(lt)
        l2 = dec(data) if dec is not None else None
        if l2 is None:
            return 0, OWN
        et, off = l2[0], l2[1]
    size = len(data)
    if et == ETH_IPV4:
        if size < off + 20:
            return 0, OWN
        ihl = (data[off] & 0x0F) << 2
        w = pair_worker(bytes(data[off + 12 : off + 16]), bytes(data[off + 16 : off + 20]), n)
        if data[off + 6] & 0x3F or data[off + 7]:  # a fragment: ports only in the first
            return w, OWN
        proto, l4 = data[off + 9], off + ihl
    elif et == ETH_IPV6:
        if size < off + 40:
            return 0, OWN
        w = pair_worker(bytes(data[off + 8 : off + 24]), bytes(data[off + 24 : off + 40]), n)
        proto, l4 = data[off + 6], off + 40
        while proto in IPV6_EXT:
            if size < l4 + 8:
                return w, OWN
            hlen = (data[l4 + 1] + 2) << 2 if proto == 51 else (data[l4 + 1] + 1) << 3
            proto = data[l4]
            l4 += hlen
        if proto == 58:  # ICMPv6: neighbour discovery, router advertisements
            return w, CTX
    elif et == ETH_ARP:
        return 0, CTX
    else:
        return 0, OWN
    if proto == 17 or proto == 6:
        if size < l4 + 4:
            return w, OWN
        sport, dport = PORTS(data, l4)
        ports = CTX_UDP if proto == 17 else CTX_TCP
        if sport in ports or dport in ports:
            return w, CTX
    return w, OWN


class Partition:
    """Worker ``k`` of ``n``: splits each batch of the capture into what its main meter reads (its
    own packets, context excluded) and what its context meter reads (all the context), each with
    the sweep ticks the whole capture's meter would have had."""

    def __init__(self, k: int, n: int) -> None:
        if not 0 <= k < n:
            raise ValueError(f"worker {k} of {n}")
        self.k, self.n = k, n
        self.clock = 0
        self.next_sweep = 0  # as parsers.meter.FlowMeter keeps it: the first packet sweeps
        self.ctx_packets = 0
        self.walked: tuple[list[Packet], list[Packet]] = ([], [])  # what the walker kept since split
        self.seen = 0  # records split or walked

    def split(self, batch: list[Packet]) -> tuple[list[Packet], list[Packet]]:
        """(main, context) packets of one batch, in capture order, with ticks; of an empty batch, what
        the walker kept since the last call (the reader yields empty batches when it has one)."""
        if not batch:
            got, self.walked = self.walked, ([], [])
            return got
        self.seen += len(batch)
        k, n = self.k, self.n
        main: list[Packet] = []
        ctx: list[Packet] = []
        clock, next_sweep = self.clock, self.next_sweep
        fast = ETH_IP4_PORTS
        ctx_udp, ctx_tcp = CTX_UDP, CTX_TCP
        for p in batch:
            ts, lt, _wl, data = p
            sweep = False
            if ts > clock:
                clock = ts
                if ts >= next_sweep:
                    next_sweep = ts + SWEEP_EVERY_NS
                    sweep = True
            if lt == 1 and len(data) >= 38:
                et, vihl, frag, proto, src, dst, sport, dport = fast(data, 0)
                if et == 0x0800 and vihl == 0x45 and not frag & 0x3FFF and (proto == 6 or proto == 17):
                    x = src ^ dst
                    x = ((x ^ (x >> 32)) * 0x9E3779B1 & 0xFFFFFFFF) >> 16
                    if proto == 6:
                        kind = CTX if sport in ctx_tcp or dport in ctx_tcp else OWN
                    else:
                        kind = CTX if sport in ctx_udp or dport in ctx_udp else OWN
                    w = x % n
                else:
                    w, kind = classify(lt, data, n)
            else:
                w, kind = classify(lt, data, n)
            if kind == CTX:
                ctx.append(p)
                self.ctx_packets += 1
                if sweep:
                    main.append((ts, TICK, 0, b""))
            elif w == k:
                main.append(p)
                if sweep:
                    ctx.append((ts, TICK, 0, b""))
            elif sweep:
                tick = (ts, TICK, 0, b"")
                main.append(tick)
                ctx.append(tick)
        self.clock, self.next_sweep = clock, next_sweep
        return main, ctx

    def walker(self, hlen: int, order: str, mult: int, linktype: int, limit: int) -> Walker:
        """This worker's walk of one classic pcap file (``parsers.capture.Walker``): ``split``'s
        choices made for a window of records at once, a packet built only for what this worker
        keeps; ``split`` of the empty batch the reader then yields hands them out."""
        from parsers.partition_walk import make_walker  # numpy: chDB's session has loaded it already

        return make_walker(self, hlen, order, mult, linktype, limit)

    def owns(self, a: bytes, b: bytes) -> bool:
        """True if this worker writes the rows of a flow between ``a`` and ``b``."""
        return self.n == 1 or pair_worker(a, b, self.n) == self.k
