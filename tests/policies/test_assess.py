"""tapaudit assess and findings: storing an assessment, replacing it, and the one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from appliance.findings.assess import assess
from appliance.ingest.replay import ReplayOptions, replay
from appliance.store import queries
from appliance.store.backends import Store
from tests.support.paths import LAB, ROOT
from tests.support.run import cli

PLUG = ROOT / "pcaps" / "real" / "ssi-smart-power-plug-boot.pcap"


def test_an_assessment_without_findings_replaces_the_previous_one(store: Store) -> None:
    cid = replay(store, str(PLUG), ReplayOptions()).capture_id
    first = assess(store, cid)  # every pack: the plug sends its data over TLS, some rules may still speak
    again = assess(store, cid, ["coppa"])  # children's devices only: nothing to say about a plug
    assert again.findings == [] and again.assess_id > first.assess_id
    assert queries.findings(store) == []  # the newer, empty assessment is the current one


def test_assess_and_findings_commands(tmp_path: Path) -> None:
    db = tmp_path / "db"
    lab = LAB / "lab.pcapng"
    assert cli("replay", str(lab), "--bench", str(LAB / "lab.bench.yaml"), "-q", db=db).returncode == 0
    p = cli("assess", "--declaration", str(LAB / "declarations"), "--pack", "cn-pi-2025", "--json", db=db)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert list(doc[0]["packs"]) == ["cn-pi-2025"] and sum(doc[0]["findings"].values()) > 0
    rows = json.loads(cli("findings", "--severity", "fail", "--json", db=db).stdout)
    assert rows and {r["severity"] for r in rows} == {"fail"} and {r["pack"] for r in rows} == {"cn-pi-2025"}
    text = cli("findings", "--device", "18:c2:3c:44:44:51", db=db).stdout
    assert "face templates" in text and "CN25-08" in text
    for args, says in [
        (("assess", "--declaration", str(tmp_path / "none.yaml")), "No such file"),
        (("assess", "--pack", "no-such-pack"), "no-such-pack"),
        (("assess", "--capture", "ffff"), "no stored capture matches"),
        (("findings", "--severity", "grave"), "--severity"),
    ]:
        bad = cli(*args, db=db)
        assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and says in bad.stderr, (args, bad.stderr)
