"""ClickHouse storage: embedded chDB (default) or a server through clickhouse-driver.

Both backends take the same DDL (``appliance.store.schema``), the same batched inserts
(rows as tuples in schema column order, sent as typed columns: ``appliance.store.columns``)
and the same SQL, with parameters rendered client-side by ``render`` so that server 18.16,
which predates server-side query parameters, runs exactly what chDB runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from appliance.store import keyed, purge, retention
from appliance.store.columns import arrow_stream, arrow_table, columns_of, structure
from appliance.store.errors import StoreError
from appliance.store.schema import (
    BATCH,
    BY_NAME,
    FLOW_ROLLUP,
    TABLES,
    Column,
)

DEFAULT_DB = "./data"
DATABASE = "tapaudit"
Row = tuple[Any, ...]


_ESC = str.maketrans({"\\": "\\\\", "'": "\\'", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


# One statement for a replay's commit, a live flush, a store's upgrade and the benchmark's store,
# generated from flow_rollup's declaration (its group keys and aggregates).
ROLLUP_FLOWS = FLOW_ROLLUP.rollup_select("flows", "device_mac != '' AND {where}")


def literal(value: Any) -> str:
    """A ClickHouse SQL literal for a Python value (strings quoted and escaped)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return "'" + value.translate(_ESC) + "'"
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"cannot render {type(value).__name__} as SQL")


_PARAM = re.compile(r"%\((\w+)\)s")


def render(sql: str, params: Mapping[str, Any] | None = None) -> str:
    """Substitute ``%(name)s`` placeholders with escaped literals."""
    if not params:
        return sql

    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in params:
            raise KeyError(f"query parameter {m.group(1)!r} not given")
        return literal(params[m.group(1)])

    return _PARAM.sub(sub, sql)


def _tsv_converter(type_: str) -> Callable[[Any], str]:
    """TabSeparated text for one column type, chosen once per column, not per value."""
    if type_ == "String":
        return lambda v: v.translate(_ESC)  # row builders give str for String columns
    if type_.startswith(("UInt", "Int")):
        return str  # ints (a bool would read "True" and be refused by ClickHouse, not stored wrong)
    if type_.startswith(("Array(UInt", "Array(Int")):
        return lambda v: "[" + ",".join(map(str, v)) + "]"
    if type_ == "Array(String)":  # as literal() renders it; its escapes leave no raw tab or newline
        return lambda v: ("['" + "','".join([x.translate(_ESC) for x in v]) + "']") if v else "[]"
    return _tsv_field


def _rendered_array(type_: str) -> bool:
    """Array types whose converter above renders the whole value (no row-level escaping needed)."""
    return type_ == "Array(String)" or type_.startswith(("Array(UInt", "Array(Int"))


_NEEDS_ESCAPE = re.compile(r"[\\\n\r\0]")


def _tsv_lines(cols: Sequence[Column], rows: Sequence[Row]) -> Iterator[str]:
    """TabSeparated lines for rows of ``table``.

    Tables of only numbers and strings (flows: the bulk of every replay) take a
    fast path, ``str`` of each value joined in C, and fall back per row when a
    string holds a tab, newline, backslash or NUL.
    """
    convs = [_tsv_converter(c.type) for c in cols]
    # arrays of numbers and strings are rendered first; the row then takes the same fast path
    arrays = [(i, convs[i]) for i, c in enumerate(cols) if _rendered_array(c.type)]
    plain = all(
        c.type == "String" or c.type.startswith(("UInt", "Int", "Float")) or _rendered_array(c.type)
        for c in cols
    )
    tabs = len(cols) - 1
    for row in rows:
        if plain:
            if arrays:
                r = list(row)
                for i, f in arrays:
                    r[i] = f(r[i])
                line = "\t".join(map(str, r))
            else:
                line = "\t".join(map(str, row))
            if line.count("\t") == tabs and not _NEEDS_ESCAPE.search(line):
                yield line
                continue
        yield "\t".join([f(v) for f, v in zip(convs, row, strict=True)])


def _tsv_field(value: Any) -> str:
    if isinstance(value, str):
        return value.translate(_ESC)
    if isinstance(value, list | tuple):
        return literal(list(value)).translate({9: "\\t", 10: "\\n"})
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):  # UTC wall time; the session's time zone is UTC too
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


