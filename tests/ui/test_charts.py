"""The device page's pictures (dashboards/charts/, issue 18 point 2) on the replayed and assessed
lab: each chart's data agree with the store counted here in SQL of its own (and with the lab's
ground truth, pcaps/lab/lab.truth.yaml, where it says), and no chart carries a personal value.

The read API and the chart builders run in this process on the lab's data folder, opened once for
the module and closed again (chDB opens one data path per process).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import yaml

from appliance.lookups import world
from appliance.store import queries
from tests.support.paths import LAB
from tests.support.run import assessed_lab

pytestmark = pytest.mark.xdist_group("dashboard")

TRUTH: dict[str, Any] = yaml.safe_load((LAB / "lab.truth.yaml").read_text())
BENCH: dict[str, Any] = yaml.safe_load((LAB / "lab.bench.yaml").read_text())
CHILD_WATCH = "80:41:4e:7c:22:31"
UNDER_TEST = [mac for mac, d in TRUTH["devices"].items() if d["category"] != "other"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from appliance.store.backends import open_store

    path = str(tmp_path_factory.mktemp("charts") / "db")
    assessed_lab(path)
    store = open_store(path)
    try:
        yield store
    finally:
        store.close()


def _sql(store: Any, text: str, mac: str) -> list[dict[str, Any]]:
    """Plain SQL on the freshly replayed folder (one ingestion, so every row is current)."""
    return store.query(text, {"dev": mac})


def _per(rows: list[dict[str, Any]], key: str, value: str = "n") -> dict[str, int]:
    return {str(r[key]): int(r[value]) for r in rows}


@pytest.mark.parametrize("mac", UNDER_TEST)
def test_sankey_bands_sum_to_the_observations_per_data_type(lab: Any, mac: str) -> None:
    from dashboards.charts import sankey

    rows = queries.recipient_links(lab, None, mac)
    links = sankey.links(rows)
    counted = _per(
        _sql(lab, "SELECT data_type, count() AS n FROM {db}.observations WHERE device_mac = %(dev)s"
             " GROUP BY data_type", mac), "data_type")  # fmt: skip
    out_of: dict[str, int] = {}
    for link in links:
        if link["source"].startswith("t:"):
            out_of[link["source"][2:]] = out_of.get(link["source"][2:], 0) + link["value"]
    assert out_of == counted
    total = sum(counted.values())
    assert sum(v["value"] for v in links if v["target"].startswith("c:")) == total  # into the countries
    # each organisation passes on what it received
    into = {o: sum(v["value"] for v in links if v["target"] == o) for o in {v["target"] for v in links}}
    for org in (o for o in into if o.startswith("o:")):
        assert sum(v["value"] for v in links if v["source"] == org) == into[org], org
    fig = sankey.figure(rows)
    assert sum(fig.data[0].link.value) == 2 * total
    assert fig.layout.title.text


def test_sankey_colours_say_clear_or_encrypted_and_the_party(lab: Any) -> None:
    """The child watch sends everything in clear: to BBK as first party, to AutoNavi and Tencent as
    third parties (its flows' security and party columns, and the lab's truth)."""
    from dashboards.charts import sankey

    links = sankey.links(queries.recipient_links(lab, None, CHILD_WATCH))
    flows = _sql(lab, "SELECT organisation AS org, party, security FROM {db}.flows WHERE device_mac = %(dev)s"
                 " AND organisation != ''", CHILD_WATCH)  # fmt: skip
    assert {f["security"] for f in flows} == {"none"}
    assert {v["colour"] for v in links if v["source"].startswith("t:")} == {"clear"}
    party = {f"o:{f['org']}": f["party"] for f in flows}
    to_country = {v["source"]: v["colour"] for v in links if v["target"].startswith("c:")}
    assert to_country == party
    assert party == {"o:bbk": "first", "o:autonavi": "third", "o:tencent": "third"}


# the TLS lab replayed with its keys, read in a process of its own (chDB: one data path per process)
TLS_SCRIPT = """
import json, sys
from appliance.store import queries
from appliance.store.backends import open_store
from dashboards.charts import sankey
store = open_store(sys.argv[1])
out = {}
for mac in sys.argv[2:]:
    links = sankey.links(queries.recipient_links(store, None, mac))
    carried = store.query(
        "SELECT o.data_type AS kind, f.sec AS sec, count() AS n FROM (SELECT * FROM {db}.observations"
        " WHERE device_mac = %(dev)s) AS o ANY LEFT JOIN (SELECT flow_id, security AS sec FROM {db}.flows)"
        " AS f USING flow_id GROUP BY kind, sec", {"dev": mac})
    out[mac] = {"links": links, "carried": carried}
