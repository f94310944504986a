"""The device page's pictures (dashboards/charts/, issue 18 point 2) in a real browser: `tapaudit
dashboard` on the replayed and assessed lab, Debian's Chromium driven by Playwright as in
tests/ui/test_browser.py (whose fixtures this module shares). For the child watch, every chart is
drawn (Plotly's Sankey with a node per data type, organisation and country counted in the store;
the Vega-Lite charts by their titles, the map with its country outlines), no error is shown, and
the page asks for nothing outside 127.0.0.1: the map's outlines travel in the chart, not from a
CDN. A screenshot of the charts is saved under tests/artifacts/browser/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui import test_browser as tb
from tests.ui.test_browser import ARTIFACTS, CHILD_WATCH, UNDER_TEST, WAIT_MS, _outside, _serve

pytestmark = pytest.mark.xdist_group("browser")

# test_browser's fixtures, shared: Chromium, and the lab replayed and assessed in a folder
chromium, browser, lab_findings = tb.chromium, tb.browser, tb.lab_findings

# Streamlit has finished a run: the script is not running and no spinner is left (bench/pages.py)
IDLE = """() => document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state')
  === 'notRunning' && !document.querySelector('[data-testid=stSpinner]')"""
TITLES = {  # the Vega-Lite charts' titles in English (dashboards/i18n.py)
    "map": "Destination countries",
    "frequency": "Reporting frequency per data type and test phase (reports per hour)",
    "timeline": "Observations over time by data type, coloured by recipient",
    "precision": "Location precision per destination (metres; smaller is more precise)",
}


@pytest.fixture(scope="module")
def charts_page(
    browser: Any, lab_findings: tuple[Path, list[dict[str, Any]]]
) -> Iterator[tuple[Any, str, list[str], dict[str, int]]]:
    """The child watch's device page in Chromium, the base URL, every URL the page asked for, and
    what the store holds for its Sankey (counted before the dashboard opens the folder)."""
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    counts = _store_counts(lab_findings[0])
    gen = _serve(lab_findings[0])
    base = next(gen)
    requests: list[str] = []
    pg = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        pg.on("request", lambda r: requests.append(r.url))
        pg.set_default_timeout(WAIT_MS)
        pg.goto(base)
        pg.wait_for_function(IDLE, polling=50)
        pg.get_by_test_id("stSidebar").get_by_role("radiogroup", name="Page").get_by_text(
            "Device", exact=True
        ).click()
        expect(pg.get_by_role("heading", level=2, name="Device", exact=True)).to_be_visible()
        pg.wait_for_function(IDLE, polling=50)  # a rerun would close the picker's list under the click
        name = UNDER_TEST[CHILD_WATCH]
        pg.get_by_test_id("stMain").get_by_role("combobox", name="Device").click()
        pg.get_by_role("option", name=f"{name} ({CHILD_WATCH})").click()
        expect(pg.get_by_test_id("device-identity").filter(has_text=CHILD_WATCH)).to_be_visible()
        pg.wait_for_function(IDLE, polling=50)
        yield pg, base, requests, counts
    finally:
        pg.close()
        gen.close()


def _store_counts(db: Path) -> dict[str, int]:
    """Data types, organisations and countries of the child watch's observations, counted in the
    store by a process of its own (chDB opens one data path per process)."""
    import json
    import subprocess
    import sys

    from tests.support.paths import ROOT

    script = """
import json, sys
from appliance.store.backends import open_store
s = open_store(sys.argv[1])
q = '''SELECT uniqExact(o.data_type) AS types, uniqExact(f.org) AS orgs, uniqExact(f.cc) AS countries
    FROM (SELECT * FROM {db}.observations WHERE device_mac = %(dev)s) AS o
    ANY LEFT JOIN (SELECT flow_id, organisation AS org, country AS cc FROM {db}.flows) AS f USING flow_id'''
print(json.dumps({k: int(v) for k, v in s.query(q, {'dev': sys.argv[2]})[0].items()}))
s.close()
"""
    run = subprocess.run([sys.executable, "-c", script, str(db), CHILD_WATCH], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    counts: dict[str, int] = json.loads(run.stdout)
    return counts


def test_the_child_watch_charts_are_drawn_offline(
    charts_page: tuple[Any, str, list[str], dict[str, int]],
) -> None:
    from playwright.sync_api import expect

    pg, base, requests, counts = charts_page
    main = pg.get_by_test_id("stMain")
    expect(main.get_by_role("heading", name="Where its data goes, how often, how precisely")).to_be_visible()
    # Plotly's Sankey: one node per data type, organisation and country of the store
    sankey = pg.locator(".st-key-chart_sankey .js-plotly-plot")
    expect(sankey).to_have_count(1)
    expect(sankey.locator(".sankey-node")).to_have_count(
        counts["types"] + counts["orgs"] + counts["countries"]
    )
    expect(sankey).to_contain_text("Personal data by type")
    # the Vega-Lite charts, each found by its title, drawn as SVG with marks
    for what, title in TITLES.items():
        chart = pg.locator(".vega-embed").filter(has_text=title)
        expect(chart).to_have_count(1)
        chart.scroll_into_view_if_needed()
        assert chart.locator("svg path").count() > 3, what
    world = pg.locator(".vega-embed").filter(has_text=TITLES["map"])
    assert world.locator("svg path").count() >= 177  # Natural Earth's 1:110m countries, all drawn
    expect(pg.locator(".vega-embed").filter(has_text=TITLES["timeline"])).to_contain_text(
        "Recipient organisation"
    )
    # no error anywhere on the page
    expect(pg.get_by_test_id("stException")).to_have_count(0)
    assert not [t for t in pg.get_by_test_id("stAlert").all_text_contents() if "rror" in t]
    # nothing fetched from outside the app: no map tiles, no topojson, no fonts from a CDN
    assert requests and not _outside(requests, base), _outside(requests, base)
    _shot_charts(pg)


def _shot_charts(pg: Any) -> None:
    """The page from the charts' heading down, as a person scrolls to it."""
    size = pg.viewport_size
    tall = pg.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    pg.set_viewport_size({"width": size["width"], "height": min(max(int(tall), size["height"]), 12000)})
    pg.wait_for_timeout(1500)
    try:
        heading = pg.get_by_role("heading", name="Where its data goes, how often, how precisely")
        top = heading.bounding_box()["y"]
        page_h = pg.evaluate("document.documentElement.scrollHeight")
        pg.screenshot(
            path=str(ARTIFACTS / "device-child-watch-charts.png"),
            full_page=True,
            clip={"x": 0, "y": top - 10, "width": size["width"], "height": page_h - top + 10},
        )
    finally:
        pg.set_viewport_size(size)
