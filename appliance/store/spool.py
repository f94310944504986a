"""A live session's writes that survive an unreachable store: a spool folder, drained in order.

A live capture flushes every few seconds; each flush has a batch number N (1, 2, ...) and every
table write of that flush is a *unit* named by ``(table, ingest_id, batch)`` (schema.BATCH). The
``Writer`` writes units to the store while it works. When a write fails (``StoreError``, ``OSError``
or ``EOFError``: server gone, refused, timed out) the unit goes to the spool folder instead, and so
does every later unit, behind it, until the spool is drained: the store sees the units in the order
they were made. ``drain`` (run by ``write``/``rollup`` themselves once ``retry_s`` has passed since
the last failure, or called directly) writes the spooled units in order and stops at the first
failure. No store call keeps the caller longer than ``block_s`` (2 s): one that overruns is a
failure whose outcome is unknown, and waits in the spool like any other.

No unit lands twice. An INSERT block (a unit: at most BATCH_ROWS rows) lands whole or not at all,
so before a spooled unit is written, which may have landed already (a write that failed after the
server took it, or a drain that died half way), its key is looked up:
``SELECT count() FROM <table> WHERE ingest_id = i AND batch = b``; rows there mean it landed, and
its file is deleted unwritten. The rollup of a batch (``Store.rollup_flows``) is a unit too, looked
up in ``flow_rollup``; a rollup that wrote nothing (no device flows in the batch) runs again, which
is harmless. So a table may be written at most once per (ingest_id, batch).

Spool files: one per unit, ``{ingest_id:020d}-{seq:09d}-{batch:010d}-{table}.jsonl.gz``, so lexical
order is write order (``seq`` counts on from the folder's highest for that ingest id). A file is
written under a temporary name, fsynced and renamed into place (with the folder fsynced), and is
deleted only once its unit is in the store. Its first line is a header (kind, table, ingest_id,
batch, row count), then one JSON line per row; values keep their types through type tags (tuples,
datetimes, bytes; bools, ints, floats, strings, None and lists are JSON's own).

A spool left by a crashed session is drained by the next ``Writer`` on the same folder whatever its
ingest id: every file carries its own ingest id and batch, and the older ingest ids' files (lower
numbers, earlier in lexical order) go first. ``Writer.drain_dir(store, folder)`` drains a folder
without a session. One folder serves one running session at a time (two writers draining the same
folder concurrently could both write a unit).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gzip
import json
import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from typing import Any

from appliance.store.backends import Store, StoreError
from appliance.store.schema import BY_NAME

log = logging.getLogger(__name__)

MAX_UNIT_ROWS = 20_000  # an INSERT of up to this many rows lands whole or not at all
ROLLUP = "rollup"  # the table part of a rollup unit's file name
SPOOL_VERSION = 1
# Errors that mean "the store did not take it (or we do not know)": retry later, from the spool.
FAILURES: tuple[type[BaseException], ...] = (StoreError, OSError, EOFError)
_NAME = re.compile(r"^(\d{20})-(\d{9})-(\d{10})-(\w+)\.jsonl\.gz$")
_TMP = ".tmp-"


# -- values -------------------------------------------------------------------------------


def _enc(v: Any) -> Any:
    """A JSON value for a row value; types JSON cannot tell apart get a one-key tag object."""
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, list):
        return [_enc(x) for x in v]
    if isinstance(v, tuple):
        return {"t": [_enc(x) for x in v]}
    if isinstance(v, dt.datetime):
        return {"dt": v.isoformat()}
    if isinstance(v, dt.date):
        return {"d": v.isoformat()}
    if isinstance(v, bytes | bytearray | memoryview):
        return {"b": base64.b64encode(bytes(v)).decode("ascii")}
    raise TypeError(f"cannot spool a {type(v).__name__} value")


def _dec(v: Any) -> Any:
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if isinstance(v, dict):
        ((tag, x),) = v.items()
        if tag == "t":
            return tuple(_dec(y) for y in x)
        if tag == "dt":
            return dt.datetime.fromisoformat(x)
        if tag == "d":
            return dt.date.fromisoformat(x)
        if tag == "b":
            return base64.b64decode(x)
        raise ValueError(f"unknown spool value tag {tag!r}")
    return v


def encode_row(row: Sequence[Any]) -> str:
    return json.dumps([_enc(v) for v in row], ensure_ascii=True, separators=(",", ":"))


def decode_row(line: str) -> tuple[Any, ...]:
    return tuple(_dec(v) for v in json.loads(line))


# -- units --------------------------------------------------------------------------------


class Unit:
    """One table write of a flush (``kind`` insert) or the rollup of a batch (``kind`` rollup)."""

    __slots__ = ("batch", "ingest_id", "kind", "rows", "table")

    def __init__(
        self, kind: str, table: str, ingest_id: int, batch: int, rows: Sequence[tuple[Any, ...]] = ()
    ) -> None:
        self.kind, self.table, self.ingest_id, self.batch, self.rows = kind, table, ingest_id, batch, rows

    @property
    def lookup_table(self) -> str:
        """Where the unit's rows land, to look for them."""
        return "flow_rollup" if self.kind == ROLLUP else self.table

    def __repr__(self) -> str:
        where = f"ingest {self.ingest_id} batch {self.batch}"
        return f"Unit({self.kind} {self.table} {where}, {len(self.rows)} rows)"