store.close()
print(json.dumps(out))
"""


def test_sankey_bands_read_with_session_keys_are_encrypted(tmp_path: Any) -> None:
    """The TLS lab replayed with its key log: what was read inside TLS is drawn as encrypted, what
    went in clear as clear, band for band as the flows' security column says."""
    import subprocess
    import sys

    from tests.support.paths import ROOT
    from tests.support.run import cli

    db = tmp_path / "db"
    p = cli("replay", str(LAB / "lab-tls.pcapng"), "--bench", str(LAB / "lab-tls.bench.yaml"),
            "--phases", str(LAB / "lab-tls.phases.csv"), "--keylog", str(LAB / "lab-tls.keys.log"),
            "--quiet", db=db)  # fmt: skip
    assert p.returncode == 0, p.stderr
    macs = list(yaml.safe_load((LAB / "lab-tls.truth.yaml").read_text())["devices"])
    run = subprocess.run([sys.executable, "-c", TLS_SCRIPT, str(db), *macs], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    seen: set[str] = set()
    for mac, got in json.loads(run.stdout).items():
        want: dict[tuple[str, str], int] = {}
        for r in got["carried"]:
            key = (f"t:{r['kind']}", "clear" if r["sec"] in ("", "none") else "encrypted")
            want[key] = want.get(key, 0) + int(r["n"])
        drawn: dict[tuple[str, str], int] = {}
        for v in got["links"]:
            if v["source"].startswith("t:"):
                key = (v["source"], v["colour"])
                drawn[key] = drawn.get(key, 0) + v["value"]
        assert drawn == want, mac
        seen |= {c for _, c in drawn}
    assert "encrypted" in seen  # the lab's TLS carries personal data, read with its keys


@pytest.mark.parametrize("mac", UNDER_TEST)
def test_map_marks_abroad_exactly_the_countries_outside_the_lab(lab: Any, mac: str) -> None:
    from dashboards.charts import world_map

    home = queries.home_countries(lab)
    assert home == ["CN"]  # the lab's jurisdiction (appliance.ingest.enrich.DEFAULT_HOME)
    frame = world_map.places(queries.destination_countries(lab, None, mac), home)
    flows = _sql(lab, "SELECT country, count() AS n FROM {db}.flows WHERE device_mac = %(dev)s"
                 " AND country != '' GROUP BY country", mac)  # fmt: skip
    assert set(frame["cc"]) == {f["country"] for f in flows}
    abroad = {f["country"] for f in flows if f["country"] != "CN"}
    assert set(frame.loc[frame["abroad"].astype(bool), "cc"]) == abroad
    assert dict(zip(frame["cc"], frame["flows"], strict=True)) == _per(flows, "country")
    assert frame["lon"].notna().all()  # every country of the lab has a point on the map


def test_map_has_cross_border_lines_and_no_url(lab: Any) -> None:
    """The learning tablet reaches the US (Firebase logging) and the tester's phone Sweden: theirs
    are the red lines, the child watch has none. The outlines travel in the spec itself: no URL for
    the browser to fetch."""
    from dashboards.charts import world_map

    abroad = {}
    for mac in TRUTH["devices"]:
        frame = world_map.places(queries.destination_countries(lab, None, mac), ["CN"])
        abroad[mac] = set(frame.loc[frame["abroad"].astype(bool), "cc"])
    assert abroad["20:ff:36:77:66:71"] == {"US"} and abroad["60:fd:a6:88:77:81"] == {"SE"}
    assert not [m for m, a in abroad.items() if a and m not in ("20:ff:36:77:66:71", "60:fd:a6:88:77:81")]
    frame = world_map.places(queries.destination_countries(lab, None, "20:ff:36:77:66:71"), ["CN"])
    spec = world_map.spec(frame, ["CN"])
    text = json.dumps(spec)
    assert '"url"' not in text
    rule = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "rule")
    lines = spec["datasets"][rule["data"]["name"]]
    assert [(r["cc"], r["abroad"]) for r in lines] == [("US", True)]
    topo = next(_dicts_with(spec, "arcs"))  # the TopoJSON, inline
    ids = {g.get("id") for g in topo["objects"]["countries"]["geometries"]}
    assert {world.numeric("CN"), world.numeric("US"), world.numeric("SE")} <= ids


