"""The dashboard in a real browser: `tapaudit dashboard` serving the replayed and assessed lab, driven
with Playwright through Debian's Chromium (``playwright install`` cannot download browsers here;
scripts/ensure-debs.sh installs the ``chromium`` package). The Overview, Device and Findings pages
must show the lab's ground truth (pcaps/lab/lab.truth.yaml); full-page screenshots are saved under
tests/artifacts/browser/ for a person to look at. Last, a capture is uploaded on the Captures page.

Both the replay and the server run in processes of their own: chDB allows one data path per process.
Streamlit renders asynchronously, so every check waits for its text; its data frames are drawn on a
canvas, but the grid keeps an accessible <table> of the visible cells, which the checks read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.verdicts import LABELS, SEVERITIES
from tests.support.confirmrows import Written, write_confirmations
from tests.support.paths import LAB, ROOT
from tests.support.run import cli

pytestmark = pytest.mark.xdist_group("browser")

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
TRUTH: dict[str, Any] = yaml.safe_load((LAB / "lab.truth.yaml").read_text())
CHILD_WATCH = "80:41:4e:7c:22:31"
UNDER_TEST = {mac: d["name"] for mac, d in TRUTH["devices"].items() if d["category"] != "other"}
WAIT_MS = 90_000  # first renders open the chDB folder and run the queries
# Streamlit has finished the page: its script is not running and no spinner is left (bench/pages.py)
IDLE = """() => document.querySelector('[data-testid=stApp]').getAttribute('data-test-script-state')
  === 'notRunning' && !document.querySelector('[data-testid=stSpinner]')"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the dashboard exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200 and r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} not healthy after {timeout:.0f}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; scripts/ensure-debs.sh installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (Debian package chromium; scripts/ensure-debs.sh installs it)")
    return CHROMIUM


@pytest.fixture(scope="module")
def lab_findings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """The lab replayed (its bench file and phases, as support.run.lab_options) and assessed in a folder."""
    db = tmp_path_factory.mktemp("browser") / "db"
    p = cli("replay", str(LAB / "lab.pcapng"), "--bench", str(LAB / "lab.bench.yaml"),
            "--phases", str(LAB / "lab.phases.csv"), "--force", "--quiet", db=db)  # fmt: skip
    assert p.returncode == 0, p.stderr
    p = cli("assess", "--declaration", str(LAB / "declarations"), db=db)
    assert p.returncode == 0, p.stderr
    p = cli("findings", "--json", db=db)
    assert p.returncode == 0, p.stderr
    return db, json.loads(p.stdout)


@pytest.fixture(scope="module")
def checked(lab_findings: tuple[Path, list[dict[str, Any]]]) -> Written | None:
    """Wireshark's check of three of the child watch's findings, written before the dashboard opens
    the folder as the engine writes them (tests.support.confirmrows); None without tshark."""
    if shutil.which("tshark") is None:
        return None
    from appliance.store import queries
    from appliance.store.backends import open_store

    store = open_store(str(lab_findings[0]))
    try:
        cid = str(queries.captures(store)[0]["capture_id"])
        return write_confirmations(store, cid, lab_findings[0].parent, CHILD_WATCH)
    finally:
        store.close()


@pytest.fixture(scope="module")
def dashboard(
    chromium: Path, lab_findings: tuple[Path, list[dict[str, Any]]], checked: Written | None
) -> Iterator[str]:
    yield from _serve(lab_findings[0])