def write_unit(path: str, unit: Unit) -> None:
    """Write ``unit`` to ``path`` atomically and durably: a temporary file, fsync, rename, fsync."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, _TMP + name)
    header = {
        "v": SPOOL_VERSION,
        "kind": unit.kind,
        "table": unit.table,
        "ingest_id": unit.ingest_id,
        "batch": unit.batch,
        "rows": len(unit.rows),
    }
    try:
        with open(tmp, "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz:
                gz.write((json.dumps(header) + "\n").encode("ascii"))
                for row in unit.rows:
                    gz.write((encode_row(row) + "\n").encode("ascii"))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def read_unit(path: str) -> Unit:
    """The unit in a spool file; ValueError if it is not a complete one."""
    with gzip.open(path, "rt", encoding="ascii") as fh:
        lines = fh.read().split("\n")  # ensure_ascii: no other line breaks inside a row
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise ValueError("empty spool file")
    head = json.loads(lines[0])
    if head.get("v") != SPOOL_VERSION:
        raise ValueError(f"spool format {head.get('v')!r}, this tapaudit reads {SPOOL_VERSION}")
    rows = [decode_row(line) for line in lines[1:]]
    if len(rows) != head["rows"]:
        raise ValueError(f"{len(rows)} rows, the header says {head['rows']}")
    return Unit(head["kind"], head["table"], int(head["ingest_id"]), int(head["batch"]), rows)


def discard(spool_dir: str, capture_id: str, ingest_ids: Sequence[int] = ()) -> int:
    """Delete the spooled units of a capture being deleted (its runs ``ingest_ids``, and any run
    whose spooled rows name ``capture_id``), so a later drain does not bring its rows back; the
    files removed. Nothing when the folder does not exist."""
    try:
        names = sorted(n for n in os.listdir(spool_dir) if _NAME.match(n))
    except FileNotFoundError:
        return 0
    runs = set(ingest_ids)
    for name in names:
        m = _NAME.match(name)
        assert m is not None
        if int(m.group(1)) in runs or m.group(4) == ROLLUP:
            continue
        try:
            unit = read_unit(os.path.join(spool_dir, name))
        except (OSError, ValueError, EOFError):
            continue  # a torn file is the drain's to report
        col = BY_NAME[unit.table].names.index("capture_id") if unit.table in BY_NAME else -1
        if col >= 0 and any(r[col] == capture_id for r in unit.rows):
            runs.add(unit.ingest_id)
    gone = 0
    for name in names:
        m = _NAME.match(name)
        if m is not None and int(m.group(1)) in runs:
            os.unlink(os.path.join(spool_dir, name))
            gone += 1
    if gone:
        _fsync_dir(spool_dir)
    return gone


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StoreBusy(StoreError):
    """A store call did not return within the writer's ``block_s``."""


