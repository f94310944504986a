"""What the tool builds from a file it ships, kept in the cache folder so later runs skip building it.

A replay used to parse the destination catalogue's YAML (15-20 ms) and the public suffix list
(7 ms) in every run (issue 20, point 3: a replay's fixed cost). ``kept`` stores what was built as
JSON under the sha256 of the file's bytes, after the sha256 of that JSON: an edited file has a new
key, and a cut or altered entry is built again, never believed. Only for files that hold no one's
personal data (never a lab's bench file, whose personas are). A cache that cannot be read or
written is passed over: the value is built as before.

JSON, not marshal or pickle: the cache folder may be shared (``$TAPAUDIT_CACHE_DIR``), and an entry
written there by someone else is read by a parser that cannot crash the interpreter or run code
(marshal's own documentation warns that crafted data can do the first, pickle the second). What
JSON has no form for (tuples, sets, maps with keys that are not text) is written as a one-key
object whose key starts with a NUL (``_tagged``; a real key starting with a NUL puts its map in the
tagged form too, so the two never mix). A value read back may hold only the containers its caller
allows (a YAML document never holds a tuple) and must pass the caller's ``check`` of its shape,
else it is built again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = 2  # of an entry: 1 was marshal, 2 is tagged JSON

_TUPLE, _SET, _FROZENSET, _MAP = "\0tuple", "\0set", "\0frozenset", "\0map"
_TAGS = frozenset((_TUPLE, _SET, _FROZENSET, _MAP))
# what a YAML safe loader returns: JSON's own types, sets (!!set) and maps with keys that are not text;
# never a tuple or a frozenset (``policies.yamlfile`` reads its cached documents with these only)
YAML_TAGS = frozenset((_SET, _MAP))


class Unkeepable(ValueError):
    """A value JSON cannot hold exactly (a YAML date, a byte string): built each time instead."""


def cache_dir() -> Path:
    """The cache folder, this module's and the GeoIP table's (``appliance.lookups.geoip_table``):
    ``$TAPAUDIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/tapaudit``, else ``~/.cache/tapaudit``."""
    base = os.environ.get("TAPAUDIT_CACHE_DIR")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tapaudit"


def _plain(value: Any) -> Any:
    """``value`` in JSON's terms, with a tag for each container JSON lacks; ``Unkeepable`` for a
    value it cannot hold exactly."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise Unkeepable("not a finite number")  # JSON has no NaN or infinity
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return {_TUPLE: [_plain(v) for v in value]}
    if isinstance(value, frozenset):
        return {_FROZENSET: [_plain(v) for v in value]}
    if isinstance(value, set):
        return {_SET: [_plain(v) for v in value]}
    if isinstance(value, dict):
        if all(type(k) is str and not k.startswith("\0") for k in value):
            return {k: _plain(v) for k, v in value.items()}
        return {_MAP: [[_plain(k), _plain(v)] for k, v in value.items()]}
    raise Unkeepable(f"a {type(value).__name__}")


def _tagged(obj: dict[str, Any], tags: frozenset[str] = _TAGS) -> Any:
    """``json.loads``' object hook: a tagged object back to its container (inner ones come first);
    ValueError for a tag not in ``tags``."""
    if len(obj) == 1:
        (key,) = obj
        if key in _TAGS:
            if key not in tags:
                raise ValueError("a container this entry's kind does not hold")
            items = obj[key]
            if not isinstance(items, list):
                raise ValueError("a tagged object without its list")
            if key == _TUPLE:
                return tuple(items)
            if key == _SET:
                return set(items)  # TypeError for an unhashable member: the entry is not believed
            if key == _FROZENSET:
                return frozenset(items)
            return {k: v for k, v in items}  # ValueError or TypeError when not [key, value] pairs
    return obj


def dumps(value: Any) -> bytes:
    """The JSON ``loads`` reads back as ``value``; ``Unkeepable`` when it cannot."""
    text = json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 for it
        raise Unkeepable("text that is not Unicode") from None


def loads(body: bytes, tags: frozenset[str] = _TAGS) -> Any:
    """The value ``dumps`` wrote; ValueError, TypeError or RecursionError for anything else,
    and ValueError for a container whose tag is not in ``tags``."""
    return json.loads(body, object_hook=functools.partial(_tagged, tags=tags))


def kept(
    kind: str,
    raw: bytes,
    build: Callable[[], Any],
    check: Callable[[Any], bool] | None = None,
    tags: frozenset[str] = _TAGS,
) -> Any:
    """``build()``'s value (made of str, numbers, booleans, None, lists, tuples, sets and dicts) for
    the file whose bytes are ``raw`` (or, for a large file, whose path and ``stat`` are: the GeoIP
    data's digest): read back from the cache when it holds only the containers ``tags`` names and
    passes ``check`` (a caller's test of its shape), else built and kept. A value JSON cannot hold
    exactly (a YAML date, a lone surrogate) is built each time."""
    entry = cache_dir() / f"{kind}-{hashlib.sha256(raw).hexdigest()[:32]}-v{FORMAT}.json"
    with contextlib.suppress(OSError, ValueError, TypeError, RecursionError):
        stored = entry.read_bytes()
        if hashlib.sha256(stored[32:]).digest() == stored[:32]:
            value = loads(stored[32:], tags)
            if check is None or check(value):
                return value
    value = build()
    try:
        body = dumps(value)
    except (Unkeepable, RecursionError):
        return value
    with contextlib.suppress(OSError):
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=entry.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(hashlib.sha256(body).digest() + body)
            os.replace(tmp, entry)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return value