class Store:
    """Common behaviour; subclasses implement ``_run``, ``_insert`` and ``_select``."""

    url: str
    database: str = DATABASE
    # what the last ensure_schema collected of runs killed before they committed (purge.collect_orphans)
    collected: purge.Orphans = purge.Orphans()
    # rows past retention the last ensure_schema deleted, per table (engines without TTL: retention.enforce)
    pruned: dict[str, int] = {}  # noqa: RUF012 - replaced, never mutated
    # the last ensure_schema created the store and nothing was written to it since but its schema
    # version: no capture and no masking key id can be in it, so neither is looked for (two queries
    # of a replay into a new store, issue 20, point 3)
    empty = False

    def _run(self, sql: str) -> None:
        raise NotImplementedError

    def _insert(self, table: str, columns: Sequence[Column], rows: Sequence[Row]) -> None:
        raise NotImplementedError

    def _select(self, sql: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection or the embedded engine."""

    # -- public API -----------------------------------------------------------------------

    def ensure_schema(self) -> list[int]:
        """Create the database and tables if missing, or migrate an older store: the numbers of the
        migration steps applied (``appliance.store.migrations``; [] when the schema was current).
        A new store skips the rest: no key kept in ``meta``, no run killed before its commit and no
        row past retention can be in it yet (seven queries, about 0.02 CPU-s: issue 20, point 3)."""
        from appliance.store.migrations import upgrade  # migrations build on this module

        new, applied = upgrade(self)
        self.empty = new
        if new:
            self.collected, self.pruned = purge.Orphans(), {}
            return applied
        keyed.move_out(self, self.folder())
        self.collected = purge.collect_orphans(self, 0 if self.folder() else purge.SERVER_GRACE_NS)
        self.pruned = retention.enforce(self)
        return applied

    def hash_key(self) -> bytes:
        """The masking key for hashing a new capture's personal values (``appliance.masking_key``,
        kept outside the data folder), checked against the key id the store recorded: equal values
        hash equal across the captures of one store, so a lab can count and correlate them, while
        whoever holds the data folder alone cannot test guesses. ``KeyRefused`` when the key is
        missing or another store's (``appliance.store.keyed``)."""
        return keyed.key_for(self, "add captures", self.folder())

    def require_key(self, purpose: str) -> None:
        """Refuse ``purpose`` (``KeyRefused``, one line naming the key id needed) unless this
        process holds the store's masking key: revealing values as sent takes the key, reading
        masked values does not."""
        keyed.key_for(self, purpose, self.folder(), create=False)

    def folder(self) -> str | None:
        """The data folder on this machine (an embedded store), None for a server."""
        return None

    def insert(self, table: str, rows: Sequence[Row], batch: int | None = None) -> None:
        """Insert full rows (tuples in the schema's column order) in one block; with ``batch``, the
        rows are tagged with it (a live session's flush number, see schema.BATCH)."""
        if not rows:
            return
        self.empty = False
        cols = BY_NAME[table].inserted
        if batch is not None:
            cols = [*cols, BATCH]
            rows = [(*r, batch) for r in rows]
        self._insert(table, cols, rows)

    def encode(self, table: str, rows: Sequence[Row]) -> Any:
        """A batch of ``table``'s rows made ready to insert, without the store (a replay worker does
        this, its parent inserts: ``appliance.ingest.parallel``); what ``insert_encoded`` takes."""
        return list(rows)

    def insert_encoded(self, table: str, encoded: Any) -> None:
        """Insert what ``encode`` made."""
        self.insert(table, encoded)  # (clears ``empty``)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT; ``{db}`` names the database, ``%(name)s`` are parameters."""
        return self._select(render(sql.replace("{db}", f"`{self.database}`"), params))

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self.empty = False
        self._run(render(sql.replace("{db}", f"`{self.database}`"), params))

    def rollup_flows(self, where: str, params: Mapping[str, Any] | None = None) -> None:
        """Sum the flows matching ``where`` into ``flow_rollup`` (see the table's doc)."""
        self.execute(ROLLUP_FLOWS.replace("{where}", where), params)

    def drop_runs(self, capture_id: str, keep: int) -> None:
        """Delete a capture's rows from runs other than ``keep`` (after ``keep`` committed). The
        same capture's rows, so hiding them is enough (ClickHouse's deletes), unless an older run
        kept values as sent (``--raw-evidence``): those are rewritten out of the files (``purge``)."""
        where = render("capture_id = %(c)s AND ingest_id != %(k)s", {"c": capture_id, "k": keep})
        if self.query(f"SELECT 1 AS x FROM {{db}}.captures WHERE {where} AND raw_evidence = 1 LIMIT 1"):
            self._purge(where)
        else:
            self._drop_rows(where)

    def drop_ingest(self, ingest_id: int) -> None:
        """Delete the rows of one run that never committed (a parallel replay redone in one process:
        ``appliance.ingest.parallel``); no ``captures`` row of it exists, so readers never saw them."""
        self._drop_rows(render("ingest_id = %(i)s", {"i": ingest_id}))

    def drop_capture(self, capture_id: str) -> int:
        """Delete every row of a capture, all its runs, from the store's files (``purge``): the
        ``captures`` rows first, so the capture leaves the read API at once; the rows removed."""
        return self._purge(render("capture_id = %(c)s", {"c": capture_id}))

    def _purge(self, where: str) -> int:
        """Remove the rows matching ``where`` from the store's files (``purge.purge``)."""
        return purge.purge(self, where)

    def _drop_rows(self, where: str) -> None:
        """Delete matching rows from every table but ``meta``; the ``captures`` rows first: readers
        see only committed runs, so what goes disappears at once while the rest is still deleted."""
        for table in sorted((t.name for t in TABLES if t.name != "meta"), key=lambda n: n != "captures"):
            self._delete(table, where)

    def _delete(self, table: str, where: str) -> None:
        raise NotImplementedError

    def capture_status(self, capture_id: str) -> str:
        if self.empty:
            return ""
        rows = self.query(
            "SELECT status FROM {db}.captures WHERE capture_id = %(c)s LIMIT 1", {"c": capture_id}
        )
        return str(rows[0]["status"]) if rows else ""


