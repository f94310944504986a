"""A stolen data folder reveals nothing (issue 17): its masked values cannot be brute-forced without
the key kept outside it, a deleted capture leaves none of its bytes in any file of the folder,
runs killed before they committed are collected at the next open, and a folder held by another
process is refused in one line.

The oracle reads every file of the folder as a thief would, ClickHouse's compressed blocks opened
(``tests.support.atrest``), and each negative is paired with a positive that the same search finds
what it looks for when it is there, so none of these tests can pass by looking in the wrong place.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.ingest.replay import replay
from appliance.store.backends import Store, open_store
from appliance.store.schema import META, PHASES, TABLES
from tests.support.atrest import files_with, imei_space, keys_in, phone_space, recover
from tests.support.paths import LAB, ROOT
from tests.support.run import cli, lab_options

KEPT = str(ROOT / "pcaps" / "real" / "iot-sentinel-aria-setup-a-1.pcap")
# The lab personas' values (pcaps/lab/lab.bench.yaml): IMEIs, and the phone numbers in the two
# forms the lab's devices send them.
IMEIS = ("863909960308243", "865260181590831")
PHONES = ("13900139000", "13800138000")
IDENTIFYING = ("imei", "persona:imei", "phone", "persona:phone")


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config" / "masking.key"
    monkeypatch.setenv("TAPAUDIT_MASKING_KEY_FILE", str(path))
    return path


@pytest.fixture
def db(tmp_path: Path, key_file: Path) -> Iterator[Path]:
    yield tmp_path / "db"


def _replayed(db: Path, raw: bool) -> tuple[str, dict[str, str]]:
    """The lab replayed into ``db`` (closed again): its capture id and the hashes of its identifying
    observations, {value_hash: data_type}."""
    store = open_store(str(db))
    try:
        store.ensure_schema()
        cid = replay(store, str(LAB / "lab.pcapng"), lab_options(raw=raw)).capture_id
        rows = store.query(
            "SELECT DISTINCT value_hash, data_type FROM {db}.observations WHERE has(%(t)s, data_type)",
            {"t": list(IDENTIFYING)},
        )
    finally:
        store.close()
    return cid, {r["value_hash"]: r["data_type"] for r in rows}


def _search(key: bytes, hashes: dict[str, str]) -> dict[str, str]:
    """A test-sized brute force: the 10^5 IMEIs around each persona's (same TAC, last 5 serial
    digits varied) and the 2 x 10^5 phone numbers within 5 x 10^4 of each persona's."""
    found = {}
    for imei in IMEIS:
        found |= recover(key, hashes, imei_space(imei, digits=5))
    for phone in PHONES:
        found |= recover(key, hashes, phone_space(phone, 50_000))
    return found


def test_the_data_folder_alone_gives_back_no_masked_value(db: Path, key_file: Path) -> None:
    _cid, hashes = _replayed(db, raw=False)
    key = bytes.fromhex(key_file.read_text())
    assert {"imei", "phone"} <= set(hashes.values())

    # the search can succeed: with the key, every IMEI the lab sent comes back (a persona's), and
    # the persona phone number in both forms sent (the lab's other numbers lie outside the search)
    with_key = _search(key, hashes)
    assert {h for h, t in hashes.items() if t.endswith("imei")} <= set(with_key), with_key
    assert {"865260181590831", "13800138000", "+8613800138000"} <= set(with_key.values()), with_key

    # the thief's: every 32-byte hex key written anywhere in the folder (decompressed too); none
    # recovers anything, and the real key is not among them
    found = keys_in(db)
    assert key not in found
    assert all(_search(k, hashes) == {} for k in found)
    print(
        f"at rest: {len(hashes)} identifying hashes; with the key {len(with_key)} recovered, "
        f"from the folder alone ({len(found)} candidate keys) 0"
    )

    # a store as it was before issue 17 (its key in meta) gives itself away to the same thief...
    store = open_store(str(db))
    try:
        store.insert("meta", [META.row(key="hash_key", value=key.hex())])
    finally:
        store.close()
    assert key in keys_in(db)
    # ...until it is opened once: the key is moved out (the key file has it) and rewritten away
    store = open_store(str(db))
    try:
        store.ensure_schema()
        assert not store.query("SELECT 1 AS x FROM {db}.meta WHERE key = 'hash_key'")
    finally:
        store.close()
    assert key not in keys_in(db)


