"""`tapaudit replay --jobs N` (issue 20): N worker processes give the same stored results as one,
table by table and row by row, on the lab and on real captures; where that could not hold (the
LAN learnt from traffic, devices found by address), the capture is replayed again in one process
and nothing of the parallel run stays; a worker's capture error is the replay's one-line error."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from appliance.ingest import parallel
from appliance.ingest.replay import ReplayOptions, replay, replay_all
from appliance.store.schema import TABLES
from tests.support import hostile
from tests.support.paths import LAB, shared_path
from tests.support.run import cli, lab_options

RUN_COLUMNS = {"ingest_id", "batch", "ingested_at"}


def _committed(store: Any, cid: str) -> int:
    rows = store.query("SELECT ingest_id FROM {db}.captures WHERE capture_id = %(c)s", {"c": cid})
    assert len(rows) == 1, rows
    return int(rows[0]["ingest_id"])


def _tables(store: Any, cid: str) -> dict[str, list[str]]:
    """Every table's rows of the capture's committed run, sorted, the run's own columns left out."""
    ingest = _committed(store, cid)
    out = {}
    for t in TABLES:
        if t.name == "meta":
            continue
        cols = ", ".join(f"`{c.name}`" for c in t.inserted if c.name not in RUN_COLUMNS)
        rows = store.query(f"SELECT {cols} FROM {{db}}.{t.name} WHERE ingest_id = %(i)s", {"i": ingest})
        out[t.name] = sorted(json.dumps(r, sort_keys=True) for r in rows)
    return out


Tables = dict[str, list[str]]


def _both(store: Any, path: str, opts: ReplayOptions, jobs: int = 2) -> tuple[Any, Tables, Tables, int]:
    """Replay in one process, then with ``jobs`` workers: (the second's result, both runs' tables,
    the first run's ingest id)."""
    opts.force, opts.jobs = True, 1
    one = replay(store, path, opts)
    single, first = _tables(store, one.capture_id), _committed(store, one.capture_id)
    opts.jobs = jobs
    res = replay(store, path, opts)
    return res, single, _tables(store, res.capture_id), first


def _assert_same(single: dict[str, list[str]], parallel: dict[str, list[str]]) -> None:
    for table, rows in single.items():
        assert parallel[table] == rows, (
            f"{table}: {len(rows)} rows in one process, {len(parallel[table])} with workers"
        )


def test_the_lab_with_two_workers_stores_what_one_process_stores(store: Any) -> None:
    """The lab (bench file, personas, phases): every table equal; the observations, DNS names and
    findings' inputs are many, so a worker missing another's context would show."""
    res, single, parallel, _first = _both(store, str(LAB / "lab.pcapng"), lab_options())
    assert res.jobs == 2 and res.serial_because == []
    assert len(single["flows"]) > 100 and len(single["observations"]) > 100 and len(single["dns"]) > 20
    _assert_same(single, parallel)


def test_the_lab_inside_tls_with_its_key_log_decrypts_the_same_in_every_worker(store: Any) -> None:
    """Each worker decrypts its own flows with the key log (TLS 1.3, HTTP/2, MQTT)."""
    from appliance.lab.bench import load_bench

    bench = load_bench(str(LAB / "lab-tls.bench.yaml"))
    opts = ReplayOptions(
        lan_prefixes=bench.lan_prefixes, bench=bench, keylogs=[str(LAB / "lab-tls.keys.log")]
    )
    res, single, parallel, _first = _both(store, str(LAB / "lab-tls.pcapng"), opts)
    assert res.jobs == 2 and res.serial_because == [] and res.tls["decrypted"] > 10
    assert len(single["http"]) > 10 and len(single["observations"]) > 10
    _assert_same(single, parallel)


@pytest.mark.parametrize(
    "name",
    (
        "SSI_Measurements_2022/2-smartPowerPlugPassiveMeasurements.pcap",
        "JasonHYJ-deviceIdentification/2019-04-25_idle.pcap",
        "Lifecycle-Based-Traffic-Dataset/result_demo/traffic_demo/xiaodu_plug/xiaodu_plug.pcap",
    ),
)
def test_real_captures_with_three_workers_store_what_one_process_stores(store: Any, name: str) -> None:
    res, single, parallel, _first = _both(store, str(shared_path(*name.split("/"))), ReplayOptions(), jobs=3)
    assert res.jobs == 3 and res.serial_because == []
    assert len(single["flows"]) > 20
    _assert_same(single, parallel)


