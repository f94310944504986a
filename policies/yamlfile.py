"""Reading the YAML files a lab edits (packs, declarations, bench and phases files, the catalogue).

One loader for all of them, so every file fails the same way: one line that names the file and
the line of the first problem (``pack.yaml: not YAML at line 7 (mapping values are not allowed
here)``), raised as the caller's own error type so each command maps it to exit code 1. libyaml's
C loader is used when present (five times faster on the catalogue's 800 domains).

Anchors and aliases are allowed (the lab's bench files share persona blocks with them), but the
document they stand for is bounded: PyYAML builds an alias as a shared reference, so loading a
"billion laughs" file is cheap, yet everything that walks the result (validation, a message that
prints a value) walks the expanded tree, and a 536-byte bench file of nine nested aliases took 86 s
and 7.8 GB (issue 17). The expanded size is counted on the shared structure, each distinct node
once, before the document is handed on; over ``MAX_NODES`` the file is refused in one line, as is a
recursive alias (a node that contains itself).

The catalogue, which the tool ships and holds no one's personal data, is read through a cache of its
parsed document (``read_yaml(..., shipped=True)``, ``policies.cachefile``); a lab's own files never are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policies.cachefile import YAML_TAGS, kept

# Values (scalars, sequences, mappings, keys counted) a document may stand for once its aliases are
# expanded: the largest file the tool ships, pcaps/lab/lab.truth.yaml, has ~12,700, the catalogue's
# organisations ~5,800; 200,000 leaves room for a lab 15 times larger and walks in well under 1 s.
MAX_NODES = 200_000


def expanded_size(doc: Any, limit: int = MAX_NODES) -> int:
    """How many values ``doc`` holds with every alias expanded, counting each shared node once
    (memoised by identity, so the cost is that of the file, not of its expansion); stops counting
    past ``limit``. ValueError for a structure that contains itself (``&a [*a]``)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(doc, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        key = id(node)
        children = [x for kv in node.items() for x in kv] if isinstance(node, dict) else node
        if done:
            on_path.discard(key)
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            sizes[key] = min(total, limit + 1)
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise ValueError("a recursive alias (a value that contains itself)")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if isinstance(c, (dict, list)) and id(c) not in sizes)
    return sizes.get(id(doc), 1)


def parse_yaml(text: str | bytes, label: str, error: type[Exception]) -> Any:
    """The document in ``text``; ``error("LABEL: not YAML at line N (problem)")`` when it is not YAML
    (without ``LABEL: `` when the caller adds its own prefix)."""
    # PyYAML is imported on the first file parsed, not with this module: a replay without a bench
    # file reads only the cached catalogue (``read_yaml(..., shipped=True)``) and parses no YAML,
    # and importing it cost 7 ms of CPU time of its start (issue 20, point 3)
    import yaml

    prefix = f"{label}: " if label else ""
    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{prefix}not YAML{where} ({problem})") from None
    try:
        size = expanded_size(doc)
    except ValueError as exc:
        raise error(f"{prefix}refused: {exc}") from None
    if size > MAX_NODES:
        raise error(f"{prefix}refused: its aliases expand to more than {MAX_NODES:,} values (an alias bomb?)")
    return doc


def read_yaml(
    path: str | Path, error: type[Exception], label: str | None = None, *, shipped: bool = False
) -> tuple[Any, bytes]:
    """(document, raw bytes) of the file at ``path`` (the bytes are what a sha256 in the report names);
    unreadable or not YAML raises ``error`` with one line. ``shipped``: a file the tool ships and a
    lab may edit, which holds no one's personal data (the destination catalogue): its document is
    kept in the cache folder (``cachefile``), so later runs read it back in about a millisecond
    instead of parsing it."""
    name = label or str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise error(f"{name}: {exc.strerror or exc}") from None
    if shipped:
        return kept("yaml", raw, lambda: parse_yaml(raw, name, error), tags=YAML_TAGS), raw
    return parse_yaml(raw, name, error), raw
