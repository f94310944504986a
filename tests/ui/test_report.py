"""tapaudit report: the per-device lab report from the replayed and assessed lab, in all four formats.

The rule packs are still growing, so the assertions hold on what the lab always gives
(identity, phases, capture hashes, measured data types, destinations, charts) and on the
findings only as far as the packs on disk raise them. The PDF pages are also written as
PNG images to tests/artifacts/report/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance import __version__
from appliance.ingest.replay import replay
from appliance.report import charts
from appliance.report.data import ReportData, ReportError, gather
from appliance.report.fonts import cjk_font
from appliance.report.render_html import render_html
from appliance.report.render_md import code, esc, render_md
from appliance.store.backends import Store, open_store
from policies.engine import load_pack, pack_names
from policies.requirements import REQUIREMENTS
from policies.verdicts import BREACH, VERDICTS, at_least, worst
from tests.support.paths import ROOT
from tests.support.run import assessed_lab, cli, lab_options

pytestmark = pytest.mark.xdist_group("report")  # one worker: the replayed lab is shared by the module

LAB = ROOT / "pcaps" / "lab"
ARTIFACTS = ROOT / "tests" / "artifacts" / "report"
WATCH = "e0:06:30:5a:11:21"  # Huawei Watch GT (lab)
CHILD_WATCH = "80:41:4e:7c:22:31"  # imoo Kids Watch Z7
PHASES = ["boot", "idle", "feature_on", "feature_off", "background"]
A4_PT = (595.28, 841.89)
MARGIN_PT = 14 / 25.4 * 72  # the @page side margins


@pytest.fixture(scope="module")
def lab_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The lab replayed with its bench and phases, assessed against every pack and the lab's
    declarations: the data folder and the capture id (the folder is closed: chDB opens one at a time)."""
    path = str(tmp_path_factory.mktemp("report") / "db")
    return path, assessed_lab(path)


@pytest.fixture
def lab(lab_db: tuple[str, str]) -> Iterator[tuple[Store, str]]:
    store = open_store(lab_db[0])
    yield store, lab_db[1]
    store.close()


@pytest.fixture(scope="module")
def watch(lab_db: tuple[str, str]) -> ReportData:
    store = open_store(lab_db[0])
    try:
        return gather(store, WATCH)
    finally:
        store.close()


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing: scripts/ensure-debs.sh installs poppler-utils")
        pytest.skip(f"{tool} not installed")
    return path


def _need_pdf() -> None:
    if cjk_font() is None:
        if os.environ.get("CI"):
            pytest.fail("no CJK font: scripts/ensure-debs.sh installs fonts-wqy-microhei")
        pytest.skip("no CJK font installed")
    _need("pdftoppm")
    _need("pdfinfo")


def test_identity_scenario_and_provenance(watch: ReportData, lab: tuple[Store, str]) -> None:
    d = watch.device
    assert (d["mac"], d["name"], d["category"]) == (WATCH, "Huawei Watch GT (lab)", "watch")
    assert (d["vendor"], d["model"], d["firmware"]) == ("Huawei", "GT-4", "1.0.21")
    assert d["dhcp_hostname"] and d["oui_vendor"].upper().startswith("HUAWEI")
    assert "192.168.50.21" in d["ipv4"] and d["flows"] > 0
    assert [p["phase"] for p in watch.phases] == PHASES
    assert all(p["note"] == "lab scenario" and p["end_ns"] > p["start_ns"] for p in watch.phases)
    assert sum(p["observations"] for p in watch.phases) > 0
    [cap] = watch.captures
    sha = hashlib.sha256((LAB / "lab.pcapng").read_bytes()).hexdigest()
    assert cap["capture_id"] == lab[1] == sha and cap["files"][0]["sha256"] == sha
    assert cap["packets"] > 0 and cap["last_ns"] > cap["first_ns"] and not cap["truncated"]
    pv = watch.provenance
    assert watch.tool_version == __version__
    for key in ("geoip_version", "catalog_version", "psl_version", "bench_sha256", "phases_sha256"):
        assert pv[key] and all(pv[key]), key
    assert {p["pack"] for p in pv["packs"]} == {load_pack(n).id for n in pack_names()}
    assert pv["packs_verified"] and all(len(p["sha256"]) == 64 for p in pv["packs"])
    [a] = pv["assessments"]
    assert len(a["rules_sha256"]) == 64 and len(a["declaration_sha256"]) == 64