def _serve(db: Path) -> Iterator[str]:
    """`tapaudit dashboard` on the data folder ``db``, in a process group of its own; its base URL."""
    port = _free_port()
    log = db.parent / "dashboard.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", "dashboard", "--db", str(db), "--port", str(port)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(f"{base}/_stcore/health", proc, log)
        yield base
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    """One Chromium for the module (Playwright's sync API runs one instance per thread)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def page(browser: Any, dashboard: str) -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        pg.set_default_timeout(WAIT_MS)
        pg.goto(dashboard)
        yield pg
    finally:
        pg.close()


def _go(pg: Any, name: str) -> None:
    """Choose a page in the sidebar's Page radio and wait for its header."""
    from playwright.sync_api import expect

    pg.get_by_test_id("stSidebar").get_by_role("radiogroup", name="Page").get_by_text(
        name, exact=True
    ).click()
    expect(pg.get_by_role("heading", level=2, name=name, exact=True)).to_be_visible()


def _grid(pg: Any, column: str, within: Any = None) -> Any:
    """The accessible grid table (the visible cells) of the data frame with a column headed exactly
    ``column`` (in ``within``, a part of the page): a table that only holds the word in a cell or a
    longer header is another one."""
    head = pg.locator("th[role=columnheader]").filter(has_text=re.compile(rf"^\s*{re.escape(column)}\s*$"))
    return (within or pg).get_by_test_id("stDataFrame").locator("table[role=grid]").filter(has=head).first


def _metric(pg: Any, label: str) -> Any:
    """The value of the metric labelled exactly ``label``, not of one whose label (or value) merely
    holds it: ``has_text`` matches any part of the text, in any case."""
    named = pg.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    return pg.get_by_test_id("stMetric").filter(has=named).get_by_test_id("stMetricValue")


def _shot(pg: Any, name: str) -> None:
    """A full-page screenshot. Streamlit scrolls inside its main section, not the document, so the
    viewport is made as tall as that section for the shot (full_page alone stops at the viewport)."""
    pg.wait_for_timeout(1500)  # charts and grids paint after their text arrives
    size = pg.viewport_size
    tall = pg.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    pg.set_viewport_size({"width": size["width"], "height": min(max(int(tall), size["height"]), 12000)})
    pg.wait_for_timeout(1000)
    try:
        pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        pg.set_viewport_size(size)


def _facts(findings: list[dict[str, Any]], device: str | None = None) -> set[tuple[str, str]]:
    """The distinct (device, fact) pairs of `tapaudit findings --json`: the problems a user counts."""
    return {(f["device_mac"], f["fact"]) for f in findings if device in (None, f["device_mac"])}


def test_overview_lists_the_devices(page: Any, lab_findings: tuple[Path, list[dict[str, Any]]]) -> None:
    from playwright.sync_api import expect

    _go(page, "Overview")
    grid = _grid(page, "Data types sent")
    for name in UNDER_TEST.values():
        expect(grid).to_contain_text(name)
    text = str(grid.text_content())
    assert "Huawei Watch GT (lab)" in text and "imoo Kids Watch Z7" in text
    assert not any(TRUTH["devices"][m]["name"] in text for m in TRUTH["devices"] if m not in UNDER_TEST)
    expect(_metric(page, "Devices under test")).to_have_text(str(len(UNDER_TEST)))
    # the grid: one card per device with findings, its problems adding up to the distinct facts
    pairs = _facts(lab_findings[1])
    cards = page.locator("[data-testid=device-card]")
    expect(cards).to_have_count(len(UNDER_TEST))
    counts = {}
    for i in range(cards.count()):
        card = cards.nth(i)
        n = card.locator("b").nth(1).text_content()
        counts[str(card.get_attribute("data-mac"))] = int(str(n))
    assert set(counts) == {d for d, _ in pairs} and sum(counts.values()) == len(pairs)
    _shot(page, "overview")


