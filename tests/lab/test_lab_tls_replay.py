"""The lab inside TLS replayed as a lab does it (issue 16): ``tapaudit replay pcaps/lab/lab-tls.pcapng
--bench lab-tls.bench.yaml --phases lab-tls.phases.csv --keylog lab-tls.keys.log`` into a chDB store,
then read back through the read API a user's commands and the report use.

tests/lab/test_lab_tls.py scores the pipeline's rows in memory against the generator's truth; this
module checks what a lab sees after a real replay and assessment: ``queries.measures`` (what
``tapaudit measures`` prints) gives the truth's series (``lab-tls.truth.yaml`` ``series``: reports,
median interval within 2 %, as tests/lab/test_lab_tls.py allows, and location decimals), and the
report (``appliance.report.data.gather``) lists no flow as unread. Without the key log the same
capture gives no personal-data measures at all, and the report's "What could not be assessed"
section lists every TLS destination of each device under "Flows that could not be read", encrypted,
and the requirements about content are not assessed ("no readable traffic").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from appliance.findings.assess import assess
from appliance.ingest.replay import ReplayOptions, ReplayResult, replay
from appliance.lab.bench import load_bench
from appliance.lab.phases import load_phases
from appliance.report.data import gather
from appliance.store import queries
from appliance.store.backends import open_store
from appliance.store.queries.scope import scope
from policies.declaration import load_declarations
from tests.support.paths import ROOT

LAB = ROOT / "pcaps" / "lab"
CAP, KEYS, TRUTH = LAB / "lab-tls.pcapng", LAB / "lab-tls.keys.log", LAB / "lab-tls.truth.yaml"
BENCH, PHASES = LAB / "lab-tls.bench.yaml", LAB / "lab-tls.phases.csv"
INTERVAL_TOLERANCE = 0.02  # as tests/lab/test_lab_tls.py and tests/lab/test_measures.py


@dataclass
class Seen:
    """What one replay of the TLS lab left for a reader: the replay's summary, the measures, each
    device's report, and the destination -> organisation the flows table names."""

    result: ReplayResult
    measures: list[dict[str, Any]] = field(default_factory=list)
    reports: dict[str, Any] = field(default_factory=dict)
    organisation: dict[str, str] = field(default_factory=dict)