@pytest.mark.parametrize(
    ("name", "why"),
    (
        ("nDPI/pcap/ocs.pcap", "devices found by address"),  # raw IP: no MACs
        ("nDPI/pcap/http_ipv6.pcap", "the LAN learnt from traffic"),  # a public IPv6 LAN
    ),
)
def test_where_workers_could_differ_one_process_replays_it(store: Any, name: str, why: str) -> None:
    res, single, parallel, first = _both(store, str(shared_path(*name.split("/"))), ReplayOptions())
    assert res.jobs == 1 and any(why in r for r in res.serial_because), res.serial_because
    _assert_same(single, parallel)
    runs = {first, _committed(store, res.capture_id)}  # the one-process runs (the first superseded)
    deadline = time.monotonic() + 30  # deletes run in the background
    for t in ("flows", "devices", "dns", "bursts"):  # the parallel run's rows are gone
        while True:
            left = store.query(
                f"SELECT DISTINCT ingest_id FROM {{db}}.{t} WHERE capture_id = %(c)s", {"c": res.capture_id}
            )
            stray = {int(r["ingest_id"]) for r in left} - runs
            if not stray or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert not stray, t


def test_small_captures_side_by_side_store_what_one_after_the_other_stores(store: Any) -> None:
    """Several small captures, one worker process each, two at a time: each capture's tables as
    one process makes them, the results in the order given."""
    names = [
        "SSI_Measurements_2022/2-smartPowerPlugPassiveMeasurements.pcap",
        "nDPI/pcap/ocs.pcap",
        "JasonHYJ-deviceIdentification/2019-04-25_idle.pcap",
    ]
    paths = [str(shared_path(*n.split("/"))) for n in names] + [str(LAB / "lab.pcapng")]
    one = list(replay_all(store, paths, ReplayOptions(force=True, jobs=1)))
    single = [_tables(store, r.capture_id) for r in one]
    two = list(replay_all(store, paths, ReplayOptions(force=True, jobs=2)))
    assert [r.path for r in two] == paths and all(r.status == "ingested" for r in two)
    for r, tables in zip(two, single, strict=True):
        _assert_same(tables, _tables(store, r.capture_id))


def test_a_store_error_stops_the_workers_instead_of_waiting_for_them(store: Any, monkeypatch: Any) -> None:
    """The parent fails inserting the first batch while two workers still send theirs: the replay
    ends with the store's error at once (a worker blocked on a full pipe is stopped, not joined)."""
    from appliance.store.errors import StoreError

    def refuse(_table: str, _encoded: Any) -> None:
        raise StoreError("ClickHouse error: disk full (a test)")

    monkeypatch.setattr(store, "insert_encoded", refuse)
    signal.signal(signal.SIGALRM, lambda *_a: pytest.fail("the replay hung on its workers"))
    signal.alarm(120)
    try:
        with pytest.raises(StoreError, match="disk full"):
            replay(store, str(LAB / "lab.pcapng"), ReplayOptions(force=True, jobs=2))
    finally:
        signal.alarm(0)
    assert not mp.active_children()


def test_a_workers_capture_error_is_one_line_and_nothing_is_stored(tmp_path: Path) -> None:
    p = tmp_path / "bomb.pcapng.gz"
    hostile.write_gz_blocks(p, "epb", 8)
    db = tmp_path / "db"
    out = cli("replay", "-q", "--jobs", "2", str(p), db=db)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 1 and len(lines) == 1 and "--max-ratio" in lines[0], out.stderr
    counts = cli("captures", "--json", db=db)
    assert counts.returncode == 0 and json.loads(counts.stdout) == [], counts.stdout


SMALL = [
    "SSI_Measurements_2022/2-smartPowerPlugPassiveMeasurements.pcap",
    "JasonHYJ-deviceIdentification/2019-04-25_idle.pcap",
]


@pytest.mark.parametrize("side_by_side", (False, True), ids=("one-capture", "side-by-side"))
def test_a_worker_killed_before_its_result_fails_the_replay_at_once(
    store: Any, monkeypatch: Any, side_by_side: bool
) -> None:
    """A worker killed (as the kernel's OOM killer would) ends the replay with whose worker it was,
    for one capture's workers and for captures side by side alike, and no worker is left running."""
    monkeypatch.setattr(parallel, "_worker", lambda *_a: os.kill(os.getpid(), signal.SIGKILL))
    signal.signal(signal.SIGALRM, lambda *_a: pytest.fail("the replay hung on its workers"))
    signal.alarm(120)
    try:
        with pytest.raises(parallel.WorkerFailed) as err:
            if side_by_side:
                paths = [str(shared_path(*n.split("/"))) for n in SMALL]
                list(replay_all(store, paths, ReplayOptions(force=True, jobs=2)))
            else:
                replay(store, str(LAB / "lab.pcapng"), ReplayOptions(force=True, jobs=2))
    finally:
        signal.alarm(0)
    want = "the replay worker of .*(smartPowerPlug|idle)" if side_by_side else "replay worker [01] "
    assert err.match(want + ".*ended without a result")
    assert not mp.active_children()


def test_a_capture_error_among_captures_side_by_side_is_one_line(tmp_path: Path) -> None:
    p = tmp_path / "bomb.pcapng.gz"
    hostile.write_gz_blocks(p, "epb", 8)
    out = cli(
        "replay", "-q", "--jobs", "2", str(shared_path(*SMALL[0].split("/"))), str(p), db=tmp_path / "db"
    )
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 1 and len(lines) == 1 and "--max-ratio" in lines[0], out.stderr
