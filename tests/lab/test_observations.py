"""Personal-data observations from a replay of the lab capture: what, where, how precise, masked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from appliance.ingest.replay import replay
from appliance.lab.bench import load_bench
from appliance.store import queries
from appliance.store.backends import Store
from tests.support.paths import ROOT
from tests.support.run import cli, lab_options

LAB = ROOT / "pcaps" / "lab"
CHILD_WATCH, TABLET = "80:41:4e:7c:22:31", "20:ff:36:77:66:71"


def _lab(store: Store, raw: bool = False) -> None:
    replay(store, str(LAB / "lab.pcapng"), lab_options(raw=raw, phases=False))


def test_lab_observations(store: Store) -> None:
    _lab(store)
    bench = load_bench(str(LAB / "lab.bench.yaml"))
    kid = bench.devices[CHILD_WATCH].persona
    obs = queries.observations(store, limit=10_000)
    by = {(o["device_mac"], o["data_type"]) for o in obs}
    for want in [
        (CHILD_WATCH, "location"),
        (CHILD_WATCH, "imei"),
        (CHILD_WATCH, "persona:imei"),
        (CHILD_WATCH, "persona:phone"),
        (TABLET, "persona:email"),
        (TABLET, "persona:name"),
        (TABLET, "persona:serial"),
    ]:
        assert want in by, want
    locs = [o for o in obs if o["device_mac"] == CHILD_WATCH and o["data_type"] == "location"]
    # the decimals the watch sent (six to its own cloud and Amap, five to Tencent), from the truth file
    truth = yaml.safe_load((LAB / "lab.truth.yaml").read_text())
    sent = {
        e["decimals"]
        for e in truth["observations"]
        if (e["device"], e["data_type"]) == (CHILD_WATCH, "location")
    }
    assert {o["decimals"] for o in locs} == sent and 6 in sent
    assert {o["metres"] for o in locs if o["decimals"] == 6} == {0.111}
    assert {o["domain"] for o in locs} >= {"api.watch.imoo.com", "mqtt.watch.imoo.com"}
    connect = [o for o in obs if o["carrier"] == "mqtt.connect" and o["data_type"] == "persona:imei"]
    assert connect and connect[0]["path"] == "connect:client_id"
    # stored masked: no known value appears anywhere in the table
    text = json.dumps(store.query("SELECT * FROM {db}.observations"), default=str)
    for value in (kid["imei"], "13800138000", kid["email"], str(kid["home"]["lat"])):
        assert value not in text, value
    # equal values hash equal, different values differently
    imeis = {o["value_hash"] for o in obs if o["data_type"] == "imei" and o["device_mac"] == CHILD_WATCH}
    assert len(imeis) == 1
    assert len({o["value_hash"] for o in locs}) > 10


def test_devices_that_send_nothing_personal_have_no_observations(store: Store) -> None:
    _lab(store)
    macs = {r["device_mac"] for r in queries.observations(store, limit=10_000)}
    assert macs <= {CHILD_WATCH, TABLET, "e0:06:30:5a:11:21", "cc:eb:5e:3b:33:41", "18:c2:3c:44:44:51",
                    "64:f2:fb:66:55:61"}  # fmt: skip
    assert "68:dd:b7:50:00:01" not in macs  # the gateway


def test_observations_cli_masks_and_reveals(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    bench = str(LAB / "lab.bench.yaml")
    assert cli("replay", str(LAB / "lab.pcapng"), "--bench", bench, "--db", db, "-q").returncode == 0
    p = cli("observations", "--device", CHILD_WATCH, "--type", "persona", "--json", "--db", db)
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert rows and all(r["data_type"].startswith("persona:") and "*" in r["value"] for r in rows)
    denied = cli("observations", "--reveal", "--db", db)
    assert denied.returncode == 1 and "--raw-evidence" in denied.stderr and "Traceback" not in denied.stderr
    assert cli("replay", str(LAB / "lab.pcapng"), "--bench", bench, "--db", db, "-q", "--force",
               "--raw-evidence").returncode == 0  # fmt: skip
    shown = json.loads(cli("observations", "--type", "imei", "--reveal", "--json", "--db", db).stdout)
    assert shown and all(r["value"].isdigit() and len(r["value"]) == 15 for r in shown)
    masked = json.loads(cli("observations", "--type", "imei", "--json", "--db", db).stdout)
    assert masked and all("*" in r["value"] for r in masked)  # raw in storage, masked on screen
    human = cli("observations", "--type", "location", "--db", db)
    assert human.returncode == 0 and "6 dp (0.111 m)" in human.stdout


def test_findings_of_a_raw_capture_are_masked_unless_revealed(tmp_path: Path) -> None:
    """`findings --json` printed a raw-evidence capture's excerpts as sent: the read API masks them now."""
    from appliance.findings.assess import assess
    from appliance.store.backends import open_store
    from policies.declaration import load_declarations

    db = str(tmp_path / "db")
    store = open_store(db)
    try:
        store.ensure_schema()
        cid = replay(store, str(LAB / "lab.pcapng"), lab_options(raw=False)).capture_id
        assess(store, cid, declarations=load_declarations([str(LAB / "declarations")]))
        with pytest.raises(queries.RevealError, match="--raw-evidence"):
            queries.findings(store, reveal=True)
        replay(store, str(LAB / "lab.pcapng"), lab_options(raw=True))
        assess(store, cid, declarations=load_declarations([str(LAB / "declarations")]))
        raw = {r["finding_id"]: r["excerpts"] for r in queries.findings(store, reveal=True)}
    finally:
        store.close()
    assert any(e and "*" not in e for ex in raw.values() for e in ex)  # stored as sent
    shown = {r["finding_id"]: r["excerpts"] for r in json.loads(cli("findings", "--json", "--db", db).stdout)}
    assert shown.keys() == raw.keys() and shown != raw
    for fid, excerpts in shown.items():
        assert all(not e or "*" in e for e in excerpts), (fid, excerpts)
