"""Run every content detector over one readable payload (the explicit list is ``DETECTORS``).

A detector runs only when the payload's ``Sieve`` says it can find something there
(``parsers.detect.sieve``: one look at all the values and keys first); the hits are the ones
every detector would give, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable

from parsers.detect import identifiers, location, media, records
from parsers.detect.hits import Hit
from parsers.detect.persona import PersonaMatcher
from parsers.detect.sieve import Sieve, sieve
from parsers.detect.values import Leaf, leaves

Detector = Callable[[list[Leaf], Sieve], list[Hit]]


def _location(items: list[Leaf], s: Sieve) -> list[Hit]:
    return location.find(items, s.location_text) if s.location else []


def _identifiers(items: list[Leaf], s: Sieve) -> list[Hit]:
    return identifiers.find(items, s.shapes) if s.identifiers else []


def _records(items: list[Leaf], s: Sieve) -> list[Hit]:
    return records.find(items, s.numbers, s.packages) if s.records else []


def _media(items: list[Leaf], s: Sieve) -> list[Hit]:
    return media.find(items) if s.media else []


DETECTORS: dict[str, Detector] = {
    "location": _location,
    "identifiers": _identifiers,
    "records": _records,
    "face_template": _media,
}


def scan(payload: bytes, content_type: str = "", persona: PersonaMatcher | None = None) -> list[Hit]:
    """Hits in one payload: media by magic bytes, then every detector over its leaves."""
    if not payload:
        return []
    whole = media.find_bytes(payload, "$", content_type)
    found = scan_leaves(list(leaves(payload)), persona)  # deduplicated already
    return _dedupe(whole + found) if whole else found


def scan_leaves(items: list[Leaf], persona: PersonaMatcher | None = None) -> list[Hit]:
    """Hits among values already separated (HTTP headers, MQTT fields); with a persona, its own
    values too (locations near its home are marked by the caller, once their system is known)."""
    if not items:
        return []
    s = sieve(items)
    hits: list[Hit] = []
    for fn in DETECTORS.values():
        hits += fn(items, s)
    if persona is not None and persona.pattern is not None and persona.pattern.search(s.text):
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
