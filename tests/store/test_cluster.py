"""A cluster of two real clickhouse-server 18.16 (one shard each) as one store: ``?cluster=NAME``.

Two replays from two processes at once fill it; every read-API query then answers exactly what one
embedded store (chDB) holding the same captures answers, each shard holds rows and each capture lies
on one shard; a cluster at the previous schema is migrated on both nodes; a capture deleted for real
is gone from every node's files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.findings.assess import assess
from appliance.ingest.replay import ReplayOptions, replay
from appliance.lab.bench import load_bench
from appliance.lab.phases import load_phases
from appliance.store import queries, retention
from appliance.store.backends import ServerStore, Store, open_store
from appliance.store.cluster import ClusterStore
from appliance.store.schema import SCHEMA_VERSION, TABLES
from policies.declaration import load_declarations
from tests.support.chserver import Server, binary, running_cluster
from tests.support.paths import ROOT
from tests.support.storesnap import snapshot

REAL = sorted((ROOT / "pcaps" / "real").glob("*.pcap"))
LAB = ROOT / "pcaps" / "lab"
CLUSTER = "tapaudit_test"
pytestmark = [pytest.mark.server, pytest.mark.xdist_group("chserver")]


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[Server]]:
    if binary() is None:
        if os.environ.get("CI"):
            pytest.fail("clickhouse-server is not installed; make test installs it")
        pytest.skip("clickhouse-server not installed")
    with running_cluster(CLUSTER, shards=2) as servers:
        yield servers


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lab_options() -> ReplayOptions:
    bench = load_bench(str(LAB / "lab.bench.yaml"))
    opts = ReplayOptions(lan_prefixes=bench.lan_prefixes, bench=bench)
    opts.phases = load_phases(str(LAB / "lab.phases.csv"))
    return opts


def _rows_by_node(store: ClusterStore, table: str, where: str = "1") -> list[int]:
    return [
        int(n.query(f"SELECT count() AS n FROM {{db}}.`{table}` WHERE {where}")[0]["n"])
        for n in store.nodes()
    ]


def _names(node: ServerStore, what: str, database: str, where: str = "") -> set[str]:
    """Names in ``system.columns`` or ``system.tables`` of ``database`` on one node."""
    rows = node.query(f"SELECT name FROM system.{what} WHERE database = %(d)s {where}", {"d": database})
    return {str(r["name"]) for r in rows}


def _findings(store: Store) -> list[tuple[Any, ...]]:
    rows = queries.findings(store)
    return sorted(
        (r["finding_id"], r["rule_id"], r["severity"], r["statement"], tuple(r["flows"])) for r in rows
    )


def test_cluster_answers_as_one_store(cluster: list[Server], tmp_path: Path) -> None:
    url = cluster[0].url("tapaudit") + f"?cluster={CLUSTER}"
    embedded = open_store(str(tmp_path / "db"))
    embedded.ensure_schema()  # the test's masking key file is made here, before the replays share it
    lab_opts = _lab_options()
    for path in REAL:
        assert replay(embedded, str(path), ReplayOptions()).status == "ingested"
    assert replay(embedded, str(LAB / "lab.pcapng"), lab_opts).status == "ingested"

    # two processes replay into the new cluster at once, one through each node
    lab = _cli(
        "replay", str(LAB / "lab.pcapng"), "--bench", str(LAB / "lab.bench.yaml"),
        "--phases", str(LAB / "lab.phases.csv"), "--db", url, "--json",
    )  # fmt: skip
    real = _cli(
        "replay", *map(str, REAL), "--db", cluster[1].url("tapaudit") + f"?cluster={CLUSTER}", "--json"
    )
    began = time.monotonic()
    for p in (lab, real):
        _out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    took = time.monotonic() - began

    store = open_store(url)
    assert isinstance(store, ClusterStore) and store.shards() == 2
    try:
        assert store.ensure_schema() == []
        snap = snapshot(store)
        assert snap == snapshot(embedded)
        assert len(snap["captures"]) == len(REAL) + 1 and snap["flows"] and snap["observations"]

        # each shard holds rows, and each capture's rows (all tables) lie on one shard
        flows = _rows_by_node(store, "flows")
        assert all(flows) and sum(flows) == len(snap["flows"])
        caps = _rows_by_node(store, "captures")
        print(f"\ntwo replays at once into 2 shards: {took:.1f} s; flows per shard {flows}, captures {caps}")
        for cap, *_ in snap["captures"]:
            where = f"capture_id = '{cap}'"
            for t in ("captures", "flows", "flow_rollup", "devices", "dns"):
                assert sum(1 for n in _rows_by_node(store, t, where) if n) <= 1, (cap, t)
            assert sum(1 for n in _rows_by_node(store, "captures", where) if n) == 1

        # the policy path: findings written through the cluster read back as chDB's
        lab_id = hashlib.sha256((LAB / "lab.pcapng").read_bytes()).hexdigest()
        decls = load_declarations([str(LAB / "declarations")])
        for s in (store, embedded):
            assess(s, lab_id, declarations=decls)
        judged = _findings(store)
        assert judged == _findings(embedded) and len(judged) > 100

        # a cluster at the previous schemas (17: no flows.decrypted, no confirmations) is migrated
        # on both nodes, and its Distributed tables follow their local tables' new columns
        key_id = store.query("SELECT value FROM {db}.meta WHERE key = 'masking_key_id' LIMIT 1")[0]["value"]
        for node in store.nodes():
            for db in (store.database, node.database):
                for t in ("flows", "flow_rollup"):
                    node.execute(f"ALTER TABLE `{db}`.`{t}` DROP COLUMN decrypted")
                node.execute(f"DROP TABLE IF EXISTS `{db}`.confirmations")
            node.execute("TRUNCATE TABLE {db}.meta")
            node.insert("meta", [("schema_version", "17"), ("masking_key_id", str(key_id))])
        assert store.ensure_schema() == list(range(18, SCHEMA_VERSION + 1))
        for node in store.nodes():
            version = node.query(
                "SELECT max(toUInt32(value)) AS v FROM {db}.meta WHERE key = 'schema_version'"
            )
            assert int(version[0]["v"]) == SCHEMA_VERSION
            for db in (store.database, node.database):
                assert "decrypted" in _names(node, "columns", db, "AND table = 'flows'"), db
                assert _names(node, "tables", db) >= {t.name for t in TABLES}, db
        assert store.ensure_schema() == []  # idempotent
        assert snapshot(store) == snap

        # deleting a capture for real (copy + RENAME on each node's local tables)
        gone = snap["captures"][0][0]
        assert store.drop_capture(gone) > 0
        caps_after = _rows_by_node(store, "captures")  # one row per capture left
        assert sum(caps_after) == len(REAL)
        embedded.drop_capture(gone)
        for t in TABLES:
            if t.name != "meta":
                assert _rows_by_node(store, t.name, f"capture_id = '{gone}'") == [0, 0], t.name
        assert snapshot(store) == snapshot(embedded)

        # retention: 18.16 nodes have no TTL, so rows past it are deleted on every node
        n_flows, n_bursts = (
            int(store.query(f"SELECT count() AS n FROM {{db}}.{t}")[0]["n"]) for t in ("flows", "bursts")
        )
        assert retention.set_policy(store, retention.parse("raw=1s")) == {"flows": 1, "bursts": 1}
        time.sleep(1.1)
        assert retention.prune(store) == {"flows": n_flows, "bursts": n_bursts}
        deadline = time.monotonic() + 60  # mutations, run by each server in the background
        while sum(_rows_by_node(store, "flows")) or sum(_rows_by_node(store, "bursts")):
            assert time.monotonic() < deadline, "rows past retention were not deleted"
            time.sleep(0.3)
        assert _rows_by_node(store, "captures") == caps_after
    finally:
        store.close()
        embedded.close()


def test_unknown_cluster_is_refused_in_one_line(cluster: list[Server]) -> None:
    p = _cli("devices", "--db", cluster[0].url("tapaudit") + "?cluster=nope")
    _out, err = p.communicate(timeout=120)
    assert p.returncode == 1
    assert err.strip().splitlines() == [err.strip()] and "cluster 'nope' is not in the remote_servers" in err


def test_a_single_server_store_is_not_taken_for_a_cluster(cluster: list[Server]) -> None:
    single = ServerStore(cluster[0].url("plain"))
    single.ensure_schema()
    single.close()
    with pytest.raises(Exception, match="holds a single-server store"):
        open_store(cluster[0].url("plain") + f"?cluster={CLUSTER}").ensure_schema()


def test_nodes_keep_the_urls_timeouts(cluster: list[Server]) -> None:
    store = open_store(cluster[0].url("tapaudit") + f"?cluster={CLUSTER}&send_receive_timeout=42")
    assert isinstance(store, ClusterStore)
    try:
        nodes = store.nodes()
        assert sorted(n.url for n in nodes) == sorted(
            f"clickhouse://127.0.0.1:{s.tcp}/tapaudit_local" for s in cluster
        )
        assert [n._client.connection.send_receive_timeout for n in nodes] == [42.0, 42.0]
    finally:
        store.close()
