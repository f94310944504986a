"""Zeek's logs of a trace replayed as a source give what the trace's packets give (issue 21).

For every test in ../shared/pcaps/zeek/Baseline whose logs include conn, dns, ssl, quic or http and
whose ``zeek -r`` names a trace there, the trace is replayed (``tapaudit replay`` of the pcap) and
the logs are replayed (``tapaudit replay`` of the folder) into one store, and the two captures'
stored rows are compared: flows (5-tuple, packets and IP bytes each way, where the conn.log has
them), DNS transactions (question name and type), TLS server names and HTTP request hosts. Every
difference must be in ``EXPLAINED`` with its reason, and every explained difference must still
occur: the list is the whole truth about where logs and packets disagree on these traces.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.ingest.replay import ReplayOptions, replay
from appliance.ingest.zeek_replay import replay_logs
from parsers.zeek.inputs import LogFile, find_logs
from parsers.zeek.logfile import ZeekLogError
from tests.support.paths import SHARED, shared_path
from tests.support.zeekcompare import View, compare, stored_view
from tests.support.zeekconn import trace_of

COMPARED = {"conn", "dns", "ssl", "quic", "http"}
NBNS = (
    "NetBIOS name service (UDP 137, RFC 1002) shares DNS's wire format and Zeek's DNS analyzer logs it "
    "in dns.log; tapaudit reads UDP 137 as no DNS, so these transactions are only in the logs"
)
MDNS_NO_QUESTION = (
    "an mDNS announcement carries answers and no question (RFC 6762 6): tapaudit's row has an empty "
    "question (the names are in its answer_names), Zeek's dns.log puts the first answer's owner name "
    "in 'query' and leaves qtype unset ('-', read as 0) or the answer's type when its rdata shows it"
)
# (kind, what) -> why, per Baseline test
EXPLAINED: dict[str, dict[tuple[str, str], str]] = {
    "opt.basic": {
        **{("dns-only-logs", str(("brwc0cb383d1f42", "32"))): NBNS},
        ("dns-only-logs", str(("workgroup", "32"))): NBNS,
        ("dns-only-pcap", str(("", ""))): MDNS_NO_QUESTION,
        ("dns-only-logs", str(("gemini._sftp-ssh._tcp.local", "0"))): MDNS_NO_QUESTION,
        ("host-only-pcap", "www.wikipedia.org"): (
            "141.142.220.118:35634 -> 208.80.152.2:80 starts mid-stream in the trace (conn_state OTH, "
            "history DdA, no SYN): Zeek gives a connection without its handshake no HTTP analyzer, "
            "tapaudit reads the request it carries"
        ),
    },
    "scripts.base.protocols.dns.mdns-no-assoc": {
        ("dns-only-pcap", str(("", ""))): MDNS_NO_QUESTION,
        ("dns-only-logs", str(("unrelated-reply-aaaa.local", "AAAA"))): MDNS_NO_QUESTION,
    },
    "scripts.base.protocols.ntp.misordered-ntp": {
        ("flow-only-pcap", str(((17, "192.168.1.95", 123, "17.253.4.253", 123), (1, 1, 76, 76)))): (
            "the trace's first packet is the server's reply: Zeek flips the connection after counting "
            "(history 'D^') and keeps both packets on the orig side, tapaudit orients the flow by NTP's "
            "modes first and counts one packet each way; the totals (2 packets, 152 bytes) agree"
        ),
        ("flow-only-logs", str(((17, "192.168.1.95", 123, "17.253.4.253", 123), (2, 0, 152, 0)))): (
            "the same flow as Zeek counted it (see the pcap side)"
        ),
    },
}
# Baseline tests whose conn.log cannot be read as a log, and why
NOT_LOGS = {
    "scripts.policy.protocols.conn.community-id-logging": "zeek-cut without -m: rows with no header line",
}


def cases() -> list[str]:
    base = SHARED / "zeek" / "Baseline"
    if not base.exists():
        return []
    out = []
    for d in sorted(base.iterdir()):
        if trace_of(d) is None:
            continue
        try:
            streams = {log.stream for log in find_logs(str(d))}
        except ZeekLogError:
            continue
        if streams & COMPARED:
            out.append(d.name)
    return out


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from appliance.store.backends import open_store

    s = open_store(str(tmp_path_factory.mktemp("zeeklogs") / "db"))
    s.ensure_schema()
    yield s
    s.close()


def _views(store: object, d: Path, logs: list[LogFile]) -> tuple[View, View]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography warns about odd certificate serials
        pcap = replay(store, str(shared_path("zeek", "Traces", str(trace_of(d)))), ReplayOptions())  # type: ignore[arg-type]
    logged = replay_logs(store, str(d), ReplayOptions())  # type: ignore[arg-type]
    assert logged.source == "zeek-logs" and logged.status == "ingested"
    return stored_view(store, pcap.capture_id), stored_view(store, logged.capture_id)


def test_every_baseline_with_logs_is_compared() -> None:
    names = cases()
    if not names:
        pytest.skip("../shared/pcaps/zeek not present")
    assert len(names) >= 25, names  # the conn/dns/ssl/quic/http baselines of the trace set
    for name in NOT_LOGS:
        with pytest.raises(ZeekLogError):
            find_logs(str(SHARED / "zeek" / "Baseline" / name))


@pytest.mark.parametrize("name", cases())
def test_logs_replay_like_the_trace(name: str, shared_store: object) -> None:
    d = shared_path("zeek", "Baseline", name)
    logs = find_logs(str(d))
    streams = {log.stream for log in logs}
    pcap, logged = _views(shared_store, d, logs)
    conn = [log for log in logs if log.stream == "conn"]
    fields = conn[0].header.fields if conn else []
    if "id.orig_h" not in fields:  # no conn.log, or a zeek-cut of it without endpoints: flows not compared
        pcap.flows.clear()
        logged.flows.clear()
    elif "proto" not in fields:  # zeek-cut kept the endpoints but not the protocol: compare without it
        for v in (pcap, logged):
            v.flows = type(v.flows)({((0, *k[1:]), c): n for (k, c), n in v.flows.items()})
    if "dns" not in streams:
        pcap.dns.clear()
    if not streams & {"ssl", "quic"}:
        pcap.sni.clear()
    if "http" not in streams:
        pcap.hosts.clear()
    diffs = compare(pcap, logged, conn_has_counts="orig_pkts" in fields)
    explained = EXPLAINED.get(name, {})
    unexplained = [d for d in diffs if d not in explained]
    assert not unexplained, f"differences without a reason: {unexplained}"
    stale = set(explained) - set(diffs)
    assert not stale, f"explained differences that no longer occur: {stale}"
    # what was compared was there: the logs' rows made rows
    if "dns" in streams:
        assert sum(logged.dns.values()) > 0
    if "http" in streams:
        assert logged.http_rows > 0
    for kind, what in diffs:
        print(f"{name}: {kind} {what}: {explained[(kind, what)]}")


def test_dhcp_logs_name_the_device_the_trace_names(shared_store: object) -> None:
    """The DHCP client of dhcp.pcap is the same device, with the same host name, from the trace and
    from Zeek's dhcp.log (the server's MAC is in no log: Zeek logs only the client's)."""
    name = "scripts.base.protocols.dhcp.dhcp-all-msg-types"
    d = shared_path("zeek", "Baseline", name)
    pcap = replay(shared_store, str(shared_path("zeek", "Traces", str(trace_of(d)))), ReplayOptions())  # type: ignore[arg-type]
    logged = replay_logs(shared_store, str(d), ReplayOptions())  # type: ignore[arg-type]
    q = "SELECT mac, dhcp_hostname FROM {db}.devices WHERE capture_id = %(c)s AND dhcp_hostname != ''"
    from_pcap = {(r["mac"], r["dhcp_hostname"]) for r in shared_store.query(q, {"c": pcap.capture_id})}  # type: ignore[attr-defined]
    from_logs = {(r["mac"], r["dhcp_hostname"]) for r in shared_store.query(q, {"c": logged.capture_id})}  # type: ignore[attr-defined]
    assert from_logs == from_pcap == {("90:b1:1c:99:49:29", "btest.is.cool")}


