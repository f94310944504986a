"""The Streamlit dashboard (dashboards/app.py) on the replayed and assessed lab, page by page,
with ``streamlit.testing.v1.AppTest``: names and numbers shown must be the lab's ground truth
(pcaps/lab/lab.truth.yaml). Also `tapaudit dashboard`'s refusal to serve beyond loopback
without a password.

chDB allows one data path per process and the AppTest runs in this process: the fixture
replays into a folder and closes it, the app then opens that folder once (st.cache_resource),
and the module's teardown closes it again.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from appliance.store.queries import findings as queries_findings
from appliance.store.queries.findings import confirmations as confirmation_rows
from policies.verdicts import SEVERITIES
from tests.support.paths import LAB, ROOT
from tests.support.readable import byte_count, problems, seconds, text_problems
from tests.support.run import assessed_lab, cli

pytestmark = pytest.mark.xdist_group("dashboard")  # one worker: the replayed lab is shared

APP = str(ROOT / "dashboards" / "app.py")
TRUTH: dict[str, Any] = yaml.safe_load((LAB / "lab.truth.yaml").read_text())
WATCH = "e0:06:30:5a:11:21"
CHILD_WATCH = "80:41:4e:7c:22:31"
TIMEOUT = 120


@pytest.fixture(scope="module")
def lab_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    path = str(tmp_path_factory.mktemp("dashboard") / "db")
    cid = assessed_lab(path)
    old = os.environ.get("TAPAUDIT_DB")
    os.environ["TAPAUDIT_DB"] = path
    yield path, cid
    from dashboards import data

    data.close()
    if old is None:
        os.environ.pop("TAPAUDIT_DB", None)
    else:
        os.environ["TAPAUDIT_DB"] = old


@pytest.fixture(autouse=True)
def _lab_alone(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test the store holds the lab's capture alone again, so no test counts what another
    added: the firmware pair stored by the upload and compare tests was deleted only by
    test_delete_capture, and wherever that did not run first (`pytest -n 2` without `--dist loadgroup`
    spreads the module over workers, each with a store of its own; a selection of tests; a failure
    half-way) the findings page counted the pair's 19 child-watch findings beside the lab's 43."""
    lab = request.getfixturevalue("lab_db") if "lab_db" in request.fixturenames else None
    yield
    if lab is None:
        return
    from dashboards import data
    from dashboards import uploads as manage

    path, cid = lab

    def delete_others(store: Any) -> list[str]:
        sql = "SELECT DISTINCT capture_id FROM {db}.captures WHERE capture_id != %(c)s"
        rows = store.query(sql, {"c": cid})
        for r in rows:
            manage.delete_capture(store, str(r["capture_id"]))
        return [str(r["capture_id"]) for r in rows]

    if data.exclusive(path, "the test's clean-up", delete_others):  # waits for an ingest still running
        data.refresh()


def _app(page: str, lang: str = "en") -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["page"] = page
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _frame(at: Any, column: str) -> pd.DataFrame:
    """The first table shown with this column (AppTest keeps no dataframe keys)."""
    for d in at.dataframe:
        value = d.value
        frame = value.data if hasattr(value, "data") else value  # a Styler's frame
        if column in frame.columns:
            return frame
    raise AssertionError(f"no table with a {column!r} column")


def _shown(markdown: str) -> str:
    """Markdown source as it reads once rendered, for the code spans that hold traffic and file text
    (``dashboards.pages_.common.lit``): AppTest gives an alert's or label's source."""
    return re.sub(r"(`+) ?(.*?) ?\1", r"\2", markdown)


def _html(at: Any, testid: str) -> str:
    """The body of the st.html block with this data-testid, without its outer div."""
    for h in at.get("html"):
        body = str(h.proto.body)
        if f"data-testid='{testid}'" in body:
            return re.sub(r"^<div[^>]*>|</div>$", "", body)
    raise AssertionError(f"no html block {testid!r}")


def _current_findings(path: str) -> list[dict[str, Any]]:
    """The findings table's current rows, read with SQL of the test's own (not the read API)."""
    from appliance.store.queries.scope import CURRENT_FINDINGS
    from dashboards import data

    sql = (
        "SELECT device_mac, fact, rule_id FROM {db}.findings"
        f" WHERE assess_id IN ({CURRENT_FINDINGS}) AND rule_id != ''"
    )
    return data._run(path, lambda s: s.query(sql))


def _distinct_facts(path: str) -> set[tuple[str, str]]:
    return {(r["device_mac"], r["fact"]) for r in _current_findings(path)}


def _truth_types(mac: str) -> set[str]:
    return {o["data_type"] for o in TRUTH["observations"] if o["device"] == mac}


UNDER_TEST = {mac: d["name"] for mac, d in TRUTH["devices"].items() if d["category"] != "other"}