class _Deadline:
    """Runs store calls in a thread of their own and waits at most ``block_s`` for each.

    A call that overruns goes on in its thread (clickhouse-driver waits up to its
    send_receive_timeout, 300 s, for a server that accepts connections but does not answer) and
    counts as a failure of unknown outcome: the unit is spooled and looked up before it is written
    again. Until the overrunning call has returned, every call fails at once (the store's client
    serves one call at a time), so the lookup sees what that call did. ``None``: calls run in the
    caller's thread and block as long as the store does.
    """

    def __init__(self, block_s: float | None) -> None:
        self.block_s = block_s
        self._late: threading.Thread | None = None

    def __call__(self, fn: Any, *args: Any, **kw: Any) -> Any:
        if self.block_s is None:
            return fn(*args, **kw)
        if self._late is not None:
            if self._late.is_alive():
                raise StoreBusy("the store has not answered an earlier call yet")
            self._late = None
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["ok"] = fn(*args, **kw)
            except BaseException as exc:  # handed to the caller's thread
                box["err"] = exc

        t = threading.Thread(target=run, name="tapaudit-store-call", daemon=True)
        t.start()
        t.join(self.block_s)
        if t.is_alive():
            self._late = t
            raise StoreBusy(f"the store did not answer within {self.block_s:g} s")
        if "err" in box:
            raise box["err"]
        return box.get("ok")


# -- the writer ---------------------------------------------------------------------------


