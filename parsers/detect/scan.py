"""Run every content detector over one readable payload (the explicit list is ``DETECTORS``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from parsers.detect import identifiers, location, media, records
from parsers.detect.hits import Hit
from parsers.detect.persona import PersonaMatcher
from parsers.detect.values import Leaf, leaves

Detector = Callable[[Iterable[Leaf]], list[Hit]]
DETECTORS: dict[str, Detector] = {
    "location": location.find,
    "identifiers": identifiers.find,
    "records": records.find,
    "face_template": media.find,
}


def scan(payload: bytes, content_type: str = "", persona: PersonaMatcher | None = None) -> list[Hit]:
    """Hits in one payload: media by magic bytes, then every detector over its leaves."""
    if not payload:
        return []
    return _dedupe(media.find_bytes(payload, "$", content_type) + scan_leaves(list(leaves(payload)), persona))


def scan_leaves(items: list[Leaf], persona: PersonaMatcher | None = None) -> list[Hit]:
    """Hits among values already separated (HTTP headers, MQTT fields); with a persona, its own
    values too (locations near its home are marked by the caller, once their system is known)."""
    hits: list[Hit] = []
    for fn in DETECTORS.values():
        hits += fn(items)
    if persona is not None:
        hits += persona.find(items)
    return _dedupe(hits)


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """One hit per (type, path, value): several routes to the same value count once."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for h in hits:
        key = (h.data_type, h.path, h.value)
        if key not in seen:
            seen.add(key)
            out.append(h)
    return out
