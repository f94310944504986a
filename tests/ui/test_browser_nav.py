"""Navigation, state and Chinese (issue 18 point 4) in a real browser: `tapaudit dashboard` on the
lab (bench, phases, declarations) and the child watch's two firmware captures, driven with
Playwright through Debian's Chromium, as tests/ui/test_browser.py does (its server helper).

- Every page in Chinese, its expanders and tabs opened, has no untranslated UI string (the rule
  and its allow-list are at ``untranslated``); every page is saved in both languages as
  tests/artifacts/browser/<page>-<lang>.png (1280x800, the whole page) for a person to look at.
- A view opened by its address shows that view; changing a filter changes the address; a table's
  link opens the view it names.
- The upload reports what the run found (or "already stored") with links; a delete asks every
  time, and the deleted capture leaves the sidebar's filter and the address.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import yaml

from dashboards.i18n import FIGURE_KEYS, LABELS, NOTE_TERMS, VALUES
from policies.wording import PHASE_TEXT, TYPE_TEXT
from tests.support.paths import LAB, ROOT
from tests.support.run import cli
from tests.ui.test_browser import ARTIFACTS, CHROMIUM, WAIT_MS, _serve

pytestmark = pytest.mark.xdist_group("browser")

TRUTH: dict[str, Any] = yaml.safe_load((LAB / "lab.truth.yaml").read_text())
CHILD_WATCH = "80:41:4e:7c:22:31"
FW = ("child-watch-fw-a.pcapng", "child-watch-fw-b.pcapng")
# every page of the sidebar, in its order (the test checks the sidebar offers exactly these)
PAGES = ("overview", "captures", "device", "destinations", "findings", "flows", "compare")
SIZE = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (Debian package chromium; scripts/ensure-debs.sh installs it)")
    return CHROMIUM


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The lab (bench, phases) and both firmware captures replayed and assessed (declarations); the
    ids of the captures and what the store holds as data, read through the CLI before the
    dashboard opens the folder (chDB: one process per data folder)."""
    db = tmp_path_factory.mktemp("browser-nav") / "db"
    p = cli("replay", str(LAB / "lab.pcapng"), "--bench", str(LAB / "lab.bench.yaml"),
            "--phases", str(LAB / "lab.phases.csv"), "--force", "--quiet", db=db)  # fmt: skip
    assert p.returncode == 0, p.stderr
    for f in FW:
        p = cli("replay", str(LAB / f), "--quiet", db=db)
        assert p.returncode == 0, p.stderr
    p = cli("assess", "--declaration", str(LAB / "declarations"), db=db)
    assert p.returncode == 0, p.stderr
    got: dict[str, Any] = {"db": db}
    for what in ("captures", "devices", "destinations", "findings"):
        p = cli(what, "--json", db=db)
        assert p.returncode == 0, p.stderr
        got[what] = json.loads(p.stdout)
    p = cli("flows", "--json", "--limit", "100000", db=db)
    assert p.returncode == 0, p.stderr
    got["flows"] = json.loads(p.stdout)
    got["ids"] = {Path(str(c["path"])).name: str(c["capture_id"]) for c in got["captures"]}
    return got


@pytest.fixture(scope="module")
def base(chromium: Path, lab: dict[str, Any]) -> Iterator[str]:
    yield from _serve(lab["db"])


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, base: str) -> Iterator[Any]:
    """A fresh page (a new Streamlit session) for each test."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg = browser.new_page(viewport=SIZE)
    pg.set_default_timeout(WAIT_MS)
    try:
        yield pg
    finally:
        pg.close()


def _settled(pg: Any) -> None:
    """Streamlit has finished the run: its status widget ("Running...") is gone."""
    pg.wait_for_timeout(300)
    pg.get_by_test_id("stStatusWidget").wait_for(state="hidden")
    pg.wait_for_timeout(700)


def _open(pg: Any, base: str, heading: str, **params: str | list[str]) -> None:
    """Open the view of this address (a list repeats its parameter) and wait for its page's heading."""
    from playwright.sync_api import expect

    pg.goto(f"{base}/?{urlencode(params, doseq=True, safe=':')}")
    expect(pg.get_by_role("heading", level=2, name=heading, exact=True)).to_be_visible()
    _settled(pg)


