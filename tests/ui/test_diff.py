"""tapaudit diff: two firmware versions of the children's watch, against the generator's truth."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from appliance.ingest.replay import ReplayOptions, replay
from appliance.report.diff import compare
from appliance.store.backends import open_store
from tests.support.paths import LAB, ROOT
from tests.support.run import cli

TRUTH = LAB / "child-watch-fw-diff.truth.yaml"
FILES = ("child-watch-fw-a.pcapng", "child-watch-fw-b.pcapng", "child-watch-fw-diff.truth.yaml")
WATCH = "80:41:4e:7c:22:31"


def test_committed_firmware_captures_equal_a_fresh_generation(tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "pcaps.synth.firmware", "--out-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (LAB / name).read_bytes(), (
            f"pcaps/lab/{name} differs from the generator's output: run `make lab` and commit"
        )


def _finding(cid: str, ingest: int, rule: str, subject: str) -> tuple[Any, ...]:
    fid = hashlib.sha256(f"{cid} {rule} {subject}".encode()).hexdigest()[:16]
    head = (cid, ingest, time.time_ns(), fid, WATCH, rule, f"test:{subject}", "test", "1", "", "", "high", [])
    return (*head, f"{rule} {subject}", "", json.dumps({"subject": subject}), [], 0, 0, [], 0)


@pytest.fixture(scope="module")
def fw_db(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both captures replayed (no phases file, the default LAN), with findings of our own.

    The findings are inserted rather than assessed: which findings the rule packs give is
    theirs to test; the diff must pair them by rule and subject whatever they are.
    """
    path = tmp_path_factory.mktemp("diff") / "db"
    store = open_store(str(path))
    try:
        store.ensure_schema()
        ids = {}
        for side in ("a", "b"):
            res = replay(store, str(LAB / f"child-watch-fw-{side}.pcapng"), ReplayOptions(force=True))
            ids[side] = res.capture_id
        for side, found in (
            ("a", [("CN25-01", "location"), ("CN25-07", "api.watch.imoo.com"), ("CN25-09", "firebase")]),
            (
                "b",
                [("CN25-01", "location"), ("CN25-07", "api.watch.imoo.com"), ("CN25-04", "ulogs.umeng.com")],
            ),
        ):
            cid = ids[side]
            ingest = int(
                store.query(
                    "SELECT max(ingest_id) AS i FROM {db}.captures WHERE capture_id = %(c)s", {"c": cid}
                )[0]["i"]
            )
            store.insert("findings", [_finding(cid, ingest, r, s) for r, s in found])
        doc = compare(store, ids["a"], ids["b"])
    finally:
        store.close()
    return {"db": path, "a": ids["a"], "b": ids["b"], "doc": doc}


def _check_against_truth(doc: dict[str, Any], truth: dict[str, Any]) -> None:
    for section in ("destinations",):
        for what in ("new", "gone"):
            got = [(d["destination"], d["organisation"], d["countries"]) for d in doc[section][what]]
            assert got == [
                (d["destination"], d["organisation"], d["countries"]) for d in truth[section][what]
            ]
    for section, key in (
        ("organisations", "organisation"),
        ("countries", "country"),
        ("data_types", "data_type"),
    ):
        for what in ("new", "gone"):
            assert [d[key] for d in doc[section][what]] == truth[section][what], (section, what)
    for what in ("new", "gone"):
        got = doc["series"][what]
        want = truth["series"][what]
        assert [(s["data_type"], s["organisation"], s["phase"], s["reports"]) for s in got] == [
            (s["data_type"], s["organisation"], s["phase"], s["reports"]) for s in want
        ]
        for g, w in zip(got, want, strict=True):
            assert g["interval_s"] == pytest.approx(w["interval"], abs=0.002)

    def head(r: dict[str, Any]) -> tuple[str, str, str]:
        return r["data_type"], r["organisation"], r["phase"]

    assert [head(r) for r in doc["frequency"]] == [head(r) for r in truth["frequency"]]
    for g, w in zip(doc["frequency"], truth["frequency"], strict=True):
        assert g["a_interval_s"] == pytest.approx(w["a_interval"], abs=0.002)
        assert g["b_interval_s"] == pytest.approx(w["b_interval"], abs=0.002)
    assert [(*head(r), r["a_decimals"], r["b_decimals"]) for r in doc["precision"]] == [
        (*head(r), r["a_decimals"], r["b_decimals"]) for r in truth["precision"]
    ]


