"""The report knows what was decrypted (issue 16): per device, the encrypted flows and bytes, of
which read with session keys and still unread; "What could not be assessed" and the verdicts
count only the unread ones.

``pcaps/lab/lab-tls.pcapng`` is replayed into a store and assessed three times: with its key log
(``replay --keylog``), with the same lines as a Decryption Secrets Block, and without. The oracle
is the generator's truth file: the TLS sessions it wrote (``tls_sessions``, 34), every one with
its keys in the log. They are 35 flow records: the watch's MQTT-over-TLS connection outlives the
active timeout and goes on as a continuation record (``segment`` 1), read with the keys of the
session it continues. The coverage counts flow records, as every other flow figure of the report
does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from appliance.findings.assess import assess
from appliance.ingest import replay as replay_module
from appliance.ingest.replay import ReplayOptions, replay
from appliance.lab.bench import load_bench
from appliance.lab.phases import load_phases
from appliance.report.data import ReportData, gather
from appliance.report.render_html import render_html
from appliance.report.render_md import render_md
from appliance.store import queries
from appliance.store.backends import open_store
from parsers.decrypt.keys import DSB_TLS, KeyLog
from policies.declaration import load_declarations
from tests.support.paths import LAB

CAP, KEYS, TRUTH = LAB / "lab-tls.pcapng", LAB / "lab-tls.keys.log", LAB / "lab-tls.truth.yaml"
pytestmark = pytest.mark.xdist_group("lab-tls-coverage")  # one worker: the replays are shared


def _replay(path: Path, keys: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replay and assess the TLS lab into ``path`` with no keys (''), the key log ('keylog') or its
    lines as a capture's Decryption Secrets Block ('dsb'); each device's report data and the flows."""
    made = replay_module.Pipeline.from_options

    def with_keys(*args: Any, **kw: Any) -> Any:
        pipe = made(*args, **kw)
        log = KeyLog()
        if keys == "dsb":
            assert log.add_dsb(DSB_TLS, KEYS.read_bytes(), str(CAP))
        else:
            log.add_file(str(KEYS))
        pipe.meter.keys = log
        return pipe

    if keys == "dsb":  # as if the capture carried its key lines in a secrets block
        monkeypatch.setattr(replay_module.Pipeline, "from_options", with_keys)
    bench = load_bench(str(LAB / "lab-tls.bench.yaml"))
    opts = ReplayOptions(lan_prefixes=bench.lan_prefixes, bench=bench, force=True)
    opts.keylogs = [str(KEYS)] if keys == "keylog" else []  # replay --keylog
    opts.phases = load_phases(str(LAB / "lab-tls.phases.csv"))
    store = open_store(str(path))
    try:
        store.ensure_schema()
        res = replay(store, str(CAP), opts)
        assess(store, res.capture_id, declarations=load_declarations([str(LAB / "declarations")]))
        reports = {mac: gather(store, mac) for mac in bench.devices}
        flows = store.query(
            "SELECT flow_id, device_mac, security, readable, decrypted, segment, app, remote_port"
            " FROM {db}.flows WHERE security LIKE 'tls%%'"
        )
        coverage = {str(r["mac"]): r for r in queries.tls_coverage(store)}
    finally:
        store.close()
        monkeypatch.undo()
    return {"stats": res.stats, "reports": reports, "flows": flows, "coverage": coverage}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    mp = pytest.MonkeyPatch()
    yield {
        "keys": _replay(tmp_path_factory.mktemp("keys") / "db", "keylog", mp),
        "nokeys": _replay(tmp_path_factory.mktemp("nokeys") / "db", "", mp),
        "dsb": _replay(tmp_path_factory.mktemp("dsb") / "db", "dsb", mp),
    }


def _tls_sessions() -> int:
    return sum(yaml.safe_load(TRUTH.read_text())["tls_sessions"].values())