def _grid(pg: Any, column: str) -> Any:
    """The accessible grid table of the data frame with a column headed exactly ``column`` (not the
    page's first table, whichever that is)."""
    head = pg.locator("th[role=columnheader]").filter(has_text=re.compile(rf"^\s*{re.escape(column)}\s*$"))
    return pg.get_by_test_id("stDataFrame").locator("table[role=grid]").filter(has=head).first


def _metric(pg: Any, label: str) -> Any:
    """The value of the metric labelled exactly ``label``, not of one whose label (or value) merely
    holds it: ``has_text`` matches any part of the text, in any case."""
    named = pg.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    return pg.get_by_test_id("stMetric").filter(has=named).get_by_test_id("stMetricValue")


def _unfold(pg: Any) -> None:
    """Every expander and tab of the page opened (a tab shows its panel once chosen)."""
    main = pg.get_by_test_id("stMain")
    for summary in main.get_by_test_id("stExpander").locator("summary").all():
        if summary.locator("xpath=..").get_attribute("open") is None:
            summary.click()
    for tab in main.get_by_role("tab").all():
        tab.click()
    _settled(pg)


def _shot(pg: Any, name: str) -> None:
    """The whole page at 1280 wide: Streamlit scrolls inside its main section, so the viewport is
    made as tall as that section for the shot (as tests/ui/test_browser.py does)."""
    pg.wait_for_timeout(1500)  # charts take their height after their data arrives
    tall = pg.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    pg.set_viewport_size({"width": SIZE["width"], "height": min(max(int(tall), SIZE["height"]), 16000)})
    pg.wait_for_timeout(1200)  # charts and grids paint again at the new size
    try:
        pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        pg.set_viewport_size(SIZE)


# What a person reads: the sidebar's and the main section's rendered text (innerText: nothing
# hidden), the charts' SVG text, the cells and headers of the data frames' grids (drawn on a
# canvas; Streamlit keeps them in an accessible table), and the placeholder of an empty input.
# Material icons are ligatures (the word "keyboard_arrow_down" drawn as an arrow): not text.
VISIBLE_JS = """() => {
  const out = [];
  for (const id of ['stSidebar', 'stMain']) {
    const e = document.querySelector(`[data-testid=${id}]`); if (e) out.push(e.innerText);
  }
  document.querySelectorAll('svg text').forEach(e => out.push(e.textContent));
  document.querySelectorAll('table[role=grid] th, table[role=grid] td').forEach(e => out.push(e.textContent));
  document.querySelectorAll('[data-testid=stMain] input, [data-testid=stSidebar] input').forEach(e => {
    if (e.placeholder && !e.value) out.push(e.placeholder); });
  return out.join('\\n');
}"""
NO_ICONS = "[data-testid=stIconMaterial] {display: none !important}"

WORD = re.compile(r"[A-Za-z]+")
# an ASCII token with a digit or an inner . : / _ @ = ? & # % is an identifier or a quantity, not a
# word: host names, MACs and IPs, rule ids (COPPA-01), hashes, file names, addresses, MIME types,
# units with figures (kB/s), versions
IDENTIFIER = re.compile(r"[0-9]|[A-Za-z][.:/_@=?&#%][A-Za-z0-9]")
# units and the format names the page prints beside numbers
UNITS = {"s", "ms", "min", "h", "m", "km", "kB", "KiB", "MB", "GB", "kbit", "B"}
# the language switch names each language in itself ("English"), as every site's switch does
SELF_NAMED = {"English"}


def _data_words(lab: dict[str, Any]) -> set[str]:
    """Every word of what the store holds as data, read through the CLI: device names and vendors,
    destinations, organisations, services and their AS names, application protocols, capture
    file names. Data shows as it was captured, in any language."""
    texts: list[str] = []
    for d in lab["devices"]:
        texts += [str(d.get(k) or "") for k in ("name", "vendor", "oui_vendor", "category")]
    for d in lab["destinations"]:
        texts += [str(d.get(k) or "") for k in ("destination", "organisation", "service", "as_org", "apps")]
    texts += [str(f.get("app") or "") for f in lab["flows"]]
    texts += [Path(str(c["path"])).name for c in lab["captures"]]
    texts += [str(v) for d in TRUTH["devices"].values() for v in (d.get("name"), d.get("vendor")) if v]
    return {w.lower() for text in texts for w in re.findall(r"[A-Za-z]+", text)}


