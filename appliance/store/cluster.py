"""A ClickHouse cluster as one store: ``clickhouse://host:9000/db?cluster=NAME``.

The cluster is the one named in the entry server's ``remote_servers`` (``system.clusters``). Every
node holds the declared tables, as a single server would, in a database of its own (``<db>_local``:
plain MergeTree, so a node's migrations are exactly a single server's, ``appliance.store.migrations``);
every node also holds, in ``<db>``, a ``Distributed`` table over each of them, sharded by capture
(``sipHash64(capture_id)``): a capture's rows, its rollup, findings and evidence all lie on one
shard, so every per-capture query (``queries.scope``: a capture's newest committed run) is answered
by that shard alone. Reads and inserts go through the Distributed tables, with two settings:

- ``insert_distributed_sync = 1``: an insert returns once the shard holds the rows. The commit
  marker (the ``captures`` row, ``appliance.store.schema``) is written after a run's other rows,
  and readers must not see it before them, which the default background sending does not promise.
- ``distributed_product_mode = 'local'``: a subquery over a Distributed table inside a distributed
  query (``ingest_id IN (SELECT max(ingest_id) FROM captures ...)``) reads the shard's own table.
  That is exact here because the rows a subquery relates (runs, flows, findings of a capture) are
  on the same shard; ClickHouse's default ('deny') refuses such queries.

Schema changes run on every node's local tables (idempotent steps, so several processes opening
the cluster at once are safe), then each Distributed table whose columns differ from its local
table is made again. Deletes (ALTER ... DELETE) and purges (copy + RENAME, ``appliance.store.purge``)
run on each node's local tables: a Distributed table takes neither. ``meta`` (schema version, the
masking key's id) is written to every node, so each node is a whole store on its own as well.

ClickHouse 18.16 has no DDL ``ON CLUSTER`` without ZooKeeper, so the DDL is sent to each node over
its own connection, at the address ``system.clusters`` gives. Replication (ReplicatedMergeTree)
needs ZooKeeper (or ClickHouse Keeper) and is not done here: see the README's cluster section.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from appliance.store import keyed, purge, retention
from appliance.store.backends import Row, ServerStore
from appliance.store.errors import StoreError
from appliance.store.migrations import migrate
from appliance.store.schema import TABLES

SHARDING_KEY = "sipHash64(capture_id)"  # a capture's rows on one shard; meta is written to every node
SETTINGS = {"insert_distributed_sync": 1, "distributed_product_mode": "local"}


def local_database(database: str) -> str:
    """The database each node keeps its own rows in."""
    return f"{database}_local"


class ClusterStore(ServerStore):
    """The cluster's entry server: reads and inserts through its Distributed tables, schema, deletes
    and purges on every node's local tables."""

    def __init__(self, url: str) -> None:
        super().__init__(url, settings=SETTINGS)
        self._base_url = url
        self.local = local_database(self.database)
        self.url += f"?cluster={self.cluster}"
        self._nodes: list[ServerStore] | None = None

    def nodes(self) -> list[ServerStore]:
        """One store per node of the cluster (every replica of every shard), on its local database."""
        if self._nodes is None:
            rows = self.query(
                "SELECT shard_num, replica_num, host_address, port FROM system.clusters"
                " WHERE cluster = %(c)s ORDER BY shard_num, replica_num",
                {"c": self.cluster},
            )
            if not rows:
                raise StoreError(
                    f"cluster {self.cluster!r} is not in the remote_servers of the server at {self.url}"
                )
            u = urlparse(self._base_url)  # each node with the URL's user, password and timeouts
            timeouts = urlencode([(k, v[-1]) for k, v in parse_qs(u.query).items() if k != "cluster"])
            self._nodes = [
                ServerStore(
                    u._replace(query=timeouts).geturl(),
                    host=str(r["host_address"]),
                    port=int(r["port"]),
                    database=self.local,
                )
                for r in rows
            ]
        return self._nodes

    def shards(self) -> int:
        return len(self.nodes())

    # -- schema --------------------------------------------------------------------------------------

    def ensure_schema(self) -> list[int]:
        """Create or migrate every node's local tables, then the Distributed tables over them on every
        node; the migration steps applied (on any node). The runs killed before they committed are
        collected on each node (a capture's rows and its commit marker lie on the same one)."""
        applied: set[int] = set()
        collected = purge.Orphans()
        for node in self.nodes():
            self._refuse_single_server_store(node)
            applied.update(migrate(node))
            keyed.move_out(node)
            found = purge.collect_orphans(node, purge.SERVER_GRACE_NS)
            collected = purge.Orphans(collected.runs + found.runs, collected.rows + found.rows)
        for node in self.nodes():
            self._distributed_tables(node)
        self.collected = collected
        self.pruned = retention.enforce(self)
        return sorted(applied)

    def _refuse_single_server_store(self, node: ServerStore) -> None:
        """A database that holds a single server's tables (MergeTree ``flows``) is not made into
        the Distributed database: its rows would be hidden, not spread."""
        rows = node.query(
            "SELECT engine FROM system.tables WHERE database = %(d)s AND name = 'flows'", {"d": self.database}
        )
        if rows and rows[0]["engine"] != "Distributed":
            raise StoreError(
                f"database {self.database} on {node.url.rsplit('/', 1)[0]} holds a single-server store; "
                f"a cluster store needs a database of its own (not {self.database})"
            )

    def _distributed_tables(self, node: ServerStore) -> None:
        """On ``node``: a Distributed table in the store's database over each local table, made again
        when its columns differ from the local table's (after a migration added some)."""
        node.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
        local, dist = node.database, self.database
        for t in TABLES:
            want = _columns(node, local, t.name)
            have = _columns(node, dist, t.name)
            if have == want:
                continue
            if have:
                node.execute(f"DROP TABLE IF EXISTS `{dist}`.`{t.name}`")
            key = "sipHash64(key)" if t.name == "meta" else SHARDING_KEY
            node.execute(
                f"CREATE TABLE IF NOT EXISTS `{dist}`.`{t.name}` AS `{local}`.`{t.name}`"
                f" ENGINE = Distributed(`{self.cluster}`, `{local}`, `{t.name}`, {key})"
            )

    # -- writes that a Distributed table does not take ------------------------------------------------

    def insert(self, table: str, rows: Sequence[Row], batch: int | None = None) -> None:
        """As a single store; ``meta`` rows go to every node's own ``meta``."""
        if table != "meta":
            super().insert(table, rows, batch)
            return
        for node in self.nodes():
            node.insert(table, rows, batch)

    def _delete(self, table: str, where: str) -> None:
        for node in self.nodes():
            node._delete(table, where)

    def _purge(self, where: str) -> int:
        return sum(purge.purge(node, where) for node in self.nodes())

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Statements other than inserts do not run on Distributed tables (``ALTER``, ``OPTIMIZE``,
        ``TRUNCATE``): those run on every node's local table, the same statement with the local
        database named for ``{db}``."""
        head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if head in ("ALTER", "OPTIMIZE", "TRUNCATE"):
            for node in self.nodes():
                node.execute(sql, params)
            return
        super().execute(sql, params)

    def close(self) -> None:
        for node in self._nodes or []:
            node.close()
        super().close()


def _columns(store: ServerStore, database: str, table: str) -> list[tuple[str, str]]:
    rows = store.query(
        "SELECT name, type FROM system.columns WHERE database = %(d)s AND table = %(t)s",
        {"d": database, "t": table},
    )
    return [(str(r["name"]), str(r["type"])) for r in rows]
