"""Row batches as typed columns for the inserts: an Arrow stream for chDB, plain columns for a server.

Rows are built by column name (``Table.row``) as tuples, the cheapest thing to make per flow;
a batch is turned into columns once, at insert (``zip(*rows)``, in C). chDB then reads the
columns as an Arrow stream instead of parsing TabSeparated text that Python rendered value by
value, and clickhouse-driver sends the same columns with its columnar insert (issue 20, point 1:
the text round trip was ~14% of a replay).

The Arrow arrays are built from buffers, not with ``pyarrow.array``: that one imports pandas on
first use (as chDB's ``Python()`` table function does), 0.15 CPU-s on every run. Numbers go
through the standard ``array`` module, which refuses a float, text or None in an integer column
and a number beyond the type's range, as its C type does; strings as one joined buffer with
offsets summed in numpy when all are ASCII text (most batches), else through Arrow's builder, or
as bytes (String is bytes in ClickHouse: tabs, newlines, NUL and bytes that are not UTF-8 go in as
they are). A batch with a value its column's type would have to coerce is not coerced:
``arrow_table`` answers None and the insert renders the batch as text as before, so ClickHouse
accepts or refuses it exactly as it did.
"""

from __future__ import annotations

import datetime as dt
import itertools
from array import array
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from appliance.store.errors import StoreError
from appliance.store.table import Column

if TYPE_CHECKING:  # pyarrow comes with chDB (imported with it); a server store never needs it
    import pyarrow as pa

# ClickHouse's numeric types as ``array`` type codes (C types of that width on Linux: I is 32-bit,
# Q 64-bit; checked in ``_numbers``) and pyarrow's names for them
_NUMBERS = {
    "UInt8": ("B", "uint8"),
    "UInt16": ("H", "uint16"),
    "UInt32": ("I", "uint32"),
    "UInt64": ("Q", "uint64"),
    "Int8": ("b", "int8"),
    "Int16": ("h", "int16"),
    "Int32": ("i", "int32"),
    "Int64": ("q", "int64"),
    "Float32": ("f", "float32"),
    "Float64": ("d", "float64"),
}
_OFFSETS_MAX = 2**31 - 1  # Arrow's binary and list arrays count in int32 offsets


def columns_of(rows: Sequence[tuple[Any, ...]], width: int) -> list[tuple[Any, ...]]:
    """The batch's columns, each a tuple of the rows' values; ``StoreError`` for rows that are not
    all ``width`` values long (a row builder's bug, refused before anything is written)."""
    try:
        cols = list(zip(*rows, strict=True))
    except ValueError:
        raise StoreError(f"rows of different lengths for {width} columns") from None
    if len(cols) != width:
        raise StoreError(f"rows of {len(cols)} values for {width} columns")
    return cols


def _numbers(pa: Any, code: str, name: str, values: Sequence[Any]) -> pa.Array | None:
    try:
        buf = array(code, values)  # TypeError: not a number of that kind; OverflowError: out of range
    except (TypeError, OverflowError):
        return None
    arrow = getattr(pa, name)()
    if buf.itemsize != arrow.bit_width // 8:  # pragma: no cover - a platform whose C types differ
        return None
    return pa.Array.from_buffers(arrow, len(buf), [None, pa.py_buffer(buf)])


def _strings(pa: Any, values: Sequence[Any]) -> pa.Array | None:
    """Text as one UTF-8 buffer and its offsets when every value is ASCII text (the usual batch:
    names, addresses, hashes; no per-value step in Python: 27 ns a value against the builder's 71
    on the detector-heavy capture's batches, issue 20);
    otherwise through Arrow's builder (it takes str, and bytes that are UTF-8); other bytes as
    they are in a binary array; None for anything else (a None included)."""
    ascii_ = _ascii(values)
    if ascii_ is not None:  # a value's length in characters is then its length in bytes
        n = len(values)
        return pa.Array.from_buffers(
            pa.string(), n, [None, pa.py_buffer(_offsets(map(len, values), n)), pa.py_buffer(ascii_)]
        )
    from pyarrow.lib import StringBuilder

    b = StringBuilder()
    try:
        b.append_values(values)
    except (TypeError, UnicodeDecodeError, UnicodeEncodeError):  # the last: a lone surrogate
        return _bytes(pa, values)
    arr = b.finish()
    return None if arr.null_count else arr