def _kept_in_chinese() -> set[str]:
    """ASCII words the Chinese wording itself keeps (the dashboard's labels and values, the
    findings' data types and phases): "tapaudit 仪表盘", "TLS 密钥日志", "Android ID", "Wireshark"."""
    zh = [pair[1] for pair in LABELS.values()]
    zh += [v for table in VALUES.values() for v in table.values()]
    zh += list(FIGURE_KEYS.values()) + list(NOTE_TERMS.values())
    zh += [pair[1] for pair in TYPE_TEXT.values()] + [pair[1] for pair in PHASE_TEXT.values()]
    return {w.lower() for text in zh for w in re.findall(r"[A-Za-z]+", text)}


def untranslated(text: str, data: set[str], kept: set[str]) -> list[str]:
    """The lines of ``text`` holding an English word that is not data.

    A token (a run of printable ASCII between spaces or Chinese) is left alone when it is an
    identifier or a quantity (``IDENTIFIER``), an acronym in capitals (TLS, IMEI, UTC, CSV: set
    as is in Chinese technical text), a unit, the language switch's "English", a code span's
    command (text between backticks); its words are left alone when each is a word of the
    store's data (``_data_words``) or one the Chinese wording keeps (``_kept_in_chinese``).
    Anything else is English a person was meant to read in Chinese."""
    bad = []
    for line in text.splitlines():
        line = re.sub(r"`[^`]*`", " ", line)  # a command to type, quoted
        for token in re.findall(r"[!-~]+", line):
            word = token.strip("()[]{}<>\"',.;:!?*·")
            if not word or IDENTIFIER.search(word) or word.isupper() or word in UNITS | SELF_NAMED:
                continue
            words = WORD.findall(word)
            if all(w.lower() in data or w.lower() in kept or w.isupper() for w in words):
                continue
            bad.append(f"{word!r} in {line.strip()[:120]!r}")
    return bad


def _sidebar_pages(pg: Any) -> list[str]:
    radios = pg.get_by_test_id("stSidebar").get_by_role("radiogroup").nth(1).get_by_role("radio")
    return [str(r.get_attribute("aria-label") or "") or str(r.text_content()) for r in radios.all()]


def _view_params(lab: dict[str, Any], name: str) -> dict[str, str]:
    """What each page shows in the walk: the child watch on the device page, the firmware pair
    on Compare, the child watch's findings (both on the lab's capture); the rest as they open."""
    if name in ("device", "findings"):  # the lab's capture: its bench file names the devices
        return {"device": CHILD_WATCH, "capture": lab["ids"]["lab.pcapng"]}
    if name == "compare":
        return {"a": lab["ids"][FW[0]], "b": lab["ids"][FW[1]]}
    return {}


def test_every_page_in_chinese_has_no_untranslated_string(page: Any, base: str, lab: dict[str, Any]) -> None:
    data, kept = _data_words(lab), _kept_in_chinese()
    found: dict[str, list[str]] = {}
    for name in PAGES:
        _open(page, base, LABELS[name][1], page=name, lang="zh", **_view_params(lab, name))
        if name == "overview":
            assert len(_sidebar_pages(page)) == len(PAGES)  # a page added is walked too
        _unfold(page)
        page.add_style_tag(content=NO_ICONS)
        text = str(page.evaluate(VISIBLE_JS))
        assert text.count("\n") > 10, (name, text)  # the page was read
        found[name] = untranslated(text, data, kept)
        page.reload()  # the icons back for the shot
        _open(page, base, LABELS[name][1], page=name, lang="zh", **_view_params(lab, name))
        _unfold(page)
        _shot(page, f"{name}-zh")
    left = {k: v for k, v in found.items() if v}
    assert not left, json.dumps(left, ensure_ascii=False, indent=1)


