"""The flow rollup (schema 9): what the device and destination views read instead of every flow.

The oracle is the flows table itself: every figure the rollup gives must equal the same
aggregate computed over the flows, on the replayed lab; an older store gains the rollup (and
the by-device flow order) on upgrade without changing any answer.
"""

from __future__ import annotations

from typing import Any

from appliance.ingest.replay import replay
from appliance.store import queries
from appliance.store.backends import Store
from appliance.store.schema import SCHEMA_VERSION
from tests.support.paths import LAB
from tests.support.run import lab_options


def _per_device_from_flows(store: Store) -> dict[str, tuple[int, int, int, int]]:
    rows = store.query(
        """SELECT device_mac AS mac, count() AS n, sum(if(direction = 'inbound', bytes_down, bytes_up)) AS s,
            sum(if(direction = 'inbound', bytes_up, bytes_down)) AS r, uniqExact(remote_ip) AS u
        FROM {db}.flows WHERE device_mac != '' GROUP BY mac"""
    )
    return {str(r["mac"]): (int(r["n"]), int(r["s"]), int(r["r"]), int(r["u"])) for r in rows}


def _destinations_from_flows(store: Store) -> dict[tuple[str, str], dict[str, Any]]:
    rows = store.query(
        """SELECT device_mac AS mac, if(domain != '', domain, remote_ip) AS dest, count() AS n,
            sum(if(direction = 'inbound', bytes_down, bytes_up)) AS s,
            arraySort(groupUniqArray(remote_ip)) AS ips, min(first_ns) AS t0, max(last_ns) AS t1,
            arrayStringConcat(arraySort(groupUniqArray(country)), ',') AS cc, max(readable) AS rd
        FROM {db}.flows WHERE device_mac != '' AND direction IN ('outbound', 'inbound')
        GROUP BY mac, dest"""
    )
    return {(str(r["mac"]), str(r["dest"])): r for r in rows}


def _check(store: Store) -> int:
    truth = _per_device_from_flows(store)
    devs = {str(d["mac"]): d for d in queries.devices(store)}
    for mac, (n, sent, received, remotes) in truth.items():
        d = devs[mac]
        assert (d["flows"], d["bytes_sent"], d["bytes_received"], d["remotes"]) == (
            n,
            sent,
            received,
            remotes,
        )
    want = _destinations_from_flows(store)
    got = {(str(r["device_mac"]), str(r["destination"])): r for r in queries.destinations(store)}
    assert got.keys() == want.keys()
    for k, w in want.items():
        g = got[k]
        assert (int(g["flows"]), int(g["bytes_sent"]), list(g["remote_ips"])) == (
            int(w["n"]),
            int(w["s"]),
            list(w["ips"]),
        )
        assert (int(g["first_ns"]), int(g["last_ns"])) == (int(w["t0"]), int(w["t1"]))
        assert (g["countries"], int(g["readable"])) == (w["cc"], int(w["rd"]))
    return len(want)


def test_rollup_equals_the_flows_it_sums(store: Store) -> None:
    replay(store, str(LAB / "lab.pcapng"), lab_options())
    n = _check(store)
    assert n >= 30  # the lab's devices reach dozens of destinations: a real comparison, not an empty one
    total = store.query("SELECT sum(flows) AS n FROM {db}.flow_rollup")[0]["n"]
    assert int(total) == int(
        store.query("SELECT count() AS n FROM {db}.flows WHERE device_mac != ''")[0]["n"]
    )


def test_a_store_of_schema_8_is_resorted_and_rolled_up(store: Store) -> None:
    replay(store, str(LAB / "lab.pcapng"), lab_options())
    before = (queries.devices(store), queries.destinations(store), queries.flows(store, limit=10**6))
    store.execute("TRUNCATE TABLE {db}.flow_rollup")
    store.execute("TRUNCATE TABLE {db}.meta")
    store.insert("meta", [("schema_version", "8")])
    store.ensure_schema()
    key = store.query("SELECT sorting_key FROM system.tables WHERE database = %(d)s AND name = 'flows'",
                      {"d": store.database})  # fmt: skip
    assert key[0]["sorting_key"] == "capture_id, ingest_id, device_mac, flow_id"
    assert not store.query(
        "SELECT name FROM system.tables WHERE database = %(d)s AND startsWith(name, 'flows__')",
        {"d": store.database},
    )
    after = (queries.devices(store), queries.destinations(store), queries.flows(store, limit=10**6))
    assert after == before
    got = store.query("SELECT max(toUInt32(value)) AS v FROM {db}.meta WHERE key = 'schema_version'")
    assert int(got[0]["v"]) == SCHEMA_VERSION == 11