def test_diff_finds_exactly_the_truths_differences(fw_db: dict[str, Any]) -> None:
    truth = yaml.safe_load(TRUTH.read_text())
    doc = fw_db["doc"]
    _check_against_truth(doc, truth)
    # the series that did not change are not reported (the Amap geocode: 300 s, five decimals)
    changed = {(r["data_type"], r["organisation"]) for r in doc["frequency"] + doc["precision"]}
    assert truth["unchanged"] and all(
        (u["data_type"], u["organisation"]) not in changed for u in truth["unchanged"]
    )
    assert [(f["rule_id"], f["subject"]) for f in doc["findings"]["new"]] == [("CN25-04", "ulogs.umeng.com")]
    assert [(f["rule_id"], f["subject"]) for f in doc["findings"]["gone"]] == [("CN25-09", "firebase")]


def test_cli_diff_json_by_prefix_and_device(fw_db: dict[str, Any]) -> None:
    truth = yaml.safe_load(TRUTH.read_text())
    p = cli("diff", fw_db["a"][:8], fw_db["b"][:10], "--device", WATCH.upper(), "--json", db=fw_db["db"])
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["a"]["capture_id"] == fw_db["a"] and doc["b"]["capture_id"] == fw_db["b"]
    assert doc["device"] == WATCH
    _check_against_truth(doc, truth)
    same = json.loads(cli("diff", fw_db["a"][:8], fw_db["a"][:8], "--json", db=fw_db["db"]).stdout)
    assert same["changes"] == 0
    back = json.loads(cli("diff", fw_db["b"][:8], fw_db["a"][:8], "--json", db=fw_db["db"]).stdout)
    assert back["destinations"]["new"] == doc["destinations"]["gone"]
    assert [r["b_interval_s"] for r in back["frequency"]] == [r["a_interval_s"] for r in doc["frequency"]]


def test_cli_diff_tables(fw_db: dict[str, Any]) -> None:
    """On a wide terminal every cell reads on one line; at 80 columns no table is wider."""
    narrow = cli("diff", fw_db["a"][:8], fw_db["b"][:8], db=fw_db["db"], columns=80)
    rows = [line for line in narrow.stdout.splitlines() if line[:1] in "┏┃┡│└"]  # the tables' lines
    assert narrow.returncode == 0 and rows and max(map(len, rows)) <= 80, narrow.stdout
    p = cli("diff", fw_db["a"][:8], fw_db["b"][:8], db=fw_db["db"], columns=160)
    assert p.returncode == 0, p.stderr
    for needle in (
        "Destinations",
        "ulogs.umeng.com",
        "firebaselogging-pa.googleapis.com",
        "Data types",
        "more often",
        "every 10 min",
        "every 60 s",
        "finer",
        "4 decimals",
        "6 decimals",
        "CN25-04",
    ):
        assert needle in p.stdout, needle


def _one_line(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tapaudit: error: "), p.stderr
    return lines[0]


def test_cli_diff_errors(fw_db: dict[str, Any]) -> None:
    assert "no stored capture matches" in _one_line(cli("diff", "ffffffff", fw_db["b"][:8], db=fw_db["db"]))
    assert "not in capture" in _one_line(
        cli("diff", fw_db["a"][:8], fw_db["b"][:8], "--device", "02:00:00:00:00:09", db=fw_db["db"])
    )
    assert "--device" in _one_line(
        cli("diff", fw_db["a"][:8], fw_db["b"][:8], "--device", "nope", db=fw_db["db"])
    )
