"""Retention: how long each table keeps its rows once stored (issue 21, point 4).

A row's age is its ingestion run's: every table but ``meta`` carries ``ingest_id``, the run's
nanosecond stamp (``appliance.store.schema``), so a capture made years ago and replayed today is
kept for the whole period, and all rows of one run of one table expire together. Raw flows and
bursts are the bulk of a store and can go first while the flow rollup, the observations, the
findings and the ``captures`` rows (without which nothing of a capture is shown) are kept longer.

The policy is kept in ``meta`` (``retention:<table>`` = ``<set at, ns>:<seconds>``; the newest
setting wins, 0 keeps for ever), so every process opening the store applies the same one:

- where the engine has TTL (ClickHouse 19.6 and later, so chDB), as the table's TTL
  (``ALTER TABLE ... MODIFY TTL``): merges, and ``OPTIMIZE ... FINAL``, drop expired rows;
- ClickHouse 18.16 has no TTL (``TTL`` in its ``CREATE TABLE`` is a syntax error, code 62,
  measured): there ``enforce`` deletes expired rows (``ALTER ... DELETE``, one mutation a table)
  each time the store is opened, and ``tapaudit captures --prune`` does it on demand.
"""

from __future__ import annotations

import re
import time
from typing import Any, Protocol

from appliance.store.errors import StoreError
from appliance.store.schema import META, TABLES

PREFIX = "retention:"
# Names a policy may use besides table names: the groups the issue orders by how long they matter.
GROUPS = {
    "raw": ("flows", "bursts"),
    "records": ("dns", "tls", "http", "app_events"),
    "rollups": ("flow_rollup",),
}
TABLE_NAMES = tuple(t.name for t in TABLES if t.name != "meta")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_DURATION = re.compile(r"(\d+)\s*([smhdwy]?)")


class Reader(Protocol):
    database: str

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]: ...


class Store(Reader, Protocol):
    url: str

    def execute(self, sql: str, params: Any = None) -> None: ...

    def insert(self, table: str, rows: Any, batch: int | None = None) -> None: ...

    def _delete(self, table: str, where: str) -> None: ...


def parse(spec: str) -> dict[str, int]:
    """``flows=30d,bursts=30d,observations=1y``-like text to seconds per table: a table or a group
    (``raw``, ``records``, ``rollups``), ``=``, a whole number with s, m, h, d (the default), w or y (365 d);
    0 or ``forever`` keeps for ever. ``ValueError`` names what is wrong."""
    out: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, eq, value = item.partition("=")
        name, value = name.strip(), value.strip().lower()
        if not eq:
            raise ValueError(f"{item!r}: expected TABLE=DURATION (flows=30d)")
        tables = GROUPS.get(name, (name,) if name in TABLE_NAMES else ())
        if not tables:
            raise ValueError(
                f"{name!r} is not a table ({', '.join(TABLE_NAMES)}) or a group ({', '.join(GROUPS)})"
            )
        if value == "forever":
            seconds = 0
        else:
            m = _DURATION.fullmatch(value)
            if not m:
                raise ValueError(f"{name}: {value!r} is not a duration (30d, 12h, 2w, 0 for ever)")
            seconds = int(m.group(1)) * _UNITS[m.group(2) or "d"]
        out.update(dict.fromkeys(tables, seconds))
    return out


