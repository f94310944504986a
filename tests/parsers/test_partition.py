"""A capture split among replay workers (``parsers.partition``, issue 20): every packet read by one
worker, the context by all; both directions, every fragment and every flow of an address pair in
one worker; each worker's meters sweep where the whole capture's meter sweeps."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import ICMPv6ND_NS, IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether

from parsers.capture import Packet, ReadStats, read_batches
from parsers.capture_write import PcapWriter
from parsers.meter import SWEEP_EVERY_NS, FlowMeter
from parsers.partition import CTX, OWN, TICK, Partition, classify, pair_worker

NS = 1_000_000_000
DEV = [f"192.168.1.{i}" for i in range(10, 16)]
REMOTE = [f"203.0.113.{i}" for i in range(1, 40)]


def _frames() -> list[tuple[bytes, str]]:
    """(frame, what) for a little of everything the partition must place."""
    out: list[tuple[bytes, str]] = []
    for i, dev in enumerate(DEV):
        for j, rem in enumerate(REMOTE[i::3]):
            up = Ether() / IP(src=dev, dst=rem) / TCP(sport=40000 + j, dport=443, flags="PA") / (b"x" * 20)
            down = Ether() / IP(src=rem, dst=dev) / TCP(sport=443, dport=40000 + j, flags="A")
            out += [(bytes(up), f"tcp {dev} {rem}"), (bytes(down), f"tcp {dev} {rem}")]
        big = IP(src=dev, dst=REMOTE[i], id=100 + i) / UDP(sport=5000, dport=6000) / (b"y" * 3000)
        out += [(bytes(Ether() / f), f"frag {dev} {REMOTE[i]}") for f in fragment(big, fragsize=1000)]
        dns = (
            Ether()
            / IP(src=dev, dst="192.168.1.1")
            / UDP(sport=33000, dport=53)
            / DNS(qd=DNSQR(qname="a.example"))
        )
        out.append((bytes(dns), "ctx dns"))
        dhcp = Ether() / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67) / (b"\x01" * 240)
        out.append((bytes(dhcp), "ctx dhcp"))
        out.append((bytes(Ether() / ARP(psrc=dev, pdst="192.168.1.1")), "ctx arp"))
        tagged = Ether() / Dot1Q(vlan=7) / IP(src=dev, dst=REMOTE[-1]) / UDP(sport=7000, dport=7001) / b"z"
        out.append((bytes(tagged), f"vlan {dev} {REMOTE[-1]}"))
        v6 = Ether() / IPv6(src=f"2001:db8::{i + 1}", dst="2001:db8:1::1") / TCP(sport=41000, dport=80)
        out.append((bytes(v6), f"v6 {i}"))
        ns = Ether() / IPv6(src=f"fe80::{i + 1}", dst="ff02::1:ff00:1") / ICMPv6ND_NS(tgt="fe80::1")
        out.append((bytes(ns), "ctx ndp"))
    return out


def _packets() -> list[Packet]:
    """The frames spread over ten minutes, with gaps over a sweep's period."""
    frames = _frames()
    step = 600 * NS // len(frames)
    return [(1_700_000_000 * NS + i * step, 1, len(f), f) for i, (f, _w) in enumerate(frames)]


def test_every_packet_is_one_workers_and_the_context_everyones() -> None:
    packets = _packets()
    whats = [w for _f, w in _frames()]
    for n in (2, 3, 5):
        parts = [Partition(k, n) for k in range(n)]
        owner: dict[int, int] = {}
        ctx_seen: dict[int, int] = {}
        for k, part in enumerate(parts):
            main, ctx = part.split(packets)
            for p in main:
                if p[1] != TICK:
                    i = packets.index(p)
                    assert i not in owner, (whats[i], n)
                    owner[i] = k
            for p in ctx:
                if p[1] != TICK:
                    ctx_seen[packets.index(p)] = ctx_seen.get(packets.index(p), 0) + 1
        for i, what in enumerate(whats):
            if what.startswith("ctx"):
                assert ctx_seen.get(i) == n and i not in owner, what
            else:
                assert i in owner and i not in ctx_seen, what
        by_pair: dict[str, set[int]] = {}
        for i, what in enumerate(whats):
            if not what.startswith("ctx"):
                by_pair.setdefault(what, set()).add(owner[i])
        assert all(len(ws) == 1 for ws in by_pair.values()), by_pair  # directions and fragments together
        assert len({w for ws in by_pair.values() for w in ws}) == n  # and every worker has a share


