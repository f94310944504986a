"""DNS, mDNS and DHCP messages cut by a snap length give what they hold, as tshark shows them.

Real captures are cut with ``editcap -s`` (the tool a lab's tap would have used is
``tcpdump -s``: the same frames); tshark, which also reads a message up to the cut, is the
oracle for the names each cut file still holds. A cut datagram is counted ``truncated_``,
never ``malformed_``.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from parsers.events import AppRecord, DnsRecord
from parsers.protocols import dhcp, dns
from pcaps.synth import frames
from tests.support.paths import shared_path
from tests.support.sessionrun import run_sessions
from tests.support.tcpflows import udp_datagrams
from tests.support.tshark import needs_tshark, tshark_fields

CAPTURES = (  # real DNS, mDNS and DHCP traffic: Zeek's, suricata-verify's, nDPI's, a smart plug's boot
    ("zeek", "Traces", "dns", "mdns.pcap"),
    ("zeek", "Traces", "dhcp", "dhcp.pcap"),
    ("suricata-verify", "dns", "dns-response-mx", "dns-udp-google.com-a-aaaa-mx.pcap"),
    ("suricata-verify", "dns-udp-nxdomain-soa", "dns-udp-nxdomain-soa.pcap"),
    ("nDPI", "pcap", "iphone.pcap"),
    ("nDPI", "pcap", "nintendo.pcap"),
    ("SSI_Measurements_2022", "smart_power_plug_boot_measurements.pcap"),
)
SNAPLENS = (96, 128, 200)
NAME_FIELDS = ["dns.qry.name", "dns.resp.name", "dhcp.option.hostname"]
BOOT_REQUEST = re.compile(r"Boot Request from ([0-9a-f:]{17})")


def cut(pcap: Path, snaplen: int, out: Path) -> Path:
    subprocess.run(["editcap", "-s", str(snaplen), str(pcap), str(out)], check=True, capture_output=True)
    return out


def tshark_names(path: Path) -> tuple[Counter[str], Counter[str], int]:
    """Names tshark shows in DNS/mDNS/LLMNR over UDP and DHCP (questions, records of every section,
    host names); the client MAC of each DHCP request, as its Info column names it (on some cut
    messages tshark's DHCP tree stays empty, its Info line does not); and how many of these
    datagrams the snap length cut."""
    names: Counter[str] = Counter()
    for row in tshark_fields(path, "((dns || mdns || llmnr) && udp) || dhcp", NAME_FIELDS).values():
        names.update(v for f in NAME_FIELDS for v in row[f])
    macs: Counter[str] = Counter()
    for row in tshark_fields(path, "dhcp", ["_ws.col.Info"]).values():
        macs.update(m.group(1) for info in row["_ws.col.Info"] if (m := BOOT_REQUEST.match(info)))
    cut = "(((dns || mdns || llmnr) && udp) || dhcp) && frame.cap_len < frame.len"
    return names, macs, len(tshark_fields(path, cut, []))


def our_names(path: Path) -> tuple[Counter[str], Counter[str], dict[str, int]]:
    meter = run_sessions(path)
    names: Counter[str] = Counter()
    macs: Counter[str] = Counter()
    for r in meter.records:
        if isinstance(r, DnsRecord) and r.transport == "udp":
            m = r.msg
            names.update(q or "<Root>" for q, _t in m.questions)
            names.update(x.name or "<Root>" for x in m.answers + m.authority + m.additional)
        elif isinstance(r, AppRecord) and r.protocol == "dhcp":
            names.update([r.name] if r.name else [])
            if r.detail["op"] == "request":
                macs[r.detail["client_mac"]] += 1
    counts = {
        k: v
        for k, v in meter.stats.items()
        if k.startswith(("truncated_", "malformed_"))
        and k.split("_", 1)[1] in ("dns", "mdns", "llmnr", "dhcp")
    }
    return names, macs, counts


@needs_tshark
@pytest.mark.parametrize("snaplen", SNAPLENS)
@pytest.mark.parametrize("parts", CAPTURES, ids=lambda p: p[-1])
def test_cut_messages_give_the_names_tshark_shows(
    tmp_path: Path, parts: tuple[str, ...], snaplen: int
) -> None:
    whole = shared_path(*parts)
    path = cut(whole, snaplen, tmp_path / "cut.pcap")
    want_names, want_macs, want_cut = tshark_names(path)
    names, macs, counts = our_names(path)
    assert names == want_names
    assert macs == want_macs
    assert not any(k.startswith("malformed_") for k in counts), counts
    assert sum(counts.values()) == want_cut
    assert not our_names(whole)[2]


def test_partial_dns_keeps_whole_entries_only() -> None:
    """Every cut point of a response: the questions and answers whole before it, ``cut`` set when
    one was lost; a header cut short is no message at all; a whole message parses as before."""
    msg = frames.dns_answer(7, "api.example.com", [bytes((10, 0, 0, 1)), bytes((10, 0, 0, 2))])
    full = dns.parse(msg)
    q_end = 12 + len("api.example.com") + 2 + 4
    for n in range(len(msg)):
        if n < 12:
            with pytest.raises(dns.DnsError):
                dns.parse_partial(msg[:n])
            continue
        got = dns.parse_partial(msg[:n])
        whole_answers = max(0, (n - q_end) // 16)
        assert got.cut
        assert got.questions == (full.questions if n >= q_end else [])
        assert got.answers == full.answers[:whole_answers]
        with pytest.raises(dns.DnsCut):
            dns.parse(msg[:n])
    assert dns.parse_partial(msg) == full and not full.cut


def test_partial_dhcp_needs_the_client_address() -> None:
    """A DISCOVER cut anywhere from its client address on keeps its fixed fields, and the options
    whole before the cut; before the client address it is no message."""
    pcap = shared_path("zeek", "Traces", "dhcp", "dhcp_discover_param_req_and_client_id.pcap")
    ((_key, payload),) = udp_datagrams(pcap)
    full = dhcp.parse(payload)
    assert full.prl and full.client_mac
    for n in range(dhcp.CHADDR_END, len(payload)):
        got = dhcp.parse_partial(payload[:n])
        assert (got.client_mac, got.xid, got.op) == (full.client_mac, full.xid, full.op)
        assert got.prl in ([], full.prl) and got.msg_type in ("", full.msg_type)
        assert got.cut or got == full  # only the trailing end option or padding may go unnoticed
        try:  # read as a whole message, the same bytes are malformed, or give the same fields
            strict = dhcp.parse(payload[:n])
        except dhcp.DhcpError:
            continue
        assert n >= 240 and replace(strict, cut=got.cut) == got
    with pytest.raises(dhcp.DhcpError):
        dhcp.parse_partial(payload[: dhcp.CHADDR_END - 1])
    assert dhcp.parse_partial(payload) == full
