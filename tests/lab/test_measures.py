"""Test phases and measures: phases files, phase stamps, and per-phase frequency, precision and runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from appliance.ingest.replay import replay
from appliance.lab.phases import PhasesError, load_phases
from appliance.store import queries
from appliance.store.backends import Store
from tests.support.paths import ROOT
from tests.support.run import cli, lab_options

LAB = ROOT / "pcaps" / "lab"
CHILD_WATCH = "80:41:4e:7c:22:31"


def _lab(store: Store) -> None:
    replay(store, str(LAB / "lab.pcapng"), lab_options())


def test_phases_files(tmp_path: Path) -> None:
    csv_file = tmp_path / "p.csv"
    csv_file.write_text("timestamp,phase,note\n1772442600,idle,left alone\n2026-03-02T09:00:00Z,boot,\n")
    p = load_phases(str(csv_file))
    assert [m.phase for m in p.marks] == ["boot", "idle"]  # sorted by time
    assert p.at(1772442000 * 10**9 - 1) == "unmarked" and p.at(1772442300 * 10**9) == "boot"
    assert p.at(1772442600 * 10**9) == "idle"
    yml = tmp_path / "p.yaml"
    yml.write_text("phases:\n- {at: '2026-03-02T17:00:00+08:00', phase: consent, note: tapped OK}\n")
    assert load_phases(str(yml)).marks[0].ts_ns == 1772442000 * 10**9
    for text, needle in [
        ("when,what\n1,idle\n", "columns timestamp,phase"),
        ("timestamp,phase\nyesterday,idle\n", "row 1: not a time"),
        ("timestamp,phase\n1,Idle Phase\n", "not a lower-case name"),
        ("timestamp,phase\n", "no phases"),
    ]:
        csv_file.write_text(text)
        with pytest.raises(PhasesError, match=needle):
            load_phases(str(csv_file))


def test_flows_and_observations_carry_their_phase(store: Store) -> None:
    _lab(store)
    spans = store.query("SELECT phase, start_ns, end_ns FROM {db}.phases ORDER BY start_ns")
    assert [s["phase"] for s in spans] == ["boot", "idle", "feature_on", "feature_off", "background"]
    bad = store.query(
        """SELECT count() AS n FROM {db}.observations AS o
        ANY LEFT JOIN (SELECT phase AS p, start_ns AS s, end_ns AS e FROM {db}.phases) AS ph ON o.phase = ph.p
        WHERE o.ts_ns < ph.s OR o.ts_ns >= ph.e"""
    )
    assert bad[0]["n"] == 0
    assert store.query("SELECT uniqExact(phase) AS n FROM {db}.flows")[0]["n"] >= 5


def test_child_watch_measures_match_the_scenario(store: Store) -> None:
    _lab(store)
    rows = queries.measures(store, device=CHILD_WATCH)
    ms = {(m["data_type"], m["organisation"], m["phase"]): m for m in rows}
    # the scenario: MQTT location every 2 min and an HTTP report every 10 min while idle; an Amap
    # lookup every 4 min with the feature on; six decimals everywhere
    idle = ms[("location", "bbk", "idle")]
    assert abs(idle["median_gap_ns"] / 1e9 - 120) <= 2.4  # within 2%
    assert idle["max_decimals"] == 6 and idle["best_metres"] == 0.111
    amap = ms[("location", "autonavi", "feature_on")]
    assert abs(amap["median_gap_ns"] / 1e9 - 240) <= 4.8 and amap["third_share"] == 1
    assert amap["longest_run_ns"] / 1e9 == pytest.approx(9 * 240, rel=0.02)  # ten reports, one run
    assert amap["reports"] == 10 and amap["reports_per_hour"] == pytest.approx(15, rel=0.02)
    assert all(m["enc_share"] == 0 for m in ms.values())  # HTTP and MQTT in clear


def test_measures_cli(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    bench, phases = str(LAB / "lab.bench.yaml"), str(LAB / "lab.phases.csv")
    p = cli("replay", str(LAB / "lab.pcapng"), "--bench", bench, "--phases", phases, "--db", db, "-q")
    assert p.returncode == 0, p.stderr
    rows = json.loads(cli("measures", "--device", CHILD_WATCH, "--json", "--db", db).stdout)
    assert {r["phase"] for r in rows} >= {"idle", "feature_on"}
    human = cli("measures", "--db", db)
    assert human.returncode == 0 and "Measures" in human.stdout
    assert re.search(r"(?<![\d.])2 min\b", human.stdout), human.stdout  # the 120 s period, rounded
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,phase\nsoon,idle\n")
    err = cli("replay", str(LAB / "lab.pcapng"), "--phases", str(bad), "--db", db)
    assert (
        err.returncode == 1
        and err.stderr.startswith("tapaudit: error: phases file")
        and "Traceback" not in err.stderr
    )
