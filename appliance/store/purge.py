"""Deleting for real: rows removed from the files of the store, not only hidden from readers.

ClickHouse deletes by writing new parts: a lightweight ``DELETE`` only masks rows, and an
``ALTER TABLE ... DELETE`` mutation (then ``OPTIMIZE ... FINAL``) writes new parts but leaves the
old ones on disk as inactive parts until a cleanup thread removes them after
``old_parts_lifetime`` (480 s on a server; embedded chDB, which runs no cleanup thread, keeps
them for ever: measured, issue 17: an IMEI was still in 6 data files 35 minutes after a delete).
So a purge rewrites the table: its other rows are copied into a fresh table of the declared
schema, the two are swapped by ``RENAME``, and the old table is dropped with its files at once
(``DROP TABLE ... SYNC`` in an Atomic database, which otherwise drops 8 minutes later; 18.16's
Ordinary databases drop at once and know no ``SYNC``). The same SQL runs on chDB and on
ClickHouse 18.16. A crash on the way leaves the old table, or after the swap a ``__purged`` copy,
which the next purge or open drops (``drop_leftovers``).

The rewrite is a writer: nothing else may insert into the table meanwhile. An embedded store is
one process's (chDB's lock on the data folder); on a server, purge while no replay runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from appliance.store import retention
from appliance.store.schema import BY_NAME, TABLES

log = logging.getLogger(__name__)

LEFTOVER = ("__purging", "__purged")
# A server store may be written by another process (a replay in progress, whose rows precede its
# commit): only runs older than this count as dead there. An embedded store is locked to one process.
SERVER_GRACE_NS = 6 * 3600 * 10**9


class Store(Protocol):
    url: str
    database: str

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]: ...

    def execute(self, sql: str, params: Any = None) -> None: ...


def _tables(store: Store) -> set[str]:
    rows = store.query("SELECT name FROM system.tables WHERE database = %(d)s", {"d": store.database})
    return {str(r["name"]) for r in rows}


def _sync(store: Store) -> str:
    """``SYNC`` for an Atomic database (files removed at once, not 8 minutes later); 18.16's
    Ordinary engine removes them at once and refuses the word."""
    rows = store.query("SELECT engine FROM system.databases WHERE name = %(d)s", {"d": store.database})
    return " SYNC" if rows and rows[0]["engine"] == "Atomic" else ""


def drop_leftovers(store: Store) -> None:
    """Drop the copies an interrupted purge left (they may hold deleted rows)."""
    leftovers = sorted(name for name in _tables(store) if name.endswith(LEFTOVER))
    sync = _sync(store) if leftovers else ""
    for name in leftovers:
        store.execute(f"DROP TABLE IF EXISTS {{db}}.`{name}`{sync}")


def rewrite_without(store: Store, table: str, where: str, order: str = "") -> int:
    """Rewrite ``table`` without the rows matching ``where`` (rendered SQL); the rows removed.
    A table with no such row is left as it is. ``order``: the copy's row order, for a replacing
    engine, which keeps the last of equal keys within one insert (``meta``: the newest version)."""
    n = int(store.query(f"SELECT count() AS n FROM {{db}}.`{table}` WHERE {where}")[0]["n"])
    if not n:
        return 0
    sync = _sync(store)
    cols_rows = store.query(
        "SELECT name FROM system.columns WHERE database = %(d)s AND table = %(t)s",
        {"d": store.database, "t": table},
    )
    cols = ", ".join(f"`{r['name']}`" for r in cols_rows)
    new, old = f"{table}__purging", f"{table}__purged"
    store.execute(f"DROP TABLE IF EXISTS {{db}}.`{new}`{sync}")
    store.execute(f"DROP TABLE IF EXISTS {{db}}.`{old}`{sync}")
    store.execute(
        BY_NAME[table].ddl(store.database, new) + retention.ttl_clause(store, table)
    )  # keeps its TTL
    store.execute(
        f"INSERT INTO {{db}}.`{new}` ({cols}) SELECT {cols} FROM {{db}}.`{table}` WHERE NOT ({where})"
        + (f" ORDER BY {order}" if order else "")
    )
    store.execute(f"RENAME TABLE {{db}}.`{table}` TO {{db}}.`{old}`, {{db}}.`{new}` TO {{db}}.`{table}`")
    store.execute(f"DROP TABLE {{db}}.`{old}`{sync}")
    return n


def purge(store: Store, where: str, tables: list[str] | None = None) -> int:
    """Remove the rows matching ``where`` from every table but ``meta`` (or from ``tables``), for
    real; the rows removed."""
    names = tables or [t.name for t in TABLES if t.name != "meta"]
    have = _tables(store)
    return sum(rewrite_without(store, t, where) for t in names if t in have)


@dataclass
class Orphans:
    """Rows of runs that never committed (a replay killed before its ``captures`` row)."""

    runs: int = 0
    rows: int = 0

    def line(self) -> str:
        s = "s" if self.runs != 1 else ""
        return f"removed {self.rows:,} rows of {self.runs:,} unfinished run{s} (killed before they committed)"


def collect_orphans(store: Store, grace_ns: int = 0) -> Orphans:
    """Delete, for real, the rows of every replay with no ``captures`` row (it never committed, and no
    reader can see its rows: ``queries.scope``), of runs started over ``grace_ns`` ago.

    A live session's rows (``batch`` 1 and up) are left: the session writes its ``captures`` row with
    each flush, and a flush whose ``captures`` unit waits in the spool folder (the store was away)
    is committed by the next drain (``appliance.store.spool``), which must find its other rows."""
    drop_leftovers(store)
    have = _tables(store)
    if "captures" not in have:
        return Orphans()
    before = time.time_ns() - grace_ns
    committed = "SELECT DISTINCT ingest_id FROM {db}.captures"
    since = f" AND ingest_id < {before}" if grace_ns else ""
    dead = f"batch = 0 AND ingest_id NOT IN ({committed}){since}"  # a replay's rows, uncommitted
    names = [t.name for t in TABLES if t.name not in ("meta", "captures") and t.name in have]
    # every table at once through merge() (each has ingest_id and batch): half the CPU time of a
    # UNION ALL of one SELECT per table, 8 ms less at each open of a store (issue 20, point 3)
    query = f"SELECT DISTINCT ingest_id FROM merge(%(db)s, %(re)s) WHERE {dead}"
    tables = {"db": store.database, "re": f"^({'|'.join(names)})$"}
    runs = {int(r["ingest_id"]) for r in store.query(query, tables)} if names else set()
    if not runs:
        return Orphans()
    ids = ", ".join(str(i) for i in sorted(runs))
    names = [t.name for t in TABLES if t.name not in ("meta", "captures")]
    found = Orphans(len(runs), purge(store, f"ingest_id IN ({ids})", names))
    log.info("store %s: %s", store.url, found.line())
    return found
