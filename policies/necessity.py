"""Which personal data a device category needs: the spec's section 3 table (``necessity.yaml``).

Per category, entries of three kinds: ``necessary`` for the basic function, ``feature`` (needed
only when a named feature is used) and ``not_necessary`` (by default). ``Category.classify``
says which entry covers an observed data type; a type no entry names is outside the table.
The file is read once (cached) and checked; a broken file raises ``NecessityError`` with a
one-line reason naming the category and entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from policies.yamlfile import read_yaml

NECESSITY_PATH = Path(__file__).with_name("necessity.yaml")
KINDS = ("necessary", "feature", "not_necessary")
ENTRY_KEYS = frozenset(
    ("types", "features", "precision", "when", "when_zh", "judged_by", "sensitive", "en", "zh")
)
CATEGORY_KEYS = frozenset(("title", "title_zh", "function", "function_zh", *KINDS))
TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(:([a-z][a-z0-9_]*|\*))?$")
TR_RE = re.compile(r"^TR-\d\d$")


class NecessityError(ValueError):
    """The necessity table cannot be used: one line naming the file, category and entry."""


@dataclass(frozen=True)
class Entry:
    kind: str  # necessary, feature or not_necessary
    types: tuple[str, ...]
    en: str
    zh: str
    features: tuple[str, ...] = ()
    precision: str = ""  # "", "precise" or "coarse": which locations the entry covers
    when: str = ""  # a condition the type alone cannot show: judged by another requirement
    when_zh: str = ""
    judged_by: tuple[str, ...] = ()
    sensitive: bool = False

    def covers(self, data_type: str, precise: bool | None = None) -> bool:
        """Whether the entry names the (base) data type, at this precision when it has one."""
        base = data_type.split(":", 1)[1] if data_type.startswith("persona:") else data_type
        named = any(t == base or (t.endswith(":*") and base.startswith(t[:-1])) for t in self.types)
        if not named or not self.precision or precise is None:
            return named
        return precise == (self.precision == "precise")


@dataclass(frozen=True)
class Category:
    name: str
    title: str
    title_zh: str
    function: str
    function_zh: str
    entries: tuple[Entry, ...]

    def of_kind(self, kind: str) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.kind == kind)

    def classify(self, data_type: str, precise: bool | None = None) -> tuple[str, tuple[Entry, ...]]:
        """(kind, entries): an unconditional not-necessary entry wins, then necessary, then feature
        (all feature entries that cover the type); ("unlisted", ()) when no entry names it."""
        for kind in ("not_necessary", "necessary", "feature"):
            hits = tuple(e for e in self.of_kind(kind) if not e.when and e.covers(data_type, precise))
            if hits:
                return kind, hits
        return "unlisted", ()


@lru_cache(maxsize=8)
def load_necessity(path: str = str(NECESSITY_PATH)) -> dict[str, Category]:
    """The table by category name (cached); NecessityError with a one-line reason otherwise."""
    where = Path(path).name
    doc, _raw = read_yaml(path, NecessityError, where)
    if not isinstance(doc, dict) or not isinstance(doc.get("categories"), dict) or not doc["categories"]:
        raise NecessityError(f"{where}: expected a mapping with version, source and categories")
    return {str(name): _category(where, str(name), body) for name, body in doc["categories"].items()}


def category(name: str) -> Category | None:
    """The bundled table's entry for a device category, or None for categories it does not list."""
    return load_necessity().get(name)


def _category(where: str, name: str, body: Any) -> Category:
    if not isinstance(body, dict):
        raise NecessityError(f"{where}: {name}: expected a mapping")
    unknown = set(body) - CATEGORY_KEYS
    if unknown:
        raise NecessityError(f"{where}: {name}: unknown key {sorted(unknown)[0]!r}")
    for key in ("title", "function"):
        if not body.get(key):
            raise NecessityError(f"{where}: {name}: lacks {key}")
    entries: list[Entry] = []
    for kind in KINDS:
        items = body.get(kind) or []
        if not isinstance(items, list):
            raise NecessityError(f"{where}: {name}: {kind} must be a list of entries")
        entries += [_entry(f"{where}: {name}: {kind} entry {i + 1}", kind, e) for i, e in enumerate(items)]
    return Category(
        name,
        str(body["title"]),
        str(body.get("title_zh", "")),
        str(body["function"]),
        str(body.get("function_zh", "")),
        tuple(entries),
    )


def _entry(where: str, kind: str, e: Any) -> Entry:
    if not isinstance(e, dict):
        raise NecessityError(f"{where}: expected a mapping")
    unknown = set(e) - ENTRY_KEYS
    if unknown:
        raise NecessityError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    if not e.get("en") or not e.get("zh"):
        raise NecessityError(f"{where}: lacks en or zh wording")
    types = e.get("types")
    if not isinstance(types, list) or not all(isinstance(t, str) and TYPE_RE.match(t) for t in types):
        raise NecessityError(f"{where}: types must be a list of data types (location, health:*, ...)")
    judged = e.get("judged_by") or []
    if not isinstance(judged, list) or not all(isinstance(t, str) and TR_RE.match(t) for t in judged):
        raise NecessityError(f"{where}: judged_by must be a list of requirement ids (TR-04)")
    features = e.get("features") or []
    if kind == "feature" and (not isinstance(features, list) or not features):
        raise NecessityError(f"{where}: a feature entry names its features")
    if kind != "feature" and features:
        raise NecessityError(f"{where}: only feature entries name features")
    if e.get("precision", "") not in ("", "precise", "coarse"):
        raise NecessityError(f"{where}: precision must be precise or coarse")
    if (e.get("when") or not types) and kind == "not_necessary" and not judged:
        raise NecessityError(f"{where}: a conditional or typeless entry names the requirement that judges it")
    if e.get("when") and not e.get("when_zh"):
        raise NecessityError(f"{where}: a condition needs its Chinese wording (when_zh)")
    return Entry(
        kind=kind,
        types=tuple(types),
        en=str(e["en"]),
        zh=str(e["zh"]),
        features=tuple(str(f) for f in features),
        precision=str(e.get("precision", "")),
        when=str(e.get("when", "")),
        when_zh=str(e.get("when_zh", "")),
        judged_by=tuple(judged),
        sensitive=bool(e.get("sensitive", False)),
    )