def test_the_reader_and_a_flows_addresses_name_the_same_worker() -> None:
    for frame, what in _frames():
        if what.startswith(("tcp", "vlan")):
            _kind, a, b = what.split()
            w, kind = classify(1, frame, 3)
            assert kind == OWN and w == pair_worker(
                bytes(map(int, a.split("."))), bytes(map(int, b.split("."))), 3
            )
        elif what.startswith("ctx"):
            assert classify(1, frame, 3)[1] == CTX


def _sweeps(packets: list[Packet]) -> list[int]:
    """The times a flow meter fed ``packets`` sweeps at."""
    meter = FlowMeter(lambda _a: False)
    seen = []
    for p in packets:
        before = meter._next_sweep
        meter.feed_many([p])
        if meter._next_sweep != before:
            seen.append(p[0])
    return seen


def test_each_workers_meters_sweep_where_the_whole_captures_meter_sweeps() -> None:
    packets = _packets()
    whole = _sweeps(packets)
    assert len(whole) >= 600 * NS // SWEEP_EVERY_NS - 1
    for k in range(3):
        main, ctx = Partition(k, 3).split(packets)
        assert _sweeps(main) == whole and _sweeps(ctx) == whole


@functools.cache
def _long_capture() -> list[Packet]:
    """The frames forty times over an hour: several reader windows, a hundred sweeps, some time
    going back and standing still (the clock and the sweeps follow the latest time), and frames
    shorter than the common frame's fields."""
    frames = [f for f, _w in _frames()]
    frames += [bytes(Ether() / IP(src=DEV[0], dst=REMOTE[0]) / UDP(sport=1, dport=2))[:30], bytes(Ether())]
    out: list[Packet] = []
    t = 1_700_000_000 * NS
    step = 3600 * NS // (40 * len(frames))
    for r in range(40):
        for i, f in enumerate(frames):
            t += step if i % 17 else -7 * step if i % 34 else 0
            out.append((t, 1, len(f) + r % 3, f))
    return out


def _write(path: Path, packets: list[Packet], **kw: object) -> None:
    with path.open("wb") as fh, PcapWriter(fh, **kw) as w:  # type: ignore[arg-type]
        for ts, _lt, orig, frame in packets:
            w.write(ts, bytes(frame), orig)


def _split_read(path: Path, k: int, n: int, walk: bool) -> tuple[list[Packet], list[Packet], ReadStats, int]:
    part = Partition(k, n)
    st = ReadStats()
    main: list[Packet] = []
    ctx: list[Packet] = []
    batches = 0
    for batch in read_batches(str(path), st, walker=part.walker if walk else None):
        m, c = part.split(batch)
        main += [(p[0], p[1], p[2], bytes(p[3])) for p in m]
        ctx += [(p[0], p[1], p[2], bytes(p[3])) for p in c]
        batches += 1
    assert part.seen == st.packets
    return main, ctx, st, batches


@pytest.mark.parametrize(
    ("layout", "linktype"),
    (({}, 1), ({"nano": True, "order": ">"}, 1), ({}, 101), ({"cut": 50}, 1)),
    ids=("little-endian-us", "big-endian-ns", "raw-ip", "cut-short"),
)
def test_a_workers_walk_of_a_pcap_keeps_what_reading_and_splitting_keep(
    tmp_path: Path, layout: dict[str, object], linktype: int
) -> None:
    """The walker (``Partition.walker``) hands each worker the same packets and ticks, in the same
    order, as reading every packet and splitting the batches; the reader counts the same."""
    packets = list(_long_capture())
    if linktype == 101:  # raw IP: the Ethernet header gone, the general classification for all
        ip = (b"\x08\x00", b"\x86\xdd")
        packets = [(t, 101, o - 14, f[14:]) for t, _lt, o, f in packets if f[12:14] in ip]
    cut = int(layout.pop("cut", 0))  # type: ignore[call-overload]
    path = tmp_path / "c.pcap"
    _write(path, packets, linktype=linktype, **layout)
    if cut:
        path.write_bytes(path.read_bytes()[:-cut])
    for n in (2, 3):
        for k in range(n):
            main, ctx, st, batches = _split_read(path, k, n, walk=False)
            w_main, w_ctx, w_st, w_batches = _split_read(path, k, n, walk=True)
            assert batches >= 3 and w_batches == batches
            assert w_main == main and w_ctx == ctx
            assert dataclasses.asdict(w_st) == dataclasses.asdict(st)
            assert sum(p[1] == TICK for p in main + ctx) >= 90 and any(p[1] != TICK for p in main)
    assert st.truncated == bool(cut) and (st.packets < len(packets)) == bool(cut)