def test_captures_page(lab_db: tuple[str, str]) -> None:
    at = _app("captures")
    frame = _frame(at, "SHA-256")
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["SHA-256"] == lab_db[1] and row["File"] == TRUTH["capture"]
    assert (row["Packets"], row["Flows"], row["Status"]) == (TRUTH["packets"], TRUTH["flows"], "complete")
    assert row["Devices"] == len(TRUTH["devices"])
    assert row["Start (UTC)"] == "2026-03-02 09:00:03"  # truth first_ts 1772442003.0
    # 09:00:03 to 11:59:30 (truth first_ts, last_ts): 2 h 59 min 27 s, read to the hour
    assert (
        row["Duration"] == "3 h"
        and abs(seconds(row["Duration"]) - (TRUTH["last_ts"] - TRUTH["first_ts"])) < 60
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_table_reads_as_people_read(lab_db: tuple[str, str], lang: str) -> None:
    """Issue 18, point 3, on every page in both languages: no table shows a raw byte count over
    9999, a period with three decimals, a flag as 0/1 or a 19-digit flow id
    (tests/support/readable.py, the same rules as the CLI's tables and the report)."""
    shown = 0
    for page in ("overview", "captures", "device", "destinations", "findings", "flows", "compare"):
        at = _app(page, lang)
        for d in at.dataframe:
            value = d.value
            frame = value.data if hasattr(value, "data") else value
            cells = [(str(col), str(v)) for col in frame.columns for v in frame[col]]
            assert problems(cells) == [], (page, problems(cells)[:5])
            assert text_problems("\n".join(c for _, c in cells)) == [], page
            byte_cols = [c for c in frame.columns if frame[c].dtype.kind in "iu" and (frame[c] > 9999).any()]
            assert not [c for c in byte_cols if any(w in str(c) for w in ("Byte", "字节", "Sent", "发送"))], (
                page
            )
            shown += len(cells)
    assert shown > 1000


def test_overview_page(lab_db: tuple[str, str]) -> None:
    at = _app("overview")
    frame = _frame(at, "Data types sent").set_index("MAC")
    assert dict(zip(frame.index, frame["Name"], strict=True)) == UNDER_TEST
    assert set(frame["Found by"]) == {"mac"}  # the lab's frames carry every device's MAC
    for mac in UNDER_TEST:
        cat = TRUTH["devices"][mac]["category"]
        assert frame.loc[mac, "Category"] == cat
        shown = set(str(frame.loc[mac, "Data types sent"]).split(", "))
        assert _truth_types(mac) <= shown, mac
        # problems by severity: the worst of the truth's findings leads, none milder than its mildest
        sevs = sorted({f["severity"] for f in TRUTH["findings"] if f["device"] == mac}, key=SEVERITIES.index)
        shown_sevs = [part.split(" ", 1)[1] for part in str(frame.loc[mac, "Problems"]).split(", ")]
        assert shown_sevs[0] == sevs[0] and set(shown_sevs) <= set(sevs), mac
    assert frame.loc[WATCH, "Countries reached"] == "CN"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Devices under test"] == str(len(UNDER_TEST))
    # the overview's totals are the findings page's
    page = {m.label: m.value for m in _app("findings").metric}
    assert (
        metrics["Problems"] == page["Problems"]
        and metrics["Findings (pack clauses)"] == page["Findings (pack clauses)"]
    )


def test_overview_in_chinese(lab_db: tuple[str, str]) -> None:
    at = _app("overview", lang="zh")
    assert at.title[0].value == "tapaudit 仪表盘"
    assert {m.label for m in at.metric} == {"受测设备数", "问题数", "发现（各规则包条款）", "所选流数"}
    frame = _frame(at, "发送的数据类型")
    assert "名称" in frame.columns and set(frame["名称"]) == set(UNDER_TEST.values())
    # severities in the chosen language, from policies.verdicts like the report's
    assert "不合格" in str(frame.set_index("MAC 地址").loc[WATCH, "问题数"])


def test_device_page(lab_db: tuple[str, str]) -> None:
    at = _app("device")
    at.selectbox(key="device_pick").set_value(WATCH).run(timeout=TIMEOUT)
    assert not at.exception
    ident = _html(at, "device-identity")
    dev = TRUTH["devices"][WATCH]
    assert ident.startswith(f"<b style='font-size:1.15rem'>{UNDER_TEST[WATCH]}</b>")
    assert f"MAC <code>{WATCH}</code>" in ident and all(f"<code>{a}</code>" in ident for a in dev["ipv4"])
    # the verdict per requirement, on its own scale, with the worst severity of the truth's findings beside
    reqs = _frame(at, "Worst finding").set_index("Req.")
    assert set(reqs["Verdict"]) <= {"fail", "review", "pass", "not assessed"}
    for req, rules in (
        ("TR-11", {"GBT-04", "ETSI-5.8-2", "EN18031-SCM"}),
        ("TR-13", {"CN25-13", "ETSI-6-1"}),
    ):
        sevs = {f["severity"] for f in TRUTH["findings"] if f["device"] == WATCH and f["rule"] in rules}
        assert reqs.loc[req, "Verdict"] == "fail" and reqs.loc[req, "Worst finding"] == min(
            sevs, key=SEVERITIES.index
        )
    assert reqs.loc["TR-15", "Verdict"] == "not assessed"  # the lab marks no withdrawal or deletion
    assert reqs.loc["TR-15", "Worst finding"] == "-"
    dests = _frame(at, "Cross-border")
    truth_dests = {o["destination"] for o in TRUTH["observations"] if o["device"] == WATCH}
    assert truth_dests <= set(dests["Destination"])
    periods = _frame(at, "Period").set_index("Destination")
    for p in TRUTH["periodic"]:  # a period reads rounded: to a second, or a tenth of a minute
        if p["device"] == WATCH:
            assert abs(seconds(periods.loc[p["destination"], "Period"]) - p["period_s"]) <= 6, p
    assert any(u.value == "No upload bursts." for u in at.info)  # the watch uploads nothing in bulk

    at.selectbox(key="device_pick").set_value("64:f2:fb:66:55:61").run(timeout=TIMEOUT)
    uploads = _frame(at, "Upload kind")
    # the generator's snapshot has the shape of any 60 kB file: its class is unknown (leaning image)
    truth_up = {
        (u["destination"], "unknown" if u["kind"] == "image" else u["kind"])
        for u in TRUTH["uploads"]
        if u["device"] == "64:f2:fb:66:55:61"
    }
    assert set(zip(uploads["Destination"], uploads["Upload kind"], strict=True)) == truth_up
    sure = dict(zip(uploads["Upload kind"], uploads["Confidence"], strict=False))
    assert sure["video"].startswith("medium 0.") and sure["unknown"].startswith("low 0.")
    # replayed without keys: all its encrypted traffic is unread (its uploads alone are over 60 kB)
    cov = _frame(at, "Encrypted traffic off the LAN").set_index("Encrypted traffic off the LAN")
    enc, unread = cov.loc["Encrypted"], cov.loc["Still unread (no keys)"]
    assert cov.loc["Decrypted with session keys", "Flows"] == 0
    assert (unread["Flows"], unread["Bytes (both ways)"]) == (enc["Flows"], enc["Bytes (both ways)"])
    assert enc["Flows"] >= len(set(uploads["Destination"])) and byte_count(enc["Bytes (both ways)"]) > 60_000


def test_device_page_leads_with_the_verdict(lab_db: tuple[str, str]) -> None:
    """Issue 18: the child watch's page opens with its verdict: each of the truth's problems with
    its clauses, the number of distinct problems, and a way from each line to its findings."""
    at = _app("device")
    at.selectbox(key="device_pick").set_value(CHILD_WATCH).run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    facts = {f for d, f in _distinct_facts(lab_db[0]) if d == CHILD_WATCH}
    head = _html(at, "device-verdict-head")
    assert f"<b>{len(facts)} problems</b>" in head and ">fail</span>" in head
    table = _html(at, "device-verdict")
    lines = re.findall(r"<tr>.*?</tr>", table)
    reasons: dict[str, set[str]] = {}
    for f in TRUTH["findings"]:
        if f["device"] == CHILD_WATCH:
            reasons.setdefault(f["reason"], set()).add(f["rule"])
    for reason, rules in reasons.items():  # every rule of the reason named on a line of the verdict
        for rule in rules:
            assert any(re.search(rf"[>,] ?{re.escape(rule)}[<,]", line) for line in lines), (reason, rule)
    assert len(lines) < len(facts)  # the facts of one check share a line
    # the first line's evidence: the Findings page, that device, that line's problems
    pills = at.button_group(key=f"verdict_evidence_{CHILD_WATCH}")
    assert [o.content for o in pills.proto.options] == [str(i) for i in range(1, len(lines) + 1)]
    pills.set_value("1").run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["page"] == "findings" and at.session_state["f_dev"] == [CHILD_WATCH]
    chosen = list(at.session_state["f_fact"])
    assert chosen and all(f.startswith("cleartext:") for f in chosen)  # the watch's worst: clear text
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Problems"] == str(len(chosen)) == str(len(at.expander))


def test_overview_grid_lists_every_device_with_problems(lab_db: tuple[str, str]) -> None:
    """Issue 18: one card per device with findings, its count of problems, the counts adding up to
    the distinct (device, fact) pairs; a card's button opens its device page."""
    at = _app("overview")
    pairs = _distinct_facts(lab_db[0])
    cards = {
        m.group(1): int(m.group(2))
        for h in at.get("html")
        if (m := re.search(r"data-mac='([^']+)'.*?</span> <b>(\d+)</b> problems", str(h.proto.body)))
    }
    assert set(cards) == {d for d, _ in pairs} and set(cards) <= set(UNDER_TEST)
    assert sum(cards.values()) == len(pairs)
    for mac, n in cards.items():
        assert n == len({f for d, f in pairs if d == mac}), mac
    at.button(key=f"open_{CHILD_WATCH}").click().run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["page"] == "device" and at.selectbox(key="device_pick").value == CHILD_WATCH
    assert UNDER_TEST[CHILD_WATCH] in _html(at, "device-identity")


def test_destinations_page(lab_db: tuple[str, str]) -> None:
    at = _app("destinations")
    frame = _frame(at, "Organisation")
    shown = {d for cell in frame["Destination"] for d in str(cell).split(", ")}
    assert {o["destination"] for o in TRUTH["observations"]} <= shown
    abroad = frame[frame["Cross-border"].str.startswith("⚠")]
    assert len(abroad) and set(abroad["Country"]).isdisjoint({"CN"})
    assert set(frame[~frame["Cross-border"].str.startswith("⚠")]["Country"]) <= {"CN", "?"}
    google = frame[frame["Organisation"] == "google"]
    assert UNDER_TEST["20:ff:36:77:66:71"] in " ".join(google["Devices"])


def test_findings_page(lab_db: tuple[str, str]) -> None:
    """One row and card per problem (device and fact), each listing every pack's clause on it."""
    at = _app("findings")
    frame = _frame(at, "Statement")
    names = {m: f"{d['name']} ({m})" for m, d in TRUTH["devices"].items()}
    pairs = _distinct_facts(lab_db[0])
    assert len(frame) == len(pairs) < len(_current_findings(lab_db[0]))
    shown = {
        (d, r) for d, rules in zip(frame["Device"], frame["Rules"], strict=True) for r in rules.split(", ")
    }
    for f in TRUTH["findings"]:
        assert (names[f["device"]], f["rule"]) in shown, f
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Problems"] == str(len(pairs))
    assert metrics["Findings (pack clauses)"] == str(len(_current_findings(lab_db[0])))
    at.multiselect(key="f_sev").set_value(["high"])
    at.multiselect(key="f_dev").set_value([CHILD_WATCH]).run(timeout=TIMEOUT)
    frame = _frame(at, "Statement")
    truth = {f["rule"] for f in TRUTH["findings"] if f["device"] == CHILD_WATCH and f["severity"] == "high"}
    assert set(frame["Severity"]) == {"high"} and set(frame["Device"]) == {names[CHILD_WATCH]}
    assert truth <= {r for rules in frame["Rules"] for r in rules.split(", ")}
    assert at.metric[0].value == str(len(frame))
    # each card lists its clauses: the truth's high findings of the watch, each with its own severity
    clauses = {_shown(m.value) for m in at.markdown}
    for f in TRUTH["findings"]:
        if f["device"] == CHILD_WATCH and f["severity"] == "high":
            assert any(c.startswith(f"- **[high] {f['rule']}** (") for c in clauses), f
    assert any(
        _shown(e.label).startswith("[high] Identifiers shared · apilocate.amap.com") for e in at.expander
    )
    # evidence is masked: no full IMEI of the child watch's persona in any excerpt
    excerpts = "\n".join(c.value for c in at.code)
    assert excerpts and not any(len(tok) >= 15 and tok.isdigit() for tok in excerpts.split())


def test_flows_page(lab_db: tuple[str, str]) -> None:
    at = _app("flows")
    assert at.metric[0].value == str(TRUTH["flows"])
    assert len(_frame(at, "Bytes up")) == 100
    at.number_input(key="flows_page").set_value(4).run(timeout=TIMEOUT)
    last = _frame(at, "Bytes up")
    assert len(last) == TRUTH["flows"] - 300 and at.caption[0].value == "Page 4 / 4"
    at.selectbox(key="flows_device").set_value(WATCH)
    at.number_input(key="flows_page").set_value(1).run(timeout=TIMEOUT)
    frame = _frame(at, "Bytes up")
    total = int(at.metric[0].value)
    assert 0 < total < TRUTH["flows"] and len(frame) == min(total, 100)
    macs = {str(m).split(" ")[0] for m in frame["MAC"]}  # "e0:06:30:5a:11:21 (Huawei)": with its vendor
    assert macs <= set(TRUTH["devices"]) and WATCH in macs
    assert f"{WATCH} (Huawei)" in set(frame["MAC"])
    assert "download_button" in {e.type for e in at.main}


def _stored_flows(path: str, cid: str) -> list[dict[str, Any]]:
    """Every flow record of the lab capture straight from the flows table (no read API, no filter)."""
    from dashboards import data

    sql = "SELECT domain, remote_ip, proto, app, first_ns FROM {db}.flows WHERE capture_id = %(c)s"
    return data._run(path, lambda store: store.query(sql, {"c": cid}))


def _count(rows: list[dict[str, Any]], dest: str = "", proto: int | None = None, app: str | None = None,
           since_ns: int = 0) -> int:  # fmt: skip
    return sum(
        dest.lower() in str(r["domain"] or r["remote_ip"]).lower()
        and (proto is None or int(r["proto"]) == proto)
        and (app is None or r["app"] == app)
        and int(r["first_ns"]) >= since_ns
        for r in rows
    )


def test_flows_filters(lab_db: tuple[str, str]) -> None:
    import datetime as dt

    rows = _stored_flows(*lab_db)
    assert len(rows) == TRUTH["flows"]
    at = _app("flows")
    assert at.metric[0].value == str(TRUTH["flows"])
    at.number_input(key="flows_page").set_value(2).run(timeout=TIMEOUT)
    assert at.caption[0].value == "Page 2 / 4"
    # a changed filter goes back to the first page (TCP alone still fills more than one)
    at.selectbox(key="flows_proto").set_value(6).run(timeout=TIMEOUT)
    tcp_all = _count(rows, "", 6)
    assert tcp_all > 100 and int(at.metric[0].value) == tcp_all
    assert at.caption[0].value == f"Page 1 / {-(-tcp_all // 100)}"
    at.selectbox(key="flows_proto").set_value(None).run(timeout=TIMEOUT)
    assert int(at.metric[0].value) == TRUTH["flows"]
    # a destination of the lab's truth, as a substring: every flow to *.cloud.huawei.com
    dest = next(p["destination"] for p in TRUTH["periodic"] if p["destination"].endswith(".cloud.huawei.com"))
    sub = "CLOUD.huawei"  # case does not matter
    at.text_input(key="flows_dest").input(sub).run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    want = _count(rows, sub)
    assert want > 0 and int(at.metric[0].value) == want
    frame = _frame(at, "Bytes up")
    assert len(frame) == min(want, 100) and dest in set(frame["Destination"])
    assert all(sub.lower() in d.lower() for d in frame["Destination"])
    assert {"Application protocol", "Destination"} <= set(frame.columns)
    # and by transport: TCP only, then UDP only
    at.selectbox(key="flows_proto").set_value(6).run(timeout=TIMEOUT)
    tcp = int(at.metric[0].value)
    assert tcp == _count(rows, sub, 6) and set(_frame(at, "Bytes up")["Protocol"]) <= {"TCP"}
    at.selectbox(key="flows_proto").set_value(17).run(timeout=TIMEOUT)
    assert int(at.metric[0].value) == _count(rows, sub, 17)
    # application protocol (choices from the stored apps): DNS over UDP, any destination
    at.text_input(key="flows_dest").input("").run(timeout=TIMEOUT)
    udp = _count(rows, "", 17)
    assert 0 < udp < TRUTH["flows"] and int(at.metric[0].value) == udp  # UDP alone, any destination
    assert "dns" in at.selectbox(key="flows_app").options
    at.selectbox(key="flows_app").set_value("dns").run(timeout=TIMEOUT)
    dns = _count(rows, "", 17, "dns")
    assert dns > 0 and int(at.metric[0].value) == dns
    assert set(_frame(at, "Bytes up")["Application protocol"]) == {"dns"}
    # a time range narrows it: from the minute of the median such flow on, then until a later minute
    at.selectbox(key="flows_app").set_value(None)
    at.selectbox(key="flows_proto").set_value(None)
    at.text_input(key="flows_dest").input(sub).run(timeout=TIMEOUT)
    minute = 60 * 10**9
    times = sorted(
        int(r["first_ns"]) for r in rows if sub.lower() in str(r["domain"] or r["remote_ip"]).lower()
    )
    since_ns = times[len(times) // 2] // minute * minute
    since = dt.datetime.fromtimestamp(since_ns / 1e9, dt.UTC).replace(tzinfo=None)
    at.datetime_input(key="flows_since").set_value(since).run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    later = int(at.metric[0].value)
    assert 0 < later < want and later == _count(rows, sub, since_ns=since_ns)
    assert min(_frame(at, "Bytes up")["Start (UTC)"]) >= since.strftime("%Y-%m-%d %H:%M:%S")
    until_ns = times[-1] // minute * minute  # the last such flow (at least) is after it
    until = dt.datetime.fromtimestamp(until_ns / 1e9, dt.UTC).replace(tzinfo=None)
    at.datetime_input(key="flows_until").set_value(until).run(timeout=TIMEOUT)
    within = _count(rows, sub, since_ns=since_ns) - _count(rows, sub, since_ns=until_ns)
    assert int(at.metric[0].value) == within and 0 < within < later
    zh = _app("flows", lang="zh")
    assert (
        zh.text_input(key="flows_dest").label == "目的地包含" and "应用协议" in _frame(zh, "上行字节").columns
    )


def _pcap_packets(blob: bytes) -> int:
    """Packets in a classic pcap (either byte order, µs or ns) or a pcapng file, read independently."""
    import struct

    if blob[:4] == b"\x0a\x0d\x0d\x0a":  # pcapng: count packet blocks (enhanced, simple, obsolete)
        n, off = 0, 0
        while off + 8 <= len(blob):
            btype, blen = struct.unpack_from("<II", blob, off)
            n += btype in (2, 3, 6)
            off += blen
        return n
    order = "<" if blob[:4] in (bytes.fromhex("d4c3b2a1"), bytes.fromhex("4d3cb2a1")) else ">"
    n, off = 0, 24
    while off + 16 <= len(blob):
        (incl,) = struct.unpack_from(order + "I", blob, off + 8)
        off += 16 + incl
        n += 1
    assert off == len(blob)
    return n


PCAP_MAGICS = {bytes.fromhex(m) for m in ("d4c3b2a1", "a1b2c3d4", "4d3cb2a1", "a1b23c4d", "0a0d0d0a")}


def test_findings_downloads(lab_db: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from appliance.findings.evidence import EvidenceError, export
    from appliance.store import queries
    from dashboards import data, downloads
    from dashboards.pages_.findings import download_key

    path, cid = lab_db
    lead = [p["findings"][0] for p in data._run(path, queries.problems, [cid], CHILD_WATCH)]
    fnd = next(r for r in lead if r["flows"])  # a card's evidence is its worst finding's
    at = _app("findings")
    at.multiselect(key="f_dev").set_value([CHILD_WATCH]).run(timeout=TIMEOUT)
    pkey, rkey = download_key("pcap", fnd), download_key("report", fnd)
    assert pkey not in at.session_state and not at.download_button  # nothing is built before it is asked for
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    at.button(key=f"{pkey}_go").click().run(timeout=TIMEOUT)
    monkeypatch.undo()
    assert not at.exception, [e.value for e in at.exception]
    got = at.session_state[pkey]
    assert isinstance(got, downloads.Download), got
    assert got.data[:4] in PCAP_MAGICS and got.file_name.startswith(f"evidence-{fnd['finding_id'][:16]}.pcap")
    res = data._run(path, export, str(fnd["finding_id"]), str(tmp_path / "ev.pcap"))  # `tapaudit evidence`
    assert got.packets == res.packets == _pcap_packets(got.data) > 0
    assert got.data == (tmp_path / "ev.pcap").read_bytes()
    assert [b.label for b in at.download_button] == ["Download evidence (pcap)"]
    assert any(c.value.endswith(f"{res.packets:,} packets") for c in at.caption)
    assert not list(tmp.iterdir())  # the evidence was written to a temporary folder, then deleted
    # the device's report, of that finding's capture: names the device, values masked
    at.button(key=f"{rkey}_go").click().run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    rep = at.session_state[rkey]
    assert isinstance(rep, downloads.Download) and rep.mime == "text/html"
    html = rep.data.decode("utf-8")
    assert "<html" in html and TRUTH["devices"][CHILD_WATCH]["name"] in html
    bench = yaml.safe_load((LAB / "lab.bench.yaml").read_text())
    persona = bench["devices"][CHILD_WATCH]["persona"]
    assert "IMEI" in html.upper() and not any(str(persona[k]) in html for k in ("imei", "email", "serial"))
    assert sorted(b.label for b in at.download_button) == ["Download device report (HTML)",
                                                          "Download evidence (pcap)"]  # fmt: skip

    # evidence that cannot be exported (capture files moved or changed): one line of warning
    def refuse(store: Any, finding_id: str, out: str) -> Any:
        raise EvidenceError(f"lab.pcapng: capture file of finding {finding_id} is missing")

    monkeypatch.setattr(downloads, "export", refuse)
    at = _app("findings")
    at.multiselect(key="f_dev").set_value([CHILD_WATCH]).run(timeout=TIMEOUT)
    at.button(key=f"{pkey}_go").click().run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    assert [_shown(w.value) for w in at.warning] == [
        f"lab.pcapng: capture file of finding {fnd['finding_id']} is missing"
    ]
    assert not at.download_button


def test_times_in_the_lab_zone_with_utc_on_hover(
    lab_db: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """TAPAUDIT_TZ (as the CLI): the lab's capture starts 09:00:03 UTC (truth first_ts), 17:00:03 in
    Shanghai; the column's help (its hover) gives the zone's offset from UTC; a hash column is
    narrow, holds the whole sha256 (what a copy takes) and says so."""
    from appliance import format as fmt

    monkeypatch.setattr(fmt, "_lab_zone", "")
    monkeypatch.setattr(fmt, "_lab_read", False)
    monkeypatch.setenv("TAPAUDIT_TZ", "Asia/Shanghai")
    at = _app("captures")
    frame = _frame(at, "SHA-256")
    row = frame.iloc[0]
    assert row["Start (Asia/Shanghai)"] == "2026-03-02 17:00:03" and row["SHA-256"] == lab_db[1]
    config = json.loads(next(d for d in at.dataframe if "SHA-256" in d.value.columns).proto.columns)
    assert "UTC+08:00" in config["Start (Asia/Shanghai)"]["help"]
    assert config["SHA-256"]["width"] == "small" and "copy" in config["SHA-256"]["help"]
    zh = _app("captures", lang="zh")
    assert "开始（Asia/Shanghai）" in _frame(zh, "SHA-256").columns


def test_report_download_reads_the_lab_settings(
    lab_db: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The findings page's report download reads the lab settings file as `tapaudit report` does
    (env TAPAUDIT_LAB here): its laboratory, signatories and time zone are in the HTML; a
    malformed file is the download's one-line error."""
    from appliance import format as fmt
    from appliance.report.lab import EXAMPLE
    from dashboards import data, downloads

    monkeypatch.setattr(fmt, "_lab_zone", "")
    monkeypatch.setattr(fmt, "_lab_read", False)
    monkeypatch.setenv("TAPAUDIT_LAB", str(EXAMPLE))
    path, cid = lab_db
    got = data._run(path, downloads.report_html, CHILD_WATCH, cid)
    html = got.data.decode("utf-8")
    example = EXAMPLE.read_text(encoding="utf-8")
    for name in ("Example Device Privacy Test Laboratory", "Example Customer Ltd.", "Li Wei", "Chen Jing"):
        assert name in example and name in html, name
    assert "2026-03-02 17:00:03" in html and "Asia/Shanghai" in html
    bad = tmp_path / "lab.toml"
    bad.write_text("[laboratory\n", encoding="utf-8")
    monkeypatch.setenv("TAPAUDIT_LAB", str(bad))
    with pytest.raises(downloads.DownloadError) as err:
        data._run(path, downloads.report_html, CHILD_WATCH, cid)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


@pytest.fixture
def throttle(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh login throttle for the app (it keeps the process's one), on a clock the test moves."""
    from appliance import dashboard_access

    clock = [1000.0]
    fresh = dashboard_access.LoginThrottle(clock=lambda: clock[0])
    monkeypatch.setattr(dashboard_access, "THROTTLE", fresh)
    return clock


def test_password_gate(
    lab_db: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, throttle: Any
) -> None:
    settings = tmp_path / "dashboard.toml"
    settings.write_text('password = "s3cret lab pass"\n')
    monkeypatch.setenv("TAPAUDIT_DASHBOARD_SETTINGS", str(settings))
    monkeypatch.setenv("TAPAUDIT_DASHBOARD_AUTH", "1")
    at = _app("captures")
    assert not at.dataframe and at.text_input(key="password_input")
    at.text_input(key="password_input").input("wrong").run(timeout=TIMEOUT)
    assert not at.dataframe and at.error[0].value == "Wrong password."
    at.text_input(key="password_input").input("s3cret lab pass").run(timeout=TIMEOUT)
    assert _frame(at, "SHA-256").iloc[0]["SHA-256"] == lab_db[1]


def test_cli_refuses_non_loopback_without_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from appliance.cli.common import Fail
    from appliance.cli.dashboard import dashboard_command

    monkeypatch.setenv("TAPAUDIT_DASHBOARD_SETTINGS", str(tmp_path / "none.toml"))
    res = cli("dashboard", "--host", "0.0.0.0", db=tmp_path / "db")
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "--host 0.0.0.0 is not loopback" in res.stderr
    with pytest.raises(Fail):
        dashboard_command(None, "192.168.50.2", 8501)
    cmd, env = dashboard_command(str(tmp_path / "db"), "127.0.0.1", 8600)
    assert cmd[-6:-4] == ["--server.address", "127.0.0.1"] or "127.0.0.1" in cmd
    assert cmd[cmd.index("--server.port") + 1] == "8600" and env["TAPAUDIT_DB"] == str(tmp_path / "db")
    assert "TAPAUDIT_DASHBOARD_AUTH" not in env
    (tmp_path / "set.toml").write_text('password = "lab-pass-of-20-chars"\n')
    monkeypatch.setenv("TAPAUDIT_DASHBOARD_SETTINGS", str(tmp_path / "set.toml"))
    cmd, env = dashboard_command(None, "0.0.0.0", 8501)
    assert cmd[cmd.index("--server.address") + 1] == "0.0.0.0" and env["TAPAUDIT_DASHBOARD_AUTH"] == "1"


def test_wrong_passwords_are_throttled(
    lab_db: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, throttle: Any
) -> None:
    """15 wrong tries in a row (6.5 s in issue 17): five are answered, the rest refused unchecked until
    their wait is over, the right password too; waiting each turn out costs 1+2+...+512 s."""
    from appliance import dashboard_access as access

    settings = tmp_path / "dashboard.toml"
    settings.write_text('password = "s3cret lab pass"\n')
    monkeypatch.setenv("TAPAUDIT_DASHBOARD_SETTINGS", str(settings))
    monkeypatch.setenv("TAPAUDIT_DASHBOARD_AUTH", "1")
    at = _app("captures")
    answers = []
    for i in range(15):
        at.text_input(key="password_input").input(f"guess number {i}").run(timeout=TIMEOUT)
        answers.append(at.error[0].value)
    assert answers[:5] == ["Wrong password."] * 5
    assert all(a.startswith("Too many wrong passwords: try again in ") for a in answers[5:]), answers
    at.text_input(key="password_input").input("s3cret lab pass").run(timeout=TIMEOUT)
    assert not at.dataframe and at.error[0].value == "Too many wrong passwords: try again in 1 s."
    # a client that waits out every turn: the waits of tries 6 to 15 add up to 1023 s
    waited = 0.0
    for _ in range(15):
        wait = access.THROTTLE.wait("other")
        waited += wait
        throttle[0] += wait
        access.THROTTLE.failed("other")
    assert waited >= sum(2.0**k for k in range(10)) == 1023
    # every client shares the global budget: after 20 failures over all, a new client waits too
    assert access.THROTTLE.wait("a new client") > 0
    throttle[0] += access.THROTTLE.wait("?") + 1  # the app's session waits its turn out
    at.text_input(key="password_input").input("s3cret lab pass, retyped").run(timeout=TIMEOUT)
    at.text_input(key="password_input").input("s3cret lab pass").run(timeout=TIMEOUT)
    assert at.error[0].value.startswith("Too many wrong passwords")  # the failure above doubled it
    throttle[0] += access.THROTTLE.wait("?") + 1
    at.text_input(key="password_input").input("s3cret lab pass").run(timeout=TIMEOUT)
    assert _frame(at, "SHA-256").iloc[0]["SHA-256"] == lab_db[1]


def test_short_password_or_bad_settings_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A password under 12 characters guards nothing beyond loopback; a settings file that is not TOML
    stops the command on any address; each in one line, exit 1."""
    settings = tmp_path / "dashboard.toml"
    monkeypatch.setenv("TAPAUDIT_DASHBOARD_SETTINGS", str(settings))
    settings.write_text('password = "x"\n')
    res = cli("dashboard", "--host", "0.0.0.0", db=tmp_path / "db")
    assert res.returncode == 1 and res.stdout == "" and res.stderr.count("\n") == 1, res.stderr
    assert "the password has 1 characters, at least 12 are needed" in res.stderr
    settings.write_text('password = "eleven char"\n')
    res = cli("dashboard", "--host", "0.0.0.0", db=tmp_path / "db")
    assert res.returncode == 1 and "has 11 characters" in res.stderr
    for bad in ('password = "unclosed\n', "password = 123456789012345\n", "\xff\xfe garbage"):
        settings.write_bytes(bad.encode("latin-1"))
        for host in ("127.0.0.1", "0.0.0.0"):
            res = cli("dashboard", "--host", host, db=tmp_path / "db")
            assert res.returncode == 1 and res.stdout == "", res.stderr
            assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, res.stderr
            assert f"settings file {settings}: " in res.stderr, res.stderr


def test_app_refuses_a_bad_settings_file(lab_db: tuple[str, str], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Edited while the dashboard runs: the app says so in one line instead of an internal error."""
    settings = tmp_path / "dashboard.toml"
    monkeypatch.setenv("TAPAUDIT_DASHBOARD_SETTINGS", str(settings))
    monkeypatch.setenv("TAPAUDIT_DASHBOARD_AUTH", "1")
    settings.write_text('password = "unclosed\n')
    at = _app("captures")
    assert not at.dataframe and len(at.error) == 1
    assert _shown(at.error[0].value).startswith(f"settings file {settings}: not TOML (")
    settings.write_text('password = "short"\n')
    at = _app("captures")
    assert not at.dataframe and not at.text_input and "too short (at least 12" in at.error[0].value


# -- adding, comparing and deleting captures (they add the firmware captures to the shared store;
# ``_lab_alone`` deletes whatever a test added, whether it passed or not) -----------------------

FW_TRUTH: dict[str, Any] = yaml.safe_load((LAB / "child-watch-fw-diff.truth.yaml").read_text())
FW = ("child-watch-fw-a.pcapng", "child-watch-fw-b.pcapng")


def _fw_ids(path: str) -> dict[str, str]:
    """Both firmware captures stored as the upload stores them (no bench, no phases); their ids."""
    from dashboards import data
    from dashboards import uploads as manage

    done = data._run(path, manage.ingest, [str(LAB / f) for f in FW])
    data.refresh()
    return {side: r.capture_id for side, r in zip("ab", done.results, strict=True)}


def test_upload_refuses_a_non_capture(lab_db: tuple[str, str]) -> None:
    at = _app("captures")
    at.file_uploader(key="up_caps").set_value(("notes.txt", b"hello, not a capture", "text/plain"))
    at.button(key="up_go").click().run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    assert _shown(at.error[0].value).startswith("notes.txt: not a pcap or pcapng capture")
    assert len(_frame(at, "SHA-256")) == 1  # nothing stored
    assert not any(p.name.endswith(".txt") for p in (Path(lab_db[0]) / "uploads").rglob("*"))


def test_upload_refuses_a_bad_bench_file(lab_db: tuple[str, str]) -> None:
    at = _app("captures")
    at.file_uploader(key="up_caps").set_value((FW[0], (LAB / FW[0]).read_bytes(), "application/octet-stream"))
    at.file_uploader(key="up_bench").set_value(("bench.yaml", b"- not a mapping\n", "application/x-yaml"))
    at.button(key="up_go").click().run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    shown = _shown(at.error[0].value)
    assert shown.startswith("bench file ") and "expected a mapping" in shown
    assert len(_frame(at, "SHA-256")) == 1  # nothing replayed


def test_upload_ingests_and_assesses(lab_db: tuple[str, str]) -> None:
    at = _app("captures")
    at.button(key="up_go").click().run(timeout=TIMEOUT)
    assert at.warning[0].value == "Choose at least one capture file."
    files = [(f, (LAB / f).read_bytes(), "application/octet-stream") for f in FW]
    at.file_uploader(key="up_caps").set_value(files)
    decl = (LAB / "declarations" / "child_watch.yaml").read_bytes()
    at.file_uploader(key="up_decls").set_value([("child_watch.yaml", decl, "application/x-yaml")])
    at.button(key="up_go").click().run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    done = [_shown(s.value) for s in at.success]
    assert len(done) == 2 and all(s.startswith(("Ingested: ", "Already stored: ")) for s in done), done
    for s, f in zip(done, FW, strict=True):  # what the run found, and links to its pages
        assert f"{f} (" in s and " findings" in s and "Open: [Overview](?page=overview&lang=en&capture=" in s
    assert len(at.get("progress")) >= 2  # one bar per capture, fed by replay's Progress
    frame = _frame(at, "SHA-256").set_index("File")
    assert set(FW) | {TRUTH["capture"]} == set(frame.index)
    for side, f in zip("ab", FW, strict=True):
        assert frame.loc[f, "Packets"] == FW_TRUTH[side]["packets"] and frame.loc[f, "Status"] == "complete"
        sha = frame.loc[f, "SHA-256"]
        assert (Path(lab_db[0]) / "uploads" / sha[:16] / f).read_bytes() == (LAB / f).read_bytes()
    # the assessment ran: the findings page has the child watch's findings of the new captures
    fnd = _app("findings")
    caps = fnd.multiselect(key="caps")
    caps.set_value([frame.loc[FW[1], "SHA-256"]]).run(timeout=TIMEOUT)
    assert not fnd.exception and int(fnd.metric[0].value) > 0


def _cell_set(frame: pd.DataFrame, column: str) -> set[str]:
    return {str(v) for v in frame[column]}


@pytest.mark.parametrize("device", ["", CHILD_WATCH])
def test_compare_page(lab_db: tuple[str, str], device: str) -> None:
    ids = _fw_ids(lab_db[0])
    at = _app("compare")
    at.selectbox(key="cmp_a").set_value(ids["a"])
    at.selectbox(key="cmp_b").set_value(ids["b"]).run(timeout=TIMEOUT)
    if device:
        at.selectbox(key="cmp_dev").set_value(device).run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    for kind, col in (("destinations", "destination"), ("organisations", "organisation"),
                      ("countries", "country"), ("data_types", "data_type")):  # fmt: skip
        for side in ("new", "gone"):
            label = f"{side.capitalize()} {col.replace('_', ' ')}"
            truth = {x[col] if isinstance(x, dict) else x for x in FW_TRUTH[kind][side]}
            assert _cell_set(_frame(at, label), label) == truth, (kind, side)
    new_dest = _frame(at, "New destination").set_index("New destination")
    assert new_dest.loc["ulogs.umeng.com", "Organisation"] == "umeng"
    assert new_dest.loc["ulogs.umeng.com", "Countries reached"] == "CN"
    for side in ("new", "gone"):
        frame = _frame(at, f"{side.capitalize()} series (data type)")
        shown = set(zip(frame.iloc[:, 0], frame["Organisation"], frame["Test phase"], strict=True))
        truth = {(s["data_type"], s["organisation"], s["phase"]) for s in FW_TRUTH["series"][side]}
        assert shown == truth, side
    freq = _frame(at, "Interval in A")
    assert len(freq) == len(FW_TRUTH["frequency"])
    for f in FW_TRUTH["frequency"]:  # read rounded: to a tenth under ten, to the unit above
        row = freq[(freq["Data type"] == f["data_type"]) & (freq["Organisation"] == f["organisation"])]
        assert len(row) == 1, f
        for side, want in (("A", f["a_interval"]), ("B", f["b_interval"])):
            assert abs(seconds(row.iloc[0][f"Interval in {side}"]) - want) <= max(0.5, want * 0.05), (f, side)
    prec = _frame(at, "Decimals in A")
    cols = [prec[c] for c in ("Data type", "Organisation", "Decimals in A", "Decimals in B")]
    truth_prec = [
        (p["data_type"], p["organisation"], p["a_decimals"], p["b_decimals"]) for p in FW_TRUTH["precision"]
    ]
    assert set(zip(*cols, strict=True)) == set(truth_prec)
    for side in ("new", "gone"):  # the findings tables are there (what they hold is the rule packs')
        _frame(at, f"{side.capitalize()} finding (rule)")
    zh = _app("compare", lang="zh")
    assert zh.header[0].value == "对比" and _frame(zh, "新增目的地") is not None


def test_delete_capture(lab_db: tuple[str, str]) -> None:
    """Delete asks again every time (naming the capture), Cancel deletes nothing, and a deleted
    capture leaves the sidebar's capture filter at once (issue 18 point 4)."""
    ids = _fw_ids(lab_db[0])
    names = {ids[side]: f for side, f in zip("ab", FW, strict=True)}
    at = _app("captures")
    at.selectbox(key="del_pick").set_value(ids["a"])
    at.button(key="del_go").click().run(timeout=TIMEOUT)
    asked = _shown(at.warning[0].value)
    assert asked.startswith(f"Delete {names[ids['a']]} ({ids['a'][:12]}) and everything derived"), asked
    at.button(key="del_no").click().run(timeout=TIMEOUT)
    assert at.info[0].value == "Nothing deleted." and not at.warning
    assert ids["a"] in set(_frame(at, "SHA-256")["SHA-256"])
    at.multiselect(key="caps").set_value([ids["a"], ids["b"]]).run(timeout=TIMEOUT)
    for side in "ab":
        at.selectbox(key="del_pick").set_value(ids[side]).run(timeout=TIMEOUT)
        assert not at.warning  # nothing asked before Delete is pressed, the second time too
        at.button(key="del_go").click().run(timeout=TIMEOUT)
        assert _shown(at.warning[0].value).startswith(f"Delete {names[ids[side]]} ({ids[side][:12]})")
        at.button(key="del_yes").click().run(timeout=TIMEOUT)
        assert not at.exception, [e.value for e in at.exception]
        assert _shown(at.success[0].value).startswith(f"Deleted capture: {ids[side][:12]}")
        assert ids[side] not in set(_frame(at, "SHA-256")["SHA-256"])
        assert ids[side] not in at.multiselect(key="caps").value  # gone from the sidebar's filter
        assert ids[side] not in at.multiselect(key="caps").options
    at = _app("captures")  # a fresh session: gone, the lab's capture untouched
    assert list(_frame(at, "SHA-256")["SHA-256"]) == [lab_db[1]]
    from appliance.store import queries
    from dashboards import data

    for cid in ids.values():  # no row of either capture is left in any table
        assert not data._run(lab_db[0], queries.flow_count, [cid])
        assert not data._run(lab_db[0], queries.devices, [cid])
    assert _app("overview").metric  # the other pages still render


def test_an_empty_store_offers_the_upload_form(tmp_path: Path) -> None:
    """Nothing stored yet: the app says so and still shows the Captures page's upload form
    (in a process of its own: chDB opens one data folder per process)."""
    script = (
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('dashboards/app.py', default_timeout=60).run()\n"
        "assert not at.exception, at.exception\n"
        "print(len(at.get('file_uploader')), [b.label for b in at.button])\n"
    )
    env = {**os.environ, "TAPAUDIT_DB": str(tmp_path / "empty")}
    p = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=120, check=False)  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    uploaders, buttons = p.stdout.strip().split(" ", 1)
    assert int(uploaders) >= 1 and "Ingest and assess" in buttons


def test_mark_a_phase_in_the_running_session(
    lab_db: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Captures page finds a session on its control socket, shows its figures, and its form
    sends a mark that the session's loop receives (appliance.live.control, as `tapaudit mark` does)."""
    import threading

    from appliance.live.control import Control

    path = str(tmp_path / "control.sock")
    monkeypatch.setenv("TAPAUDIT_CONTROL", path)
    at = _app("captures")
    assert not any(s.value == "Live capture session" for s in at.subheader)  # no session: no panel
    got: list[dict[str, Any]] = []
    status = {"capture_id": "ab" * 32, "packets": 12345, "flows": 67, "dropped": 2, "if_dropped": 1,
              "phase": "setup", "lag_s": 0.4, "spool_pending": 0}  # fmt: skip

    def handler(req: dict[str, Any]) -> dict[str, Any]:
        if req["op"] == "status":
            return {"session": status}
        got.append(req)
        return {"ts_ns": 1_800_000_000 * 10**9, "capture_id": status["capture_id"], "phase": req["phase"],
                "device": req["device"]}  # fmt: skip

    control = Control(path)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            control.serve(handler)
            stop.wait(0.02)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        at = _app("captures")
        assert [s.value for s in at.subheader][:1] == ["Live capture session"]
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["Packets"] == "12,345" and metrics["Dropped packets"] == "3"
        assert metrics["Test phase"] == "setup"
        at.selectbox(key="mark_phase").set_value("feature_on")
        at.text_input(key="mark_note").input("voice assistant on")
        at.text_input(key="mark_device").input(CHILD_WATCH)
        at.button[0].click().run(timeout=TIMEOUT)  # the form's submit button
        assert not at.exception, [e.value for e in at.exception]
        assert got == [
            {"op": "mark", "phase": "feature_on", "note": "voice assistant on", "device": CHILD_WATCH}
        ]
        assert _shown(at.success[0].value).startswith("Marked feature_on")
    finally:
        stop.set()
        thread.join(2)
        control.close()


def _big_uploads(folder: Path, n: int, packets: int) -> list[str]:
    """``n`` different synthetic captures of ``packets`` packets each, gzip-compressed (as uploads
    often are), the uncompressed files removed again."""
    import gzip
    import shutil

    from pcaps.synth.benchcap import write_bench_capture

    out = []
    for seed in range(n):
        raw = folder / write_bench_capture(folder, packets, seed=17 + seed)["capture"]
        big = folder / f"big-upload-{seed}.pcap.gz"
        with raw.open("rb") as src, gzip.open(big, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst)
        raw.unlink()
        out.append(str(big))
    return out


def test_a_long_ingest_does_not_block_other_sessions(lab_db: tuple[str, str], tmp_path: Path) -> None:
    """While one session ingests a large upload (three 200,000-packet captures, gzip), another
    session's page answers at once that the store is busy, instead of waiting for the ingest (97 s in
    issue 17); once the ingest is done, the page shows again. It adds captures, then deletes them."""
    import threading
    import time

    from dashboards import data
    from dashboards import uploads as manage

    uploads = _big_uploads(tmp_path, 3, 200_000)
    done: list[Any] = []

    def ingest() -> None:
        done.append(data.exclusive(lab_db[0], "another session is ingesting `big`", manage.ingest, uploads))

    job = threading.Thread(target=ingest, daemon=True)
    began = time.monotonic()
    job.start()
    while not data._BUSY and job.is_alive():
        time.sleep(0.01)
    data.refresh()  # nothing cached: the page must ask the store
    t0 = time.monotonic()
    at = _app("findings")
    took = time.monotonic() - t0
    still = job.is_alive()
    job.join(600)
    ingest_s = time.monotonic() - began
    print(f"page during ingest: {took:.2f} s; ingest: {ingest_s:.1f} s")
    assert still, f"the ingest ({ingest_s:.1f} s) ended before the page ({took:.2f} s) was shown"
    assert took < 3.0, took
    assert len(at.warning) == 1 and _shown(at.warning[0].value).startswith(
        "The store is busy: another session is ingesting big, started "
    ), [w.value for w in at.warning]
    assert done and [r.status for r in done[0].results] == ["ingested"] * 3
    data.refresh()
    at = _app("findings")  # free again: the page shows
    assert not at.warning and at.metric
    for r in done[0].results:
        assert data._run(lab_db[0], manage.delete_capture, r.capture_id)
    data.refresh()


HOSTILE = "http path: Wireshark reads [a link](http://evil.example/) <b>bold</b>, the finding says **x**"


def _cells(at: Any, column: str) -> list[str]:
    return (
        [str(v) for v in _frame(at, column)[column]]
        if any(column in d.value.columns for d in at.dataframe)
        else []
    )


@pytest.mark.tshark
def test_findings_show_wiresharks_check(lab_db: tuple[str, str], tmp_path: Path) -> None:
    """Issue 22: each finding card shows Wireshark's check (badge, reason, tshark's version), the page
    counts each outcome, and on demand the evidence packets as tshark lists them, the claims compared
    and the dissection tree, every value masked and shown as text."""
    from appliance.masking import mask
    from appliance.store.schema import CONFIRMATIONS
    from dashboards import data
    from tests.support.confirmrows import tshark_version, write_confirmations

    path, cid = lab_db
    written = data._run(path, write_confirmations, cid, tmp_path, CHILD_WATCH)
    by = {o: fid for fid, o in written.outcome.items()}
    fnds = {str(f["finding_id"]): f for f in data._run(path, queries_findings, [cid], CHILD_WATCH)}
    # traffic text in a reason stays text: a finding of the child watch not otherwise checked
    spare = next(fid for fid in fnds if fid not in written.outcome)
    f = fnds[spare]
    ingest = int(data._run(path, confirmation_rows, [cid])[0]["ingest_id"])  # the capture's current
    row = CONFIRMATIONS.row(capture_id=cid, ingest_id=ingest, assess_id=int(f["assess_id"]), finding_id=spare,
                            confirm_id=1, outcome="not confirmed", reason=HOSTILE, checks="[]", packets="[]",
                            tree="[]", tshark_version=tshark_version(), keyed=0, checked_ns=1)  # fmt: skip
    data._run(path, lambda s: s.insert("confirmations", [row]))
    data.refresh()
    at = _app("findings")
    at.multiselect(key="f_dev").set_value([CHILD_WATCH]).run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    n = int(metrics["Findings (pack clauses)"])  # every finding of each problem carries its badge
    assert n == len(fnds)
    assert (
        metrics["Wireshark's check: confirmed"] == "1" and metrics["Wireshark's check: not checkable"] == "1"
    )
    assert metrics["Wireshark's check: not confirmed"] == "2"  # the disagreement is counted, not hidden
    assert metrics["Wireshark's check: not checked"] == str(n - 4)
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert badges.count(":green-badge[confirmed]") == 1 and badges.count(":red-badge[not confirmed]") == 2
    assert (
        badges.count(":orange-badge[not checkable]") == 1
        and badges.count(":gray-badge[not checked]") == n - 4
    )
    captions = [c.value for c in at.caption]
    version = tshark_version()
    assert version.startswith("4.") and sum(f"tshark `{version}`" in c for c in captions) == 4
    reason = written.reason[by["not confirmed"]]
    assert reason.startswith("http host: Wireshark reads ") and any(
        _shown(c).startswith(reason) for c in captions
    )
    hostile = [c for c in captions if "evil.example" in c]
    assert len(hostile) == 1 and hostile[0].startswith("`") and _shown(hostile[0]).startswith(HOSTILE)
    # nothing built before it is asked for; no toggle where there is nothing to show
    assert not _cells(at, "Info") and all("http.host" not in j.value for j in at.json)
    keys = {tg.key for tg in at.toggle}
    assert keys == {f"wc_{cid[:16]}_{by['confirmed']}", f"wc_{cid[:16]}_{by['not confirmed']}"}
    bench = yaml.safe_load((LAB / "lab.bench.yaml").read_text())
    persona = {k: str(v) for k, v in bench["devices"][CHILD_WATCH]["persona"].items() if len(str(v)) >= 6}
    for outcome in ("not confirmed", "confirmed"):
        fid = by[outcome]
        at.toggle(key=f"wc_{cid[:16]}_{fid}").set_value(True).run(timeout=TIMEOUT)
        assert not at.exception, [e.value for e in at.exception]
        frame = _frame(at, "Info")
        # the packet list is tshark's for the finding's evidence export, masked
        assert list(frame["Frame"]) == [p["frame"] for p in written.packets[fid]] and len(frame) > 0
        assert list(frame["Source"]) == [p["src"] for p in written.packets[fid]]
        assert set(frame["Protocol"]) >= {"TCP"} and any(p.startswith("HTTP") for p in frame["Protocol"])
        checks = _frame(at, "Wireshark reads")
        assert set(checks["Wireshark field"]) >= {"http.host"}
        host = checks[checks["Wireshark field"] == "http.host"]
        assert host["Agrees"].iloc[0] == ("yes" if outcome == "confirmed" else "no")  # a flag as yes/no
        trees = [json.loads(j.value) for j in at.json if "http.host" in j.value]
        assert trees and all(set(t) == {f"Frame {next(iter(t))[6:]}"} for t in trees)
        http = next(iter(trees[0].values()))["http: Hypertext Transfer Protocol"]
        assert http["http.host"] == host["Wireshark reads"].iloc[0]
        at.toggle(key=f"wc_{cid[:16]}_{fid}").set_value(False).run(timeout=TIMEOUT)
    # the child watch's IMEI goes in a query of the not-confirmed finding's request: masked there
    at.toggle(key=f"wc_{cid[:16]}_{by['not confirmed']}").set_value(True).run(timeout=TIMEOUT)
    shown = "\n".join([*_cells(at, "Info"), *(j.value for j in at.json), *captions])
    assert mask(persona["imei"]) in shown
    assert not [k for k, v in persona.items() if v in shown]
    # in Chinese: the same counts under translated labels
    zh = _app("findings", "zh")
    metrics = {m.label: m.value for m in zh.metric}
    assert metrics["Wireshark 核查: 未确认"] == "2" and metrics["Wireshark 核查: 已确认"] == "1"