class Writer:
    """Writes a live session's units to the store, or to the spool folder while the store fails.

    ``retry_s``: after a failure, the spool is tried again (by ``write``/``rollup``, or ``drain``
    without ``force``) once this long has passed. ``block_s``: the longest a store call may keep
    the caller (see ``_Deadline``); a refused connection fails at once anyway, a server that hangs
    would otherwise hold it for clickhouse-driver's send_receive_timeout.
    """

    def __init__(
        self, store: Store, spool_dir: str, ingest_id: int, retry_s: float = 5.0, block_s: float | None = 2.0
    ) -> None:
        self.store = store
        self._call = _Deadline(block_s)
        self.spool_dir = spool_dir
        self.ingest_id = int(ingest_id)
        self.retry_s = retry_s
        self._lock = threading.RLock()
        self._spooled_total = 0
        self._written_total = 0
        self._present_total = 0
        self._failures = 0
        self._last_error = ""
        self._last_failure = 0.0  # time.monotonic() of the last failure; 0: none yet
        self._seq = 0
        self._batch_keys: tuple[int, set[str]] = (-1, set())  # the tables written for the newest batch
        os.makedirs(spool_dir, exist_ok=True)
        self._files: list[str] = []
        for name in sorted(os.listdir(spool_dir)):
            if name.startswith(_TMP):  # a crash while spooling: that write() never returned
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(spool_dir, name))
                continue
            m = _NAME.match(name)
            if not m:
                continue
            self._files.append(name)
            if int(m.group(1)) == self.ingest_id:
                self._seq = max(self._seq, int(m.group(2)) + 1)
        if self._files:
            log.info("spool %s: %d units left by an earlier session", spool_dir, len(self._files))

    @classmethod
    def drain_dir(cls, store: Store, spool_dir: str) -> int:
        """Drain a folder left by crashed sessions (all ingest ids); returns units taken off it."""
        return cls(store, spool_dir, ingest_id=0).drain(force=True)

    # -- state ----------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Units waiting in the spool."""
        return len(self._files)

    @property
    def spooled_total(self) -> int:
        """Units this writer put in the spool."""
        return self._spooled_total

    @property
    def written_total(self) -> int:
        """Units this writer wrote to the store (directly or from the spool)."""
        return self._written_total

    @property
    def present_total(self) -> int:
        """Spooled units found already in the store, and so not written again."""
        return self._present_total

    @property
    def failures(self) -> int:
        """Store operations that failed."""
        return self._failures

    @property
    def last_error(self) -> str:
        """The last failure's message ('' if none)."""
        return self._last_error

    # -- units ----------------------------------------------------------------------------

    def write(self, table: str, rows: Sequence[tuple[Any, ...]], batch: int) -> None:
        """Write the rows of ``table`` for flush ``batch``; spools them if the store fails (or if
        earlier units still wait in the spool). Raises only for a caller's mistake (unknown table,
        rows of the wrong length) or when the spool itself cannot be written (OSError)."""
        t = BY_NAME.get(table)
        if t is None or table == "meta":
            raise ValueError(f"{table!r} is not a table of live units")
        width = len(t.names)
        for r in rows:
            if len(r) != width:
                raise ValueError(f"{table} rows have {width} values, got {len(r)}")
        if not rows:
            return  # Store.insert writes nothing either
        self._unit(Unit("insert", table, self.ingest_id, int(batch), list(rows)))

    def rollup(self, batch: int) -> None:
        """Sum flush ``batch``'s flows into flow_rollup; call it after that batch's flows write."""
        self._unit(Unit(ROLLUP, ROLLUP, self.ingest_id, int(batch)))

    def _unit(self, unit: Unit) -> None:
        with self._lock:
            # the lookup that keeps units from landing twice is by (table, batch): one write each
            if unit.batch > self._batch_keys[0]:
                self._batch_keys = (unit.batch, set())
            if unit.batch == self._batch_keys[0]:
                if unit.table in self._batch_keys[1]:
                    raise ValueError(f"{unit.table} was written for batch {unit.batch} already")
                self._batch_keys[1].add(unit.table)
            if len(unit.rows) > MAX_UNIT_ROWS:
                log.warning("%s: over %d rows may land in parts; keep a flush smaller", unit, MAX_UNIT_ROWS)
            if self._files:
                self.drain()
            if not self._files:
                try:
                    self._apply(unit)
                except FAILURES as exc:
                    self._failed(exc, unit)
                else:
                    self._written_total += 1
                    return
            self._spool(unit)

    def _apply(self, unit: Unit) -> None:
        if unit.kind == ROLLUP:
            where, params = "ingest_id = %(i)s AND batch = %(b)s", {"i": unit.ingest_id, "b": unit.batch}
            self._call(self.store.rollup_flows, where, params)
        else:
            self._call(self.store.insert, unit.table, unit.rows, batch=unit.batch)

    def _landed(self, unit: Unit) -> bool:
        rows = self._call(
            self.store.query,
            f"SELECT count() AS n FROM {{db}}.`{unit.lookup_table}`"
            " WHERE ingest_id = %(i)s AND batch = %(b)s",
            {"i": unit.ingest_id, "b": unit.batch},
        )
        return bool(rows) and int(rows[0]["n"]) > 0

    def _failed(self, exc: BaseException, unit: Unit | None) -> None:
        self._failures += 1
        self._last_error = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        self._last_failure = time.monotonic()
        log.warning("store write failed (%s); %s spooled", self._last_error, unit or "units stay")

    def _spool(self, unit: Unit) -> None:
        name = f"{unit.ingest_id:020d}-{self._seq:09d}-{unit.batch:010d}-{unit.table}.jsonl.gz"
        write_unit(os.path.join(self.spool_dir, name), unit)
        self._seq += 1
        self._files.append(name)
        self._spooled_total += 1

    # -- draining -------------------------------------------------------------------------

    def drain(self, force: bool = False) -> int:
        """Write the spooled units in order, if any and if ``force`` or ``retry_s`` has passed since
        the last failure; a unit already in the store is not written again. Stops at the first
        failure (the unit stays spooled). Returns the units taken off the spool (written, or found
        already in the store)."""
        with self._lock:
            if not self._files:
                return 0
            if not force and self._last_failure and time.monotonic() - self._last_failure < self.retry_s:
                return 0
            done = 0
            while self._files:
                name = self._files[0]
                path = os.path.join(self.spool_dir, name)
                try:
                    unit = read_unit(path)
                except (OSError, ValueError, EOFError) as exc:
                    # not a complete unit (it was renamed into place whole, so a damaged disk):
                    # set aside for a person to look at, and go on with the rest
                    self._last_error = f"unreadable spool file {name}: {exc}"
                    log.error("%s; renamed to %s.bad", self._last_error, name)
                    with contextlib.suppress(OSError):
                        os.replace(path, path + ".bad")
                    self._files.pop(0)
                    continue
                try:
                    if self._landed(unit):
                        self._present_total += 1
                    else:
                        self._apply(unit)
                        self._written_total += 1
                except FAILURES as exc:
                    self._failed(exc, None)
                    break
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                self._files.pop(0)
                done += 1
            if not self._files:
                _fsync_dir(self.spool_dir)
                log.info("spool %s drained", self.spool_dir)
            return done
