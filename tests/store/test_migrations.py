"""Schema migrations from real old stores: each ``states/vN.sql`` is the DDL tapaudit of schema N
created (from that commit's schema module) with a few rows per table. Loaded into chDB and into
the 18.16 server, migrated, the store must have a fresh store's tables and columns (names, types,
defaults, order, sorting keys), keep every row, and apply nothing on a second run."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.masking_key import key_id
from appliance.store import migrations, queries
from appliance.store.backends import Store, open_store
from appliance.store.schema import SCHEMA_VERSION

STATES = Path(__file__).parent / "states"
VERSIONS = sorted(int(p.stem[1:]) for p in STATES.glob("v*.sql"))


def _statements(version: int) -> list[str]:
    text = (STATES / f"v{version}.sql").read_text()
    text = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return [s.strip() for s in re.split(r";\s*$", text, flags=re.M) if s.strip()]


def _load(store: Store, version: int) -> None:
    store.execute("CREATE DATABASE IF NOT EXISTS {db}")
    for stmt in _statements(version):
        store.execute(stmt)


def _shape(store: Store) -> dict[str, Any]:
    """Every table's columns (in order, with type and default) and its keys and engine."""
    tables = store.query(
        "SELECT name, engine, partition_key, sorting_key FROM system.tables"
        " WHERE database = %(d)s ORDER BY name",
        {"d": store.database},
    )
    cols = store.query(
        "SELECT table, name, type, default_kind, default_expression FROM system.columns"
        " WHERE database = %(d)s",
        {"d": store.database},
    )
    return {
        str(t["name"]): (
            t["engine"],
            t["partition_key"],
            t["sorting_key"],
            [
                (c["name"], c["type"], c["default_kind"], c["default_expression"])
                for c in cols
                if c["table"] == t["name"]
            ],
        )
        for t in tables
    }


def _rows(store: Store, tables: list[str]) -> dict[str, Any]:
    """Rows per table; of meta (a version row per step), the keys it holds but the versions."""
    rows: dict[str, Any] = {
        t: int(store.query(f"SELECT count() AS n FROM {{db}}.{t}")[0]["n"]) for t in tables
    }
    rows["meta"] = store.query("SELECT key, value FROM {db}.meta WHERE key != 'schema_version' ORDER BY key")
    return rows


OLD_KEY = "ab" * 32  # the hash key every states/vN.sql kept in its meta table


def _flows(store: Store) -> list[tuple[Any, ...]]:
    rows = store.query(
        "SELECT flow_id, device_mac, direction, bytes_up, bytes_down, first_ns FROM {db}.flows"
    )
    return sorted(tuple(r.values()) for r in rows)


@pytest.fixture(params=["chdb", "server"])
def stores(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Store, Store]]:
    """(a store to load an old state into, a fresh store), both empty, on one backend; no masking
    key file yet (the old store's key moves out to it)."""
    monkeypatch.setenv("TAPAUDIT_MASKING_KEY_FILE", str(tmp_path / "config" / "masking.key"))
    if request.param == "chdb":  # one embedded engine per process: the fresh store is a second database
        old = open_store(str(tmp_path / "db"))
        fresh = copy.copy(old)
        fresh.database = "fresh"
    else:
        request.applymarker(pytest.mark.server)
        srv = request.getfixturevalue("ch_server")
        tag = uuid.uuid4().hex[:8]
        old, fresh = open_store(srv.url(f"old_{tag}")), open_store(srv.url(f"fresh_{tag}"))
    yield old, fresh
    if request.param == "server":
        for s in (old, fresh):
            s.execute("DROP DATABASE IF EXISTS {db}")
            s.close()
    else:
        old.close()


pytestmark = pytest.mark.xdist_group("chserver")


def test_every_version_has_one_documented_step() -> None:
    assert [s.number for s in migrations.STEPS] == list(range(migrations.OLDEST + 1, SCHEMA_VERSION + 1))
    assert all(s.doc for s in migrations.STEPS)
    assert {2, 7, 8, 9} <= set(VERSIONS)


