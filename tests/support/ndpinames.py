"""Test harness: the names nDPI's ndpiReader gave flows (result/*.out) next to the names tapaudit extracts."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from parsers.capture import read_batches
from parsers.events import AppRecord, DnsRecord
from parsers.lan import DEFAULT_LAN, LanPrefixes, ip_text
from parsers.meter import FlowMeter

LINE = re.compile(
    r"^\s+\d+\s+(TCP|UDP) (\[?[0-9a-fA-F:.]+\]?):(\d+) <?-> (\[?[0-9a-fA-F:.]+\]?):(\d+) "
    r"(?:\[VLAN: \d+\])?\[proto: [^/]*/([^\]]+)\].*?\[Hostname/SNI: ([^\]]*)\]"
)
Key = tuple[str, frozenset[tuple[str, int]]]


@dataclass
class NdpiFlow:
    proto: str
    key: Key
    app: str  # nDPI's protocol label (TLS.YouTube, DNS, HTTP...)
    name: str


def ndpi_flows(out: Path) -> list[NdpiFlow]:
    flows = []
    for line in out.read_text(errors="replace").splitlines():
        m = LINE.match(line)
        if m is None:
            continue
        proto, a, ap, b, bp, app, name = m.groups()
        # addresses in Python's spelling: glibc's inet_ntop also compresses a single zero group
        a, b = (str(ipaddress.ip_address(x.strip("[]"))) for x in (a, b))
        key = (proto, frozenset(((a, int(ap)), (b, int(bp)))))
        flows.append(NdpiFlow(proto, key, app, name.strip()))
    return flows


def our_names(pcap: Path) -> dict[Key, dict[str, set[str]]]:
    """For every flow 5-tuple: names by where they came from (sni, http, quic, dns, dhcp)."""
    lan = LanPrefixes(DEFAULT_LAN)
    meter = FlowMeter(lan.is_local)
    for batch in read_batches(str(pcap)):
        meter.feed_many(batch)
    meter.flush()
    names: dict[Key, dict[str, set[str]]] = {}

    def key(f: object) -> Key:
        proto = {6: "TCP", 17: "UDP"}.get(f.proto, str(f.proto))  # type: ignore[attr-defined]
        a = (ip_text(f.a), f.ap)  # type: ignore[attr-defined]
        b = (ip_text(f.b), f.bp)  # type: ignore[attr-defined]
        return proto, frozenset((a, b))

    for f in meter.done:
        s = f.l7
        if s is None:
            continue
        entry = names.setdefault(key(f), {})
        if s.sni:
            entry.setdefault("quic" if s.app == "quic" else "sni", set()).add(s.sni)
        if s.host:
            entry.setdefault("http", set()).add(s.host)
        entry.setdefault("app", set()).add(s.app)
    for rec in meter.records:
        entry = names.setdefault(key(rec.flow), {})
        if isinstance(rec, DnsRecord):
            got = entry.setdefault("dns", set())
            got.update(q for q, _t in rec.msg.questions[:1])
            got.update(a.name for a in rec.msg.answers[:1])
        elif isinstance(rec, AppRecord) and rec.protocol == "dhcp" and rec.name:
            entry.setdefault("dhcp", set()).add(rec.name)
    return names


def printable(name: str) -> str:
    """A name as ndpiReader prints it: lower case, each byte outside printable ASCII as '?'."""
    raw = name.lower().rstrip(".").encode("utf-8", "surrogateescape")
    return "".join(chr(b) if 32 <= b < 127 else "?" for b in raw)
