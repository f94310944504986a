"""Re-ingestion: skipped when complete, superseded when forced, and a crash loses nothing committed."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.ingest.replay import ReplayOptions, replay
from appliance.store import queries
from tests.support.paths import ROOT

CAP = ROOT / "pcaps" / "real" / "ssi-smart-power-plug-boot.pcap"


def crash_before_commit(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the run die just before it writes its commit marker (the captures row)."""
    real = store.insert

    def insert(table: str, rows: Any) -> None:
        if table == "captures":
            raise KeyboardInterrupt
        real(table, rows)

    monkeypatch.setattr(store, "insert", insert)


def visible(store: Any) -> tuple[int, int, int]:
    return len(queries.captures(store)), len(queries.flows(store, limit=10**6)), len(queries.devices(store))


def test_crashed_run_is_invisible_and_keeps_the_committed_one(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = replay(store, str(CAP), ReplayOptions())
    before = visible(store)
    assert before == (1, first.flows, first.devices) and first.flows > 0
    with monkeypatch.context() as m:
        crash_before_commit(store, m)
        with pytest.raises(KeyboardInterrupt):
            replay(store, str(CAP), ReplayOptions(force=True))
    # the crashed run wrote its flows but no commit marker
    raw = store.query("SELECT uniqExact(ingest_id) AS runs FROM {db}.flows")[0]["runs"]
    assert int(raw) == 2
    assert visible(store) == before
    assert replay(store, str(CAP), ReplayOptions()).status == "skipped"


def test_crash_before_first_commit_then_retry(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        crash_before_commit(store, m)
        with pytest.raises(KeyboardInterrupt):
            replay(store, str(CAP), ReplayOptions())
    assert visible(store) == (0, 0, 0)
    res = replay(store, str(CAP), ReplayOptions())
    assert res.status == "ingested"
    assert visible(store) == (1, res.flows, res.devices)


def test_forced_run_supersedes_with_new_options(store: Any) -> None:
    a = replay(store, str(CAP), ReplayOptions())
    b = replay(store, str(CAP), ReplayOptions(idle_s=1.0, force=True))
    assert b.flows > a.flows  # a 1 s idle timeout cuts more flows
    caps = queries.captures(store)
    assert len(caps) == 1 and int(caps[0]["flows"]) == b.flows
    assert len(queries.flows(store, limit=10**6)) == b.flows


def test_a_new_store_twice_in_one_process_skips_the_second_and_keeps_one_key_id(store: Any) -> None:
    """A store this process created is read as empty (no capture, no key id looked up) only until
    the first row goes in: the same capture again is found complete, the key id is recorded once."""
    assert store.empty
    first = replay(store, str(CAP), ReplayOptions())
    assert first.status == "ingested" and not store.empty
    assert replay(store, str(CAP), ReplayOptions()).status == "skipped"
    meta = store.query("SELECT key, count() AS n FROM {db}.meta GROUP BY key ORDER BY key")
    assert [(r["key"], int(r["n"])) for r in meta] == [("masking_key_id", 1), ("schema_version", 1)]
