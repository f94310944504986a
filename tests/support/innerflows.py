"""Flows by their innermost 5-tuple, as tshark dissects them and as the flow meter counts them.

tshark (the dissection oracle) prints every occurrence of a field, outermost first; the
last ``ip``/``ipv6`` and ``tcp``/``udp`` layers of a frame are the packet a tunnel carried, or
the packet itself when there is no tunnel. Frames holding ICMP are left out on both sides
(an ICMP error quotes another packet's headers, which tshark would list last).
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

from parsers.capture import read_batches
from parsers.lan import DEFAULT_LAN, LanPrefixes, ip_text
from parsers.meter import FlowMeter

# (protocol, the two (address, port) ends in sorted order)
Undirected = tuple[int, tuple[str, int], tuple[str, int]]
FIELDS = (
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
)


def _undirected(proto: int, a: tuple[str, int], b: tuple[str, int]) -> Undirected:
    return (proto, a, b) if a <= b else (proto, b, a)


def tshark_inner_flows(path: Path) -> Counter[Undirected]:
    """Packets per innermost TCP/UDP flow, as tshark 4.0 reads the capture."""
    args = ["tshark", "-n", "-r", str(path), "-Y", "(tcp or udp) and not icmp and not icmpv6", "-T", "fields"]
    for f in (*FIELDS, "frame.protocols"):
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True).stdout
    flows: Counter[Undirected] = Counter()
    for line in out.splitlines():
        v = [x.split(",")[-1] for x in line.split("\t")]
        layers = line.split("\t")[-1].split(":")
        v4 = [p for p in layers if p in ("ip", "ipv6")][-1] == "ip"
        tcp = [p for p in layers if p in ("tcp", "udp")][-1] == "tcp"
        src, dst = (v[0], v[1]) if v4 else (v[2], v[3])
        sport, dport = (v[4], v[5]) if tcp else (v[6], v[7])
        flows[_undirected(6 if tcp else 17, (src, int(sport)), (dst, int(dport)))] += 1
    return flows


def meter_flows(path: Path) -> tuple[Counter[Undirected], Counter[str], FlowMeter]:
    """Packets per TCP/UDP flow as the meter counts them (records of one flow summed), its counters,
    and the meter (its finished flows still in ``done``)."""
    meter = FlowMeter(LanPrefixes(DEFAULT_LAN).is_local)
    for batch in read_batches(str(path)):
        meter.feed_many(batch)
    meter.flush()
    flows: Counter[Undirected] = Counter()
    for f in meter.done:
        if f.proto in (6, 17):
            flows[_undirected(f.proto, (ip_text(f.a), f.ap), (ip_text(f.b), f.bp))] += f.pk_up + f.pk_dn
    return flows, meter.stats, meter