def test_device_page_of_the_child_watch(
    page: Any, browser: Any, dashboard: str, lab_findings: tuple[Path, list[dict[str, Any]]]
) -> None:
    """Issue 18: the first screen of the child watch's page (1280x800, no scrolling) names each of
    its problems in the lab's truth with the rules that raise it, its severity and a way to its
    evidence; the detail follows below."""
    from playwright.sync_api import expect

    name = UNDER_TEST[CHILD_WATCH]
    small = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        small.set_default_timeout(WAIT_MS)
        small.goto(dashboard)
        _go(small, "Device")
        small.get_by_test_id("stMain").get_by_role("combobox", name="Device").click()
        small.get_by_role("option", name=f"{name} ({CHILD_WATCH})").click()
        identity = small.locator("[data-testid=device-identity]")
        expect(identity).to_contain_text(name)
        expect(identity).to_contain_text(CHILD_WATCH)
        for ip in TRUTH["devices"][CHILD_WATCH]["ipv4"]:
            expect(identity).to_contain_text(ip)
        lines = small.locator("[data-testid=device-verdict] tr")
        expect(lines.first).to_be_visible()
        small.wait_for_function(IDLE)  # the previous page's elements are gone only when the run is over
        small.wait_for_timeout(1000)
        assert small.evaluate("document.querySelector('[data-testid=stMain]').scrollTop") == 0

        def on_screen(loc: Any) -> bool:
            box = loc.bounding_box()
            return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 800

        for f in TRUTH["findings"]:
            if f["device"] != CHILD_WATCH:
                continue
            rule = re.compile(rf"(?<![\w-]){re.escape(f['rule'])}(?![\w-])")  # CN25-01, not CN25-011
            line = lines.filter(has=small.locator("small", has_text=rule)).first
            assert on_screen(line), f  # the rule's problem is on the first screen
            shown = {LABELS[s][0]: s for s in SEVERITIES}[str(line.locator("span").first.text_content())]
            assert SEVERITIES.index(shown) <= SEVERITIES.index(f["severity"]), f  # the worst of its line
        pills = small.get_by_role("radiogroup", name="Evidence of problem").get_by_role("radio")
        expect(pills).to_have_count(lines.count())
        assert all(on_screen(pills.nth(i)) for i in range(pills.count()))
        small.screenshot(path=str(ARTIFACTS / "device-child-watch-first-screen.png"))
        # a line's evidence: the Findings page with that line's problems of the watch
        pills.first.click()
        expect(small.get_by_role("heading", level=2, name="Findings", exact=True)).to_be_visible()
        cleartext = {
            fact for _, fact in _facts(lab_findings[1], CHILD_WATCH) if fact.startswith("cleartext:")
        }
        expect(_metric(small, "Problems")).to_have_text(str(len(cleartext)))
    finally:
        small.close()
    _go(page, "Device")
    page.get_by_test_id("stMain").get_by_role("combobox", name="Device").click()
    page.get_by_role("option", name=f"{name} ({CHILD_WATCH})").click()
    expect(page.locator("[data-testid=device-identity]")).to_contain_text(name)
    truth_dests = {o["destination"] for o in TRUTH["observations"] if o["device"] == CHILD_WATCH}
    grid = _grid(page, "Received")
    for dest in sorted(truth_dests)[:5]:  # the grid holds the rows it shows
        expect(grid).to_contain_text(dest)
    _shot(page, "device-child-watch")


def test_findings_of_the_child_watch(page: Any, lab_findings: tuple[Path, list[dict[str, Any]]]) -> None:
    from playwright.sync_api import expect

    _go(page, "Findings")
    name = f"{UNDER_TEST[CHILD_WATCH]} ({CHILD_WATCH})"
    page.get_by_test_id("stMain").get_by_role("combobox", name="Device").click()
    page.get_by_role("option", name=name).click()
    page.keyboard.press("Escape")
    stored = [f for f in lab_findings[1] if f["device_mac"] == CHILD_WATCH]
    facts = _facts(stored)
    assert len(facts) < len(stored)  # one problem, several packs' clauses
    expect(_metric(page, "Problems")).to_have_text(str(len(facts)))
    expect(_metric(page, "Findings (pack clauses)")).to_have_text(str(len(stored)))
    expanders = page.get_by_test_id("stExpander")
    expect(expanders).to_have_count(min(len(facts), 25))
    text = str(page.get_by_test_id("stMain").text_content())
    for f in TRUTH["findings"]:  # each clause is listed on its problem's card, with its own severity
        if f["device"] == CHILD_WATCH:
            assert f"[{f['severity']}] {f['rule']} (" in text, f
    # the IMEI to Amap's location service: one card with COPPA-01's and CN25-11's statements (the
    # host ends where the device's name begins)
    exp = expanders.filter(has_text="[high] Identifiers shared · apilocate.amap.com · ").first
    exp.locator("summary").click()
    details = exp.get_by_test_id("stExpanderDetails")
    expect(details).to_contain_text("Statement:")
    shown = str(details.text_content())
    for rule in ("COPPA-01", "CN25-11"):
        said = {
            f["statement"] for f in stored if f["rule_id"] == rule and "apilocate.amap.com" in f["statement"]
        }
        assert said and any(s in shown for s in said), rule
    _shot(page, "findings-child-watch")


