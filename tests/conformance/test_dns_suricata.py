"""DNS messages read by the replay's sessions against suricata-verify's expected eve.json fields.

Each eve ``dns`` event a test checks is matched to one of tapaudit's DNS records by
transaction id and direction; the question, answers (name, type, data, TTL), grouped
answers and rcode must agree. Fields tapaudit does not model (flags, tx ids, the
v1/v2 format's per-answer events) are left out; so is rdata of types printed differently
(SOA, MX, TXT, SSHFP...). Suricata's v2 format logs each string of a TXT record as
an answer of its own; tapaudit keeps one answer per record, so TXT answers past the
first are compared by count of records only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from parsers.events import DnsRecord
from parsers.protocols.dns import TYPES, DnsMessage
from tests.support.paths import shared_path
from tests.support.sessionrun import run_sessions

SV = shared_path("suricata-verify") / "dns"
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
SAME_RDATA = frozenset(("A", "AAAA", "CNAME", "PTR", "NS"))
INDEXED = re.compile(r"^dns\.(queries|answers|authorities)\[(\d+)\]\.(\w+)$")


def cases() -> list[tuple[str, Path, dict[str, Any]]]:
    out = []
    for d in sorted(p.parent for p in SV.rglob("test.yaml")) if SV.exists() else []:
        spec = yaml.safe_load((d / "test.yaml").read_text()) or {}
        pcap = (d / spec["pcap"]).resolve() if spec.get("pcap") else d / "input.pcap"
        if not pcap.exists():
            continue
        for i, check in enumerate(spec.get("checks") or []):
            match = (check.get("filter") or {}).get("match") or {}
            if match.get("event_type") == "dns" and "dns.id" in match and "dns.type" in match:
                out.append((f"{d.relative_to(SV)}-{i}", pcap, match))
    return out


def _fields(msg: DnsMessage) -> dict[str, Any]:
    got: dict[str, Any] = {"dns.rcode": RCODES.get(msg.rcode, str(msg.rcode))}
    for i, (name, qtype) in enumerate(msg.questions):
        got[f"dns.queries[{i}].rrname"] = name
        got[f"dns.queries[{i}].rrtype"] = TYPES.get(qtype, str(qtype))
    if msg.questions:
        got["dns.rrname"] = got["dns.queries[0].rrname"]
        got["dns.rrtype"] = got["dns.queries[0].rrtype"]
    grouped: dict[str, list[str]] = {}
    for section, recs in (("answers", msg.answers), ("authorities", msg.authority)):
        for i, a in enumerate(recs):
            got[f"dns.{section}[{i}].rrname"] = a.name
            got[f"dns.{section}[{i}].rrtype"] = a.type_name
            got[f"dns.{section}[{i}].ttl"] = a.ttl
            if a.type_name in SAME_RDATA:
                got[f"dns.{section}[{i}].rdata"] = a.data
            if section == "answers":
                grouped.setdefault(a.type_name, []).append(a.data)
    for t, values in grouped.items():
        if t in SAME_RDATA:
            for i, v in enumerate(values):
                got[f"dns.grouped.{t}[{i}]"] = v
    return got


@pytest.mark.parametrize(("case", "pcap", "want"), cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_dns_matches_suricata(case: str, pcap: Path, want: dict[str, Any]) -> None:
    meter = run_sessions(pcap)
    response = want["dns.type"] in ("response", "answer")
    candidates = [
        r.msg
        for r in meter.records
        if isinstance(r, DnsRecord) and r.msg.txid == want["dns.id"] and r.msg.is_response == response
    ]
    assert candidates, f"no DNS {'response' if response else 'query'} with id {want['dns.id']}"
    wanted = {k: v for k, v in want.items() if k.startswith("dns.")}
    if any(v == "TXT" for k, v in wanted.items() if k.startswith("dns.answers[")):
        wanted = {k: v for k, v in wanted.items() if not k.startswith("dns.answers[")}
    best: list[tuple[str, Any, Any]] = []
    for msg in candidates:
        got = _fields(msg)
        misses = [
            (k, got.get(k), v)
            for k, v in wanted.items()
            if k in got or (INDEXED.match(k) and INDEXED.match(k).group(3) != "rdata")  # type: ignore[union-attr]
            if got.get(k) != v
        ]
        if not misses:
            return
        best = misses if not best or len(misses) < len(best) else best
    raise AssertionError(f"{case}: {best}")


def test_cases_found() -> None:
    if SV.exists():
        assert len(cases()) >= 30