def test_measured_data_types_and_destinations(watch: ReportData) -> None:
    types = {t["data_type"]: t for t in watch.data_types}
    # the lab's watch: location every 30 s and heart rate every 60 s with the feature on, health readings
    assert {"location", "health:heart_rate", "health:spo2", "health:steps", "health:sleep"} <= set(types)
    assert types["location"]["median_interval_s"] == pytest.approx(30, rel=0.05)
    assert types["location"]["max_decimals"] == 6 and types["location"]["organisations"] == ["huawei"]
    assert types["health:heart_rate"]["median_interval_s"] == pytest.approx(60, rel=0.05)
    assert all(w["excerpt"] for t in types.values() for w in t["found_in"])
    assert {m["phase"] for m in watch.measures} >= {"idle", "feature_on"}
    dests = {x["destination"]: x for x in watch.destinations}
    assert {"health-api.cloud.huawei.com", "alogus.umeng.com"} <= set(dests)
    assert dests["alogus.umeng.com"]["party"] == "third" and dests["alogus.umeng.com"]["countries"] == ["CN"]
    # what could not be read: TLS to Huawei's cloud, with the period of its beats
    enc = {u["destination"]: u for u in watch.unreadable if u["encrypted"]}
    assert enc["connect-drcn.hispace.hicloud.com"]["period_s"] == pytest.approx(300, rel=0.02)
    assert any(i["topic"] == "encrypted" for i in watch.not_assessed)


def test_requirement_verdicts(watch: ReportData, lab: tuple[Store, str]) -> None:
    child = gather(lab[0], CHILD_WATCH)
    packs = [load_pack(n) for n in pack_names()]
    for report in (watch, child):
        assert [q["id"] for q in report.requirements] == [r.id for r in REQUIREMENTS]
        for q in report.requirements:
            assert q["verdict"] in VERDICTS and q["note"]
            mine = [f for f in report.findings if q["id"] in f["requirements"]]
            if mine:  # it fails, and the worst severity among its findings stands beside
                assert q["severity"] == worst(f["severity"] for f in mine) and q["findings"] == len(mine)
                assert q["verdict"] == ("fail" if at_least(q["severity"], BREACH) else "review")
            else:
                assert q["verdict"] in ("pass", "review", "not assessed") and q["severity"] == ""
            if not any(q["id"] in r.requirements for p in packs for r in p.rules):
                assert q["verdict"] == "not assessed"
        for f in report.findings:  # statement, evidence and clause
            assert f["statement"] and f["requirements"] and f["first_ns"] <= f["last_ns"]
            rule = next((r for p in packs for r in p.rules if r.id == f["rule_id"]), None)
            if rule is not None:
                assert f["clauses"] == list(rule.clauses) and f["explain"] == rule.explain
    # the children's watch sends its IMEI, phone number and location during boot, before the consent
    if any(r.check == "sensitive_before_consent" for p in packs for r in p.rules):
        early = [f for f in child.findings if f["rule_id"] and "TR-01" in f["requirements"]]
        assert early and early[0]["flow_ids"] and early[0]["excerpts"]
        tr01 = next(q for q in child.requirements if q["id"] == "TR-01")
        assert (tr01["verdict"], tr01["severity"]) == ("fail", early[0]["severity"])