@pytest.mark.tshark
def test_wiresharks_check_on_a_finding_card(page: Any, dashboard: str, checked: Written | None) -> None:
    """Issue 22: the not-confirmed finding's card shows its badge and difference, and on demand
    tshark's packet list and the dissection tree, the persona's IMEI masked."""
    from playwright.sync_api import expect

    from appliance.masking import mask

    assert checked is not None
    fid = next(f for f, o in checked.outcome.items() if o == "not confirmed")
    page.goto(dashboard)  # a new session: no filter left from another test
    _go(page, "Findings")
    name = f"{UNDER_TEST[CHILD_WATCH]} ({CHILD_WATCH})"
    page.get_by_test_id("stMain").get_by_role("combobox", name="Device").click()
    page.get_by_role("option", name=name).click()
    page.keyboard.press("Escape")
    # the filter's rerun has ended when no other device's card is left: a card opened before it ends
    # is redrawn closed by it (the metrics below read the same on both sides of that rerun)
    main = page.get_by_test_id("stMain")
    expect(main.get_by_test_id("stExpander").filter(has_not_text=name)).to_have_count(0)
    for outcome, n in (("confirmed", 1), ("not confirmed", 1), ("not checkable", 1)):
        expect(_metric(page, f"Wireshark's check: {outcome}")).to_have_text(str(n))
    exp = page.get_by_test_id("stExpander").filter(has_text=checked.reason[fid]).first
    exp.locator("summary").click()
    details = exp.get_by_test_id("stExpanderDetails")
    expect(details).to_contain_text("not confirmed")
    expect(details).to_contain_text(checked.reason[fid] + " · tshark ")
    assert details.get_by_test_id("stDataFrame").filter(has_text="Wireshark reads").count() == 0  # on demand
    details.get_by_text("Show the evidence packets as Wireshark reads them").click()
    expect(details.locator("input[type=checkbox]")).to_be_checked()
    grid = _grid(page, "Info", within=details)
    packets = checked.packets[fid]
    for p in packets[:5]:  # the grid holds the rows it shows
        expect(grid).to_contain_text(p["info"])
    tree = details.get_by_test_id("stJson").last  # the first is the problem's figures
    expect(tree).to_contain_text("http: Hypertext Transfer Protocol")
    expect(tree).not_to_contain_text("http.host")  # protocols start folded, as in Wireshark
    tree.get_by_role("img").nth(2).click()  # the fold icon of the third node: root, frame, http
    expect(tree).to_contain_text("http.host")
    expect(tree).to_contain_text("apilocate.amap.com")  # what Wireshark reads, as the reason says
    imei = str(
        yaml.safe_load((LAB / "lab.bench.yaml").read_text())["devices"][CHILD_WATCH]["persona"]["imei"]
    )
    shown = str(details.text_content())
    assert mask(imei) in shown and imei not in shown
    _shot(page, "findings-wireshark-check")


