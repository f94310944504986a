"""The same trace stored twice, from its packets and from Zeek's logs of it, read back for comparison.

``stored_view`` reads one capture's flows (5-tuple, packets and IP bytes each way), DNS
transactions (question name and type), TLS server names and HTTP request hosts out of the store,
as the read API's tables hold them; ``compare`` lists every difference between two views by kind.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

FlowKey = tuple[int, str, int, str, int]


@dataclass
class View:
    flows: Counter[tuple[FlowKey, tuple[int, int, int, int]]] = field(default_factory=Counter)
    dns: Counter[tuple[str, str]] = field(default_factory=Counter)
    sni: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)
    http_rows: int = 0


def stored_view(store: Any, capture_id: str) -> View:
    p = {"c": capture_id}
    v = View()
    for r in store.query(
        "SELECT proto, src_ip, src_port, dst_ip, dst_port, pkts_up, pkts_down, bytes_up, bytes_down"
        " FROM {db}.flows WHERE capture_id = %(c)s",
        p,
    ):
        key = (int(r["proto"]), str(r["src_ip"]), int(r["src_port"]), str(r["dst_ip"]), int(r["dst_port"]))
        v.flows[
            (key, (int(r["pkts_up"]), int(r["pkts_down"]), int(r["bytes_up"]), int(r["bytes_down"])))
        ] += 1
    for r in store.query("SELECT qname, qtype FROM {db}.dns WHERE capture_id = %(c)s", p):
        v.dns[(str(r["qname"]).lower().rstrip("."), str(r["qtype"]))] += 1
    v.sni = {
        str(r["sni"])
        for r in store.query("SELECT sni FROM {db}.tls WHERE capture_id = %(c)s AND sni != ''", p)
    }
    v.hosts = {
        str(r["host"]).split(":")[0].lower()
        for r in store.query("SELECT host FROM {db}.http WHERE capture_id = %(c)s AND host != ''", p)
    }
    v.http_rows = int(store.query("SELECT count() AS n FROM {db}.http WHERE capture_id = %(c)s", p)[0]["n"])
    return v


def compare(pcap: View, logs: View, conn_has_counts: bool) -> list[tuple[str, str]]:
    """Differences as (kind, what): ``flow-only-pcap``/``flow-only-logs`` (5-tuple and counts, or
    5-tuple alone when the conn.log has no counts), ``dns-only-pcap``/``dns-only-logs``,
    ``sni-only-...``, ``host-only-...``."""
    out: list[tuple[str, str]] = []
    if conn_has_counts:
        a, b = pcap.flows, logs.flows
    else:
        a = Counter({(k, (0, 0, 0, 0)): n for (k, _c), n in pcap.flows.items()})
        b = Counter({(k, (0, 0, 0, 0)): n for (k, _c), n in logs.flows.items()})
    out += [("flow-only-pcap", str(k)) for k in sorted((a - b).elements())]
    out += [("flow-only-logs", str(k)) for k in sorted((b - a).elements())]
    out += [("dns-only-pcap", str(k)) for k in sorted((pcap.dns - logs.dns).elements())]
    out += [("dns-only-logs", str(k)) for k in sorted((logs.dns - pcap.dns).elements())]
    out += [("sni-only-pcap", s) for s in sorted(pcap.sni - logs.sni)]
    out += [("sni-only-logs", s) for s in sorted(logs.sni - pcap.sni)]
    out += [("host-only-pcap", s) for s in sorted(pcap.hosts - logs.hosts)]
    out += [("host-only-logs", s) for s in sorted(logs.hosts - pcap.hosts)]
    return out