def spell(seconds: int) -> str:
    """A duration as ``parse`` takes it, in its largest whole unit (30d, 12h, 90s)."""
    for unit in ("y", "w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def policy(store: Reader) -> dict[str, int]:
    """The store's retention in seconds per table (tables kept for ever are left out)."""
    rows = store.query(
        "SELECT key, max(value) AS v FROM {db}.meta WHERE startsWith(key, %(p)s) GROUP BY key", {"p": PREFIX}
    )
    out = {}
    for r in rows:
        table, seconds = str(r["key"])[len(PREFIX) :], int(str(r["v"]).rpartition(":")[2])
        if seconds and table in TABLE_NAMES:
            out[table] = seconds
    return out


def has_ttl(store: Reader) -> bool:
    """Whether the engine knows table TTLs (ClickHouse 19.6 and later)."""
    version = str(store.query("SELECT version() AS v")[0]["v"])
    major, minor = (int(x) for x in version.split(".")[:2])
    return (major, minor) >= (19, 6)


def ttl_expression(seconds: int) -> str:
    """The TTL of rows kept ``seconds`` after their ingestion run began."""
    return f"toDateTime(intDiv(ingest_id, 1000000000)) + toIntervalSecond({seconds})"


def set_policy(store: Store, change: dict[str, int]) -> dict[str, int]:
    """Record ``change`` (seconds per table, 0: for ever) and apply it as TTLs where the engine has
    them; the whole policy now. Refused when ``captures`` would go before another table's rows:
    without its ``captures`` row a capture's other rows are never shown."""
    new = {**policy(store), **change}
    new = {t: s for t, s in new.items() if s}
    keep = new.get("captures", 0)
    if keep:
        longer = [t for t in TABLE_NAMES if t != "captures" and (new.get(t, 0) == 0 or new[t] > keep)]
        if longer:
            raise StoreError(
                f"retention: captures must be kept at least as long as every other table "
                f"({', '.join(longer)} kept longer); a capture's rows are shown only with its captures row"
            )
    now = time.time_ns()
    store.insert("meta", [META.row(key=PREFIX + t, value=f"{now}:{s}") for t, s in sorted(change.items())])
    if has_ttl(store):
        for table, seconds in sorted(change.items()):
            if seconds:
                store.execute(
                    f"ALTER TABLE {{db}}.`{table}` MODIFY TTL {ttl_expression(seconds)}"
                    " SETTINGS materialize_ttl_after_modify = 0"  # OPTIMIZE or merges apply it
                )
            elif _has_table_ttl(store, table):
                store.execute(f"ALTER TABLE {{db}}.`{table}` REMOVE TTL")
    return new


def _has_table_ttl(store: Reader, table: str) -> bool:
    rows = store.query(
        "SELECT create_table_query AS q FROM system.tables WHERE database = %(d)s AND name = %(t)s",
        {"d": store.database, "t": table},
    )
    return bool(rows) and "\nTTL " in str(rows[0]["q"])


def ttl_clause(store: Reader, table: str) -> str:
    """`` TTL ...`` for a copy of ``table`` (a purge's rewrite) on an engine with TTLs, else ''."""
    seconds = policy(store).get(table, 0)
    return f"\nTTL {ttl_expression(seconds)}" if seconds and has_ttl(store) else ""


def expired(store: Reader, now_ns: int | None = None) -> dict[str, int]:
    """Rows past retention, per table (tables with none left out)."""
    now_ns = now_ns or time.time_ns()
    out = {}
    for table, seconds in policy(store).items():
        cut = now_ns - seconds * 10**9
        n = int(store.query(f"SELECT count() AS n FROM {{db}}.`{table}` WHERE ingest_id < {cut}")[0]["n"])
        if n:
            out[table] = n
    return out


def prune(store: Store) -> dict[str, int]:
    """Remove the rows past retention now; the rows removed, per table. With TTLs, ``OPTIMIZE ...
    FINAL`` drops them; on 18.16 a delete (a mutation the server runs in the background), then
    ``OPTIMIZE ... FINAL`` once it is done."""
    now = time.time_ns()
    gone = expired(store, now)  # counted and deleted at the same cut
    ttl = has_ttl(store)
    for table in gone:
        if not ttl:
            store._delete(table, f"ingest_id < {now - policy(store)[table] * 10**9}")
        store.execute(f"OPTIMIZE TABLE {{db}}.`{table}` FINAL")
    return gone


def enforce(store: Store) -> dict[str, int]:
    """At each open of a store whose engine has no TTL: delete what is past retention (``prune``);
    an engine with TTLs applies them itself."""
    if not policy(store) or has_ttl(store):
        return {}
    return prune(store)
