"""Storage round trips: awkward strings survive both TSV paths; DDL comes from the one schema."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.store.schema import BY_NAME, TABLES, ddl_statements

AWKWARD = ["tab\there", "new\nline", "back\\slash", "nul\0byte", "quote'd", 'dq"', "ünïcödé 北京", ""]


def _row(table: str, text: str, n: int) -> tuple[Any, ...]:
    out: list[Any] = []
    for c in BY_NAME[table].inserted:
        if c.type == "String":
            out.append(f"{c.name}:{text}")
        elif c.type.startswith("Array"):
            out.append([text, "x"])
        elif c.type.startswith("Float"):
            out.append(1.5)
        elif c.type == "DateTime":
            import datetime as dt

            out.append(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))
        else:
            out.append(n)
    return tuple(out)


@pytest.mark.parametrize("table", ["flows", "devices"])
def test_awkward_strings_round_trip(store: Any, table: str) -> None:
    rows = [_row(table, t, i + 1) for i, t in enumerate(AWKWARD)]
    store.insert(table, rows)
    got = store.query(f"SELECT * FROM {{db}}.{table} ORDER BY ingest_id")
    assert len(got) == len(AWKWARD)
    for text, r in zip(AWKWARD, got, strict=True):
        strings = [c.name for c in BY_NAME[table].inserted if c.type == "String"]
        assert all(r[name] == f"{name}:{text}" for name in strings), r
        arrays = [c.name for c in BY_NAME[table].inserted if c.type.startswith("Array")]
        assert all(r[name] == [text, "x"] for name in arrays)


def test_flows_start_is_computed_from_first_ns(store: Any) -> None:
    row = list(_row("flows", "x", 1))
    row[BY_NAME["flows"].names.index("first_ns")] = 1_772_442_000_123_456_789
    store.insert("flows", [tuple(row)])
    got = store.query("SELECT toUnixTimestamp(start) AS s FROM {db}.flows")
    assert int(got[0]["s"]) == 1_772_442_000


def test_ddl_has_every_column_documented() -> None:
    ddl = "\n".join(ddl_statements("tapaudit"))
    for t in TABLES:
        assert f"`tapaudit`.`{t.name}`" in ddl
        assert all(c.doc for c in t.columns), t.name
        assert len(set(t.names)) == len(t.names)
