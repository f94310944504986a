"""Schema migrations: numbered steps that bring an older store up to ``SCHEMA_VERSION``.

A store records its version in ``meta`` (``schema_version``). Step N runs only on a store
below N, in order, and the version is recorded after each step, so a crash between steps
resumes at the next one. Every step is idempotent as well (it adds only what is missing,
rebuilds only into a fresh copy), so a crash inside a step is repaired by running it again.
A store at ``SCHEMA_VERSION`` applies nothing. Each step names what it brings as the
columns and tables of the current declaration (``appliance.store.schema``): a migrated store
has exactly a fresh store's columns, in the same order (tested from real old stores in
``tests/store/states``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from appliance.store.errors import StoreError
from appliance.store.schema import BY_NAME, META, SCHEMA_VERSION, TABLES, Table

log = logging.getLogger(__name__)
OLDEST = 2  # the first schema with ingestion runs; older stores are refused (replay into a new --db)


class Store(Protocol):
    """What a migration step needs of a store (``appliance.store.backends.Store`` has it): typed here
    so this module does not import the backends that call it."""

    url: str
    database: str

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]: ...

    def execute(self, sql: str, params: Any = None) -> None: ...

    def insert(self, table: str, rows: Any, batch: int | None = None) -> None: ...

    def rollup_flows(self, where: str, params: Any = None) -> None: ...


@dataclass(frozen=True)
class Step:
    number: int
    doc: str
    apply: Callable[[Store], None]


def stored_version(store: Store) -> int | None:
    """The store's schema version, None for a store that has none yet (a new one)."""
    rows = store.query(
        "SELECT value FROM {db}.meta WHERE key = 'schema_version' ORDER BY toUInt32OrZero(value) DESC LIMIT 1"
    )
    return int(rows[0]["value"]) if rows else None


def record_version(store: Store, version: int) -> None:
    store.insert("meta", [META.row(key="schema_version", value=str(version))])


def columns_of(store: Store, table: str) -> list[str]:
    """The table's columns in the store, in order ([] if it does not exist)."""
    rows = store.query(
        "SELECT name FROM system.columns WHERE database = %(db)s AND table = %(t)s",  # in table order
        {"db": store.database, "t": table},
    )
    return [str(r["name"]) for r in rows]


def create_tables(store: Store, *names: str) -> None:
    """Create the tables, as declared now, where they are missing."""
    for name in names:
        store.execute(BY_NAME[name].ddl(store.database))


def add_columns(store: Store, table: str, *names: str) -> None:
    """Add the declared columns the table lacks, each after its predecessor in the declaration
    (so the table's columns come in a fresh store's order), with its type and DEFAULT."""
    t = BY_NAME[table]
    have = columns_of(store, table)
    order = [c.name for c in t.columns]
    for c in t.columns:
        if c.name not in names or c.name in have:
            continue
        i = order.index(c.name)
        after = next((p for p in reversed(order[:i]) if p in have), "")
        default = f" DEFAULT {c.default}" if c.default else ""
        where = f" AFTER `{after}`" if after else ""
        store.execute(f"ALTER TABLE {{db}}.`{table}` ADD COLUMN `{c.name}` {c.type}{default}{where}")
        have.insert(have.index(after) + 1 if after else len(have), c.name)


def resort(store: Store, table: Table) -> None:
    """Rewrite a table under the declaration's sorting key: a copy, then a swap of names. A crash
    on the way leaves the old table (or, after the swap, the new one) in place, and a second run
    repeats the copy from whichever is there."""
    name = table.name
    cols = ", ".join(f"`{c}`" for c in columns_of(store, name))
    store.execute(f"DROP TABLE IF EXISTS {{db}}.`{name}__resorted`")
    store.execute(f"DROP TABLE IF EXISTS {{db}}.`{name}__old`")
    store.execute(table.ddl(store.database, f"{name}__resorted"))
    store.execute(f"INSERT INTO {{db}}.`{name}__resorted` ({cols}) SELECT {cols} FROM {{db}}.`{name}`")
    store.execute(
        f"RENAME TABLE {{db}}.`{name}` TO {{db}}.`{name}__old`, {{db}}.`{name}__resorted` TO {{db}}.`{name}`"
    )
    store.execute(f"DROP TABLE {{db}}.`{name}__old`")