def _replay(store: Any, keylogs: list[str]) -> Seen:
    bench = load_bench(str(BENCH))
    opts = ReplayOptions(lan_prefixes=bench.lan_prefixes, bench=bench, keylogs=keylogs, force=True)
    opts.phases = load_phases(str(PHASES))
    res = replay(store, str(CAP), opts)
    assess(store, res.capture_id, declarations=load_declarations([str(LAB / "declarations")]))
    where, params = scope([res.capture_id])
    flows = store.query(f"SELECT DISTINCT domain, organisation FROM {{db}}.flows WHERE {where}", params)
    return Seen(
        res,
        queries.measures(store, [res.capture_id]),
        {mac: gather(store, mac, res.capture_id) for mac in bench.devices},
        {str(f["domain"]): str(f["organisation"]) for f in flows if f["domain"]},
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The capture replayed without keys, then again (superseding) with its key log."""
    store = open_store(str(tmp_path_factory.mktemp("lab-tls-db")))
    try:
        store.ensure_schema()
        bare = _replay(store, [])
        keyed = _replay(store, [str(KEYS)])
        yield {"bare": bare, "keys": keyed, "truth": yaml.safe_load(TRUTH.read_text())}
    finally:
        store.close()


def test_replay_summary_counts_the_sessions(lab: dict[str, Any]) -> None:
    """``replay --json``'s tls counts: every session decrypted with the key log, none without it."""
    sessions = sum(lab["truth"]["tls_sessions"].values())
    assert lab["keys"].result.tls == {"decrypted": sessions, "no_key": 0, "failed": 0}
    assert lab["bare"].result.tls == {"decrypted": 0, "no_key": sessions, "failed": 0}
    assert [k["kind"] for k in lab["keys"].result.key_files] == ["tls-keylog"]


def test_measures_with_the_key_log_give_the_truths_series(lab: dict[str, Any]) -> None:
    """One measures row per series of the truth (device, data type, the destination's organisation,
    phase): same number of reports, median interval within 2 % of the generator's, and for
    locations the decimals sent. (Each organisation gets one destination per device and data type
    in this lab, so measures' organisation key loses nothing of the truth's destination.)"""
    seen = lab["keys"]
    got = {(m["device_mac"], m["data_type"], m["organisation"], m["phase"]): m for m in seen.measures}
    want = {
        (s["device"], s["data_type"], seen.organisation[s["destination"]], s["phase"]): s
        for s in lab["truth"]["series"]
    }
    assert len(want) == len(lab["truth"]["series"])  # no two series share a measures row
    assert set(got) == set(want)
    print(
        f"\n{'device':18} {'data type':22} {'to':9} {'phase':11} {'reports':>7} {'truth':>6} {'measured':>8}"
    )
    for k, s in sorted(want.items()):
        m = got[k]
        gap = m["median_gap_ns"] / 1e9
        print(
            f"{k[0]:18} {k[1]:22} {k[2]:9} {k[3]:11} {m['reports']:>7} {s['interval'] or 0:>8.1f} {gap:>9.1f}"
        )
        assert m["reports"] == s["reports"], k
        if s["reports"] >= 2:
            assert abs(gap - s["interval"]) <= INTERVAL_TOLERANCE * s["interval"], (k, gap, s["interval"])
        if k[1] == "location":
            assert m["max_decimals"] == s["max_decimals"], k
        else:
            assert m["max_decimals"] == -1, k
        assert m["enc_share"] == 1.0, k  # every report travelled inside TLS


def test_with_the_key_log_no_flow_is_unread(lab: dict[str, Any]) -> None:
    """The decrypted flows count as read: the report lists none under "Flows that could not be read",
    and no requirement is left unassessed for want of readable traffic or noted "encrypted flows unread"."""
    for mac, report in lab["keys"].reports.items():
        assert report.unreadable == [], mac
        notes = [r["note"] for r in report.requirements]
        assert not any("unread" in n or n.startswith("no readable traffic") for n in notes), (mac, notes)


def test_without_the_key_log_personal_data_is_unmeasured_and_flows_unread(lab: dict[str, Any]) -> None:
    """The capture alone: no personal-data measures for any device, and each device's report lists
    every destination it reached over TLS as unread and encrypted (tls1.3), with as many flows as the
    truth has sessions."""
    bare = lab["bare"]
    assert bare.measures == []
    truth = lab["truth"]
    dests: dict[str, set[str]] = {}
    for s in truth["series"]:
        dests.setdefault(s["device"], set()).add(s["destination"])
    unread = 0
    for mac, report in bare.reports.items():
        assert report.measures == [], mac
        assert {u["destination"] for u in report.unreadable} == dests[mac], mac
        for u in report.unreadable:
            assert u["encrypted"] and u["security"] == ["tls1.3"], u
            unread += u["flows"]
    # one flow row per session, but the MQTT session's connection (09:59:40 to past 10:29) lasts longer
    # than the flow table's active timeout (30 min, PipelineOptions.active_s, as NetFlow's): two rows
    assert unread == sum(truth["tls_sessions"].values()) + 1
    # the content requirements could not be assessed: nothing of what was sent could be read
    for mac, report in bare.reports.items():
        notes = [r["note"] for r in report.requirements]
        assert any(n.startswith("no readable traffic") for n in notes), (mac, notes)


def test_data_types_only_with_the_key_log(lab: dict[str, Any]) -> None:
    """Measures come only from decrypted content: every report's observation examples (the
    report's data types) exist with keys, none without."""
    for mac, report in lab["keys"].reports.items():
        assert report.data_types, mac
        assert lab["bare"].reports[mac].data_types == [], mac