def _dicts_with(node: Any, key: str) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if key in node:
            yield node
        for v in node.values():
            yield from _dicts_with(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from _dicts_with(v, key)


def _phase_hours() -> dict[str, float]:
    """Each phase's length from the lab's truth, the last one ending with the capture."""
    return {p["name"]: (min(p["end"], TRUTH["last_ts"]) - p["start"]) / 3600 for p in TRUTH["phases"]}


@pytest.mark.parametrize("mac", [CHILD_WATCH, "e0:06:30:5a:11:21"])
def test_frequency_per_phase_is_reports_over_the_phase_length(lab: Any, mac: str) -> None:
    """Each cell is the distinct report times of a data type in a phase (to each organisation,
    summed) over the phase's hours, as ``measures`` gives them and as counted here."""
    from dashboards.charts import frequency

    frame = frequency.rates(queries.measures(lab, None, mac)).set_index(["data_type", "phase"])
    counted = _sql(
        lab,
        """SELECT o.data_type AS kind, o.phase AS ph, f.org AS org, uniqExact(o.ts_ns) AS n
        FROM (SELECT * FROM {db}.observations WHERE device_mac = %(dev)s) AS o
        ANY LEFT JOIN (SELECT flow_id, organisation AS org FROM {db}.flows) AS f USING flow_id
        GROUP BY kind, ph, org""",
        mac,
    )
    reports: dict[tuple[str, str], int] = {}
    for r in counted:
        key = (str(r["kind"]), str(r["ph"]))
        reports[key] = reports.get(key, 0) + int(r["n"])
    assert set(frame.index) == set(reports)
    hours = _phase_hours()
    for (kind, phase), n in reports.items():
        assert frame.loc[(kind, phase), "reports"] == n
        assert abs(frame.loc[(kind, phase), "per_hour"] - n / hours[phase]) < 0.02, (kind, phase)
    order = list(frame.reset_index().sort_values("order")["phase"].drop_duplicates())
    assert order == [p["name"] for p in TRUTH["phases"] if p["name"] in order]  # the order they ran
    spec = frequency.chart(frame.reset_index()).to_dict()
    axes = spec["layer"][0]["encoding"]
    assert spec["title"] and axes["x"]["title"] and axes["y"]["title"] and axes["color"]["title"]


def test_timeline_has_every_report_coloured_by_its_recipient(lab: Any) -> None:
    from dashboards.charts import timeline

    frame = timeline.points(queries.observation_series(lab, None, CHILD_WATCH))
    counted = _sql(
        lab,
        """SELECT o.data_type AS kind, f.org AS org, uniqExact(o.ts_ns) AS n
        FROM (SELECT * FROM {db}.observations WHERE device_mac = %(dev)s) AS o
        ANY LEFT JOIN (SELECT flow_id, organisation AS org FROM {db}.flows) AS f USING flow_id
        GROUP BY kind, org""",
        CHILD_WATCH,
    )
    shown = frame.groupby(["data_type", "recipient"]).size().to_dict()
    assert shown == {(r["kind"], r["org"]): int(r["n"]) for r in counted}
    assert set(frame["recipient"]) == {"bbk", "autonavi", "tencent"}
    truth_types = {o["data_type"] for o in TRUTH["observations"] if o["device"] == CHILD_WATCH}
    assert truth_types <= set(frame["data_type"])
    first = pd.Timestamp(min(o["ts"] for o in TRUTH["observations"] if o["device"] == CHILD_WATCH), unit="s")
    assert abs(frame["time"].min().tz_localize(None) - first) < pd.Timedelta(seconds=1)


def test_precision_per_destination_in_metres(lab: Any) -> None:
    """The child watch sends its position to six decimals (0.11 m) to its own servers and AutoNavi,
    and to five (1.1 m) to Tencent's map API: the finest per destination as counted here."""
    from dashboards.charts import precision

    points = precision.frame(queries.location_precision(lab, None, CHILD_WATCH))
    counted = _sql(
        lab,
        """SELECT f.dom AS dest, min(o.metres) AS best, count() AS n
        FROM (SELECT * FROM {db}.observations WHERE device_mac = %(dev)s AND metres > 0) AS o
        ANY LEFT JOIN (SELECT flow_id, domain AS dom FROM {db}.flows) AS f USING flow_id GROUP BY dest""",
        CHILD_WATCH,
    )
    best = points.groupby("destination")["metres"].min().to_dict()
    assert best == pytest.approx({r["dest"]: float(r["best"]) for r in counted})
    assert points.groupby("destination")["n"].sum().to_dict() == {r["dest"]: int(r["n"]) for r in counted}
    assert best["api.watch.imoo.com"] < 0.2 and 1 < best["apis.map.qq.com"] < 1.2
    spec = precision.chart(points).to_dict()
    assert spec["encoding"]["x"]["scale"]["type"] == "log" and "metres" in spec["encoding"]["x"]["title"]


def _persona_values() -> set[str]:
    out = set()
    for d in BENCH["devices"].values():
        for k, v in (d.get("persona") or {}).items():
            if k != "home" and v:
                out |= {str(v), str(v).replace(" ", "")}
    return out


@pytest.mark.parametrize("mac", UNDER_TEST)
def test_no_chart_carries_a_personal_value(lab: Any, mac: str) -> None:
    """The charts' specs and the Sankey's figure, tooltips included, hold none of the personas'
    values (IMEI, serial, phone, e-mail, name) nor their home's coordinates."""
    from dashboards.charts import frequency, precision, sankey, timeline, world_map

    parts = [
        sankey.figure(queries.recipient_links(lab, None, mac)).to_json(),
        json.dumps(
            world_map.chart(
                world_map.places(queries.destination_countries(lab, None, mac), ["CN"]), ["CN"]
            ).to_dict()
        ),
    ]
    rates = frequency.rates(queries.measures(lab, None, mac))
    if not rates.empty:
        parts.append(json.dumps(frequency.chart(rates).to_dict()))
    points = timeline.points(queries.observation_series(lab, None, mac))
    if not points.empty:
        parts.append(json.dumps(timeline.chart(points, []).to_dict(), default=str))
    where = precision.frame(queries.location_precision(lab, None, mac))
    if not where.empty:
        parts.append(json.dumps(precision.chart(where).to_dict()))
    text = "\n".join(parts)
    values = _persona_values() | {"31.230416", "121.473701"}
    assert not [v for v in values if v in text]


TITLE_KEYS = ("title", "text")  # chart and axis titles, legend titles, tooltip titles; Plotly's title text


def _titles(node: Any, out: list[str]) -> list[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k in TITLE_KEYS and isinstance(v, str):
                out.append(v)
            elif k not in ("datasets", "values", "data"):  # values are data, not UI strings
                _titles(v, out)
    elif isinstance(node, list):
        for v in node:
            _titles(v, out)
    return out


def test_chart_labels_in_chinese(lab: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """In Chinese, every chart's title, axis, legend and tooltip title is Chinese (TLS and UTC aside),
    the Sankey's caption too, and the map names countries in Chinese."""
    import re

    from dashboards import i18n
    from dashboards.charts import frequency, precision, sankey, timeline, world_map

    monkeypatch.setattr(i18n, "lang", lambda: "zh")
    for module in (sankey, world_map):
        monkeypatch.setattr(module, "lang", lambda: "zh")
    mac = CHILD_WATCH
    specs = [
        json.loads(sankey.figure(queries.recipient_links(lab, None, mac)).to_json())["layout"],
        world_map.chart(
            world_map.places(queries.destination_countries(lab, None, "20:ff:36:77:66:71"), ["CN"]), ["CN"]
        ).to_dict(),
        frequency.chart(frequency.rates(queries.measures(lab, None, mac))).to_dict(),
        timeline.chart(timeline.points(queries.observation_series(lab, None, mac)), []).to_dict(),
        precision.chart(precision.frame(queries.location_precision(lab, None, mac))).to_dict(),
    ]
    titles = [t for s in specs for t in _titles(s, [])] + [i18n.t("sankey_legend")]
    assert len(titles) > 20
    english = [t for t in titles if re.search(r"[A-Za-z]{3,}", re.sub(r"TLS|UTC", "", t))]
    assert not english
    assert set(
        world_map.places(queries.destination_countries(lab, None, "20:ff:36:77:66:71"), ["CN"])["name"]
    ) == {
        "中国",
        "美国",
    }