def _v3(store: Store) -> None:
    """Destinations and application records: the capture's lookup databases, each flow's
    enrichment columns, and the dns, tls, http and app_events tables."""
    lookups = ("home", "geoip_db", "geoip_version", "catalog_version", "psl_version", "raw_evidence")
    add_columns(store, "captures", *lookups)
    enrichment = ("app", "domain", "domain_source", "registrable", "organisation", "service", "service_kind",
                  "party", "country", "cross_border", "as_org", "security", "readable")  # fmt: skip
    add_columns(store, "flows", *enrichment)
    create_tables(store, "dns", "tls", "http", "app_events")


def _v4(store: Store) -> None:
    """Personal-data observations: the observations table."""
    create_tables(store, "observations")


def _v5(store: Store) -> None:
    """Test phases: the phases table, the phase of each flow and observation, the phases file's hash."""
    add_columns(store, "captures", "phases_sha256")
    add_columns(store, "flows", "phase")
    add_columns(store, "observations", "phase")
    create_tables(store, "phases")


def _v6(store: Store) -> None:
    """Payload bursts: the bursts table."""
    create_tables(store, "bursts")


def _v7(store: Store) -> None:
    """Policy findings: the findings table."""
    create_tables(store, "findings")


def _v8(store: Store) -> None:
    """Evidence exports: the evidence_exports table."""
    create_tables(store, "evidence_exports")


def _v9(store: Store) -> None:
    """Flows sorted by device (a device's flows lie together for joins from its observations and
    bursts), and the flow rollup summed from every stored flow. The rollup is emptied first, so a
    second run does not count the flows twice."""
    resort(store, BY_NAME["flows"])
    create_tables(store, "flow_rollup")
    store.execute("TRUNCATE TABLE {db}.flow_rollup")
    store.rollup_flows("1")


def _v10(store: Store) -> None:
    """Live capture: every table but meta gains ``batch`` (a live session's flush number, 0 for
    what a replay wrote), and a phase mark its device (``phases.device_mac``)."""
    add_columns(store, "phases", "device_mac")
    for t in TABLES:
        if t.name != "meta" and columns_of(store, t.name):  # tables of later steps come with it
            add_columns(store, t.name, "batch")


def _v11(store: Store) -> None:
    """Country by location: ``country`` is now where the server is (GeoLite2) and the registrant's
    country moves beside it as ``registry_country`` in flows and the flow rollup. Rows stored before
    keep the registrant's country in ``country`` and '' in ``registry_country`` until replayed."""
    add_columns(store, "flows", "registry_country")
    add_columns(store, "flow_rollup", "registry_country")


def _v12(store: Store) -> None:
    """Coordinate systems: each location observation's system (``observations.coord_system``);
    observations stored before have '' (the system stays in their ``detail`` JSON)."""
    add_columns(store, "observations", "coord_system")


def _v13(store: Store) -> None:
    """Upload classes: bursts gain the spread of the device's packet sizes (``sq_out``) and its
    full-size packets (``large_out``); bursts stored before read 0 there (spread not measured)."""
    add_columns(store, "bursts", "sq_out", "large_out")


def _v14(store: Store) -> None:
    """DNS sections: every question (not only the first), the authority and additional records."""
    add_columns(store, "dns", "qnames", "qtypes")
    sections = [f"{s}_{f}" for s in ("authority", "additional") for f in ("names", "types", "data")]
    add_columns(store, "dns", *sections)


def _v15(store: Store) -> None:
    """Devices without MACs: how each device was found (``devices.attributed_by``). Rows written
    before it are left empty, and the read API shows them as 'mac', the only way there was."""
    add_columns(store, "devices", "attributed_by")