def test_mac_logging_makes_devices_of_their_macs(tmp_path: Path, shared_store: object) -> None:
    """conn.log with ``orig_l2_addr``/``resp_l2_addr`` (policy/protocols/conn/mac-logging): the local
    end's MAC is the device, as a capture's frames make it."""
    src = shared_path("stratosphere-security-datasets-for-testing", "003-zeek-scenario-malicious", "conn.log")
    lines = src.read_text().splitlines()
    mac_a, mac_b = "02:00:00:00:00:61", "02:00:00:00:00:01"
    out = []
    for ln in lines:
        if ln.startswith(("#fields", "#types")):
            out.append(
                ln + ("\torig_l2_addr\tresp_l2_addr" if ln.startswith("#fields") else "\tstring\tstring")
            )
        elif ln.startswith("#"):
            out.append(ln)
        else:
            out.append(f"{ln}\t{mac_a}\t{mac_b}")
    (tmp_path / "conn.log").write_text("\n".join(out) + "\n")
    res = replay_logs(shared_store, str(tmp_path), ReplayOptions())  # type: ignore[arg-type]
    devs = shared_store.query(  # type: ignore[attr-defined]
        "SELECT mac, attributed_by, ipv4 FROM {db}.devices WHERE capture_id = %(c)s", {"c": res.capture_id}
    )
    by_mac = {d["mac"]: d for d in devs}
    assert (
        mac_a in by_mac and by_mac[mac_a]["attributed_by"] == "mac" and "10.8.0.61" in by_mac[mac_a]["ipv4"]
    )
    flows = shared_store.query(  # type: ignore[attr-defined]
        "SELECT count() AS n, countIf(device_mac = %(m)s) AS mine, countIf(src_mac = %(m)s) AS src"
        " FROM {db}.flows WHERE capture_id = %(c)s AND src_ip = '10.8.0.61'",
        {"c": res.capture_id, "m": mac_a},
    )[0]
    assert flows["n"] > 0 and flows["mine"] == flows["n"] == flows["src"]