def _values_of_lab(cid: str) -> list[str]:
    """What the deleted capture leaves to look for: its id, and what the children's watch sent of
    its persona (lab.bench.yaml), stored as sent with --raw-evidence."""
    return [cid, "865260181590831", "13800138000", "xiaoming.li@example.cn"]


def test_a_deleted_capture_leaves_none_of_its_bytes_in_the_data_folder(db: Path) -> None:
    cid, _hashes = _replayed(db, raw=True)  # values as sent, so they are in the files to be found
    store = open_store(str(db))
    try:
        kept = replay(store, KEPT, lab_options(phases=False)).capture_id
    finally:
        store.close()
    before = files_with(db, [*_values_of_lab(cid), kept])
    assert set(before) == {*_values_of_lab(cid), kept}, sorted(before)  # the oracle finds them
    kept_rows = _rows_of(db, kept)

    for bad, said in (("zz", "is not a capture's sha256"), ("0" * 12, "no stored capture 000000000000")):
        p = cli("delete", bad, db=db)
        assert p.returncode == 1 and p.stderr.count("\n") == 1 and said in p.stderr, p.stderr
    t0 = time.perf_counter()
    p = cli("delete", cid[:12], "--json", db=db)
    took = time.perf_counter() - t0
    assert p.returncode == 0, p.stderr
    removed = json.loads(p.stdout)["rows"]
    left = _rows_of(db, cid)
    after = files_with(db, [*_values_of_lab(cid), kept])
    print(
        f"delete: {removed:,} rows of the lab removed by `tapaudit delete` in {took:.2f} s; files with "
        f"its values before {sum(len(v) for k, v in before.items() if k != kept)}, after "
        f"{sum(len(v) for k, v in after.items() if k != kept)}"
    )
    assert removed > 0 and left == 0
    assert set(after) == {kept}, after  # none of the lab's, the other capture's all there
    assert _rows_of(db, kept) == kept_rows


def test_a_masked_replay_over_a_raw_one_leaves_no_value_as_sent(db: Path) -> None:
    """--force supersedes a run; when the older run kept values as sent, they leave the files too."""
    cid, _hashes = _replayed(db, raw=True)
    assert set(files_with(db, _values_of_lab(cid))) == set(_values_of_lab(cid))
    _replayed(db, raw=False)  # lab_options replays with --force
    assert set(files_with(db, _values_of_lab(cid))) == {cid}  # the capture stays, its values masked
    store = open_store(str(db))
    try:
        assert store.query("SELECT count() AS n FROM {db}.captures")[0]["n"] == 1
    finally:
        store.close()


def _rows_of_store(store: Store, cid: str) -> int:
    """The capture's rows in every table but meta (all its runs)."""
    count = "SELECT count() AS n FROM {db}.%s WHERE capture_id = %%(c)s"
    return sum(int(store.query(count % t.name, {"c": cid})[0]["n"]) for t in TABLES if t.name != "meta")


def _rows_of(db: Path, cid: str) -> int:
    store = open_store(str(db))
    try:
        return _rows_of_store(store, cid)
    finally:
        store.close()


KILLED = textwrap.dedent(
    """
    import os, signal, sys
    from appliance.store import backends
    from appliance.ingest.replay import replay
    from tests.support.run import lab_options
    insert = backends.Store.insert
    def dies_at_commit(self, table, rows, batch=None):
        if table == "captures":  # killed with every row written but the one that commits them
            os.kill(os.getpid(), signal.SIGKILL)
        return insert(self, table, rows, batch)
    backends.Store.insert = dies_at_commit
    store = backends.open_store(sys.argv[1])
    store.ensure_schema()
    replay(store, sys.argv[2], lab_options())
    """
)


