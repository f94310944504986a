"""Batches go to ClickHouse as typed columns (chDB: Arrow through its Python() table function; a
server: the driver's columnar insert). Every table of the schema takes rows of hostile values and
gives them back equal, byte for byte: read back as hex, decimal text and epoch seconds, so the
oracle is Python's own encoding of the values given, not what the store prints.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from appliance.store.backends import Store, open_store
from appliance.store.columns import arrow_stream, arrow_table
from appliance.store.errors import StoreError
from appliance.store.schema import BY_NAME, TABLES, Column

# TabSeparated's own escapes and markers, a quote, non-ASCII text and bytes that are not UTF-8
STRINGS: list[str | bytes] = [
    "tab\there",
    "new\nline\r\n",
    "back\\slash",
    "nul\0byte",
    "\\N",  # TabSeparated's NULL
    "",
    'quote\'d "dq" `bq`',
    "ünïcödé 北京 😀",
    b"\xff\xfe not utf-8 \x80\xc3",
]
UINT_MAX = {"UInt8": 2**8 - 1, "UInt16": 2**16 - 1, "UInt32": 2**32 - 1, "UInt64": 2**64 - 1}
INT8 = [-128, 127, -1, 0]
FLOATS = [0.0, -1.5, 1e300, 2.0**53 + 2, 0.1, -2.2250738585072014e-308]
TIMES = [
    dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC),
    dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=dt.UTC),  # past 2^31 seconds
    dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC),
]
ROWS = 7


def _value(type_: str, i: int) -> Any:
    """Row ``i``'s value for a column of ``type_``: each list cycled, so rows differ."""
    if type_ == "String":
        return STRINGS[i % len(STRINGS)]
    if type_ in UINT_MAX:
        return [0, 1, UINT_MAX[type_], UINT_MAX[type_] // 2 + 1][i % 4]  # the top bit set, too
    if type_ == "Int8":
        return INT8[i % len(INT8)]
    if type_ == "Float64":
        return FLOATS[i % len(FLOATS)]
    if type_ == "DateTime":
        return TIMES[i % len(TIMES)]
    if type_.startswith("Array("):
        inner = type_[6:-1]
        return [_value(inner, i + k) for k in range(i % 3 * 2)]  # empty, two, four elements
    raise AssertionError(f"no test values for {type_}")


def _expected(type_: str, v: Any) -> Any:
    """What the read-back expression of ``_read`` gives for ``v``."""
    if type_ == "String":
        return (v if isinstance(v, bytes) else v.encode()).hex().upper()
    if type_.startswith(("UInt", "Int")):
        return str(v)
    if type_ == "DateTime":
        return int(v.timestamp())
    if type_.startswith("Array("):
        return [_expected(type_[6:-1], x) for x in v]
    return v


def _read(c: Column) -> str:
    """An expression reading ``c`` back exactly: strings as hex, integers as decimal text."""
    if c.type == "String":
        return f"hex(`{c.name}`)"
    if c.type.startswith(("UInt", "Int")):
        return f"toString(`{c.name}`)"
    if c.type == "DateTime":
        return f"toUInt32(`{c.name}`)"
    if c.type == "Array(String)":
        return f"arrayMap(x -> hex(x), `{c.name}`)"
    if c.type.startswith("Array("):
        return f"arrayMap(x -> toString(x), `{c.name}`)"
    return f"`{c.name}`"


def _rows(table: str) -> list[tuple[Any, ...]]:
    return [tuple(_value(c.type, i + k) for k, c in enumerate(BY_NAME[table].inserted)) for i in range(ROWS)]


def _canon(rows: list[list[Any]]) -> list[str]:
    return sorted(
        repr(r) for r in rows
    )  # the rows in any order (JSON reads a float 0.0 as 0: see _round_trip)


def _round_trip(store: Store, batch: int | None = None) -> None:
    for t in TABLES:
        cols = t.inserted
        rows = _rows(t.name)
        tag = "" if t.name == "meta" else ", toString(batch) AS batch"
        sql = f"SELECT {', '.join(f'{_read(c)} AS `{c.name}`' for c in cols)}{tag} FROM {{db}}.`{t.name}`"
        before = store.query(sql)  # meta holds the store's own rows (schema version, key id)
        store.insert(t.name, rows, batch=batch if tag else None)  # meta has no batch column
        got = [r for r in store.query(sql) if r not in before]
        read = [[float(r[c.name]) if c.type == "Float64" else r[c.name] for c in cols] for r in got]
        assert _canon(read) == _canon(
            [[_expected(c.type, v) for c, v in zip(cols, row, strict=True)] for row in rows]
        ), t.name
        if tag:
            assert {r["batch"] for r in got} == {str(batch or 0)}, t.name


def test_every_table_takes_hostile_values_as_columns() -> None:
    """Every table's batch goes as typed columns (no fallback to text) with these values."""
    for t in TABLES:
        assert arrow_table(t.inserted, _rows(t.name)) is not None, t.name


def _storable(v: Any) -> bool:
    """Bytes, or text that has bytes (a lone surrogate has none)."""
    try:
        return isinstance(v, bytes) or (isinstance(v, str) and bool(v.encode() or True))
    except UnicodeEncodeError:
        return False


@pytest.mark.parametrize(
    "values",
    [
        [v for v in STRINGS if isinstance(v, str) and v.isascii()],  # one buffer, no builder
        [v for v in STRINGS if isinstance(v, str)],  # non-ASCII text: through the builder
        STRINGS,  # bytes that are not UTF-8: a binary array
        ["ok", "lone \ud800 surrogate"],  # no bytes to store: refused, the batch goes as text
        ["ok", None],
        ["x" * 70_000] * 3 + [""],
    ],
)
def test_string_columns_hold_exactly_the_values(values: list[Any]) -> None:
    """A String column's Arrow array holds each value's bytes as given, whichever way it is built;
    the oracle is Python's own encoding of each value, read back from the array's buffers."""
    import pyarrow as pa

    col = Column("s", "String", "test")
    table = arrow_table([col], [(v,) for v in values])
    if not all(_storable(v) for v in values):
        assert table is None
        return
    assert table is not None
    got = [x.as_py() for x in table.column("s").cast(pa.binary())]
    assert got == [v if isinstance(v, bytes) else v.encode() for v in values]
    # the stream as ClickHouse reads it gives the same table back
    assert pa.ipc.open_stream(arrow_stream(table)).read_all().equals(table)


@pytest.mark.parametrize("batch", [None, 7])
def test_round_trip_chdb(store: Store, batch: int | None) -> None:
    _round_trip(store, batch)


def test_round_trip_chdb_as_text(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where there are no anonymous in-memory files (not Linux), batches go as text, and the same
    values come back (bytes that are not UTF-8 aside: text takes str only)."""
    monkeypatch.delattr("os.memfd_create")
    monkeypatch.setattr(__name__ + ".STRINGS", [v for v in STRINGS if isinstance(v, str)])
    _round_trip(store, 3)


def test_values_a_type_would_coerce_go_as_text(store: Store) -> None:
    """A float, text or None in an integer column is not truncated or defaulted by the columns:
    the batch goes as text, which ClickHouse parses (text digits) or refuses (a float, None), as it
    always did."""
    cols = BY_NAME["device_addresses"].inserted
    row = {c.name: _value(c.type, 1) for c in cols}
    digits = tuple({**row, "family": "6"}.values())
    assert arrow_table(cols, [digits]) is None
    store.insert("device_addresses", [digits])
    assert store.query("SELECT family FROM {db}.device_addresses")[0]["family"] == 6
    for bad in (4.5, None, 300):  # 300: past UInt8
        assert arrow_table(cols, [tuple({**row, "family": bad}.values())]) is None
    for bad in (4.5, None):
        with pytest.raises(StoreError):
            store.insert("device_addresses", [tuple({**row, "family": bad}.values())])
    assert len(store.query("SELECT family FROM {db}.device_addresses")) == 1


def test_rows_of_the_wrong_width_are_refused(store: Store) -> None:
    row = _rows("meta")[0]
    with pytest.raises(StoreError, match="3 values for 2 columns"):
        store.insert("meta", [(*row, "x")])
    with pytest.raises(StoreError, match="different lengths"):
        store.insert("meta", [row, (*row, "x")])


@pytest.fixture
def server_store(ch_server: Any) -> Iterator[Store]:
    s = open_store(ch_server.url(f"t_{uuid.uuid4().hex[:8]}"))
    s.ensure_schema()
    try:
        yield s
    finally:
        s.execute("DROP DATABASE IF EXISTS {db}")
        s.close()


@pytest.mark.server
@pytest.mark.xdist_group("chserver")
@pytest.mark.parametrize("batch", [None, 7])
def test_round_trip_server(server_store: Store, batch: int | None) -> None:
    _round_trip(server_store, batch)