def _ascii(values: Sequence[Any]) -> bytes | None:
    """The values joined, as bytes, when all are text in ASCII (and fit int32 offsets); else None."""
    try:
        text = "".join(values)  # TypeError: a value that is not text
        data = text.encode()  # UnicodeEncodeError: a lone surrogate
    except (TypeError, UnicodeEncodeError):
        return None
    return data if len(data) == len(text) <= _OFFSETS_MAX else None


def _offsets(lengths: Iterable[int], n: int) -> Any:
    """Arrow's int32 offsets of ``n`` values of these lengths (a running sum, in numpy: one C pass)."""
    import numpy as np

    off = np.zeros(n + 1, np.int32)
    np.cumsum(np.fromiter(lengths, np.int32, n), out=off[1:])
    return off


def _bytes(pa: Any, values: Sequence[Any]) -> pa.Array | None:
    if not set(map(type, values)) <= {str, bytes}:
        return None
    try:
        raw = [v if type(v) is bytes else v.encode() for v in values]
    except UnicodeEncodeError:  # a lone surrogate: no bytes to store (the text path refuses it too)
        return None
    offsets = array("i", [0])
    try:
        offsets.extend(itertools.accumulate(map(len, raw)))
    except OverflowError:
        return None
    data = b"".join(raw)
    return pa.Array.from_buffers(pa.binary(), len(raw), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _scalar(pa: Any, type_: str, values: Sequence[Any]) -> pa.Array | None:
    if type_ in _NUMBERS:
        return _numbers(pa, *_NUMBERS[type_], values)
    if type_ == "String":
        return _strings(pa, values)
    if type_ == "DateTime":  # seconds since the epoch, as the text path wrote a datetime (in UTC)
        if not all(isinstance(v, dt.datetime) for v in values):
            return None
        return _numbers(pa, "I", "uint32", [int(v.timestamp()) for v in values])
    return None


def _column(pa: Any, type_: str, values: Sequence[Any]) -> pa.Array | None:
    """One column as an Arrow array holding exactly the values given; None when a value is not of
    a kind ``type_`` takes as is (the caller falls back to text)."""
    if not (type_.startswith("Array(") and type_.endswith(")")):
        return _scalar(pa, type_, values)
    if not set(map(type, values)) <= {list, tuple}:
        return None
    child = _scalar(pa, type_[6:-1], list(itertools.chain.from_iterable(values)))
    if child is None or len(child) > _OFFSETS_MAX:
        return None
    offsets = array("i", [0])
    offsets.extend(itertools.accumulate(map(len, values)))
    arrow = pa.list_(child.type)
    return pa.Array.from_buffers(arrow, len(values), [None, pa.py_buffer(offsets)], children=[child])


def arrow_table(cols: Sequence[Column], rows: Sequence[tuple[Any, ...]]) -> pa.Table | None:
    """The rows as an Arrow table named by ``cols``, each column holding exactly the values given;
    None when a value would need coercing (see the module's doc)."""
    import pyarrow as pa

    arrays = []
    for c, values in zip(cols, columns_of(rows, len(cols)), strict=True):
        arr = _column(pa, c.type, values)
        if arr is None:
            return None
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=[c.name for c in cols])


def arrow_stream(table: pa.Table) -> pa.Buffer:
    """The table in Arrow's IPC stream format (what ClickHouse reads as ``ArrowStream``)."""
    import pyarrow as pa

    # sized first (a dry run writes nothing), then written once into a buffer of that size: a
    # growing buffer reallocated and copied itself several times per batch (issue 20)
    mock = pa.MockOutputStream()
    with pa.ipc.new_stream(mock, table.schema) as w:
        w.write_table(table)
    buf = pa.allocate_buffer(mock.size())
    with pa.ipc.new_stream(pa.FixedSizeBufferWriter(buf), table.schema) as w:
        w.write_table(table)
    return buf


def structure(cols: Sequence[Column]) -> str:
    """The columns as a table function's structure argument: ClickHouse reads them as these types."""
    return ", ".join(f"`{c.name}` {c.type}" for c in cols)
