"""DNS messages against Zeek's dns.log baselines: queries, types, response codes and answers.

Zeek prints answers of the common types as bare values (addresses, names) and others
with a type prefix ("TXT 11 ...", "RRSIG 5 ..."); the bare ones are compared one by
one, the prefixed ones by their type name. Every Zeek row must be matched, except
NetBIOS name service rows (udp/137), which Zeek's DNS analyzer also logs; they are listed.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import dpkt
import pytest
from conftest import SHARED, shared_path
from tcpflows import ip_packets
from zeekconn import read_conn, trace_of

from parsers.dns import DnsError, DnsMessage, parse

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
DNS_PORTS = {53, 5353, 5355}


def baselines() -> list[Path]:
    base = SHARED / "zeek" / "Baseline"
    if not base.exists():
        return []
    return sorted(d for d in base.iterdir() if (d / "dns.log").exists() and trace_of(d))


def messages(trace: Path) -> list[DnsMessage]:
    out = []
    frags: dict[Any, list[Any]] = {}
    for ip in ip_packets(trace):
        if isinstance(ip, dpkt.ip6.IP6) and 44 in ip.extension_hdrs:  # core.ipv6-frag: reassemble
            key = (ip.src, ip.dst, ip.extension_hdrs[44].id)
            frags.setdefault(key, []).append(ip)
            if ip.extension_hdrs[44].m_flag:
                continue
            parts = sorted(frags.pop(key), key=lambda p: p.extension_hdrs[44].frag_off)
            try:
                udp: Any = dpkt.udp.UDP(b"".join(bytes(p.data) for p in parts))
            except dpkt.UnpackError:
                continue
        elif isinstance(ip.data, dpkt.udp.UDP):
            udp = ip.data
        else:
            continue
        if udp.sport in DNS_PORTS or udp.dport in DNS_PORTS:
            with contextlib.suppress(DnsError):  # malformed on purpose in some traces
                out.append(parse(bytes(udp.data)))
    return out


@pytest.mark.parametrize("test_dir", baselines(), ids=lambda d: d.name)
def test_dns_matches_zeek(test_dir: Path) -> None:
    trace = shared_path("zeek", "Traces", str(trace_of(test_dir)))
    msgs = messages(trace)
    assert msgs, "no DNS messages decoded"
    for row in read_conn(test_dir / "dns.log"):
        query = row.get("query", "-")
        if query == "-":
            continue
        if "137" in (row.get("id.orig_p"), row.get("id.resp_p")):
            print(f"{test_dir.name}: {query}: NetBIOS name service (udp/137) is not DNS; not dissected")
            continue
        # mDNS answers come without a question: Zeek names the row after the answer
        cands = [
            m
            for m in msgs
            if any(q.lower() == query.lower() for q, _t in m.questions)
            or (not m.questions and any(r.name.lower() == query.lower() for r in m.answers))
        ]
        assert cands, f"query {query} not decoded"
        if row.get("qtype", "-") != "-":
            assert any(t == int(row["qtype"]) for m in cands for q, t in m.questions), query
        if row.get("rcode", "-") != "-":
            responses = [m for m in cands if m.is_response]
            assert any(RCODES.get(m.rcode) == row["rcode_name"] for m in responses), query
        if row.get("answers", "-") != "-":
            # Zeek prints an SRV answer as its target only
            ours = {
                (r.data.split(" ")[-1] if r.rtype == 33 else r.data).lower()
                for m in cands
                if m.is_response
                for r in m.answers
            }
            types = {r.type_name for m in cands if m.is_response for r in m.answers}
            for ans in row["answers"].split(","):
                if " " in ans:
                    assert ans.split(" ")[0] in types, f"{query}: {ans!r} type not among {types}"
                else:
                    assert ans.lower() in ours, f"{query}: answer {ans!r} not among {sorted(ours)}"