def test_the_checker_flags_english(lab: dict[str, Any]) -> None:
    """The rule of the walk above finds English among Chinese, and lets data through."""
    data, kept = _data_words(lab), _kept_in_chinese()
    assert untranslated("设备 Choose an option", data, kept)
    assert untranslated("200MB per file", data, kept)
    assert untranslated("数值个数: 4, audio blob", data, kept)
    assert not untranslated(
        "imoo-Z7 · 儿童手表 · api.watch.imoo.com · 80:41:4e:7c:22:31 · TLS 加密", data, kept
    )
    assert not untranslated("COPPA-01 · 12.5 kB/s · 2 min · `tapaudit assess --confirm`", data, kept)


def test_every_page_in_english(page: Any, base: str, lab: dict[str, Any]) -> None:
    for name in PAGES:
        _open(page, base, LABELS[name][0], page=name, lang="en", **_view_params(lab, name))
        _unfold(page)
        _shot(page, f"{name}-en")


def _query(pg: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(pg.url).query)


def test_a_view_opened_by_its_address_and_changed(page: Any, base: str, lab: dict[str, Any]) -> None:
    """The flows of the child watch to one destination, in Chinese, on the lab's capture: the same
    view appears; changing the destination filter and the device changes the address, and that
    address opens the changed view in a new session."""
    from playwright.sync_api import expect

    cid = lab["ids"]["lab.pcapng"]
    host = next(d["destination"] for d in lab["destinations"] if d["mac"] == CHILD_WATCH)
    _open(page, base, "流量", page="flows", lang="zh", device=CHILD_WATCH, dest=host, capture=cid)
    main = page.get_by_test_id("stMain")
    expect(page.get_by_test_id("stSidebar").get_by_role("radio", name="中文")).to_be_checked()
    expect(main.get_by_role("textbox", name="目的地包含")).to_have_value(host)
    expect(main.get_by_role("combobox", name="设备")).to_have_value(re.compile(re.escape(f"({CHILD_WATCH})")))
    expect(page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect")).to_contain_text(cid[:12])
    want = sum(
        1
        for f in lab["flows"]
        if f["device_mac"] == CHILD_WATCH and host in str(f["destination"]) and f["capture_id"] == cid
    )
    assert want > 0
    metric = _metric(page, "所选流数")
    expect(metric).to_have_text(str(want))
    other = next(
        str(d["destination"])
        for d in lab["destinations"]
        if d["mac"] == CHILD_WATCH and host not in str(d["destination"])
    )
    box = main.get_by_role("textbox", name="目的地包含")
    box.fill(other)
    box.press("Enter")
    expect(metric).not_to_have_text(str(want))
    _settled(page)
    q = _query(page)
    assert q["dest"] == [other] and q["device"] == [CHILD_WATCH] and q["lang"] == ["zh"], q
    assert q["page"] == ["flows"] and q["capture"] == [cid], q
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)  # a new session, from the address alone
    expect(main.get_by_role("textbox", name="目的地包含")).to_have_value(other)
    # the device page: the child watch by address, then another device chosen (on the lab's
    # capture: the firmware captures have no bench file to name the devices)
    _open(page, base, "设备", page="device", lang="zh", device=CHILD_WATCH, capture=cid)
    name = TRUTH["devices"][CHILD_WATCH]["name"]
    picker = main.get_by_role("combobox", name="设备")
    expect(picker).to_have_value(f"{name} ({CHILD_WATCH})")
    watch = "e0:06:30:5a:11:21"
    picker.click()
    page.get_by_role("option", name=f"{TRUTH['devices'][watch]['name']} ({watch})").click()
    page.wait_for_url(lambda u: parse_qs(urlsplit(u).query).get("device") == [watch])
    assert _query(page)["page"] == ["device"] and _query(page)["capture"] == [cid], page.url