def test_with_keys_every_tls_flow_is_decrypted_and_nothing_stays_unread(runs: dict[str, Any]) -> None:
    run = runs["keys"]
    want = _tls_sessions()
    assert want == 34
    assert len([f for f in run["flows"] if f["segment"] == 0]) == want
    [cont] = [f for f in run["flows"] if f["segment"]]
    assert (cont["app"], cont["remote_port"]) == ("tls", 8883)
    records = len(run["flows"])
    assert all(f["decrypted"] == "tls-keylog" and f["readable"] == 1 for f in run["flows"])
    assert run["stats"].get("tls_decrypted") == want
    reports: dict[str, ReportData] = run["reports"]
    assert sum(r.coverage["encrypted_flows"] for r in reports.values()) == records
    assert sum(r.coverage["decrypted_flows"] for r in reports.values()) == records
    for mac, r in reports.items():
        c = r.coverage
        assert c["unread_flows"] == 0 and c["unread_bytes"] == 0, mac
        assert c["decrypted_bytes"] == c["encrypted_bytes"] > 0, mac
        assert c["key_sources"] == ["tls-keylog"], mac
        [kf] = c["key_files"]  # the key file the replay recorded, named with its hash
        assert kf["path"] == str(KEYS) and kf["sha256"] == hashlib.sha256(KEYS.read_bytes()).hexdigest()
        # decrypted flows are assessed as clear ones: none is listed as unread, no note counts one
        assert not [u for u in r.unreadable if u["encrypted"]], mac
        assert not r.uploads, mac
        assert not [i for i in r.not_assessed if i["topic"] in ("encrypted", "uploads")], mac
        assert not [q for q in r.requirements if "encrypted flow" in q["note"]], mac
        assert not [q for q in r.requirements if "no readable traffic" in q["note"]], mac
        md, _charts = render_md(r)
        assert "Decrypted with session keys" in md and "TLS key log (SSLKEYLOGFILE)" in md
        assert f"sha256 {kf['sha256'][:16]}" in md
        assert "Flows that could not be read" not in md
        html = render_html(r)
        assert "Decrypted with session keys" in html and "Flows that could not be read" not in html
        assert json.loads(r.to_json())["coverage"] == c


def test_without_keys_every_tls_flow_is_unread_and_listed(runs: dict[str, Any]) -> None:
    run = runs["nokeys"]
    assert len([f for f in run["flows"] if f["segment"] == 0]) == _tls_sessions()
    want = len(run["flows"])  # flow records, with the MQTT connection's continuation
    assert all(f["decrypted"] == "" and f["readable"] == 0 for f in run["flows"])
    reports: dict[str, ReportData] = run["reports"]
    assert sum(r.coverage["unread_flows"] for r in reports.values()) == want
    assert sum(r.coverage["decrypted_flows"] for r in reports.values()) == 0
    listed = 0
    for mac, r in reports.items():
        c = r.coverage
        assert c["encrypted_bytes"] == c["unread_bytes"] > 0 and c["key_sources"] == [], mac
        enc = [u for u in r.unreadable if u["encrypted"]]
        assert sum(u["flows"] for u in enc) == c["unread_flows"], mac
        listed += sum(u["flows"] for u in enc)
        [note] = [i for i in r.not_assessed if i["topic"] == "encrypted"]
        assert note["text"].startswith(f"{c['unread_flows']} encrypted flow"), mac
        # the content requirements have nothing to read (every flow of these devices is TLS)
        assert [q for q in r.requirements if "no readable traffic" in q["note"]], mac
        md, _charts = render_md(r)
        assert "Still unread (no keys)" in md and "Flows that could not be read" in md
    assert listed == want


def test_the_same_bytes_are_counted_with_and_without_keys(runs: dict[str, Any]) -> None:
    """Decrypting moves flows from unread to decrypted; it neither adds nor loses any."""
    with_keys, without = runs["keys"]["coverage"], runs["nokeys"]["coverage"]
    assert with_keys.keys() == without.keys()
    for mac in with_keys:
        k, n = with_keys[mac], without[mac]
        assert (k["encrypted_flows"], k["encrypted_bytes"]) == (n["encrypted_flows"], n["encrypted_bytes"])
        assert (k["decrypted_flows"], k["decrypted_bytes"]) == (n["encrypted_flows"], n["encrypted_bytes"])


def test_keys_from_a_decryption_secrets_block_are_named_as_such(runs: dict[str, Any]) -> None:
    """The same key lines handed over as a pcapng DSB: the same flows decrypted, the source named."""
    dsb, keylog = runs["dsb"], runs["keys"]
    assert all(f["decrypted"] == "tls-dsb" for f in dsb["flows"])
    for mac, r in dsb["reports"].items():
        c, k = r.coverage, keylog["reports"][mac].coverage
        assert c["key_sources"] == ["tls-dsb"], mac
        assert {n: v for n, v in c.items() if n not in ("key_sources", "key_files")} == {
            n: v for n, v in k.items() if n not in ("key_sources", "key_files")
        }, mac
        md, _charts = render_md(r)
        assert "pcapng Decryption Secrets Block" in md
