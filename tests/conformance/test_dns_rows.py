"""The dns table's rows hold every question and the authority and additional sections.

Oracles: tshark for the questions of every mDNS message and for each DNS response's
sections (its record counts slice ``dns.resp.name`` into answers, authority, additional),
suricata-verify's expected ``dns.authorities`` of bug-856/bug-1158. Rows are built as the
replay builds them (``RecordRows``) from the records the replay's sessions read.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from appliance.ingest.inventory import Inventory
from appliance.ingest.record_rows import RecordRows
from appliance.store.schema import DNS
from parsers.events import DnsRecord
from parsers.lan import DEFAULT_LAN, LanPrefixes
from parsers.protocols.dns import TYPES
from tests.support.paths import shared_path
from tests.support.sessionrun import run_sessions
from tests.support.tshark import needs_tshark, tshark_fields

NAMES = DNS.names


def dns_rows(pcap: Path, raw: bool) -> list[dict[str, Any]]:
    rr = RecordRows("c", 1, Inventory(LanPrefixes(DEFAULT_LAN)), raw=raw)
    out = []
    for rec in run_sessions(pcap).records:
        if isinstance(rec, DnsRecord):
            out += [row for _t, row in rr.rows(rec)]
    out += [row for _t, row in rr.flush_dns(final=True)]
    return [dict(zip(NAMES, row, strict=True)) for row in out]


@needs_tshark
@pytest.mark.parametrize("parts", [("zeek", "Traces", "dns", "mdns.pcap"), ("nDPI", "pcap", "iphone.pcap")])
def test_every_mdns_question_is_stored(parts: tuple[str, ...]) -> None:
    """An mDNS query asks several names at once: all of them are stored, in order (qname and qtype
    keep the first, as before)."""
    pcap = shared_path(*parts)
    want: Counter[str] = Counter()
    for row in tshark_fields(pcap, "mdns", ["dns.qry.name"]).values():
        want.update(row["dns.qry.name"])
    rows = [r for r in dns_rows(pcap, raw=True) if r["protocol"] == "mdns"]
    assert Counter(n for r in rows for n in r["qnames"]) == want
    assert any(len(r["qnames"]) > 1 for r in rows)
    for r in rows:
        assert r["qname"] == (r["qnames"][0] if r["qnames"] else "")
        assert len(r["qtypes"]) == len(r["qnames"])


def test_mdns_sections_mask_a_persons_name() -> None:
    """iphone.pcap's Mac announces "Luca’s iMac": stored masked in every name and data column of
    every section (question, answer, authority, additional) unless raw evidence was asked for."""
    pcap = shared_path("nDPI", "pcap", "iphone.pcap")

    def values(raw: bool) -> list[str]:
        cols = ("qnames", "answer_names", "answer_data", "additional_names", "additional_data")
        cols += ("authority_names", "authority_data")
        rows = dns_rows(pcap, raw)
        return [r["qname"] for r in rows] + [v for r in rows for c in cols for v in r[c]]

    assert any("Luca" in v for v in values(raw=True))
    masked = values(raw=False)
    assert masked and not any("Luca" in v for v in masked)
    assert any("L***’s iMac" in v for v in masked)


def suricata_authorities() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for name in ("bug-856", "bug-1158"):
        d = shared_path("suricata-verify", "dns", name)
        for check in yaml.safe_load((d / "test.yaml").read_text()).get("checks") or []:
            match = (check.get("filter") or {}).get("match") or {}
            if any(k.startswith("dns.authorities") for k in match):
                out.append((next(iter(d.glob("*.pcap"))), match))
    return out


@pytest.mark.parametrize(("pcap", "match"), suricata_authorities())
def test_authority_section_matches_suricata(pcap: Path, match: dict[str, Any]) -> None:
    (row,) = [r for r in dns_rows(pcap, raw=False) if r["txid"] == match["dns.id"] and r["answered"]]
    for i in range(len(row["authority_names"])):
        if f"dns.authorities[{i}].rrname" not in match:
            continue
        assert row["authority_names"][i] == match[f"dns.authorities[{i}].rrname"]
        assert row["authority_types"][i] == match[f"dns.authorities[{i}].rrtype"]
        if f"dns.authorities[{i}].rdata" in match:
            assert row["authority_data"][i] == match[f"dns.authorities[{i}].rdata"]
    assert any(k.startswith("dns.authorities[0]") for k in match)


@needs_tshark
@pytest.mark.parametrize(
    "parts",
    [
        ("suricata-verify", "dns", "dns-additionals-rdata", "20250224-dns-additionals-with-cname.pcap"),
        ("suricata-verify", "dns-udp-nxdomain-soa", "dns-udp-nxdomain-soa.pcap"),
        ("nDPI", "pcap", "dns-google-nsid.pcapng"),
    ],
    ids=lambda p: p[-1],
)
def test_sections_match_tshark(parts: tuple[str, ...]) -> None:
    """Each answered row's authority and additional names and types are the response's, as tshark
    splits its records by the header's counts (EDNS OPT left out of the additional section)."""
    pcap = shared_path(*parts)
    fields = ["dns.id", "dns.count.answers", "dns.count.auth_rr", "dns.resp.name", "dns.resp.type"]
    want = {}
    for row in tshark_fields(pcap, "dns.flags.response == 1", fields).values():
        an, ns = int(row["dns.count.answers"][0]), int(row["dns.count.auth_rr"][0])
        recs = list(zip(row["dns.resp.name"], row["dns.resp.type"], strict=True))
        add = [(n, t) for n, t in recs[an + ns :] if t != "41"]
        want[int(row["dns.id"][0], 16)] = (recs[an : an + ns], add)
    rows = {r["txid"]: r for r in dns_rows(pcap, raw=False) if r["answered"]}
    assert rows.keys() == want.keys()
    number = {name: str(code) for code, name in TYPES.items()}  # tshark gives type numbers

    def section(r: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
        pairs = zip(r[f"{prefix}_names"], r[f"{prefix}_types"], strict=True)
        return [(n or "<Root>", number.get(t, t)) for n, t in pairs]

    for txid, (auth, add) in want.items():
        assert section(rows[txid], "authority") == auth
        assert section(rows[txid], "additional") == add