def test_upload_a_capture(page: Any) -> None:
    """Last: it adds a capture to the store the other tests read."""
    from playwright.sync_api import expect

    _go(page, "Captures")
    pcap = ROOT / "pcaps" / "real" / "ssi-smart-power-plug-boot.pcap"
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Capture files")
    uploader.locator("input[type=file]").set_input_files(str(pcap))
    expect(uploader.get_by_role("button", name=f"Remove {pcap.name}")).to_be_visible()  # name shown cut
    page.get_by_role("button", name="Ingest and assess").click()
    expect(page.get_by_test_id("stAlert").filter(has_text=f"Ingested: {pcap.name}")).to_be_visible()
    expect(_grid(page, "SHA-256")).to_contain_text(pcap.name)
    expect(_grid(page, "SHA-256")).to_contain_text(TRUTH["capture"])
    _shot(page, "captures-after-upload")


# -- traffic text is data, never markup (issue 17) ----------------------------------------------
# pcaps.synth.hostile writes a child watch whose HTTP Host header, paths and user agent, DHCP host
# name and DNS name carry Markdown links and images, HTML and javascript: URLs, all aimed at
# evil.test. Every page of the dashboard and every report format must show them as text: no link
# or image to evil.test, no javascript: link, no script, and the browser asks only the app itself.

EVIL_SELECTOR = (
    "a[href*='evil.test'], img[src*='evil.test'], a[href^='javascript:' i], script[src*='evil.test'],"
    " iframe, object, embed"
)
# file names are the uploader's text: Markdown emphasis and strikethrough (no glob characters: replay
# takes patterns)
HOSTILE_NAMES = ("hostile-__b__-a.pcapng", "hostile-~~s~~-$x$-b.pcapng")


