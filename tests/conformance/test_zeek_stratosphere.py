"""The Stratosphere lab's real 24-hour Zeek logs ingest with their devices and destinations (issue 21).

``010-zeek-mixed`` is a whole day of a Windows host in the CTU network (CTU-Normal-42, day 2: conn,
dns, ssl, http, files, software... logs, each row labelled). The oracles are the logs themselves,
split by hand here: every conn.log row is a stored flow with its uid, packets and bytes; every
ssl.log row a TLS row, its server name the flow's destination domain; the host that the lab's
network (CTU's 147.32.0.0/16, given as the LAN as a user would) holds is a device.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from pathlib import Path

from appliance.ingest.replay import ReplayOptions
from appliance.ingest.zeek_replay import replay_logs
from tests.support.paths import shared_path

DAY = ("stratosphere-security-datasets-for-testing", "010-zeek-mixed")
CTU = "147.32.0.0/16"  # Czech Technical University's network, where the capture was made (README)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    fields: list[str] = []
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif not line.startswith("#"):
            rows.append(line.split("\t"))
    return fields, rows


def test_a_day_of_logs_gives_flows_devices_and_destinations(store: object) -> None:
    day = shared_path(*DAY)
    data = day / "data"
    cf, conn = _rows(data / "conn.log.labeled")
    sf, ssl = _rows(data / "ssl.log.labeled")
    df, dns = _rows(data / "dns.log.labeled")
    hf, http = _rows(data / "http.log.labeled")
    res = replay_logs(store, str(day), ReplayOptions(lan_prefixes=[CTU]))  # type: ignore[arg-type]
    assert res.status == "ingested" and res.source == "zeek-logs"
    c = {"c": res.capture_id}
    q = store.query  # type: ignore[attr-defined]

    conn_uids = {r[cf.index("uid")] for r in conn}
    others = {r[f.index("uid")] for f, rows in ((sf, ssl), (df, dns), (hf, http)) for r in rows}
    flows = q(
        "SELECT zeek_uid, pkts_up, pkts_down, bytes_up, bytes_down FROM {db}.flows WHERE capture_id = %(c)s",
        c,
    )
    assert len(flows) == len(conn) + len(others - conn_uids)  # a row outside conn.log gets its own flow
    got = {(r["zeek_uid"], r["pkts_up"], r["pkts_down"], r["bytes_up"], r["bytes_down"]) for r in flows}
    i = {n: cf.index(n) for n in ("uid", "orig_pkts", "resp_pkts", "orig_ip_bytes", "resp_ip_bytes")}
    want = {(r[i["uid"]], int(r[i["orig_pkts"]]), int(r[i["resp_pkts"]]), int(r[i["orig_ip_bytes"]]),
             int(r[i["resp_ip_bytes"]])) for r in conn}  # fmt: skip
    assert want <= got

    host = "147.32.83.234"  # the day's Windows host: the responder of most of the day's connections
    assert sum(1 for r in conn if r[cf.index("id.resp_h")] == host) > len(conn) / 2
    devices = q("SELECT mac, ipv4 FROM {db}.devices WHERE capture_id = %(c)s", c)
    assert any(host in d["ipv4"] for d in devices), devices

    tls = q("SELECT sni FROM {db}.tls WHERE capture_id = %(c)s", c)
    assert len(tls) == len(ssl)
    names = {r[sf.index("server_name")] for r in ssl} - {"-"}
    assert names and {r["sni"] for r in tls} - {""} == names
    doms = q("SELECT DISTINCT domain FROM {db}.flows WHERE capture_id = %(c)s AND domain_source = 'sni'", c)
    hostnames = {n.lower() for n in names if not _is_address(n)}  # an address as SNI names no domain
    assert hostnames and {d["domain"] for d in doms} == hostnames
    remote = q(
        "SELECT count() AS n, countIf(country != '') AS placed FROM {db}.flows"
        " WHERE capture_id = %(c)s AND direction IN ('outbound', 'inbound')",
        c,
    )[0]
    assert remote["n"] > 0 and remote["placed"] > 0  # destinations named and placed (GeoIP)
    cap = q("SELECT format, files, file_sha256 FROM {db}.captures WHERE capture_id = %(c)s", c)[0]
    assert cap["format"] == "zeek-tsv" and len(cap["files"]) == len(cap["file_sha256"]) == 11
    want_sha = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in (day / "data").glob("*.labeled")}
    assert dict(zip(cap["files"], cap["file_sha256"], strict=True)) == want_sha  # the logs' own hashes
    from appliance.store import queries

    listed = next(r for r in queries.captures(store) if r["capture_id"] == res.capture_id)  # type: ignore[arg-type]
    assert listed["format"] == "zeek-tsv"  # the read API says the capture came from logs

    again = replay_logs(store, str(day), ReplayOptions(lan_prefixes=[CTU]))  # type: ignore[arg-type]
    assert again.status == "skipped"  # the same logs are the same capture


def test_content_requirements_are_not_assessed_on_logs(store: object) -> None:
    """A device seen only through Zeek logs: the requirements judged on what it sent (TR-02, TR-04,
    TR-07...: ``Requirement.content``) are not assessed, because logs carry no payload; the others
    (encryption in transit, cross-border) are judged on the connections the logs hold."""
    from appliance.findings.assess import assess
    from appliance.report.data import requirements_of
    from policies.requirements import REQUIREMENTS
    from policies.verdicts import NOT_ASSESSED, PAYLOADLESS

    res = replay_logs(store, str(shared_path(*DAY)), ReplayOptions(lan_prefixes=[CTU]))  # type: ignore[arg-type]
    assess(store, res.capture_id)  # type: ignore[arg-type]
    q = store.query  # type: ignore[attr-defined]
    dev = q(
        "SELECT mac FROM {db}.devices WHERE capture_id = %(c)s AND has(ipv4, '147.32.83.234')",
        {"c": res.capture_id},
    )[0]["mac"]
    verdicts = {v["id"]: v for v in requirements_of(store, str(dev), [res.capture_id])}  # type: ignore[arg-type]
    content = {r.id for r in REQUIREMENTS if r.content}
    got = {i: (verdicts[i]["verdict"], verdicts[i]["note"]) for i in content}
    # all not assessed; a missing rule or phase is said first, as for a capture (policies.verdicts._missing)
    assert all(v == NOT_ASSESSED for v, _note in got.values()), got
    # those that need content and nothing else, with rules for this device: the logs are why
    assert {i for i, (_v, note) in got.items() if note == PAYLOADLESS} >= {
        "TR-02",
        "TR-04",
        "TR-09",
        "TR-10",
    }, got
    assert all(verdicts[r.id]["note"] != PAYLOADLESS for r in REQUIREMENTS if not r.content)


def test_no_evidence_packets_from_logs(store: object) -> None:
    """A finding's evidence export on a capture from logs says why there are no packets, in one line,
    instead of reading the logs as capture files."""
    import pytest

    from appliance.findings.evidence import EvidenceError, select

    res = replay_logs(store, str(shared_path(*DAY)), ReplayOptions(lan_prefixes=[CTU]))  # type: ignore[arg-type]
    fid = store.query(
        "SELECT flow_id FROM {db}.flows WHERE capture_id = %(c)s LIMIT 1", {"c": res.capture_id}
    )  # type: ignore[attr-defined]
    finding = {"finding_id": "f-logs", "capture_id": res.capture_id, "flow_ids": [fid[0]["flow_id"]]}
    with pytest.raises(EvidenceError, match="replayed from Zeek logs, which carry no payload"):
        select(store, finding)  # type: ignore[arg-type]


def test_rows_of_the_wrong_kind_are_stored_or_skipped_never_fatal(tmp_path: Path, store: object) -> None:
    """Real rows with each field in turn set to values of the wrong kind, replayed into the store:
    the replay commits (ClickHouse takes every value the rows were given), the bad lines counted."""
    src = shared_path("stratosphere-security-datasets-for-testing", "005-zeek-scenario-malicious")
    weird: list[object] = [
        None,
        "",
        "x",
        -1,
        1e300,
        -1e300,
        [],
        {},
        "XXXXXXXXXX.XXXXXX",
        True,
        "\u0000\u202e",
    ]
    for stream in ("conn", "dns", "http"):
        fields, rows = _rows(src / f"{stream}.log")
        base = dict(zip(fields, rows[0], strict=True))
        lines = [json.dumps({**base, n: w, "_path": stream}) for n in fields for w in weird]
        (tmp_path / f"{stream}.json").write_text("\n".join([*lines, "{cut"]) + "\n")
    res = replay_logs(store, str(tmp_path), ReplayOptions())  # type: ignore[arg-type]
    # skipped: the three cut lines, and the conn rows with no address at one end (id.orig_h or
    # id.resp_h replaced: no flow without its endpoints); dns and http rows keep theirs from uid
    assert res.status == "ingested" and res.skipped_packets == 3 + 2 * len(weird)
    cap = store.query("SELECT status FROM {db}.captures WHERE capture_id = %(c)s", {"c": res.capture_id})  # type: ignore[attr-defined]
    assert cap == [{"status": "complete"}]
