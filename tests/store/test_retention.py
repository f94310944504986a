"""Retention (issue 21): rows past their table's retention are gone after ``OPTIMIZE ... FINAL``, on
chDB (a table TTL) and on ClickHouse 18.16 (which has no TTL: deleted when the store is opened),
while the tables kept longer keep the same capture's rows, and a newer capture keeps everything."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from appliance.ingest.replay import ReplayOptions, replay
from appliance.store import retention
from appliance.store.backends import Store, open_store
from tests.support.paths import ROOT

OLD = ROOT / "pcaps" / "real" / "ssi-smart-power-plug-boot.pcap"
NEW = ROOT / "pcaps" / "real" / "lifecycle-xiaodu-plug-setup.pcap"
RAW_S = 6  # flows and bursts are kept 6 s; everything else for ever


def _count(store: Store, table: str, capture: str) -> int:
    return int(
        store.query(f"SELECT count() AS n FROM {{db}}.{table} WHERE capture_id = %(c)s", {"c": capture})[0][
            "n"
        ]
    )


def _two_captures(store: Store) -> tuple[dict[str, Any], dict[str, Any]]:
    """OLD replayed, then NEW once OLD's run is past RAW_S: their ``captures`` rows (the oracle:
    what each replay wrote, counted as it wrote them)."""
    assert replay(store, str(OLD), ReplayOptions()).status == "ingested"
    old = store.query("SELECT * FROM {db}.captures ORDER BY ingest_id DESC LIMIT 1")[0]
    assert _count(store, "flows", old["capture_id"]) == int(old["flows"])  # all there, inside retention
    old["bursts"] = _count(store, "bursts", old["capture_id"])
    assert old["bursts"] > 0
    time.sleep(max(0.0, (int(old["ingest_id"]) + RAW_S * 10**9 - time.time_ns()) / 1e9) + 0.5)
    assert replay(store, str(NEW), ReplayOptions()).status == "ingested"
    new = store.query("SELECT * FROM {db}.captures ORDER BY ingest_id DESC LIMIT 1")[0]
    assert old["capture_id"] != new["capture_id"] and int(old["flows"]) and int(new["flows"])
    return old, new


def _check_expired(store: Store, old: dict[str, Any], new: dict[str, Any]) -> None:
    old_id, new_id = old["capture_id"], new["capture_id"]
    assert _count(store, "flows", old_id) == 0 and _count(store, "bursts", old_id) == 0
    assert _count(store, "flows", new_id) == int(new["flows"])  # NEW is inside its retention
    assert _count(store, "captures", old_id) == 1 and _count(store, "flow_rollup", old_id) > 0  # kept longer
    assert _count(store, "devices", old_id) == int(old["devices"])


def test_chdb_rows_past_ttl_are_gone_after_optimize_final(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "db"))
    store.ensure_schema()
    try:
        kept = retention.set_policy(store, retention.parse(f"raw={RAW_S}s"))
        assert kept == {"flows": RAW_S, "bursts": RAW_S} and retention.has_ttl(store)
        old, new = _two_captures(store)
        for t in ("flows", "bursts"):
            store.execute(f"OPTIMIZE TABLE {{db}}.{t} FINAL")
        _check_expired(store, old, new)

        # a delete rewrites tables (purge): the copy keeps the TTL
        store.drop_capture(str(new["capture_id"]))
        ddl = store.query(
            "SELECT create_table_query AS q FROM system.tables WHERE database = 'tapaudit' AND name = 'flows'"
        )
        assert "TTL toDateTime(intDiv(ingest_id, 1000000000)) + toIntervalSecond(6)" in str(ddl[0]["q"])
    finally:
        store.close()

    # the CLI: the policy shown, a manual prune finds nothing left, bad policies refused in one line
    run = [sys.executable, "-m", "appliance.cli", "captures", "--db", str(tmp_path / "db")]
    p = subprocess.run([*run, "--prune", "--json"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {
        "retention_s": {"flows": RAW_S, "bursts": RAW_S},
        "removed": {},
        "ttl": True,
    }
    for bad, why in (
        ("flows=soon", "not a duration"),
        ("fish=1d", "not a table"),
        ("captures=1d", "at least as long"),
    ):
        p = subprocess.run([*run, "--retention", bad], cwd=ROOT, capture_output=True, text=True, check=False)
        assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1 and why in p.stderr, p.stderr


@pytest.mark.server
@pytest.mark.xdist_group("chserver")
def test_server_without_ttl_deletes_rows_past_retention(ch_server: Any) -> None:
    url = ch_server.url(f"r_{uuid.uuid4().hex[:8]}")
    store = open_store(url)
    store.ensure_schema()
    try:
        assert not retention.has_ttl(store)  # 18.16
        retention.set_policy(store, retention.parse(f"raw={RAW_S}s"))
        old, new = _two_captures(store)
        store.close()

        store = open_store(url)
        store.ensure_schema()  # the open deletes what is past retention
        assert store.pruned == {"flows": int(old["flows"]), "bursts": old["bursts"]}
        deadline = time.monotonic() + 60  # a mutation, run by the server in the background
        while _count(store, "flows", old["capture_id"]) or _count(store, "bursts", old["capture_id"]):
            assert time.monotonic() < deadline, "rows past retention were not deleted"
            time.sleep(0.3)
        for t in ("flows", "bursts"):
            store.execute(f"OPTIMIZE TABLE {{db}}.{t} FINAL")
        _check_expired(store, old, new)
        # nothing of OLD is left to prune. NEW's rows pass their own 6 s while the server mutates on
        # a slow machine; prune cuts at its own clock, so which side of NEW's cut it fell on is
        # bracketed by the clock read before and after it (both outcomes only if it straddles)
        new_rows = {"flows": int(new["flows"]), "bursts": _count(store, "bursts", new["capture_id"])}
        cut = int(new["ingest_id"]) + RAW_S * 10**9
        before = time.time_ns()
        removed = retention.prune(store)
        after = time.time_ns()
        allowed = [d for d, on in (({}, before <= cut), (new_rows, after > cut)) if on]
        assert removed in allowed, (removed, allowed)
    finally:
        store.execute("DROP DATABASE IF EXISTS {db}")
        store.close()
