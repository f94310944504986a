"""The live session's spool: units written in order and exactly once across a store outage."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import shutil
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from appliance.store.backends import ChdbStore, Store, StoreError, open_store
from appliance.store.schema import BY_NAME, Column
from appliance.store.spool import Unit, Writer, read_unit, write_unit

INGEST = 1_764_000_000_123_456_789
TABLES = ("phases", "device_addresses", "flows")  # a flush's units, then the rollup


def _value(c: Column, ingest: int, batch: int, i: int) -> Any:
    if c.name == "ingest_id":
        return ingest
    if c.name == "capture_id":
        return "c" * 64
    if c.name == "device_mac":
        return f"02:00:00:00:{batch:02x}:{i:02x}"
    if c.type == "String":
        return f"{c.name} {batch}/{i} it's\ta\nb\\ é ☃"
    if c.type == "Float64":
        return 0.1 * (i + 1) + batch
    if c.type == "Int8":
        return -i
    if c.type.startswith("UInt"):
        return {"UInt8": 200, "UInt16": 60_000, "UInt32": 4_000_000_000}.get(c.type, 2**63 + batch * 1000 + i)
    if c.type == "DateTime":
        return dt.datetime(2026, 11, 25, 12, batch % 60, i % 60, tzinfo=dt.UTC)
    if c.type == "Array(String)":
        return [f"x{batch}", "y'\t", ""]
    if c.type.startswith("Array("):
        return [batch, i, 65_000]
    raise AssertionError(c.type)


def rows_for(table: str, batch: int, n: int = 3, ingest: int = INGEST) -> list[tuple[Any, ...]]:
    return [tuple(_value(c, ingest, batch, i) for c in BY_NAME[table].inserted) for i in range(n)]


def _plain(v: Any) -> Any:
    """A value as it reads back from either store (datetimes as UTC text, tuples as lists)."""
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def stored(store: Store, table: str, batch: int, ingest: int = INGEST) -> list[list[Any]]:
    names = BY_NAME[table].names
    cols = ", ".join(f"`{n}`" for n in names)
    got = store.query(
        f"SELECT {cols} FROM {{db}}.{table} WHERE ingest_id = %(i)s AND batch = %(b)s ORDER BY {cols}",
        {"i": ingest, "b": batch},
    )
    return sorted(([r[n] for n in names] for r in got), key=repr)


def expected(table: str, batch: int, ingest: int = INGEST) -> list[list[Any]]:
    return sorted(([_plain(v) for v in r] for r in rows_for(table, batch, ingest=ingest)), key=repr)


def counts(store: Store, table: str, ingest: int = INGEST) -> dict[int, int]:
    got = store.query(
        f"SELECT batch, count() AS n FROM {{db}}.{table} WHERE ingest_id = %(i)s GROUP BY batch",
        {"i": ingest},
    )
    return {int(r["batch"]): int(r["n"]) for r in got}


def wait_stopped(pid: int, timeout: float = 10.0) -> None:
    """Until every thread of ``pid`` is in the stopped state (``T`` in /proc/PID/task/*/stat)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = []
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            with contextlib.suppress(OSError):
                states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
        if states and all(s == "T" for s in states):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not stop")


def flush(w: Writer, batch: int) -> None:
    for t in TABLES:
        w.write(t, rows_for(t, batch), batch)
    w.rollup(batch)


def assert_batches(store: Store, batches: Sequence[int], ingest: int = INGEST) -> None:
    for t in TABLES:
        assert counts(store, t, ingest) == {b: 3 for b in batches}, t
        for b in batches:
            assert stored(store, t, b, ingest) == expected(t, b, ingest), (t, b)
    # three flows of distinct devices per batch: three rollup rows each, summed once
    assert counts(store, "flow_rollup", ingest) == {b: 3 for b in batches}


class Flaky(Store):
    """A chDB store that fails on demand, and logs what reached it."""

    def __init__(self, inner: ChdbStore) -> None:
        self.inner = inner
        self.url = inner.url
        self.database = inner.database
        self.down = False
        self.land_then_fail = 0  # the next N inserts land, then report a failure
        self.fail_after = -1  # calls that succeed before the store goes down (-1: off)
        self.calls = 0
        self.hold: threading.Event | None = None  # the next insert waits for this event (then lands)
        self.released = threading.Event()  # set once that held insert has returned
        self.log: list[tuple[str, str]] = []

    def _gate(self) -> None:
        self.calls += 1
        if self.fail_after == 0:
            self.down = True
        if self.fail_after > 0:
            self.fail_after -= 1
        if self.down:
            raise StoreError("cannot reach ClickHouse at test: Connection refused")

    def _run(self, sql: str) -> None:
        self._gate()
        self.inner._run(sql)
        if "flow_rollup" in sql:
            self.log.append(("rollup", sql.split("batch = ")[1].split()[0]))

    def _insert(self, table: str, columns: Sequence[Column], rows: Sequence[tuple[Any, ...]]) -> None:
        self._gate()
        if self.hold is not None:
            hold, self.hold = self.hold, None
            hold.wait(30)
            self.released.set()
        self.inner._insert(table, columns, rows)
        self.log.append((table, str(rows[0][-1])))
        if self.land_then_fail:
            self.land_then_fail -= 1
            raise StoreError("cannot reach ClickHouse at test: Connection reset by peer")

    def _select(self, sql: str) -> list[dict[str, Any]]:
        self._gate()
        return self.inner._select(sql)


@pytest.fixture
def flaky(tmp_path: Path) -> Any:
    inner = open_store(str(tmp_path / "db"))
    assert isinstance(inner, ChdbStore)
    inner.ensure_schema()
    yield Flaky(inner)
    inner.close()


def test_spool_file_keeps_values_identical(tmp_path: Path) -> None:
    utc = dt.datetime(2026, 11, 25, 12, 0, 1, tzinfo=dt.UTC)
    cest = dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    rows = [
        (
            1,
            2**64 - 1,
            -7,
            0.1,
            -0.0,
            math.inf,
            "a\tb\n'\"\\ é \ud800",
            ["x", "y"],
            [1, 2],
            utc,
            cest,
            b"\x00\xff",
        ),
        (True, False, None, (1, "t"), [], [[1.5]], dt.datetime(2026, 1, 1), 1e300, "", [], 0, 3.0),
    ]
    path = str(tmp_path / "u.jsonl.gz")
    write_unit(path, Unit("insert", "captures", INGEST, 7, rows))
    back = read_unit(path)
    assert (back.kind, back.table, back.ingest_id, back.batch) == ("insert", "captures", INGEST, 7)
    assert back.rows == rows
    for a, b in zip(back.rows, rows, strict=True):
        assert [type(x) for x in a] == [type(x) for x in b]
    assert back.rows[0][10].utcoffset() == dt.timedelta(hours=2)
    assert os.listdir(tmp_path) == ["u.jsonl.gz"]  # no temporary file left


def test_outage_spools_and_drain_writes_each_unit_once_in_order(flaky: Flaky, tmp_path: Path) -> None:
    spool = str(tmp_path / "spool")
    w = Writer(flaky, spool, INGEST, retry_s=3600)
    flush(w, 1)
    flush(w, 2)
    assert (w.pending, w.written_total, w.failures) == (0, 8, 0)

    flaky.down = True
    flush(w, 3)  # the first write fails: spooled, and so is everything after it
    calls = flaky.calls
    flush(w, 4)
    flush(w, 5)
    assert flaky.calls == calls  # behind a spool, within retry_s: no store call at all
    assert w.pending == 12 and w.spooled_total == 12
    assert w.failures == 1 and "Connection refused" in w.last_error
    assert len(os.listdir(spool)) == 12 and sorted(os.listdir(spool)) == [
        f for f in sorted(os.listdir(spool)) if f.startswith(f"{INGEST:020d}-")
    ]
    assert w.drain() == 0  # retry_s not elapsed

    flaky.down = False
    flaky.fail_after = 5  # the drain dies half way: 5 calls (lookups and writes) go through
    assert w.drain(force=True) == 2  # phases 3 (lookup, insert), device_addresses 3 (lookup, insert), dies
    assert w.pending == 10 and w.failures == 2
    flaky.down, flaky.fail_after = False, -1
    before = len(flaky.log)
    assert w.drain(force=True) == 10
    assert w.pending == 0 and os.listdir(spool) == []
    assert (w.written_total, w.present_total, w.spooled_total) == (8 + 12, 0, 12)
    want = [(t, str(b)) for b in (1, 2, 3, 4, 5) for t in (*TABLES, "rollup")]
    assert flaky.log == want[: 8 + 2] + want[10:]  # the order of making, each unit once
    assert len(flaky.log) - before == 10

    flush(w, 6)  # spool drained: straight to the store again
    assert w.pending == 0 and w.written_total == 24
    assert_batches(flaky, range(1, 7))


def test_write_drains_by_itself_once_retry_has_passed(flaky: Flaky, tmp_path: Path) -> None:
    # retry_s bounds both ways: flush 3 must come within it of flush 2's failure (1 s: a loaded
    # machine's pause between two calls stays well under it), the sleeps must pass it
    w = Writer(flaky, str(tmp_path / "spool"), INGEST, retry_s=1.0)
    flaky.down = True
    flush(w, 1)
    assert w.pending == 4
    time.sleep(1.05)
    calls = flaky.calls
    flush(w, 2)  # the first write retries (and fails) once, the rest wait behind it
    assert flaky.calls == calls + 1
    assert (w.pending, w.failures) == (8, 2)
    flaky.down = False
    flush(w, 3)  # within retry_s of the last failure: still spooled
    assert w.pending == 12
    time.sleep(1.05)
    flush(w, 4)
    assert w.pending == 0 and w.written_total == 16
    assert_batches(flaky, [1, 2, 3, 4])


def test_unit_that_landed_before_its_failure_is_not_written_again(flaky: Flaky, tmp_path: Path) -> None:
    w = Writer(flaky, str(tmp_path / "spool"), INGEST)
    flaky.land_then_fail = 1  # phases of batch 1 lands, but the client sees a reset
    flush(w, 1)
    assert w.pending == 4 and counts(flaky, "phases") == {1: 3}
    assert w.drain(force=True) == 4
    assert (w.present_total, w.written_total) == (1, 3)
    flush(w, 2)
    assert_batches(flaky, [1, 2])


def test_hung_store_keeps_the_caller_at_most_block_s(flaky: Flaky, tmp_path: Path) -> None:
    """A store call that does not return lets the caller go after block_s: the writer returns while
    the call is still held (no wall-clock bound to race a loaded machine), and spools the unit."""
    w = Writer(flaky, str(tmp_path / "spool"), INGEST, retry_s=0.1, block_s=0.3)
    flaky.hold = hold = threading.Event()  # the phases insert of batch 1 hangs until released, then lands
    flush(w, 1)
    assert not flaky.released.is_set()  # flush returned while the store call still hangs
    assert w.pending == 4 and "did not answer within 0.3 s" in w.last_error
    time.sleep(0.15)
    calls = flaky.calls
    flush(w, 2)  # retry while the hung call still runs: fails at once, no second call on the store
    assert not flaky.released.is_set() and flaky.calls == calls
    assert w.pending == 8 and "not answered an earlier call" in w.last_error
    hold.set()
    assert flaky.released.wait(10)
    time.sleep(0.15)  # past retry_s
    flush(w, 3)
    assert w.pending == 0 and (w.present_total, w.written_total) == (1, 11)
    assert_batches(flaky, [1, 2, 3])


def test_rollup_is_not_summed_twice(flaky: Flaky, tmp_path: Path) -> None:
    w = Writer(flaky, str(tmp_path / "spool"), INGEST)
    for t in TABLES:
        w.write(t, rows_for(t, 1), 1)
    flaky.inner.rollup_flows("ingest_id = %(i)s AND batch = %(b)s", {"i": INGEST, "b": 1})  # landed...
    flaky.down = True
    w.rollup(1)  # ... but this writer saw it fail
    flaky.down = False
    assert w.drain(force=True) == 1 and w.present_total == 1
    assert_batches(flaky, [1])


def test_crashed_sessions_spool_is_drained_by_the_next_writer(flaky: Flaky, tmp_path: Path) -> None:
    spool = str(tmp_path / "spool")
    old = Writer(flaky, spool, INGEST - 5, retry_s=3600)
    flaky.down = True
    for b in (1, 2):
        for t in TABLES:
            old.write(t, rows_for(t, b, ingest=INGEST - 5), b)
        old.rollup(b)
    Path(spool, ".tmp-half-written").write_bytes(b"\x1f\x8b")  # a crash while spooling
    del old  # the session dies

    again = Writer(flaky, spool, INGEST - 5)  # the same session restarted: numbering goes on
    assert again.pending == 8 and not Path(spool, ".tmp-half-written").exists()
    assert again._seq == 8
    flaky.down = False
    w = Writer(flaky, spool, INGEST)  # a new session with its own ingest id
    assert w.pending == 8
    flush(w, 1)  # drains the old session's units first, then writes its own
    assert w.pending == 0 and w.written_total == 12
    assert_batches(flaky, [1, 2], ingest=INGEST - 5)
    assert_batches(flaky, [1])
    assert Writer.drain_dir(flaky, spool) == 0


def test_damaged_spool_file_is_set_aside(flaky: Flaky, tmp_path: Path) -> None:
    spool = str(tmp_path / "spool")
    w = Writer(flaky, spool, INGEST)
    flaky.down = True
    flush(w, 1)
    first = sorted(os.listdir(spool))[0]
    Path(spool, first).write_bytes(b"not gzip")
    flaky.down = False
    assert w.drain(force=True) == 3
    assert os.listdir(spool) == [first + ".bad"] and "unreadable" in w.last_error


def test_bad_rows_are_the_callers_mistake(flaky: Flaky, tmp_path: Path) -> None:
    w = Writer(flaky, str(tmp_path / "spool"), INGEST)
    with pytest.raises(ValueError):
        w.write("phases", [("too", "short")], 1)
    with pytest.raises(ValueError):
        w.write("meta", [("k", "v")], 1)
    w.write("phases", [], 1)  # nothing to write: not a unit
    assert (w.written_total, w.pending) == (0, 0)
    w.write("phases", rows_for("phases", 1), 1)
    with pytest.raises(ValueError, match="already"):  # the lookup by (table, batch) would skip it
        w.write("phases", rows_for("phases", 1), 1)
    w.rollup(1)
    with pytest.raises(ValueError):
        w.rollup(1)
    assert counts(flaky, "phases") == {1: 3}


# -- the real fault: a clickhouse-server killed and restarted ---------------------------------


@pytest.mark.server
@pytest.mark.xdist_group("chserver")
def test_server_killed_and_restarted(tmp_path: Path) -> None:
    from tests.support.chserver import Server, binary

    if binary() is None:
        if os.environ.get("CI"):
            pytest.fail("clickhouse-server is not installed; make test installs it")
        pytest.skip("clickhouse-server not installed")
    srv = Server(str(tmp_path / "ch"))
    srv.start()
    try:
        store = open_store(srv.url("spooltest"))
        store.ensure_schema()
        spool = str(tmp_path / "spool")
        w = Writer(store, spool, INGEST, retry_s=0.5)
        flush(w, 1)
        flush(w, 2)
        assert (w.pending, w.written_total) == (0, 8)

        assert srv.proc is not None
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(10)
        slowest = 0.0
        for b in (3, 4, 5):
            for t in TABLES:
                t0 = time.monotonic()
                w.write(t, rows_for(t, b), b)
                slowest = max(slowest, time.monotonic() - t0)
            w.rollup(b)
            time.sleep(0.3)  # flushes a few seconds apart: retries against the dead server happen
        assert slowest < 2.0, f"a write blocked {slowest:.2f} s while the server was down"
        assert w.pending == 12 and w.failures >= 2, (w.pending, w.failures)
        assert "cannot reach ClickHouse" in w.last_error

        srv.start()  # same ports, same data path
        # a unit that was in flight when the server died: it landed, and is in the spool as well
        other = open_store(srv.url("spooltest"))
        other.insert("phases", rows_for("phases", 3), batch=3)
        other.close()

        time.sleep(0.6)
        t0 = time.monotonic()
        flush(w, 6)  # the same store object reconnects; the spool drains first, in order
        assert w.pending == 0, w.last_error
        assert time.monotonic() - t0 < 10
        assert w.present_total == 1 and w.written_total == 8 + 11 + 4
        assert_batches(store, range(1, 7))

        # a server that takes connections but does not answer (stopped): the caller is let go
        w._call.block_s = 1.0
        os.kill(srv.proc.pid, signal.SIGSTOP)
        wait_stopped(srv.proc.pid)  # a group stop is asynchronous: a thread running now may still answer
        try:
            t0 = time.monotonic()
            flush(w, 7)
            assert time.monotonic() - t0 < 2.0
            assert w.pending == 4, w.pending
        finally:
            os.kill(srv.proc.pid, signal.SIGCONT)
        deadline = time.monotonic() + 30
        while w.pending and time.monotonic() < deadline:
            time.sleep(0.2)
            w.drain(force=True)
        assert w.pending == 0, w.last_error
        assert_batches(store, range(1, 8))
        store.close()
    finally:
        srv.stop()
        shutil.rmtree(str(tmp_path / "ch"), ignore_errors=True)


def test_deleting_a_capture_discards_its_spooled_batches(tmp_path: Path) -> None:
    """A capture deleted while batches of its live session wait in the spool: they go too (found by
    the run ids the store knows, or by the capture id their rows carry), so no later drain brings
    its rows back; another session's batches stay."""
    from appliance.store.spool import discard

    spool = tmp_path / "spool"
    spool.mkdir()
    other = "d" * 64
    col = BY_NAME["flows"].names.index("capture_id")
    for ingest, cid in ((INGEST, "c" * 64), (INGEST + 1, other), (INGEST + 2, "c" * 64)):
        for seq, table in enumerate((*TABLES, "rollup")):
            rows = [] if table == "rollup" else rows_for(table, 1, ingest=ingest)
            rows = [(*r[:col], cid, *r[col + 1 :]) for r in rows]
            kind = "rollup" if table == "rollup" else "insert"
            write_unit(
                str(spool / f"{ingest:020d}-{seq:09d}-{1:010d}-{table}.jsonl.gz"),
                Unit(kind, table, ingest, 1, rows),
            )
    assert discard(str(spool), "c" * 64, [INGEST]) == 8  # its known run, and a run found by its rows
    left = sorted(os.listdir(spool))
    assert len(left) == 4 and all(n.startswith(f"{INGEST + 1:020d}-") for n in left)
    assert {read_unit(str(spool / n)).rows[0][col] for n in left if not n.endswith("rollup.jsonl.gz")} == {
        other
    }
    assert discard(str(tmp_path / "none"), other) == 0