def test_charts_have_titles_axes_and_legends(watch: ReportData) -> None:
    by_id = {c.id: c for c in watch.charts}
    assert set(by_id) == {"intervals", "destinations", "timeline"}
    for c in watch.charts:
        assert c.title and c.title_zh and c.legend_title and not c.empty
        assert re.search(r"\((s|count|UTC|ISO)", c.x_label + c.y_label), (c.x_label, c.y_label)
    assert (
        "(s, log scale)" in by_id["intervals"].x_label and by_id["intervals"].y_label == "Intervals (count)"
    )
    series = {s["label"]: s["values"] for s in by_id["intervals"].series}
    assert min(series["location"]) == pytest.approx(30, rel=0.05)
    assert [s["phase"] for s in by_id["timeline"].spans] == PHASES
    assert by_id["destinations"].categories == ["CN"]
    assert {s["key"] for s in by_id["destinations"].series} == {"first", "third", "unknown"}
    for c in watch.charts:
        svg = charts.render(c, "svg").decode()
        comments = set(re.findall(r"<!-- (.*?) -->", svg))  # matplotlib names each text drawn as paths
        assert c.title in comments and c.x_label in comments and c.y_label in comments
        assert c.legend_title in comments
        if cjk_font() is not None:
            assert c.title_zh in comments
        assert "<text" not in svg  # glyphs as paths: no font needed to show it
        png = charts.render(c, "png", dpi=60)
        assert png.startswith(b"\x89PNG")
    empty = charts.interval_chart({})
    assert empty.empty and charts.render(empty, "png", dpi=40).startswith(b"\x89PNG")


def _self_contained(html: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", html, re.I)
    assert not re.search(r"<(link|script)\b", html, re.I)
    for uri in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html):
        svg = base64.b64decode(uri).decode()
        assert not re.search(r"""href\s*=\s*["'](?!#)""", svg), "an SVG refers outside itself"