class ChdbStore(Store):
    """Embedded ClickHouse (chDB) in a data folder: no server to run."""

    def __init__(self, path: str) -> None:
        try:
            from chdb import session
        except ImportError as exc:  # pragma: no cover - chdb is a hard dependency
            raise StoreError(f"chdb is not installed ({exc})") from None
        self.url = path
        if os.path.exists(path) and not os.path.isdir(path):
            raise StoreError(f"--db {path} is a file, not a data folder")
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create data folder {path}: {exc.strerror}") from None
        _refuse_if_held(path)
        try:
            self._sess = session.Session(path)
            self._sess.query("SET output_format_json_quote_64bit_integers = 0")
            # DateTime values travel as UTC wall time, read back in UTC whatever TZ says.
            self._sess.query("SET session_timezone = 'UTC'")
        except Exception as exc:
            raise StoreError(f"cannot open embedded ClickHouse in {path}: {_first_line(exc)}") from None
        _OPEN.add(os.path.realpath(path))

    def folder(self) -> str | None:
        return self.url

    def _call(self, sql: str, fmt: str = "CSV") -> Any:
        try:
            return self._sess.query(sql, fmt)
        except Exception as exc:
            raise StoreError(f"ClickHouse (chDB) error: {_first_line(exc)}") from None

    def _run(self, sql: str) -> None:
        self._call(sql)

    def _insert(self, table: str, columns: Sequence[Column], rows: Sequence[Row]) -> None:
        self._run_encoded(*self._encoded(table, columns, rows))

    def _encoded(self, table: str, columns: Sequence[Column], rows: Sequence[Row]) -> tuple[str, Any]:
        """The batch ready to run: the statement and the batch as an Arrow stream of typed columns
        (``columns``), which the statement reads from the file descriptor ``{fd}`` names; or the
        statement alone with the rows as TabSeparated text, for a batch holding a value its column's
        type would have to coerce."""
        cols = ", ".join(f"`{c.name}`" for c in columns)
        into = f"INSERT INTO `{self.database}`.`{table}` ({cols})"
        # (no anonymous files outside Linux: there the batch goes as text)
        batch = arrow_table(columns, rows) if hasattr(os, "memfd_create") else None
        if batch is None:
            body = "\n".join(_tsv_lines(columns, rows))
            return f"{into} FORMAT TabSeparated\n{body}\n", None
        source = f"file('/proc/self/fd/{{fd}}', 'ArrowStream', {literal(structure(columns))})"
        # one thread: a batch is one stream in memory, and starting a pool for it cost a third of
        # the insert's CPU time (measured on a replay's batches, issue 20)
        return f"{into} SELECT {cols} FROM {source} SETTINGS max_threads = 1", arrow_stream(batch)

    def _run_encoded(self, sql: str, stream: Any) -> None:
        """Run what ``_encoded`` made: the stream handed over in an anonymous in-memory file (no
        name on any disk, gone when closed)."""
        if stream is None:
            self._call(sql)
            return
        fd = os.memfd_create("tapaudit-insert", os.MFD_CLOEXEC)
        try:
            _write_all(fd, memoryview(stream))
            self._call(sql.replace("{fd}", str(fd)))
        finally:
            os.close(fd)

    def encode(self, table: str, rows: Sequence[Row]) -> Any:
        """The batch as ``_encoded`` makes it, built by a worker (the stream as bytes, to send), run
        here as it is."""
        if not rows:
            return None
        sql, stream = self._encoded(table, BY_NAME[table].inserted, rows)
        return sql, (stream.to_pybytes() if stream is not None else None)

    def insert_encoded(self, table: str, encoded: Any) -> None:
        if encoded:
            self.empty = False
            self._run_encoded(*encoded)

    def _delete(self, table: str, where: str) -> None:
        # Lightweight delete: ALTER ... DELETE mutations can stall an embedded session. The
        # commit markers (``captures``, a few rows) go synchronously, so a deleted capture is
        # gone for readers when this returns; the bulk of its rows is then invisible anyway.
        sync = 2 if table == "captures" else 0
        where += f" SETTINGS lightweight_deletes_sync = {sync}"
        self._call(f"DELETE FROM `{self.database}`.`{table}` WHERE {where}")

    def _select(self, sql: str) -> list[dict[str, Any]]:
        res = self._call(sql, "JSONEachRow")
        text = res.bytes().decode("utf-8", "replace") if res is not None else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing twice is harmless
            self._sess.close()
        _OPEN.discard(os.path.realpath(self.url))


