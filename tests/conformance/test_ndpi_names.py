"""Server names tapaudit extracts (TLS/QUIC SNI, HTTP Host, DNS names, DHCP host names) against nDPI.

ndpiReader's ``result/*.out`` names flows by hostname or SNI. Every flow it names is
compared with the names tapaudit's sessions extracted for the same 5-tuple. Flows of
protocols tapaudit does not dissect are listed with that reason and kept out of the
agreement rate; every other disagreement is printed with its reason, and unexplained
ones fail the test.
"""

from __future__ import annotations

import warnings
from collections import Counter

from tests.support.ndpinames import ndpi_flows, our_names, printable
from tests.support.paths import shared_path

NDPI = shared_path("nDPI")
# nDPI protocols whose "Hostname/SNI" comes from a dissector tapaudit does not have.
NOT_DISSECTED = {
    "STUN": "STUN/TURN realm or software name: no STUN dissector",
    "NetBIOS": "NetBIOS name service: no NBNS dissector",
    "collectd": "collectd host field: no collectd dissector",
    "Munin": "Munin node banner: no Munin dissector",
    "SMTP": "SMTP EHLO name: no SMTP dissector",
    "POPS": "POP3 STARTTLS: TLS begins after a cleartext POP3 dialogue",
    "FastCGI": "FastCGI parameters: no FastCGI dissector",
    "Whois-DAS": "whois query: no whois dissector",
    "SSH": "SSH banner, not a host name",
    "Xiaomi": "Xiaomi's proprietary protocol: no dissector",
}
# Captures whose flows travel in a tunnel tapaudit does not open (it opens IP-in-IP, GRE,
# ERSPAN, VXLAN and GTP-U: parsers/tunnels.py): their names are out of its reach.
NOT_UNWRAPPED = {
    "capwap.pcap": "CAPWAP-encapsulated Wi-Fi frames: tapaudit does not open CAPWAP tunnels",
    "capwap_data.pcapng": "CAPWAP-encapsulated Wi-Fi frames: tapaudit does not open CAPWAP tunnels",
}
# Captures whose disagreements have a known cause outside the dissectors.
KNOWN = {
    "tls_invalid_reads.pcap": "the ClientHello carried in GTP-U declares an extension vector longer "
    "than the record (tshark: Malformed Packet); nDPI takes the SNI before that point",
    "heuristic_tcp_ack_payload.pcap": "a 2-byte ACK payload at the ClientHello's sequence number: "
    "tapaudit keeps the first copy of overlapping bytes, so the stream is not TLS",
    "mpeg-dash.pcap": "capture starts inside a response whose request is not in the capture",
    "http-manipulated.pcap": "request line manipulated for nDPI's test: not a valid HTTP request",
}


def _reason(capture: str, app: str, ours: dict[str, set[str]]) -> str:
    master = app.split(".")[0]
    if master in NOT_DISSECTED:
        return "out of scope: " + NOT_DISSECTED[master]
    if capture in NOT_UNWRAPPED:
        return "out of scope: " + NOT_UNWRAPPED[capture]
    if capture in KNOWN:
        return "known: " + KNOWN[capture]
    if capture.startswith("fuzz-"):
        return "known: fuzzed capture, the HTTP head is corrupt"
    return ""


def test_names_agree_with_ndpi() -> None:
    agree = 0
    rows: list[tuple[str, str, str, str, str]] = []
    for out in sorted((NDPI / "result").glob("*.out")):
        pcap = NDPI / "pcap" / out.name[: -len(".out")]
        named = ndpi_flows(out)
        if not named or not pcap.exists():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cryptography warns about odd certificate serials
            ours = our_names(pcap)
        for f in named:
            got = ours.get(f.key, {})
            names = {printable(n) for k, v in got.items() if k != "app" for n in v}
            if printable(f.name) in names:
                agree += 1
                continue
            reason = _reason(pcap.name, f.app, got)
            got_names = ",".join(sorted(names)) or "-"
            rows.append((pcap.name, f.app, f.name, got_names, reason or "UNEXPLAINED"))
    out_of_scope = [r for r in rows if r[4].startswith("out of scope")]
    in_scope = agree + len(rows) - len(out_of_scope)
    rate = agree / in_scope
    named = agree + len(rows)
    print(f"\nnDPI named {named} flows; {len(out_of_scope)} are of protocols tapaudit does not dissect")
    print(f"in scope: {agree}/{in_scope} agree ({100 * rate:.2f}%); all named: {100 * agree / named:.2f}%")
    for reason, n in Counter(r[4] for r in rows).most_common():
        print(f"  {n:3d}  {reason}")
    for r in rows:
        print("  " + " | ".join(r))
    unexplained = [r for r in rows if r[4] == "UNEXPLAINED"]
    assert not unexplained, unexplained
    assert rate >= 0.99
