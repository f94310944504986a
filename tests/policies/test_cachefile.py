"""The cache folder's entries (``policies.cachefile``, issue 20 point 3): what is read back is what
was built, and an entry someone else wrote is never more than a value built again.

The folder may be shared (``$TAPAUDIT_CACHE_DIR``), so an entry is JSON (no parser that can crash
the interpreter or run code) and a value read back must pass its caller's check of its shape.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import cachefile
from policies.cachefile import YAML_TAGS, Unkeepable, dumps, kept, loads

_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
_hashable = st.recursive(
    _scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=6
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.sets(_hashable, max_size=4)
        | st.dictionaries(st.text(), inner, max_size=4)
        | st.dictionaries(_hashable, inner, max_size=4)
    ),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1 == 1.0 == True would hide a lost type)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(
            _same(a[k], b[k]) and _same(k, next(j for j in b if j == k)) for k in a
        )
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_every_value_comes_back_with_its_types(value: Any) -> None:
    assert _same(loads(dumps(value)), value)


def test_keys_that_look_like_tags_and_keys_that_are_not_text_come_back() -> None:
    value = {"\0set": [1, 2], 1: "one", None: [("a", 2)], 2.5: {frozenset({"x"})}, (1, "a"): 0}
    assert _same(loads(dumps(value)), value)
    plain = {"\0tuple": [1]}
    assert _same(loads(dumps(plain)), plain)


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        b"bytes",
        {"when": __import__("datetime").date(2026, 1, 1)},
        {"a": "x\ud800"},
    ],
)
def test_what_json_cannot_hold_exactly_is_refused(value: Any) -> None:
    with pytest.raises(Unkeepable):
        dumps(value)


def _entry(cache: Path) -> Path:
    (entry,) = cache.iterdir()
    return entry


def _sealed(body: bytes) -> bytes:
    return hashlib.sha256(body).digest() + body


def test_an_entry_is_kept_read_back_and_built_again_when_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAPAUDIT_CACHE_DIR", str(tmp_path))
    built: list[int] = []

    def build() -> Any:
        built.append(1)
        return ("v1", {"a", "b"}, {1: [2.5, None]})

    want = build()
    built.clear()
    assert kept("t", b"file", build) == want and len(built) == 1  # built, then kept
    assert kept("t", b"file", build) == want and len(built) == 1  # read back
    entry = _entry(tmp_path)
    assert entry.name.endswith(".json")
    # written by someone else, each with a sha256 that matches: garbage, nesting past the parser's
    # depth, a tag without its list, an unhashable set member, pairs that are not pairs
    hostile = [
        b"\x80\x04garbage",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"\\u0000set": 3}',
        b'{"\\u0000set": [[1]]}',
        b'{"\\u0000map": [[1, 2, 3]]}',
    ]
    for body in hostile:
        entry.write_bytes(_sealed(body))
        assert kept("t", b"file", build) == want
    assert len(built) == 1 + len(hostile)  # each hostile entry was built again
    assert loads(entry.read_bytes()[32:]) == want  # the last rebuild was kept again


def test_a_well_formed_entry_of_the_wrong_shape_fails_the_callers_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAPAUDIT_CACHE_DIR", str(tmp_path))

    def check(v: object) -> bool:
        return isinstance(v, str)

    assert kept("d", b"x", lambda: "abc", check) == "abc"
    _entry(tmp_path).write_bytes(_sealed(b"[1, 2]"))
    assert kept("d", b"x", lambda: "abc", check) == "abc"
    assert kept("d", b"x", lambda: "other", check) == "abc"  # the rebuilt entry is read back


def test_the_public_suffix_list_is_rebuilt_from_a_hostile_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from appliance.lookups import psl

    monkeypatch.setenv("TAPAUDIT_CACHE_DIR", str(tmp_path))
    psl.snapshot.cache_clear()
    try:
        fresh = psl.snapshot().parts()
        entry = _entry(tmp_path)
        assert loads(entry.read_bytes()[32:]) == fresh
        # a list where a set belongs: looked up by `in` it would still answer, slowly, and a
        # number among the rules would fail in ways no one could trace back to the cache
        entry.write_bytes(_sealed(dumps([fresh[0], sorted(fresh[1]), fresh[2], fresh[3]])))
        psl.snapshot.cache_clear()
        assert psl.snapshot().parts() == fresh
        assert loads(entry.read_bytes()[32:]) == fresh
    finally:
        psl.snapshot.cache_clear()


def test_the_format_is_json() -> None:
    assert cachefile.FORMAT == 2
    assert loads(b'{"a": [1, {"\\u0000tuple": [2, 3]}]}') == {"a": [1, (2, 3)]}


def test_a_value_json_cannot_hold_is_built_each_time_and_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAPAUDIT_CACHE_DIR", str(tmp_path))
    lone = {"a": "x\ud800"}  # a lone surrogate: no UTF-8 for it
    assert kept("t", b"x", lambda: lone) == lone
    assert not list(tmp_path.iterdir())


def test_a_yaml_entry_holding_a_tuple_or_frozenset_is_built_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a YAML safe loader never returns, written into a shared cache by someone else, does not
    reach the catalogue; sets and maps with keys that are not text (which it does return) do."""
    monkeypatch.setenv("TAPAUDIT_CACHE_DIR", str(tmp_path))
    doc = {"names": {"a", "b"}, 1: [None, 2.5]}
    assert kept("y", b"x", lambda: doc, tags=YAML_TAGS) == doc
    entry = _entry(tmp_path)
    assert kept("y", b"x", lambda: "rebuilt", tags=YAML_TAGS) == doc  # read back: sets and maps pass
    for body in (dumps({"a": (1, 2)}), dumps([frozenset({"x"})])):
        entry.write_bytes(_sealed(body))
        assert kept("y", b"x", lambda: doc, tags=YAML_TAGS) == doc
        assert loads(entry.read_bytes()[32:]) == doc  # built and kept again