def test_rows_link_to_their_views(page: Any, base: str, lab: dict[str, Any]) -> None:
    """The Overview's row of the child watch links to its device page; the findings table links
    a finding to its card (opened, with its evidence button) and to its device."""
    from playwright.sync_api import expect

    cid = lab["ids"]["lab.pcapng"]
    _open(page, base, "Overview", page="overview", capture=cid)
    grid = _grid(page, "Device page")
    expect(grid).to_contain_text(f"?page=device&lang=en&capture={cid}&device={CHILD_WATCH}")
    hrefs = [c for c in grid.locator("td").all_text_contents() if c.startswith("?page=device")]
    link = next(h for h in hrefs if f"device={CHILD_WATCH}" in h)
    page.goto(f"{base}/{link}")
    name = TRUTH["devices"][CHILD_WATCH]["name"]
    picker = page.get_by_test_id("stMain").get_by_role("combobox", name="Device")
    expect(picker).to_have_value(f"{name} ({CHILD_WATCH})")
    finding = next(
        f
        for f in lab["findings"]
        if f["device_mac"] == CHILD_WATCH and f["rule_id"] == "COPPA-01" and f["capture_id"] == cid
    )
    _open(page, base, "Findings", page="findings", device=CHILD_WATCH, rule="COPPA-01", capture=cid)
    grid = _grid(page, "Evidence")
    expect(grid).to_contain_text(f"finding={finding['finding_id']}")
    links = [c for c in grid.locator("td").all_text_contents() if "finding=" in c]
    assert links and all("rule=COPPA-01" in c and f"device={CHILD_WATCH}" in c for c in links), links
    link = next(c for c in links if f"finding={finding['finding_id']}" in c)
    page.goto(f"{base}/{link}")
    opened = page.locator("[data-testid=stExpander] details[open]")
    expect(opened).to_have_count(1)
    expect(opened).to_contain_text(finding["statement"])
    expect(opened.get_by_role("button", name="Prepare evidence capture")).to_be_visible()


def test_upload_reports_what_it_found(page: Any, base: str) -> None:
    from playwright.sync_api import expect

    _open(page, base, "Captures", page="captures")
    pcap = ROOT / "pcaps" / "real" / "ssi-smart-power-plug-boot.pcap"
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Capture files")
    for said in ("Ingested", "Already stored"):
        uploader.locator("input[type=file]").set_input_files(str(pcap))
        expect(uploader.get_by_role("button", name=f"Remove {pcap.name}")).to_be_visible()  # sent
        _settled(page)
        page.get_by_role("button", name="Ingest and assess").click()
        alert = page.get_by_test_id("stAlert").filter(has_text=f"{said}: {pcap.name}")
        expect(alert).to_be_visible()
        expect(alert).to_contain_text(re.compile(r"\): \d+ devices?, \d+ flows?, \d+ findings?\."))
        _settled(page)
        overview = alert.get_by_role("link", name="Overview")
        href = str(overview.get_attribute("href"))
        assert "page=overview" in href and "capture=" in href, href
    _shot(page, "captures-upload-report-en")
    cid = parse_qs(urlsplit(href).query)["capture"][0]
    page.goto(f"{base}/{href}" if href.startswith("?") else href)
    expect(page.get_by_role("heading", level=2, name="Overview", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect")).to_contain_text(cid[:12])


def test_delete_asks_every_time_and_leaves_the_sidebar(page: Any, base: str, lab: dict[str, Any]) -> None:
    """Last: it deletes the second firmware capture, chosen in the sidebar's filter by address."""
    from playwright.sync_api import expect

    gone, kept = lab["ids"][FW[1]], lab["ids"][FW[0]]
    _open(page, base, "Captures", page="captures", capture=[gone, kept])
    sidebar = page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect")
    expect(sidebar).to_contain_text(gone[:12])
    main = page.get_by_test_id("stMain")
    pick = main.get_by_role("combobox", name="Capture to delete")
    pick.click()
    pick.fill(gone[:12])  # the choices narrow to the one capture as its id is typed
    page.keyboard.press("Enter")
    expect(pick).to_have_value(f"{gone[:12]} {FW[1]}")
    _settled(page)
    question = main.get_by_test_id("stAlert").filter(has_text="and everything derived from it?")
    for answer in ("Cancel", "Yes, delete"):  # asked again after the cancel
        expect(question).to_have_count(0)
        main.get_by_role("button", name="Delete", exact=True).click()
        expect(question).to_contain_text(f"{FW[1]} ({gone[:12]})")
        main.get_by_role("button", name=answer).click()
        _settled(page)
    expect(main.get_by_test_id("stAlert").filter(has_text=f"Deleted capture: {gone[:12]}")).to_be_visible()
    expect(sidebar).not_to_contain_text(gone[:12])
    expect(sidebar).to_contain_text(kept[:12])
    page.wait_for_url(lambda u: parse_qs(urlsplit(u).query).get("capture") == [kept])  # and the address
    _shot(page, "captures-deleted-en")
