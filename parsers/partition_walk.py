"""A ``--jobs`` worker's walk of a classic pcap: its share picked from a window of records at once.

Every worker of ``tapaudit replay --jobs N`` (issue 20) walks every record of the capture, so what
it spends per record it skips does not divide among workers. Here the record walk in Python only
finds where each record starts (from its captured length); the fields ``Partition.split`` reads
(the record header's timestamp and lengths, then Ethernet, IPv4 and the ports) are gathered for the
whole window in a few numpy operations, the common frame (Ethernet, IPv4 without options, not a
fragment, TCP or UDP) is classified there as ``split`` classifies it, and a packet is built only
for a record the worker keeps. Any other frame is classified one at a time by
``parsers.partition.classify``, as ``split`` does. Reading and splitting, then this walk, CPU-s
per worker at the median of alternated pairs (load 4-5): the 1M-packet lab capture 0.97 then 0.72
(0.75x, six pairs), the detector-heavy capture (smaller packets) 0.82 then 0.45 (0.55x, four pairs);
the same packets, ticks and counts (``tests/parsers/test_partition.py`` compares both walks).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import numpy as np

from parsers.capture import Walker
from parsers.meter import SWEEP_EVERY_NS

if TYPE_CHECKING:
    from parsers.partition import Partition

FRAME = 38  # Ethernet + a 20-byte IPv4 header + the ports: what the common frame's split reads
SKIP, MAIN, CTXK, SLOW = 0, 1, 2, 3


def _lut(ports: frozenset[int]) -> np.ndarray:
    lut = np.zeros(65536, dtype=bool)
    lut[list(ports)] = True
    return lut


def make_walker(part: Partition, hlen: int, order: str, mult: int, linktype: int, limit: int) -> Walker:
    """The ``parsers.capture.Walker`` of worker ``part`` for one pcap file's layout."""
    from parsers.partition import CTX, CTX_TCP, CTX_UDP, TICK, classify

    incl_at = struct.Struct(order + "I").unpack_from
    u32 = np.dtype(order + "u4")
    k, n = part.k, part.n
    eth = linktype == 1
    udp_lut, tcp_lut = _lut(CTX_UDP), _lut(CTX_TCP)
    # a record's header (the first 16 bytes of any variant) and its frame's first FRAME bytes, and
    # the fields read from them (the frame's in network byte order, as ``Partition.split`` reads them)
    gather = np.concatenate((np.arange(16), hlen + np.arange(FRAME)))
    fields = np.dtype(
        {
            "names": [
                "sec",
                "frac",
                "incl",
                "orig",
                "et",
                "vihl",
                "frag",
                "proto",
                "src",
                "dst",
                "sport",
                "dport",
            ],
            "formats": [u32, u32, u32, u32, ">u2", "u1", ">u2", "u1", ">u4", ">u4", ">u2", ">u2"],
            "offsets": [0, 4, 8, 12, 28, 30, 36, 39, 42, 46, 50, 52],
            "itemsize": 16 + FRAME,
        }
    )

    def walk(buf: bytes, view: memoryview, pos: int, stop: int, size: int) -> tuple[int, int, int, int, int]:
        starts: list[int] = []
        add = starts.append
        while stop - pos >= hlen:
            incl = incl_at(buf, pos + 8)[0]
            end = pos + hlen + incl
            if end > size or incl > limit:
                break
            add(pos)
            pos = end
        count = len(starts)
        if not count:
            return pos, 0, 0, 0, 0
        raw = np.frombuffer(buf, dtype=np.uint8, count=size)
        at = np.array(starts, dtype=np.int64)
        idx = at[:, None] + gather
        np.minimum(idx, size - 1, out=idx)  # a shorter frame's gathered tail is not read
        rec = raw[idx].view(fields)[:, 0]  # each record's header and its frame's first bytes
        caps = rec["incl"].astype(np.int64)
        ts = rec["sec"].astype(np.int64) * 1_000_000_000 + rec["frac"].astype(np.int64) * mult
        code = np.full(count, SLOW, dtype=np.int8)
        if eth:
            proto = rec["proto"]
            fast = (
                (caps >= FRAME)
                & (rec["et"] == 0x0800)
                & (rec["vihl"] == 0x45)
                & ((rec["frag"] & 0x3FFF) == 0)
                & ((proto == 6) | (proto == 17))
            )
            sport, dport = rec["sport"], rec["dport"]
            # parsers.partition.mix of an IPv4 pair (its 64- and 32-bit folds leave 32 bits as they are)
            w = (((rec["src"] ^ rec["dst"]).astype(np.uint64) * 0x9E3779B1 & 0xFFFFFFFF) >> 16) % n
            ctx = np.where(proto == 6, tcp_lut[sport] | tcp_lut[dport], udp_lut[sport] | udp_lut[dport])
            code[fast] = np.where(ctx, CTXK, np.where(w == k, MAIN, SKIP))[fast]
        # sweeps: where the whole capture's meter sweeps (parsers.meter: a packet later than every
        # one before it and at least SWEEP_EVERY_NS after the previous sweep)
        clock, next_sweep = part.clock, part.next_sweep
        sweeps: set[int] = set()
        latest = np.maximum.accumulate(ts)
        top = int(latest[-1])
        while top >= max(next_sweep, clock + 1):
            i = int(np.searchsorted(latest, max(next_sweep, clock + 1)))
            sweeps.add(i)
            clock = int(ts[i])
            next_sweep = clock + SWEEP_EVERY_NS
        part.clock, part.next_sweep = max(clock, top), next_sweep
        first = at + hlen
        for i in np.flatnonzero(code == SLOW).tolist():  # frames the fast classification does not cover
            b = int(first[i])
            wk, ck = classify(linktype, view[b : b + int(caps[i])], n)
            code[i] = CTXK if ck == CTX else MAIN if wk == k else SKIP
        main, ctxs = part.walked
        last = first + caps
        orig = rec["orig"]
        is_ctx = code == CTXK
        nctx = int(np.count_nonzero(is_ctx))
        if not sweeps:  # the common window: each list's packets in capture order
            for out, sel in ((main, code == MAIN), (ctxs, is_ctx)):
                pick = np.flatnonzero(sel)
                out += [
                    (t, linktype, o, view[b:e])
                    for t, o, b, e in zip(
                        ts[pick].tolist(),
                        orig[pick].tolist(),
                        first[pick].tolist(),
                        last[pick].tolist(),
                        strict=True,
                    )
                ]
        else:  # a sweep's tick goes to each meter at its place among the packets
            keep = code != SKIP
            keep[list(sweeps)] = True
            pick = np.flatnonzero(keep)
            for i, t, o, b, e, kind in zip(
                pick.tolist(),
                ts[pick].tolist(),
                orig[pick].tolist(),
                first[pick].tolist(),
                last[pick].tolist(),
                code[pick].tolist(),
                strict=True,
            ):
                tick = i in sweeps
                if kind == MAIN:
                    main.append((t, linktype, o, view[b:e]))
                    if tick:
                        ctxs.append((t, TICK, 0, b""))
                elif kind == CTXK:
                    ctxs.append((t, linktype, o, view[b:e]))
                    if tick:
                        main.append((t, TICK, 0, b""))
                else:
                    mark = (t, TICK, 0, b"")
                    main.append(mark)
                    ctxs.append(mark)
        part.ctx_packets += nctx
        part.seen += count
        return pos, count, int(caps.sum()), int(ts[0]), int(ts[-1])

    return walk
