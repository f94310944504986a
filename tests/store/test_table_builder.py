"""A row builder compiled for a call site (``Table.builder``, issue 20) names its columns as ``Table.row``
does: the tuple comes in the schema's insert order whatever order the columns are given in, and a
missing or unknown column is refused when the builder is made, not when a row is written."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.store.schema import BURSTS
from appliance.store.table import Column, Table


def test_builder_gives_the_schema_order_and_refuses_wrong_names() -> None:
    t = Table("t", "", (Column("a", "String", ""), Column("b", "UInt8", ""), Column("c", "String", "")), "a")
    build: Any = t.builder("x, y", {"c": "x.upper()", "a": "x", "b": "y + 1"})
    assert build("q", 1) == ("q", 2, "Q") == t.row(a="q", b=2, c="Q")
    with pytest.raises(ValueError, match=r"missing columns \['c'\]"):
        t.builder("x", {"a": "x", "b": "x"})
    with pytest.raises(ValueError, match=r"unknown columns \['d'\]"):
        t.builder("x", {"a": "x", "b": "x", "c": "x", "d": "x"})


def test_a_schema_table_builder_follows_its_insert_columns() -> None:
    names = BURSTS.names
    build: Any = BURSTS.builder("v", {n: f"v[{n!r}]" for n in reversed(names)})
    values = {n: f"value of {n}" for n in names}
    assert build(values) == BURSTS.row(**values) == tuple(values[n] for n in names)