def _v16(store: Store) -> None:
    """Decrypted content: where each message's content was read (``plaintext``: clear, tls-keylog,
    tls-dsb) in http, app_events and observations; rows stored before (all read in clear) have ''."""
    for table in ("http", "app_events", "observations"):
        add_columns(store, table, "plaintext")


def _v17(store: Store) -> None:
    """TLS keys: the key files each capture was replayed with (``capture_keys``), their lines when
    kept with --raw-evidence (``capture_key_lines``), and each TLS flow's ClientHello random
    (``tls.client_random``, '' in rows stored before)."""
    create_tables(store, "capture_keys", "capture_key_lines")
    add_columns(store, "tls", "client_random")


def _v18(store: Store) -> None:
    """Decrypted flows: which flows were read with session keys (``decrypted``: tls-keylog, tls-dsb),
    in flows and the flow rollup, so coverage and what stays unread are told per device. Flows
    stored before have '' (none was decrypted before issue 16 reached the flows table)."""
    add_columns(store, "flows", "decrypted")
    add_columns(store, "flow_rollup", "decrypted")


def _v19(store: Store) -> None:
    """Confirmations: each finding's evidence packets as tshark dissects them and what the finding
    states checked against them (issue 22); findings assessed before have none until checked."""
    create_tables(store, "confirmations")


def _v20(store: Store) -> None:
    """Findings grouped by problem: each finding's fact (``findings.fact``, check and subject, issue
    18); findings assessed before have '' and are read as a fact of their own until assessed again."""
    add_columns(store, "findings", "fact")


def _v21(store: Store) -> None:
    """Zeek logs as a source: each flow replayed from a conn.log keeps Zeek's ``uid``
    (``flows.zeek_uid``), '' for flows metered from packets and those stored before (issue 21)."""
    add_columns(store, "flows", "zeek_uid")


def _v22(store: Store) -> None:
    """TLS tests: the interceptor's certificate-validation tests per device and server name, with
    their outcomes and flows (``tls_tests``, issue 19); stores before have none."""
    create_tables(store, "tls_tests")


STEPS: tuple[Step, ...] = tuple(
    Step(int(f.__name__[2:]), (f.__doc__ or "").split("\n")[0], f)
    for f in (_v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10, _v11, _v12, _v13, _v14, _v15, _v16, _v17, _v18, _v19,
              _v20, _v21, _v22)
)  # fmt: skip
assert [s.number for s in STEPS] == list(range(OLDEST + 1, SCHEMA_VERSION + 1)), "one step per version"


def migrate(store: Store) -> list[int]:
    """Bring the store to ``SCHEMA_VERSION``; the numbers of the steps applied ([] when none was due).

    A new store gets every table as declared now and no step."""
    return upgrade(store)[1]


def upgrade(store: Store) -> tuple[bool, list[int]]:
    """``migrate``, also telling whether the store was new (it had no schema version, so tapaudit
    never wrote a row to it: what an open looks for in an older store's rows cannot be there)."""
    store.execute("CREATE DATABASE IF NOT EXISTS {db}")
    create_tables(store, "meta")
    have = stored_version(store)
    if have is None:
        create_tables(store, *(t.name for t in TABLES if t.name != "meta"))
        record_version(store, SCHEMA_VERSION)
        return True, []
    if have > SCHEMA_VERSION or have < OLDEST:
        raise StoreError(
            f"store {store.url} has schema version {have}, this tapaudit uses {SCHEMA_VERSION}; "
            + ("upgrade tapaudit" if have > SCHEMA_VERSION else "replay into a new --db")
        )
    applied = []
    for step in STEPS:
        if step.number > have:
            log.info("store %s: schema step %d: %s", store.url, step.number, step.doc)
            step.apply(store)
            record_version(store, step.number)
            applied.append(step.number)
    return False, applied