class ServerStore(Store):
    """A ClickHouse server over the native protocol. ``?cluster=NAME`` in the URL makes it a cluster
    entry point (``appliance.store.cluster.ClusterStore``, chosen by ``open_store``)."""

    def __init__(
        self,
        url: str,
        *,
        host: str | None = None,
        port: int | None = None,
        database: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        """``host``, ``port``, ``database``: another server or database than the URL's, with its
        user, password and timeouts (a cluster's nodes); ``settings``: the session's settings."""
        from clickhouse_driver import Client

        # The driver logs every failed connect with a traceback; we report it in one line.
        logging.getLogger("clickhouse_driver").setLevel(logging.CRITICAL)
        u = urlparse(url)
        host, port = host or u.hostname or "localhost", port or u.port or 9000
        self.database = database or u.path.strip("/") or DATABASE
        self.url = f"{u.scheme}://{host}:{port}/{self.database}"
        timeouts, self.cluster = url_options(u.query)
        self._client = Client(
            host=host,
            port=port,
            user=unquote(u.username or "default"),
            password=unquote(u.password or ""),
            secure=u.scheme == "clickhouses",
            settings=dict(settings or {}),
            **timeouts,
        )
        self._call("SELECT 1")

    def _call(self, sql: str, rows: Iterable[Row] | None = None, **kw: Any) -> Any:
        from clickhouse_driver import errors

        try:
            if rows is not None:
                return self._client.execute(sql, rows, **kw)
            return self._client.execute(sql, **kw)
        except (errors.NetworkError, errors.SocketTimeoutError, OSError, EOFError) as exc:
            raise StoreError(f"cannot reach ClickHouse at {self.url}: {_first_line(exc)}") from None
        except errors.Error as exc:
            raise StoreError(f"ClickHouse error: {_first_line(exc)}") from None

    def _run(self, sql: str) -> None:
        self._call(sql)

    def _insert(self, table: str, columns: Sequence[Column], rows: Sequence[Row]) -> None:
        """The batch as columns (the driver's columnar insert: no per-row walk in Python)."""
        cols = ", ".join(f"`{c.name}`" for c in columns)
        data = columns_of(rows, len(columns))
        self._call(f"INSERT INTO `{self.database}`.`{table}` ({cols}) VALUES", data, columnar=True)

    def _delete(self, table: str, where: str) -> None:
        # 18.16 has only mutations; the server runs them in the background.
        self._call(f"ALTER TABLE `{self.database}`.`{table}` DELETE WHERE {where}")

    def _select(self, sql: str) -> list[dict[str, Any]]:
        data, types = self._call(sql, with_column_types=True)
        names = [n for n, _t in types]
        return [dict(zip(names, _plain(r), strict=True)) for r in data]

    def close(self) -> None:
        self._client.disconnect()


def url_options(query: str) -> tuple[dict[str, float], str]:
    """A server URL's options: its timeouts (``?connect_timeout=2&send_receive_timeout=30``: a live
    capture on a flaky link wants short ones) and the cluster it enters (``?cluster=NAME``, '' for
    one server)."""
    timeouts = {"connect_timeout": 5.0, "send_receive_timeout": 300.0, "sync_request_timeout": 5.0}
    cluster = ""
    for key, values in parse_qs(query).items():
        if key == "cluster":
            cluster = values[-1]
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", cluster):
                raise StoreError(f"store URL option cluster: not a cluster name: {cluster!r}")
            continue
        if key not in timeouts:
            raise StoreError(f"unknown store URL option {key!r} (known: {', '.join([*timeouts, 'cluster'])})")
        try:
            timeouts[key] = float(values[-1])
        except ValueError:
            raise StoreError(f"store URL option {key}: not a number of seconds: {values[-1]!r}") from None
    return timeouts, cluster


def _plain(row: Sequence[Any]) -> list[Any]:
    """Make server values look like chDB's JSON ones (datetimes as text, tuples as lists)."""
    out: list[Any] = []
    for v in row:
        if isinstance(v, dt.datetime):
            out.append(v.strftime("%Y-%m-%d %H:%M:%S"))
        elif isinstance(v, tuple):
            out.append(list(v))
        else:
            out.append(v)
    return out


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _refuse_if_held(path: str) -> None:
    """One line when another process has the data folder open. Embedded ClickHouse locks the folder's
    ``status`` file (flock) for as long as it runs, and fails to open a held folder with two lines of
    its own about a "server instance"; taking the lock for an instant tells first. This process's own
    engine holds it too: a path it has open is left for chDB to answer."""
    status = os.path.join(path, "status")
    if os.path.realpath(path) in _OPEN or not os.path.exists(status):
        return
    try:
        fd = os.open(status, os.O_RDONLY)
    except OSError:
        return  # gone meanwhile (the other process ended), or unreadable: chDB will say
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise StoreError(
            f"another tapaudit process is using the data folder {os.path.abspath(path)}; "
            "wait for it to end or stop it"
        ) from None
    except OSError:
        pass
    finally:
        os.close(fd)


_OPEN: set[str] = set()  # data folders this process's embedded engine has open


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0]
    return line[:300]


def open_store(url: str | None = None) -> Store:
    """``clickhouse://user:pass@host:9000/db`` for a server (``?cluster=NAME``: a cluster of them),
    anything else is a chDB folder."""
    url = url or os.environ.get("TAPAUDIT_DB") or DEFAULT_DB
    if url.startswith(("clickhouse://", "clickhouses://")):
        if url_options(urlparse(url).query)[1]:
            from appliance.store.cluster import ClusterStore  # the cluster builds on this module

            return ClusterStore(url)
        return ServerStore(url)
    if "://" in url:
        raise StoreError(f"unknown store URL scheme in {url!r} (use a folder or clickhouse://host:9000/db)")
    return ChdbStore(url)