@pytest.fixture(scope="module")
def hostile(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two hostile captures (three and two posts) replayed and assessed; the device's HTML and
    Markdown reports written by `tapaudit report`; the truth of what was sent."""
    from pcaps.synth import hostile as gen

    root = tmp_path_factory.mktemp("hostile")
    db = root / "db"
    truth = gen.write(root / HOSTILE_NAMES[0])
    gen.write(root / HOSTILE_NAMES[1], posts=2)
    for name in HOSTILE_NAMES:
        p = cli("replay", str(root / name), "--quiet", db=db)
        assert p.returncode == 0, p.stderr
    p = cli("assess", db=db)
    assert p.returncode == 0, p.stderr
    p = cli("findings", "--json", db=db)
    assert p.returncode == 0, p.stderr
    findings = json.loads(p.stdout)
    assert findings and all(truth["host_header"] in f["statement"] for f in findings)  # it got through
    reports = {}
    for fmt in ("html", "md"):
        out = root / f"report.{fmt}"
        p = cli("report", "--device", truth["mac"], "--format", fmt, "--output", str(out), db=db)
        assert p.returncode == 0, p.stderr
        reports[fmt] = out
    return {"db": db, "truth": truth, "findings": findings, "reports": reports}


@pytest.fixture(scope="module")
def hostile_page(hostile: dict[str, Any], browser: Any) -> Iterator[tuple[Any, str, list[str]]]:
    """A browser page on the hostile store's dashboard, and every URL it asked for."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    gen = _serve(hostile["db"])
    base = next(gen)
    pg = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        pg.on("request", lambda r: requests.append(r.url))
        pg.set_default_timeout(WAIT_MS)
        pg.goto(base)
        yield pg, base, requests
    finally:
        pg.close()
        gen.close()


# an offending element, and the Streamlit elements around it (data-testid), for the failure message
WHERE_JS = """e => { const up = []; for (let p = e; p; p = p.parentElement) {
  if (p.dataset && p.dataset.testid) up.push(p.dataset.testid); }
  return e.outerHTML.slice(0, 80) + ' in ' + up.join(' < '); }"""


def _no_markup(pg: Any, where: str) -> None:
    found = pg.locator(EVIL_SELECTOR)
    bad = [str(found.nth(i).evaluate(WHERE_JS)) for i in range(found.count())]
    assert not bad, f"{where}: " + "; ".join(bad)
    html = pg.content()
    assert "<script>fetch(" not in html, where  # the payload's script, never as an element
    assert 'href="//evil.test' not in html and 'src="//evil.test' not in html, where


def _outside(requests: list[str], base: str) -> list[str]:
    """Requests to anything but the app (data: and blob: URLs are the page's own)."""
    from urllib.parse import urlsplit

    app = urlsplit(base).netloc
    return [
        u
        for u in requests
        if urlsplit(u).scheme not in ("data", "blob", "about") and urlsplit(u).netloc != app
    ]


def test_traffic_text_shows_as_text_on_every_page(hostile: dict[str, Any], hostile_page: Any) -> None:
    from playwright.sync_api import expect

    pg, base, requests = hostile_page
    truth = hostile["truth"]
    main = pg.get_by_test_id("stMain")
    _go(pg, "Overview")
    _no_markup(pg, "overview")
    _go(pg, "Captures")
    expect(_grid(pg, "SHA-256")).to_contain_text(HOSTILE_NAMES[0])
    _no_markup(pg, "captures")
    _go(pg, "Device")
    # the device's name is its DHCP host name, shown as typed (bold stars and brackets included)
    expect(main.locator("[data-testid=device-identity]")).to_contain_text(truth["dhcp_name"])
    _no_markup(pg, "device")
    _go(pg, "Destinations")
    _no_markup(pg, "destinations")
    _go(pg, "Findings")
    expanders = pg.get_by_test_id("stExpander")
    expect(expanders).to_have_count(len({(f["device_mac"], f["fact"]) for f in hostile["findings"]}))
    for i in range(expanders.count()):
        exp = expanders.nth(i)
        exp.locator("summary").click()
        details = exp.get_by_test_id("stExpanderDetails")
        said = f"location with 6 decimals (0.111 m) sent in clear text over HTTP to {truth['host_header']}"
        expect(details).to_contain_text(f"Statement: {said}")
    for summary in expanders.locator("summary").all():  # expander labels are Markdown too
        expect(summary).to_contain_text(truth["dhcp_name"])  # waits out a card being redrawn
    _no_markup(pg, "findings")
    _shot(pg, "hostile-findings")
    _go(pg, "Flows")
    _no_markup(pg, "flows")
    _go(pg, "Compare")
    for name in HOSTILE_NAMES:
        expect(main.get_by_test_id("stMarkdownContainer").filter(has_text=name)).to_have_count(1)
    _no_markup(pg, "compare")
    pg.wait_for_timeout(1500)  # let any image the pages would load be asked for
    assert not _outside(requests, base), _outside(requests, base)


def test_reports_show_traffic_text_as_text(hostile: dict[str, Any], hostile_page: Any) -> None:
    """The HTML report opened as is; the Markdown report rendered as GitHub renders it (cmark-gfm with
    its tables and autolinks, raw HTML let through so none may be in it)."""
    import cmarkgfm
    from cmarkgfm.cmark import Options

    pg, base, requests = hostile_page
    truth = hostile["truth"]
    md = hostile["reports"]["md"].read_text()
    rendered = {
        "html": hostile["reports"]["html"].read_text(),
        "md": cmarkgfm.github_flavored_markdown_to_html(md, options=Options.CMARK_OPT_UNSAFE),
    }
    for fmt, html in rendered.items():
        before = len(requests)
        pg.set_content(html, wait_until="load")
        _no_markup(pg, f"{fmt} report")
        text = str(pg.locator("body").text_content())
        assert truth["host_header"] in text, fmt  # in the findings' statements, exactly as sent
        assert truth["dhcp_name"] in text, fmt  # the device's name
        pg.wait_for_timeout(500)
        assert not _outside(requests[before:], base), (fmt, _outside(requests[before:], base))
