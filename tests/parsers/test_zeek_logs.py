"""Zeek logs read by content, in every shape a sensor leaves them (issue 21).

The oracle is the TSV log itself, split here by its own ``#fields`` line: the same rows written
as JSON lines (as ``LogAscii::use_json=T`` writes them: unset fields left out, numbers as numbers,
containers as arrays), gzip-compressed, cut into a rotated set, spread over two sensor folders,
must read as the same connections.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from parsers.zeek.inputs import find_logs, is_zeek_input
from parsers.zeek.logfile import LogStats, ZeekLogError, read_rows, sniff
from parsers.zeek.streams import read_logs
from tests.support.paths import shared_path

STRATO = "stratosphere-security-datasets-for-testing"


def _tsv(path: Path) -> tuple[list[str], list[str], list[list[str]]]:
    """(header lines, field names, rows) of a TSV log, split by hand."""
    header, rows, fields = [], [], []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            header.append(line)
            if line.startswith("#fields"):
                fields = line.split("\t")[1:]
        else:
            rows.append(line.split("\t"))
    return [h for h in header if not h.startswith("#close")], fields, rows


def _json_line(fields: list[str], types: list[str], row: list[str]) -> str:
    obj: dict[str, object] = {}
    for name, typ, v in zip(fields, types, row, strict=True):
        if v == "-":
            continue  # the JSON writer leaves unset fields out
        if typ.startswith(("set[", "vector[")):
            obj[name] = [] if v == "(empty)" else v.split(",")
        elif typ in ("count", "port", "int"):
            obj[name] = int(v)
        elif typ in ("time", "interval", "double"):
            obj[name] = float(v)
        elif typ == "bool":
            obj[name] = v == "T"
        else:
            obj[name] = v
    return json.dumps(obj)


def _conn_key(read: object) -> set[tuple[str, int, int, int, int]]:
    uids = read.uids  # type: ignore[attr-defined]
    return {(uids[id(f)], f.pk_up, f.pk_dn, f.by_up, f.by_dn) for f in read.flows}  # type: ignore[attr-defined]


def test_tsv_json_gzip_rotated_and_sensor_folders_read_alike(tmp_path: Path) -> None:
    src = shared_path(STRATO, "005-zeek-scenario-malicious", "conn.log")
    header, fields, rows = _tsv(src)
    types = next(h for h in header if h.startswith("#types")).split("\t")[1:]
    assert len(rows) > 900
    half = len(rows) // 2
    a = tmp_path / "all" / "sensor-a"
    b = tmp_path / "all" / "sensor-b"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    # sensor a: a rotated set, the archive gzip-compressed, the current file plain
    with gzip.open(a / "conn.2018-05-14-16-00-00.log.gz", "wt") as fh:
        fh.write("\n".join(header + ["\t".join(r) for r in rows[:half]]) + "\n#close\t2018-05-14-17-00-00\n")
    (a / "conn.log").write_text("\n".join(header + ["\t".join(r) for r in rows[half:]]) + "\n")
    (a / "README.txt").write_text("not a log\n")
    # sensor b: the same connections as JSON lines, under a name that says nothing
    (b / "current.json").write_text("\n".join(_json_line(fields, types, r) for r in rows) + "\n")

    logs = find_logs(str(tmp_path / "all"))
    assert [(x.sensor, x.header.fmt) for x in logs] == [
        ("sensor-a", "zeek-tsv"),
        ("sensor-a", "zeek-tsv"),
        ("sensor-b", "zeek-json"),
    ]
    assert logs[0].path.endswith(".log.gz")  # the archive before the current file
    assert is_zeek_input(str(tmp_path / "all"))
    tsv = read_logs(find_logs(str(src)))
    rotated = read_logs(logs[:2])
    js = read_logs(logs[2:])
    assert len(tsv.flows) == len(rows) == len(rotated.flows) == len(js.flows)
    assert _conn_key(tsv) == _conn_key(rotated) == _conn_key(js)
    assert [f.first for f in tsv.flows] == [f.first for f in js.flows]
    assert {r[1] for r in rows} == set(tsv.uids.values())


def test_cut_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    src = shared_path(STRATO, "003-zeek-scenario-malicious", "dns.log")
    text = src.read_text().splitlines()
    body = [ln for ln in text if not ln.startswith("#")]
    cut = [ln for ln in text if not ln.startswith("#close")] + [body[-1][:30]]  # a row cut short, no #close
    p = tmp_path / "dns.log"
    p.write_text("\n".join(cut) + "\n")
    hdr = sniff(str(p))
    assert hdr is not None and hdr.path == "dns"
    st = LogStats()
    got = list(read_rows(str(p), hdr, st))
    assert st.bad_lines == 1
    assert len(got) == st.rows == len(body)
    assert [r["uid"] for r in got] == [
        ln.split("\t")[1] for ln in body if len(ln.split("\t")) == len(hdr.fields)
    ]
    jl = tmp_path / "j" / "dns.json"
    jl.parent.mkdir()
    jl.write_text('{"ts": 1.5, "uid": "Cx", "query": "a.example"}\n{"ts": 2.5, "uid": "C')
    st2 = LogStats()
    rows = list(read_rows(str(jl), sniff(str(jl)), st2))  # type: ignore[arg-type]
    assert [r["uid"] for r in rows] == ["Cx"] and st2.bad_lines == 1


def test_what_is_not_a_log_is_refused(tmp_path: Path) -> None:
    readme = shared_path(STRATO, "010-zeek-mixed", "README.md")
    assert sniff(str(readme)) is None
    pcap = shared_path("zeek", "Traces", "dns53.pcap")
    assert sniff(str(pcap)) is None and not is_zeek_input(str(pcap))
    assert not is_zeek_input(str(pcap.parent))  # a folder of captures stays the capture reader's
    with pytest.raises(ZeekLogError, match="no Zeek log"):
        find_logs(str(readme.parent.parent / "010-zeek-mixed" / "README.md"))
    (tmp_path / "notes.txt").write_text("ts uid\nhello\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "appliance.cli",
            "--db",
            str(tmp_path / "db"),
            "replay",
            str(tmp_path / "notes.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_dns_ssl_http_rows_become_records() -> None:
    read = read_logs(find_logs(str(shared_path(STRATO, "005-zeek-scenario-malicious"))))
    dns_rows = [r for r in _tsv(shared_path(STRATO, "005-zeek-scenario-malicious", "dns.log"))[2]]
    http_rows = _tsv(shared_path(STRATO, "005-zeek-scenario-malicious", "http.log"))[2]
    kinds: dict[str, int] = {}
    for rec in read.records:
        kinds[type(rec).__name__] = kinds.get(type(rec).__name__, 0) + 1
    queries = sum(1 for r in read.records if type(r).__name__ == "DnsRecord" and not r.msg.is_response)  # type: ignore[union-attr]
    assert queries == sum(1 for r in dns_rows if r[12] != "-")  # a query for every row with a qtype
    requests = [r for r in read.records if type(r).__name__ == "HttpRecord" and r.up]  # type: ignore[union-attr]
    assert len(requests) == sum(1 for r in http_rows if r[7] != "-")
    assert {r.msg.host for r in requests} == {r[8] for r in http_rows if r[7] != "-" and r[8] != "-"}  # type: ignore[union-attr]
    # each log of this scenario is its first 1,000 lines: rows whose connection is past conn.log's
    # end get a flow of their own, one per uid
    conn_uids = {r[1] for r in _tsv(shared_path(STRATO, "005-zeek-scenario-malicious", "conn.log"))[2]}
    orphans = {r[1] for r in dns_rows + http_rows} - conn_uids
    assert read.stats.get("flows_from_records", 0) == len(orphans) > 0


def test_a_live_feed_holds_records_until_their_connection_is_logged() -> None:
    from parsers.zeek.live import LiveRows

    d = shared_path(STRATO, "003-zeek-scenario-malicious")
    cf, conn = _tsv(d / "conn.log")[1:]
    df, dns = _tsv(d / "dns.log")[1:]
    q = dict(zip(df, dns[0], strict=True))
    c = dict(zip(cf, next(r for r in conn if r[1] == q["uid"]), strict=True))
    tidy = {k: v for k, v in q.items() if v != "-"}
    feed = LiveRows(hold_ns=60_000_000_000)
    assert feed.add("dns", tidy)
    flows, records, _ev, _u = feed.take()
    assert flows == [] and records == []  # its connection is not logged yet: held
    assert feed.add("conn", {k: v for k, v in c.items() if v != "-"})
    assert not feed.add("conn", {k: v for k, v in c.items() if v != "-"})  # the same row again: once
    flows, records, _ev, uids = feed.take()
    assert len(flows) == 1 and uids[id(flows[0])] == c["uid"]
    f = flows[0]
    assert (f.pk_up, f.by_up, f.pk_dn, f.by_dn) == tuple(
        int(c[k]) for k in ("orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes")
    )
    assert records and all(r.flow is f for r in records)  # on the conn row's flow, its times and counts
    orphan = LiveRows(hold_ns=1)
    orphan.add("dns", tidy)
    orphan.clock += 10  # the feed's time moved past the hold: the record goes with a flow of its own
    flows, records, _ev, _u = orphan.take()
    assert len(flows) == 1 and flows[0].pk_up == 0 and records and records[0].flow is flows[0]


WEIRD: list[object] = [None, "", "x", -1, 1e300, [], {}, "XXXXXXXXXX.XXXXXX", "1.2.3", True]


def test_rows_with_values_of_the_wrong_kind_are_read_without_failing(tmp_path: Path) -> None:
    """Every field of real conn, dns and http rows set in turn to values of the wrong kind (a JSON
    log can hold anything): the rows are read, none raises."""
    d = shared_path(STRATO, "005-zeek-scenario-malicious")
    for stream in ("conn", "dns", "http"):
        _h, fields, rows = _tsv(d / f"{stream}.log")
        base = dict(zip(fields, rows[0], strict=True))
        lines = []
        for name in fields:
            for w in WEIRD:
                lines.append(json.dumps({**base, name: w, "_path": stream}))
        lines.append(json.dumps({"_path": stream, "ts": 1, "id": "not a record", "uid": 5}))
        p = tmp_path / f"{stream}.json"
        p.write_text("\n".join(lines) + "\n")
        read = read_logs(find_logs(str(p)))
        assert read.streams[stream] == len(lines)


def test_a_gzip_log_cut_short_gives_the_rows_before_the_cut(tmp_path: Path) -> None:
    src = shared_path(STRATO, "005-zeek-scenario-malicious", "conn.log")
    whole = gzip.compress(src.read_bytes())
    p = tmp_path / "conn.2018-05-14-16-00-00.log.gz"
    p.write_bytes(whole[: len(whole) // 2])  # a rotation still being copied
    hdr = sniff(str(p))
    assert hdr is not None and hdr.path == "conn"
    st = LogStats()
    got = list(read_rows(str(p), hdr, st))
    body = [ln for ln in src.read_text().splitlines() if not ln.startswith("#")]
    assert st.cut and st.bad_lines >= 1 and 0 < len(got) < len(body)
    assert [r["uid"] for r in got] == [ln.split("\t")[1] for ln in body[: len(got)]]