def _pdf_checks(pdf: Path, stem: str) -> list[Path]:
    info = subprocess.run([_need("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert pages >= 3 and size is not None
    assert (float(size.group(1)), float(size.group(2))) == pytest.approx(A4_PT, abs=1)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert "个人信息流量测试报告" in text and "What could not be assessed" in text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    assert re.search(r"WenQuanYi|Noto|CJK|Hei", fonts), fonts
    # nothing beyond the side margins: every word of every page inside the text column
    bbox = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True).stdout
    width = float(re.search(r'<page width="([\d.]+)"', bbox).group(1))  # type: ignore[union-attr]
    words = re.findall(
        r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">(.*?)</word>', bbox
    )
    assert words
    outside = [w for x0, x1, w in ((float(a), float(b), c) for a, b, c in words)
               if x1 > width - MARGIN_PT + 1 or x0 < MARGIN_PT - 1]  # fmt: skip
    assert not outside, f"text beyond the margins: {outside[:5]}"
    for old in ARTIFACTS.glob(f"{stem}-page-*.png"):
        old.unlink()
    subprocess.run(
        [_need("pdftoppm"), "-r", "80", "-png", str(pdf), str(ARTIFACTS / f"{stem}-page")], check=True
    )
    images = sorted(ARTIFACTS.glob(f"{stem}-page-*.png"))
    assert len(images) == pages
    return images


@pytest.mark.parametrize("mac", [WATCH, CHILD_WATCH])
def test_all_formats(lab: tuple[Store, str], mac: str) -> None:
    from appliance.report.pdf import render_pdf

    _need_pdf()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = "report-" + mac.replace(":", "")
    data = gather(lab[0], mac)
    html = render_html(data)
    (ARTIFACTS / f"{stem}.html").write_text(html, encoding="utf-8")
    _self_contained(html)
    assert html.count('<figure id="chart-') == 3 and "个人信息流量测试报告" in html
    assert data.device["name"] in html and data.captures[0]["capture_id"] in html
    assert all(q["id"] in html for q in data.requirements)
    md, pngs = render_md(data, stem)
    (ARTIFACTS / f"{stem}.md").write_text(md, encoding="utf-8")
    for name, png in pngs.items():
        (ARTIFACTS / name).write_bytes(png)
    assert set(pngs) == {f"{stem}.{c}.png" for c in ("intervals", "destinations", "timeline")}
    assert all(f"]({name})" in md for name in pngs) and "## 8. What could not be assessed" in md
    assert data.captures[0]["capture_id"] in md
    (ARTIFACTS / f"{stem}.json").write_text(data.to_json(), encoding="utf-8")
    doc = json.loads(data.to_json())
    assert doc["schema"] == "tapaudit.report/1" and doc["device"]["mac"] == mac
    assert {c["id"] for c in doc["charts"]} == {"intervals", "destinations", "timeline"}
    pdf = ARTIFACTS / f"{stem}.pdf"
    pdf.write_bytes(render_pdf(data))
    _pdf_checks(pdf, stem)


def test_values_stay_masked_with_raw_evidence(store: Store) -> None:
    """A capture stored as sent (--raw-evidence) still gives a report with masked values only."""
    replay(store, str(LAB / "lab.pcapng"), lab_options(raw=True))
    data = gather(store, CHILD_WATCH)
    html, (md, _) = render_html(data), render_md(data)
    raw = ("865260181590831", "13800138000", "138 0013 8000", "121.473701", "31.230416")
    for text in (html, md, data.to_json()):
        assert not [v for v in raw if v in text]
    excerpts = [w["excerpt"] for t in data.data_types for w in t["found_in"]]
    assert "865*********831" in excerpts


def test_bad_input(lab: tuple[Store, str]) -> None:
    with pytest.raises(ReportError, match="not seen in any stored capture"):
        gather(lab[0], "02:00:00:00:00:09")
    with pytest.raises(ReportError, match="--capture ffff: no stored capture matches"):
        gather(lab[0], WATCH, "ffff")
    one = gather(lab[0], WATCH, lab[1][:10])
    assert [c["capture_id"] for c in one.captures] == [lab[1]]


def test_pdf_without_cjk_font_is_one_line(monkeypatch: pytest.MonkeyPatch, watch: ReportData) -> None:
    from appliance.report import pdf

    monkeypatch.setattr(pdf, "cjk_font", lambda: None)
    with pytest.raises(ReportError, match=r"no CJK font.*fonts-wqy-microhei") as exc:
        pdf.render_pdf(watch)
    assert "\n" not in str(exc.value)


def test_markdown_escaping() -> None:
    assert esc("a|b *c* <x> [y](z) cell_tower") == r"a\|b \*c\* \<x\> \[y\](z) cell\_tower"
    assert code("865*********831") == "`865*********831`" and code("") == "-" and code("a`b") == "`` a`b ``"


def test_report_cli(tmp_path: Path) -> None:
    db = tmp_path / "db"
    bench, phases = str(LAB / "lab.bench.yaml"), str(LAB / "lab.phases.csv")
    p = cli("replay", str(LAB / "lab.pcapng"), "--bench", bench, "--phases", phases, "-q", db=db)
    assert p.returncode == 0, p.stderr
    assert cli("assess", db=db).returncode == 0
    out = tmp_path / "watch.md"
    p = cli("report", "--device", WATCH.upper(), "--format", "md", "-o", str(out), "--json", db=db)
    assert p.returncode == 0, p.stderr
    doc: dict[str, Any] = json.loads(p.stdout)
    assert doc["device"] == WATCH and doc["format"] == "md" and len(doc["files"]) == 4
    assert set(doc["verdicts"]) == {r.id for r in REQUIREMENTS}
    assert out.exists() and (tmp_path / "watch.timeline.png").exists()
    p = cli("report", "--device", CHILD_WATCH, "-f", "json", "-o", "-", db=db)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["device"]["name"] == "imoo Kids Watch Z7"
    p = cli("report", "--device", WATCH, "-o", str(tmp_path / "w.html"), db=db)
    assert p.returncode == 0 and "wrote" in p.stderr
    _self_contained((tmp_path / "w.html").read_text(encoding="utf-8"))
    for args, needle in [
        (("--device", "02:00:00:00:00:09"), "not seen in any stored capture"),
        (("--device", WATCH, "--capture", "ffff"), "no stored capture matches"),
        (("--device", WATCH, "--format", "docx"), "--format must be one of"),
        (("--device", WATCH, "-o", str(tmp_path / "missing" / "r.html")), "does not exist"),
    ]:
        p = cli("report", *args, db=db)
        assert p.returncode == 1, (args, p.stderr)
        assert p.stderr.startswith("tapaudit: error:") and needle in p.stderr and p.stderr.count("\n") == 1


@pytest.mark.tshark
def test_wiresharks_check_in_every_format(tmp_path: Path) -> None:
    """Issue 22: the report carries Wireshark's check of each finding (confirmations written as the
    engine writes them, from tshark's own reading of each finding's evidence export): the count in the
    summary, the disagreement in "What could not be assessed" with its difference, and an appendix of
    tshark's summary lines of the evidence packets; every value masked, in md, HTML, JSON and PDF."""
    from markupsafe import escape

    from appliance.masking import mask
    from appliance.report.pdf import render_pdf
    from tests.support.confirmrows import tshark_version, write_confirmations

    path = str(tmp_path / "db")
    cid = assessed_lab(path)
    store = open_store(path)
    try:
        written = write_confirmations(store, cid, tmp_path, CHILD_WATCH)
        data = gather(store, CHILD_WATCH)
    finally:
        store.close()
    by = {o: fid for fid, o in written.outcome.items()}
    num = {str(f["finding_id"]): i for i, f in enumerate(data.findings, 1)}
    n, version = len(data.findings), tshark_version()
    assert set(by) == {"confirmed", "not confirmed", "not checkable"} and set(by.values()) <= set(num)
    assert data.confirmations == {
        "confirmed": 1,
        "not confirmed": 1,
        "not checkable": 1,
        "not checked": n - 3,
    }
    md, _ = render_md(data)
    html = render_html(data)
    doc = json.loads(data.to_json())
    count = f"1 confirmed, 1 not confirmed, 1 not checkable, {n - 3} not checked"
    assert f"Wireshark's check of the findings (appendix): {count}" in md.split("## 2. ")[0]
    assert str(escape(f"Wireshark's check of the findings (appendix): {count}")) in html
    # the disagreement: in "What could not be assessed", with its difference as literal text
    bad = by["not confirmed"]
    reason = written.reason[bad]
    rule = next(f["rule_id"] for f in data.findings if f["finding_id"] == bad)
    said = f"Finding {num[bad]} ({rule}, id {bad[:16]}) is not confirmed by Wireshark (tshark {version})"
    unassessed = md.split("## 8. What could not be assessed")[1].split("## 9. ")[0]
    assert said in esc_free(unassessed) and code(reason) in unassessed
    item = next(i for i in doc["not_assessed"] if i["topic"] == "not-confirmed")
    assert item["data"] == reason and said in item["text"]
    # the appendix: each checked finding, its outcome, tshark's packet list line by line
    appendix = md.split("## 10. Appendix: the evidence packets as Wireshark reads them")[1]
    for fid, outcome in written.outcome.items():
        part = appendix.split(f"### Finding {num[fid]}: ")[1].split("### ")[0]
        assert f"Wireshark's check: **{outcome}**" in part and f"(tshark {version})" in part
        for p in written.packets[fid]:
            line = [str(p[k]) for k in ("frame", "time", "src", "dst", "protocol", "length")]
            assert "| " + " | ".join(esc(x) for x in line) + f" | {code(p['info'])} |" in part, p
    assert written.packets[by["confirmed"]] and not written.packets[by["not checkable"]]
    unchecked = [str(i) for fid, i in num.items() if fid not in written.outcome]
    assert f"Not checked: findings {', '.join(unchecked)}." in appendix
    got = {f["finding_id"]: f["confirmation"] for f in doc["findings"]}
    assert got[bad]["outcome"] == "not confirmed" and got[bad]["packets"] == written.packets[bad]
    assert not any(k["ok"] for k in got[bad]["checks"] if k["claim"] == "http host")
    # masked: the child watch's IMEI went in a query of that finding's evidence
    _need_pdf()
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_pdf(data))
    pdf_text = " ".join(
        subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout.split()
    )
    assert "Appendix: the evidence packets as Wireshark reads them" in pdf_text and said in pdf_text
    import yaml

    persona = yaml.safe_load((LAB / "lab.bench.yaml").read_text())["devices"][CHILD_WATCH]["persona"]
    raw = [str(v) for v in persona.values() if len(str(v)) >= 6] + ["13800138000"]
    for text in (md, html, data.to_json(), pdf_text):
        assert not [v for v in raw if v in text]
    assert f"imei={mask(str(persona['imei']))}" in appendix


def esc_free(md: str) -> str:
    """Markdown text as it reads: backslash escapes dropped."""
    return re.sub(r"\\(.)", r"\1", md)


LAB_SETTINGS = ROOT / "appliance" / "report" / "lab.example.toml"


def _pdf_text(pdf: Path) -> str:
    """The PDF's text as pdftotext reads it back, whitespace runs made one space."""
    out = subprocess.run([_need("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


def test_child_watch_pdf_a_lab_can_issue(lab_db: tuple[str, str], tmp_path: Path) -> None:
    """Issue 18, point 5: the demo child watch's PDF carries everything an accredited lab's report
    does; each element is checked against a source of its own (the settings file, the bench file,
    the capture's and the packs' bytes, the requirements), and the first and the signature pages
    are drawn to PNG for a person to look at."""
    import tomllib

    import yaml

    _need_pdf()
    settings = tomllib.loads(LAB_SETTINGS.read_text(encoding="utf-8"))
    bench = yaml.safe_load((LAB / "lab.bench.yaml").read_text(encoding="utf-8"))["devices"][CHILD_WATCH]
    pdf = tmp_path / "child-watch.pdf"
    p = cli("report", "--device", CHILD_WATCH, "--format", "pdf", "-o", str(pdf), "--lab", str(LAB_SETTINGS),
            db=Path(lab_db[0]))  # fmt: skip
    assert p.returncode == 0, p.stderr
    steps = [line for line in p.stderr.splitlines() if re.match(r"\[\s*[\d.]+ s\] ", line)]
    assert len(steps) >= 4 and any("laying out the pages" in s for s in steps), p.stderr
    txt = _pdf_text(pdf)
    flat = re.sub(r"\s", "", txt)
    info = subprocess.run([_need("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    assert f"Page 1 of {pages}" in txt and f"Page {pages} of {pages}" in txt
    # report number (the example's scheme TA-{date}-{device}), laboratory and customer
    assert re.search(r"Report number .{0,12}TA-20\d{6}-80414e7c2231", txt)
    for part in ("laboratory", "customer"):
        for key in ("name", "address"):
            assert settings[part][key] in txt, (part, key)
    assert settings["laboratory"]["accreditation"] in txt
    # the item tested, as the bench file names it, its serial and IMEI masked only
    for key in ("name", "model", "firmware"):
        assert str(bench[key]) in txt, key
    serial, imei = settings["items"][0]["serial"], settings["items"][0]["imei"]
    assert serial not in flat and imei not in flat and bench["persona"]["imei"] not in flat
    assert re.search(rf"serial {serial[:3]}\*+{serial[-3:]}", txt) and re.search(
        rf"IMEI {imei[:3]}\*+{imei[-3:]}", txt
    )
    # test dates: the capture's span starts on the day of the lab's first phase mark
    first_mark = (LAB / "lab.phases.csv").read_text().splitlines()[1].split(",")[0]
    assert re.search(rf"Test dates .{{0,10}}captured {first_mark[:10]} \d\d:\d\d", txt)
    # set-up and method: capture point, phases, the capture's and every pack's sha256, tool version
    assert settings["setup"]["capture_point"] in txt
    assert all(ph in txt for ph in PHASES) and "Method" in txt
    assert hashlib.sha256((LAB / "lab.pcapng").read_bytes()).hexdigest() in flat
    for name in pack_names():
        pack_file = ROOT / "policies" / "packs" / f"{name}.yaml"
        assert hashlib.sha256(pack_file.read_bytes()).hexdigest() in flat, name
    assert f"tapaudit (this report) {__version__}" in txt
    # the decision rule, and the overall statement the verdicts give under it
    assert "Decision rule" in txt and "ILAC-G8" in txt
    doc = json.loads(cli("report", "--device", CHILD_WATCH, "--format", "json", "-o", "-",
                         db=Path(lab_db[0])).stdout)  # fmt: skip
    failed = [q["id"] for q in doc["requirements"] if q["verdict"] == "fail"]
    assert failed, "the lab's child watch breaks requirements (lab.truth.yaml)"
    assert f"The item does NOT conform: {len(failed)} requirements failed ({', '.join(failed)})" in txt
    # results per requirement on one scale
    layout = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    # the rows of section 1's table only: a line of another table could start with a requirement
    summary = layout.split("1. Summary verdict per requirement", 1)[1].split("2. Device under test", 1)[0]
    found = re.findall(rf"^\s*(TR-\d\d)\s.*?\b({'|'.join(VERDICTS)})\b", summary, re.M)
    rows = dict(found)
    assert len(found) == len(rows), found  # each requirement on one row
    assert set(rows) == {q.id for q in REQUIREMENTS}
    assert rows == {q["id"]: q["verdict"] for q in doc["requirements"]}
    # findings with their evidence: every finding id, its flows by time, device and destination
    assert doc["findings"] and all(f["finding_id"] in flat for f in doc["findings"])
    dests = {f["destination"] for x in doc["findings"] for f in x["flows"]}
    named = re.findall(rf"20\d\d-\d\d-\d\d \d\d:\d\d:\d\d {CHILD_WATCH} → (\S+):\d+/(?:TCP|UDP)", txt)
    assert named and set(named) <= dests
    assert not re.search(r"(?<![\d.])\d{19}(?![\d.])", txt), "a 19-digit id or nanosecond time is left"
    # the signature and approval block: each signatory's role and name, on the last page
    last = subprocess.run([_need("pdftotext"), "-f", str(pages), "-l", str(pages), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "Approval and signatures" in last and "Signature" in last
    for s in settings["signatories"]:
        assert re.search(rf"{s['role']}\s+{s['name']}", " ".join(last.split())), s
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for page, stem in ((1, "issued-child-watch-first"), (pages, "issued-child-watch-signatures")):
        out = ARTIFACTS / stem
        at = ["-f", str(page), "-l", str(page)]
        subprocess.run(
            [_need("pdftoppm"), "-r", "80", "-png", "-singlefile", *at, str(pdf), str(out)], check=True
        )
        assert out.with_suffix(".png").stat().st_size > 10_000


@pytest.mark.parametrize(("lang", "shown", "hidden"), [
    ("en", "Personal-data traffic test report", "个人信息流量测试报告"),
    ("zh", "个人信息流量测试报告", "Personal-data traffic test report"),
])  # fmt: skip
def test_report_language(lab_db: tuple[str, str], lang: str, shown: str, hidden: str) -> None:
    """--lang en|zh: headings and labels in one language (both is the default, as before)."""
    p = cli(
        "report", "--device", CHILD_WATCH, "--format", "md", "-o", "-", "--lang", lang, db=Path(lab_db[0])
    )
    assert p.returncode == 0, p.stderr
    heads = [line for line in p.stdout.splitlines() if line.startswith("#")]
    assert heads[0] == f"# {shown}" and not any(hidden in h for h in heads)
    assert ("## 1. 各项要求结论" if lang == "zh" else "## 1. Summary verdict per requirement") in heads
    # the requirements' titles and bases, the decision rule and the method in that language only
    other = "en" if lang == "zh" else "zh"
    for req in REQUIREMENTS:
        titles = {"en": req.title, "zh": req.title_zh}
        assert titles[lang] in p.stdout and titles[other] not in p.stdout, req.id
    texts = {
        "en": ("its rules raised nothing", "Simple acceptance", "The captures were replayed by tapaudit",
               "Times are UTC."),
        "zh": ("其规则未发现问题", "简单接受规则", "采集文件由 tapaudit 重放", "时间均为 UTC。"),
    }  # fmt: skip
    assert all(x in p.stdout for x in texts[lang]) and not any(x in p.stdout for x in texts[other])
    bad = cli("report", "--device", CHILD_WATCH, "--lang", "fr", db=Path(lab_db[0]))
    assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0 and "--lang" in bad.stderr


@pytest.mark.parametrize(("content", "says"), [
    ("laboratory = [", "not TOML"),
    ("[customer]\nname = 'x'\n", "laboratory.name is required"),
    ("[laboratory]\nname = 3\n", "laboratory.name must be text"),
    ("signatories = 'me'\n[laboratory]\nname = 'L'\n", "[[signatories]] must be an array of tables"),
    ("[laboratory]\nname = 'L'\n[[signatories]]\nrole = 'Approved by'\n", "needs a role and a name"),
    ("[laboratory]\nname = 'L'\n[report]\nnumber = '{serial}'\n", "unknown field"),
    ("[laboratory]\nname = 'L'\ntimezone = 'Mars/Olympus'\n", "laboratory.timezone: time zone 'Mars/"),
    (b"\xff\xfe", "not TOML"),
])  # fmt: skip
def test_malformed_lab_settings_are_one_line(
    lab_db: tuple[str, str], tmp_path: Path, content: str | bytes, says: str
) -> None:
    f = tmp_path / "lab.toml"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    p = cli(
        "report", "--device", CHILD_WATCH, "--format", "json", "-o", "-", "--lab", str(f), db=Path(lab_db[0])
    )
    assert p.returncode == 1 and says in p.stderr and str(f) in p.stderr, p.stderr
    assert p.stderr.strip().count("\n") == 0 and "Traceback" not in p.stderr and not p.stdout


def test_lab_settings_found_by_env_and_absent(lab_db: tuple[str, str], tmp_path: Path) -> None:
    """TAPAUDIT_LAB names the file when --lab does not; with none, the report says so instead."""
    env = {**os.environ, "TAPAUDIT_LAB": str(LAB_SETTINGS), "HOME": str(tmp_path)}
    cmd = [sys.executable, "-m", "appliance.cli", "report", "--device", CHILD_WATCH, "--format", "json",
           "-o", "-", "--db", lab_db[0]]  # fmt: skip
    with_env = json.loads(subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True).stdout)
    assert with_env["issue"]["laboratory"]["accreditation"] == "CNAS L0000 (example)"
    assert [s["role"] for s in with_env["issue"]["signatories"]] == [
        "Tested by",
        "Reviewed by",
        "Approved by",
    ]
    del env["TAPAUDIT_LAB"]
    bare = json.loads(subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True).stdout)
    assert bare["issue"]["laboratory"]["name"] == "" and bare["issue"]["signatories"] == []
    assert bare["issue"]["item"]["imei_masked"] == "" and bare["issue"]["report_number"].endswith(
        "80414e7c2231"
    )