def test_rows_of_a_killed_run_are_collected_at_the_next_open(db: Path) -> None:
    assert cli("replay", "-q", KEPT, db=db).returncode == 0
    p = subprocess.run(
        [sys.executable, "-c", KILLED, str(db), str(LAB / "lab.pcapng")],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert p.returncode == -9, p.stderr
    store = open_store(str(db))
    try:
        orphan = {
            t.name: int(
                store.query(
                    f"SELECT count() AS n FROM {{db}}.{t.name} WHERE ingest_id NOT IN "
                    "(SELECT ingest_id FROM {db}.captures)"
                )[0]["n"]
            )
            for t in TABLES
            if t.name not in ("meta", "captures", "findings", "evidence_exports")
        }
    finally:
        store.close()
    total = sum(orphan.values())
    assert orphan["flows"] > 0 and orphan["observations"] > 0, orphan
    kept_rows = _rows_of(db, _only_capture(db))

    p = cli("captures", db=db)
    assert p.returncode == 0, p.stderr
    print(f"orphans: {total:,} rows of a run killed at its commit; the next open said: {p.stderr.strip()}")
    assert (
        p.stderr.strip()
        == f"tapaudit: removed {total:,} rows of 1 unfinished run (killed before they committed)"
    )
    assert files_with(db, IMEIS) == {}  # the killed run masked them; its masked rows are gone too
    store = open_store(str(db))
    try:
        assert all(
            int(
                store.query(
                    f"SELECT count() AS n FROM {{db}}.{name} WHERE ingest_id NOT IN "
                    "(SELECT ingest_id FROM {db}.captures)"
                )[0]["n"]
            )
            == 0
            for name in orphan
        )
    finally:
        store.close()
    assert _rows_of(db, _only_capture(db)) == kept_rows
    p = cli("captures", db=db)
    assert p.returncode == 0 and p.stderr == ""  # nothing left to collect


def _only_capture(db: Path) -> str:
    store = open_store(str(db))
    try:
        return str(store.query("SELECT capture_id FROM {db}.captures")[0]["capture_id"])
    finally:
        store.close()


HOLD = (
    "import sys, time; from appliance.store.backends import open_store; "
    "s = open_store(sys.argv[1]); print('ok', flush=True); time.sleep(60)"
)


def test_a_data_folder_held_by_another_process_is_refused_in_one_line(db: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        p = cli("captures", db=db)
    finally:
        holder.kill()
        holder.wait()
    assert p.returncode == 1
    assert p.stderr.splitlines() == [
        f"tapaudit: error: another tapaudit process is using the data folder {db}; "
        "wait for it to end or stop it"
    ], p.stderr
    assert cli("captures", db=db).returncode == 0  # free again once it ended


@pytest.mark.server
@pytest.mark.xdist_group("chserver")
def test_a_deleted_capture_leaves_none_of_its_bytes_on_the_server(ch_server: object, key_file: Path) -> None:
    """The same on Debian's clickhouse-server 18.16: its database folder (``data/<db>``, Ordinary
    engine) holds none of the deleted capture's bytes once the delete returns."""
    import uuid

    database = f"purge_{uuid.uuid4().hex[:8]}"
    folder = Path(ch_server.dir) / "data" / "data" / database  # type: ignore[attr-defined]
    store = open_store(ch_server.url(database))  # type: ignore[attr-defined]
    try:
        store.ensure_schema()
        cid = replay(store, str(LAB / "lab.pcapng"), lab_options(raw=True)).capture_id
        kept = replay(store, KEPT, lab_options(phases=False)).capture_id
        before = files_with(folder, [*_values_of_lab(cid), kept])
        assert set(before) == {*_values_of_lab(cid), kept}, sorted(before)
        kept_rows = _rows_of_store(store, kept)
        assert store.drop_capture(cid) > 0
        assert _rows_of_store(store, cid) == 0 and _rows_of_store(store, kept) == kept_rows
        after = files_with(folder, [*_values_of_lab(cid), kept])
        assert set(after) == {kept}, after

        # dead runs on a server: only those started over the grace period ago (another process may
        # be replaying into it right now); a fresh uncommitted run is left to finish, and so is a live
        # session's (batch 1 and up: its commit may wait in a spool folder)
        fresh = time.time_ns()
        for run, batch in ((1, None), (fresh, None), (2, 1)):
            store.insert("phases", [PHASES.row(capture_id="x", ingest_id=run, phase="boot", start_ns=0,
                                               end_ns=1, note="", device_mac="")], batch=batch)  # fmt: skip
        assert store.ensure_schema() == [] and (store.collected.runs, store.collected.rows) == (1, 1)
        left = store.query("SELECT ingest_id FROM {db}.phases WHERE capture_id = 'x' ORDER BY ingest_id")
        assert left == [{"ingest_id": 2}, {"ingest_id": fresh}]
    finally:
        store.execute("DROP DATABASE IF EXISTS {db}")
        store.close()
