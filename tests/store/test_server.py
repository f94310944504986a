"""The server path: the same DDL, inserts and queries on Debian's clickhouse-server as on chDB."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from appliance.findings.assess import assess
from appliance.ingest.replay import ReplayOptions, replay
from appliance.lab.bench import load_bench
from appliance.lab.phases import load_phases
from appliance.report.data import gather as gather_report
from appliance.report.diff import compare
from appliance.store import queries
from appliance.store.backends import ServerStore, open_store
from policies.declaration import load_declarations
from tests.support.paths import ROOT
from tests.support.storesnap import snapshot

REAL = sorted((ROOT / "pcaps" / "real").glob("*.pcap"))
LAB = ROOT / "pcaps" / "lab"
pytestmark = [pytest.mark.server, pytest.mark.xdist_group("chserver")]


def test_server_and_chdb_store_the_same(ch_server: Any, tmp_path: Path) -> None:
    db = f"t_{uuid.uuid4().hex[:8]}"
    server = open_store(ch_server.url(db))
    assert isinstance(server, ServerStore)
    server.ensure_schema()
    embedded = open_store(str(tmp_path / "db"))
    embedded.ensure_schema()
    try:
        bench = load_bench(str(LAB / "lab.bench.yaml"))
        lab_opts = ReplayOptions(lan_prefixes=bench.lan_prefixes, bench=bench)
        lab_opts.phases = load_phases(str(LAB / "lab.phases.csv"))
        for path, opts in [*((p, ReplayOptions()) for p in REAL), (LAB / "lab.pcapng", lab_opts)]:
            for s in (server, embedded):
                assert replay(s, str(path), opts).status == "ingested"
        snap = snapshot(server)
        assert snap == snapshot(embedded)
        assert len(snap["captures"]) == len(REAL) + 1 and snap["flows"]
        assert snap["destinations"] and snap["observations"] and snap["records"]["tls"]
        assert {m[3] for m in snap["measures"]} >= {"idle", "feature_on"}
        # the lab's snapshot is unknown, leaning image: any file that size looks the same
        assert {(u[4], u[5]) for u in snap["uploads"]} == {
            ("audio", "audio"),
            ("unknown", "image"),
            ("video", "video"),
        }
        assert any(p[1] == "3.121.70.57" and p[3] == "30.0" for p in snap["periods"])  # the Blink hub
        assert len(snap["flow_page"]) == 7 and snap["flow_counts"] and snap["overview"]
        assert snap["home"] == ["CN"] and any('"cross_border": 1' in p for _, p in snap["pictures"])

        # a store of schema 8 is upgraded alike: flows re-sorted by device, the rollup summed again
        server.execute("TRUNCATE TABLE {db}.flow_rollup")
        server.execute("TRUNCATE TABLE {db}.meta")
        server.insert("meta", [("schema_version", "8")])
        server.ensure_schema()
        assert snapshot(server) == snap

        # the policy path: assessment, findings, a device's report data and a diff, alike on both
        lab_id = hashlib.sha256((LAB / "lab.pcapng").read_bytes()).hexdigest()  # a capture's id
        assert lab_id in {c[0] for c in snap["captures"]}
        decls = load_declarations([str(LAB / "declarations")])
        judged = []
        for s in (server, embedded):
            assess(s, lab_id, declarations=decls)
            rows = queries.findings(s)
            report = gather_report(s, "80:41:4e:7c:22:31", now=dt.datetime(2026, 11, 25, tzinfo=dt.UTC))
            other = next(c[0] for c in snap["captures"] if c[0] != lab_id)
            judged.append(
                (
                    sorted(
                        (r["finding_id"], r["rule_id"], r["severity"], r["statement"], tuple(r["flows"]))
                        for r in rows
                    ),
                    report.requirements,
                    report.findings,
                    report.measures,
                    report.destinations,
                    report.unreadable,
                    compare(s, other, lab_id),
                )
            )
        assert judged[0] == judged[1]
        assert len(judged[0][0]) > 100 and {r["verdict"] for r in judged[0][1]} >= {"fail", "pass"}

        # idempotent: a second replay is skipped, --force replaces without duplicates
        assert replay(server, str(REAL[0]), ReplayOptions()).status == "skipped"
        assert replay(server, str(REAL[0]), ReplayOptions(force=True)).status == "ingested"
        assert snapshot(server) == snap
        deadline = time.monotonic() + 60  # the superseded run's rows go by a background mutation
        while int(server.query("SELECT count() AS n FROM {db}.flows")[0]["n"]) != len(snap["flows"]):
            assert time.monotonic() < deadline, "superseded rows were not deleted"
            time.sleep(0.2)
    finally:
        server.execute(f"DROP DATABASE IF EXISTS `{db}`")
        server.close()
        embedded.close()


def test_server_version_is_the_old_one(ch_server: Any) -> None:
    """Guard that the tests really exercise the 18.16 dialect (Debian's package)."""
    s = open_store(ch_server.url("default"))
    try:
        version = s.query("SELECT version() AS v")[0]["v"]
    finally:
        s.close()
    assert str(version).startswith("18.")


def test_cli_against_server(ch_server: Any) -> None:
    url = ch_server.url(f"c_{uuid.uuid4().hex[:8]}")
    run = [sys.executable, "-m", "appliance.cli"]
    p = subprocess.run(
        [*run, "replay", str(REAL[0]), "--db", url, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    devs = subprocess.run(
        [*run, "devices", "--db", url, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert devs.returncode == 0 and json.loads(devs.stdout)
    bad = subprocess.run(
        [*run, "devices", "--db", url.replace("default@", "nobody:wrong@")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
