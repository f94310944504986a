"""DNS messages against Zeek's dns.log baselines: queries, types, response codes and answers.

Zeek prints answers of the common types as bare values (addresses, names) and others
with a type prefix ("TXT 11 ...", "RRSIG 5 ..."); the bare ones are compared one by
one, the prefixed ones by their type name. Every Zeek row must be matched, except
NetBIOS name service rows (udp/137), which Zeek's DNS analyzer also logs; they are listed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.events import DnsRecord
from parsers.protocols.dns import DnsMessage
from tests.support.paths import SHARED, shared_path
from tests.support.sessionrun import run_sessions
from tests.support.zeekconn import read_conn, trace_of

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def baselines() -> list[Path]:
    base = SHARED / "zeek" / "Baseline"
    if not base.exists():
        return []
    return sorted(d for d in base.iterdir() if (d / "dns.log").exists() and trace_of(d))


def messages(trace: Path) -> list[DnsMessage]:
    """Every DNS, mDNS and LLMNR message the replay's sessions read (IPv6 fragments reassembled)."""
    return [r.msg for r in run_sessions(trace).records if isinstance(r, DnsRecord)]


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