@pytest.mark.parametrize("version", VERSIONS)
def test_an_old_store_migrates_to_a_fresh_stores_schema(
    stores: tuple[Store, Store], version: int, tmp_path: Path
) -> None:
    old, fresh = stores
    assert fresh.ensure_schema() == []  # a new store: every table as declared, no step
    _load(old, version)
    tables = sorted(_shape(old))
    before, flows = _rows(old, tables), _flows(old)
    assert before["flows"] == 3 and before["meta"] == [{"key": "hash_key", "value": OLD_KEY}]
    assert all(n for n in before.values())

    assert old.ensure_schema() == list(range(version + 1, SCHEMA_VERSION + 1))
    assert _shape(old) == _shape(fresh)
    # the key moved out to its own file (0600), the store keeps only its id
    key_file = tmp_path / "config" / "masking.key"
    assert key_file.read_text().strip() == OLD_KEY and key_file.stat().st_mode & 0o777 == 0o600
    before["meta"] = [{"key": "masking_key_id", "value": key_id(bytes.fromhex(OLD_KEY))}]
    assert _rows(old, tables) == before
    assert _flows(old) == flows
    got = old.query("SELECT max(toUInt32(value)) AS v FROM {db}.meta WHERE key = 'schema_version'")
    assert int(got[0]["v"]) == SCHEMA_VERSION
    assert old.query("SELECT DISTINCT batch FROM {db}.flows") == [{"batch": 0}]  # what no live run wrote
    if version >= 7:  # findings assessed before schema 20 have no fact: each is a problem of its own
        found = queries.findings(old)
        assert found and sorted(p["fact"] for p in queries.problems(old)) == sorted(
            f"finding:{f['finding_id']}" for f in found
        )
    if version < 9:  # the rollup is summed from the flows the store had
        got = old.query("SELECT sum(flows) AS n, sum(bytes_sent) AS s FROM {db}.flow_rollup")[0]
        want = old.query(
            "SELECT count() AS n, sum(if(direction = 'inbound', bytes_down, bytes_up)) AS s FROM {db}.flows"
        )[0]
        assert (int(got["n"]), int(got["s"])) == (int(want["n"]), int(want["s"])) == (3, 3300)

    shape, rows = _shape(old), _rows(old, sorted(_shape(old)))
    assert old.ensure_schema() == []  # a second run applies nothing
    for step in migrations.STEPS:  # and each step is idempotent: run again, it changes nothing
        step.apply(old)
    assert (_shape(old), _rows(old, sorted(shape))) == (shape, rows)


def test_a_store_newer_or_older_than_known_is_refused(tmp_path: Path) -> None:
    from appliance.store.backends import StoreError
    from appliance.store.schema import META

    for version, hint in ((SCHEMA_VERSION + 1, "upgrade tapaudit"), (1, "replay into a new --db")):
        store = open_store(str(tmp_path / f"v{version}"))
        try:
            store.execute("CREATE DATABASE IF NOT EXISTS {db}")
            migrations.create_tables(store, "meta")
            store.insert("meta", [META.row(key="schema_version", value=str(version))])
            with pytest.raises(StoreError, match=hint):
                store.ensure_schema()
        finally:
            store.close()


def test_a_new_store_is_made_by_its_schema_statements_alone(tmp_path: Path) -> None:
    """A new store has no row yet, so its first open skips what later opens look for in the rows (a
    key kept in meta, runs killed before their commit, rows past retention): issue 20, point 3."""
    store = open_store(str(tmp_path / "db"))
    ran: list[str] = []
    call = store._call  # type: ignore[attr-defined]
    store._call = lambda sql, *a: ran.append(" ".join(sql.split()[:2])) or call(sql, *a)  # type: ignore[attr-defined]
    try:
        assert store.ensure_schema() == []
        tables = len(migrations.TABLES)
        assert sorted(ran) == sorted(
            ["CREATE DATABASE", "SELECT value", "INSERT INTO"] + ["CREATE TABLE"] * tables
        )  # meta's CREATE first, to read the version from, then every other table's
        assert (store.collected.runs, store.pruned, store.empty) == (0, {}, True)
        ran.clear()
        assert store.ensure_schema() == []  # an existing store: its rows are looked at
        assert not store.empty
        assert any("ingest_id NOT IN" in s or s == "SELECT DISTINCT" for s in ran), ran
    finally:
        store.close()


def test_an_open_collects_the_rows_of_a_run_that_never_committed(stores: tuple[Store, Store]) -> None:
    """The rows of a run with no ``captures`` row (killed before its commit), in any table, are
    deleted at the next open, on chDB and on the 18.16 server alike (one query over every table,
    ``purge.collect_orphans``); a committed run's rows stay."""
    _, store = stores
    store.ensure_schema()
    put = "INSERT INTO {db}.`%s` (capture_id, ingest_id) SELECT 'c', %d"
    for table, ingest in (("phases", 5), ("bursts", 5), ("bursts", 6), ("captures", 7), ("dns", 7)):
        store.execute(put % (table, ingest))
    store.ensure_schema()
    assert (store.collected.runs, store.collected.rows) == (2, 3)
    for table, left in (("phases", []), ("bursts", []), ("dns", [7]), ("captures", [7])):
        got = store.query(f"SELECT ingest_id FROM {{db}}.`{table}`")
        assert [int(r["ingest_id"]) for r in got] == left, table
