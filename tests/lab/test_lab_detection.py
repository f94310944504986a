"""Detection on the lab, scored against what the generator sent: precision and recall per data type,
and the measures (reporting interval, precision of location) against the generator's series.

The truth is ``lab.truth.yaml``'s ``observations`` (one entry per personal-data value sent in
clear, with the time of its packet) and ``series`` (per device x data type x destination x
phase: the interval between reports), written by ``pcaps/synth/personal.py`` as it built
each payload. Run with ``-s`` to see the tables.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import json
import statistics
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from appliance.ingest.replay import replay
from appliance.store import queries
from appliance.store.backends import open_store
from parsers.detect.scan import scan
from policies.catalog import load_catalog
from tests.support.paths import ROOT
from tests.support.run import lab_options

LAB = ROOT / "pcaps" / "lab"
NS = 1_000_000_000
WINDOW_S = 1.0  # an observation matches a truth entry of its device and type sent within 1 s
MIN_SCORE = 0.95
INTERVAL_TOLERANCE = 0.02
# every kind of personal data the detectors report is in the lab's truth (parsers/detect)
REQUIRED = {
    "location", "wifi_scan", "cell_tower", "imei", "meid", "imsi", "iccid", "mac", "serial", "android_id",
    "oaid", "idfa", "phone", "cn_id", "email", "persona:imei", "persona:phone", "persona:email",
    "persona:name", "persona:serial", "contacts", "app_list", "health:heart_rate", "health:spo2",
    "health:steps", "health:sleep", "health:blood_pressure", "health:temperature", "image", "audio",
    "video", "face_template",
}  # fmt: skip

Lab = tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """(truth, observations, measures) of one replay of the lab with its bench and phases files."""
    truth = yaml.load(
        (LAB / "lab.truth.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    )
    store = open_store(str(tmp_path_factory.mktemp("detect") / "db"))
    store.ensure_schema()
    replay(store, str(LAB / "lab.pcapng"), lab_options())
    obs = queries.observations(store, limit=10**7)
    ms = queries.measures(store)
    yield truth, obs, ms
    store.close()


def match(truth: list[dict[str, Any]], obs: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """One-to-one pairs (truth index, observation index): same device and data type, sent within 1 s.

    A payload may carry several values of one type (an IMEI in the topic and in the JSON, six
    numbers in an address book): each observation takes at most one truth entry, nearest in time,
    preferring the same carrier and destination, so values count as distinct entries.
    """
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, e in enumerate(truth):
        by_key[(e["device"], e["data_type"])].append(i)
    times = {k: [truth[i]["ts"] for i in ids] for k, ids in by_key.items()}
    for k, ids in by_key.items():
        order = sorted(range(len(ids)), key=lambda j: times[k][j])
        by_key[k] = [ids[j] for j in order]
        times[k] = [times[k][j] for j in order]
    pairs = []
    for j, o in enumerate(obs):
        k = (o["device_mac"], o["data_type"])
        if k not in by_key:
            continue
        ts = int(o["ts_ns"]) / NS
        lo = bisect.bisect_left(times[k], ts - WINDOW_S)
        hi = bisect.bisect_right(times[k], ts + WINDOW_S)
        for i in by_key[k][lo:hi]:
            e = truth[i]
            cost = (e["carrier"] != o["carrier"], e["destination"] != o["domain"], abs(e["ts"] - ts))
            pairs.append((cost, i, j))
    pairs.sort()
    used_t, used_o, out = set(), set(), []
    for _cost, i, j in pairs:
        if i not in used_t and j not in used_o:
            used_t.add(i)
            used_o.add(j)
            out.append((i, j))
    return out


# coordinate systems the map vendors document for their web APIs when a request names none
# (Amap Web service API: GCJ-02 coordinates; Tencent Location Service WebService API: GCJ-02)
MAP_API_DEFAULTS = {"restapi.amap.com": "GCJ-02", "apis.map.qq.com": "GCJ-02"}


def test_truth_covers_every_data_type(lab: Lab) -> None:
    truth, _obs, _ms = lab
    kinds = {e["data_type"] for e in truth["observations"]}
    assert kinds >= REQUIRED, REQUIRED - kinds
    locs = [e for e in truth["observations"] if e["data_type"] == "location"]
    assert {e["decimals"] for e in locs} >= {2, 4, 5, 6}
    assert {e.get("system") for e in locs} >= {"WGS-84", "GCJ-02", "BD-09"}
    phases = {p["name"] for p in truth["phases"]}
    assert {e["phase"] for e in truth["observations"]} == phases
    assert all(e["phase"] in phases for e in truth["series"])


def test_precision_and_recall_per_data_type(lab: Lab) -> None:
    truth_doc, obs, _ms = lab
    truth = truth_doc["observations"]
    pairs = match(truth, obs)
    tp: dict[str, int] = defaultdict(int)
    for i, _j in pairs:
        tp[truth[i]["data_type"]] += 1
    want = defaultdict(int, {k: 0 for k in REQUIRED})
    for e in truth:
        want[e["data_type"]] += 1
    got: dict[str, int] = defaultdict(int)
    for o in obs:
        got[o["data_type"]] += 1
    kinds = sorted(set(want) | set(got))
    rows = []
    print(f"\n{'data type':24} {'truth':>6} {'observed':>9} {'TP':>6} {'precision':>10} {'recall':>7}")
    for k in kinds:
        p = tp[k] / got[k] if got[k] else (1.0 if not want[k] else 0.0)
        r = tp[k] / want[k] if want[k] else (1.0 if not got[k] else 0.0)
        rows.append((k, p, r))
        print(f"{k:24} {want[k]:>6} {got[k]:>9} {tp[k]:>6} {p:>10.3f} {r:>7.3f}")
    total_tp = sum(tp.values())
    print(
        f"{'all':24} {len(truth):>6} {len(obs):>9} {total_tp:>6} {total_tp / len(obs):>10.3f}"
        f" {total_tp / len(truth):>7.3f}"
    )
    # what a matched observation says about its value agrees with what was sent
    wrong = []
    for i, j in pairs:
        e, o = truth[i], obs[j]
        extra = json.loads(o["detail"])
        if (e["destination"], e["carrier"]) != (o["domain"], o["carrier"]):
            wrong.append(("where", e, o["domain"], o["carrier"]))
        if e["data_type"] == "location" and e["decimals"] != o["decimals"]:
            wrong.append(("decimals", e, o["decimals"]))
        if e.get("system") and e["system"] != extra.get("system"):
            wrong.append(("system", e, extra.get("system")))
        # the column: as the payload stated it, else the map API's documented default, else unknown
        if e["data_type"] == "location":
            want = e.get("system") or MAP_API_DEFAULTS.get(e["destination"], "unknown")
            if want != o["coord_system"]:
                wrong.append(("coord_system column", e, o["coord_system"]))
    for w in wrong[:10]:
        print("mismatch:", w)
    assert not wrong, wrong[:5]
    low = [(k, round(p, 3), round(r, 3)) for k, p, r in rows if p < MIN_SCORE or r < MIN_SCORE]
    assert not low, low


def test_measures_match_the_series(lab: Lab) -> None:
    """Median interval within 2 % and the finest location decimals exact, per measured group.

    Measures group by organisation: series of one device, type and phase to destinations of the
    same organisation (the watch's report and its MQTT session, both BBK) are measured together,
    so their expected interval is the median gap of the generator's times merged.
    """
    truth, _obs, ms = lab
    cat = load_catalog()

    def org(host: str) -> str:
        svc = cat.lookup(host)
        return svc.organisation if svc else ""

    times: dict[tuple[str, str, str, str], set[float]] = defaultdict(set)
    places: dict[tuple[str, str, str, str], int] = {}
    for e in truth["observations"]:
        key = (e["device"], e["data_type"], org(e["destination"]), e["phase"])
        times[key].add(e["ts"])
        if "decimals" in e:
            places[key] = max(places.get(key, -1), e["decimals"])
    series: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for s in truth["series"]:
        series[(s["device"], s["data_type"], org(s["destination"]), s["phase"])].append(s)
    measured = {(m["device_mac"], m["data_type"], m["organisation"], m["phase"]): m for m in ms}
    print(
        f"\n{'device':17} {'data type':21} {'destination':38} {'phase':11} {'truth s':>8} {'median s':>9}"
        f" {'err %':>6} {'reports':>8} {'dp':>5}"
    )
    bad, compared = [], 0
    for key in sorted(times):
        ts = sorted(times[key])
        if len(ts) < 3:
            continue
        group = series[key]
        if len(group) == 1:
            expect, dest = float(group[0]["interval"]), group[0]["destination"]
        else:
            expect = statistics.median(b - a for a, b in itertools.pairwise(ts))
            dest = f"{key[2]} ({len(group)} destinations)"
        m = measured.get(key)
        got = m["median_gap_ns"] / NS if m else float("nan")
        err = abs(got - expect) / expect if m else float("inf")
        dp = f"{places[key]}/{m['max_decimals'] if m else '-'}" if key in places else ""
        reports = f"{len(ts)}/{m['reports'] if m else '-'}"
        print(
            f"{key[0]:17} {key[1]:21} {dest:38} {key[3]:11} {expect:>8.1f} {got:>9.1f}"
            f" {100 * err:>6.2f} {reports:>8} {dp:>5}"
        )
        compared += 1
        if m is None or err > INTERVAL_TOLERANCE:
            bad.append((key, expect, got))
        elif key in places and int(m["max_decimals"]) != places[key]:
            bad.append((key, "decimals", places[key], m["max_decimals"]))
    assert compared >= 30
    assert not bad, bad


def _kinds(payload: bytes, ct: str = "") -> list[tuple[str, str]]:
    return sorted((h.data_type, h.value) for h in scan(payload, ct))


def test_detector_fixes_the_lab_needed() -> None:
    """The shapes the lab sends that the detectors missed or misread before (crafted, one each)."""
    # Tencent and Baidu put lat,lng under ``location``; Amap lng,lat: the order follows the ranges
    assert _kinds(b"location=31.23042,121.47370&key=K") == [("location", "31.23042,121.47370")]
    assert _kinds(b"location=121.473701,31.230416") == [("location", "31.230416,121.473701")]
    # Amap's positioning query: towers as strings, access points as mac,rssi,ssid (BSSIDs, not the device's)
    q = b"bts=460,0,6338,83893851,-61&nearbts=460,0,6338,83893853,-74|460,0,6338,83893917,-83"
    assert [k for k, _v in _kinds(q)] == ["cell_tower"] * 3
    scan_list = b"macs=c8:3a:35:12:a4:01,-45,TP-LINK|50:bd:5f:01:02:03,-60,ChinaNet"
    assert [k for k, _v in _kinds(scan_list)] == ["wifi_scan"]
    doc = {"mac": "20:ff:36:77:66:71", "wifiinfo": [{"mac": "c8:3a:35:12:a4:01", "rssi": -45},
                                                    {"mac": "50:bd:5f:01:02:03", "rssi": -60}]}  # fmt: skip
    own = ("mac", "20:ff:36:77:66:71")
    assert _kinds(json.dumps(doc).encode()) == [own, ("wifi_scan", "2 access points")]
    # an address book is one contact list (its numbers are phone numbers, not a second list)
    cards = "".join(f"BEGIN:VCARD\r\nFN:N{i}\r\nTEL:1391234567{i}\r\nEND:VCARD\r\n" for i in range(6))
    assert [k for k, _v in _kinds(cards.encode(), "text/vcard")] == ["contacts"] + ["phone"] * 6
    # audio without a container under an audio key; with one, it is reported once, by its magic
    assert [k for k, _v in _kinds(json.dumps({"audio": "b64:" + "a5" * 600}).encode())] == ["audio"]
    amr = base64.b64encode(b"#!AMR\n" + b"\x3c" * 320).decode()
    assert _kinds(json.dumps({"audio": amr}).encode()) == [("audio", "audio/amr")]
    assert _kinds(b'{"voice": "xiaoai_female", "speech": "turn on the light"}') == []
