"""Column and table declarations: the one place a table's columns, their order and their roles live.

``appliance.store.schema`` declares the tables with these; the DDL, the insert column lists,
the row constructors (``Table.row``) and the flow rollup's SQL are all derived from them, so
a column is named once and a row is built by name, never by position.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str
    default: str = ""  # a DEFAULT expression: ClickHouse computes the value, inserts leave it out
    # Rolled-up tables only (Table.rollup_select): how the column comes from the source table's rows.
    # ("key", expr): a group key, the value of ``expr``; ("agg", expr): an aggregate over the group.
    rollup: tuple[str, str] | None = None


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]
    order_by: str
    partition_by: str = ""
    engine: str = "MergeTree()"
    # The row constructor, made once per table (see ``row``).
    _row: Callable[..., tuple[Any, ...]] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_row", _row_function(self.name, self.names))

    @property
    def names(self) -> list[str]:
        """Columns a row tuple gives, in order (computed DEFAULT columns are not given)."""
        return [c.name for c in self.columns if not c.default]

    @property
    def inserted(self) -> list[Column]:
        return [c for c in self.columns if not c.default]

    @property
    def row(self) -> Callable[..., tuple[Any, ...]]:
        """Build a row by column name: ``FLOWS.row(capture_id=..., ...)`` gives the tuple in insert
        order, and a missing or unknown name raises ``TypeError``, so two same-typed columns cannot
        be swapped silently. It is a generated function of keyword-only parameters (as
        ``collections.namedtuple`` generates its constructor): Python binds the names in C, and the
        plain tuple it returns costs half what a named tuple does on the replay's per-flow path."""
        assert self._row is not None
        return self._row

    def builder(
        self, params: str, values: Mapping[str, str], env: Mapping[str, Any] | None = None
    ) -> Callable[..., tuple[Any, ...]]:
        """A row constructor compiled for one call site: ``values`` gives each column, by name, the
        Python expression (over ``params`` and the names in ``env``) that computes it, and the
        generated ``def build(<params>): return (<expr>, ...)`` evaluates them in insert order.

        The same tuple as ``row`` with the same expressions, without binding every column as a
        keyword on each call: a ``flows`` row by keywords costs ~2 µs of binding, a tuple literal
        ~0.2 µs (issue 20, measured on the replay's per-flow path). Names are still checked: a
        missing or unknown column raises ``ValueError`` when the builder is made, at import."""
        names = self.names
        missing = [n for n in names if n not in values]
        unknown = [n for n in values if n not in names]
        if missing or unknown:
            raise ValueError(f"{self.name} builder: missing columns {missing}, unknown columns {unknown}")
        body = ",\n        ".join(f"({values[n]})" for n in names)
        ns: dict[str, Any] = dict(env or {})
        exec(f"def build({params}):\n    return (\n        {body},\n    )\n", ns)
        fn: Callable[..., tuple[Any, ...]] = ns["build"]
        fn.__qualname__ = fn.__name__ = f"{self.name}_build"
        return fn

    def ddl(self, database: str, name: str | None = None) -> str:
        cols = ",\n".join(
            f"    `{c.name}` {c.type}" + (f" DEFAULT {c.default}" if c.default else "") for c in self.columns
        )
        part = f"\nPARTITION BY {self.partition_by}" if self.partition_by else ""
        return (
            f"CREATE TABLE IF NOT EXISTS `{database}`.`{name or self.name}` (\n{cols}\n)"
            f"\nENGINE = {self.engine}{part}\nORDER BY ({self.order_by})"
        )

    def rollup_select(self, source: str, where: str) -> str:
        """``INSERT INTO self SELECT ... FROM source WHERE where GROUP BY <keys>``, from the columns'
        ``rollup`` marks (a column without one is a key copied by name, as ``batch``).

        Computed values get an alias of their own (``r_<name>``): ClickHouse refuses an aggregate
        aliased to the name of a column it reads (``min(first_ns) AS first_ns``)."""
        exprs, keys = [], []
        for c in self.columns:
            role, expr = c.rollup or ("key", c.name)
            if role not in ("key", "agg"):
                raise ValueError(f"{self.name}.{c.name}: rollup role {role!r} is neither key nor agg")
            sel = expr if expr == c.name else f"{expr} AS r_{c.name}"
            exprs.append(sel)
            if role == "key":
                keys.append(c.name if expr == c.name else f"r_{c.name}")
        cols = ", ".join(c.name for c in self.columns)
        return (
            f"INSERT INTO {{db}}.{self.name} ({cols})\nSELECT {', '.join(exprs)}\n"
            f"FROM {{db}}.{source} WHERE {where}\nGROUP BY {', '.join(keys)}"
        )


def _row_function(table: str, names: list[str]) -> Callable[..., tuple[Any, ...]]:
    """``def row(*, a, b, ...): return (a, b, ...)`` for the columns ``names``."""
    bad = [n for n in names if not n.isidentifier() or keyword.iskeyword(n)]
    if bad:
        raise ValueError(f"{table}: column names {bad} cannot be keyword arguments")
    ns: dict[str, Any] = {}
    exec(f"def row(*, {', '.join(names)}):\n    return ({', '.join(names)},)\n", ns)
    fn: Callable[..., tuple[Any, ...]] = ns["row"]
    fn.__qualname__ = fn.__name__ = f"{table}_row"
    fn.__doc__ = f"A row of {table}, its values by column name, as the tuple the inserts take."
    return fn


def C(name: str, type_: str, doc: str, default: str = "") -> Column:
    return Column(name, type_, doc, default)


def KEY(name: str, type_: str, doc: str, expr: str = "") -> Column:
    """A rollup's group key: the source rows' ``expr`` (default: the column of the same name)."""
    return Column(name, type_, doc, rollup=("key", expr or name))


def AGG(name: str, type_: str, doc: str, expr: str) -> Column:
    """A rollup's aggregate over each group of source rows (sum, min, max, count...)."""
    return Column(name, type_, doc, rollup=("agg", expr))


# Every table but ``meta`` has a ``batch``: the flush a live session wrote the row in (0 for a
# replay). A write is (table, ingest_id, batch); one that may or may not have landed before a
# fault is looked up by that key and not written twice (appliance.store.spool).
BATCH = Column("batch", "UInt32", "live session's flush number (0 for a replay)", default="0")


def batched(t: Table) -> Table:
    return Table(t.name, t.doc, (*t.columns, BATCH), t.order_by, t.partition_by, t.engine)
