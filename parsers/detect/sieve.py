"""What a payload can hold at all: one look at all its values and keys before any detector runs.

The detectors work leaf by leaf (a key, a value, its siblings), which costs by the leaf in
Python; most of a payload's leaves cannot hold most kinds of personal data. A ``Sieve`` reads
the payload once, all its values joined into one text and the set of its normalised keys, and
says which detector families can match, so ``scan.scan_leaves`` runs only those and the
identifier detector tries only the shapes whose characters are there (issue 20, point 2: about
60 us a record, 20% of a replay on a capture full of personal data).

Every test here is a necessary condition of a detector's own, so what is skipped could have
found nothing, and the hits are the same, value for value and in the same order:

- values are joined with a line feed, which none of the patterns tested spans, and which every
  look-around of theirs (``(?<![A-Za-z0-9])``...) treats as a value's start or end does: a
  pattern found in one value is found in the joined text, and ``findall`` over the joined text
  finds what it finds in each value, in turn (so counts hold too);
- keys are normalised as the detectors do (``location.norm``) and compared with the same key
  sets (``location.ANY_NAME``, ``identifiers.KEYS``, ``records.HEALTH``, ``media.AUDIO_KEYS``:
  media's own normalising keeps dashes, so its set is a subset of what this lets through).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from parsers.detect import identifiers, location, media, records
from parsers.detect.identifiers import NO_SHAPE, Shapes
from parsers.detect.values import Leaf

ID_KEYS = frozenset().union(*identifiers.KEYS.values())  # keys that name an identifier
HEALTH_KEYS = frozenset().union(*records.HEALTH.values())  # keys of a health reading
# IMEI and IMSI (15), ICCID (19-20), resident ID (18): a run of 15 digits, sought from a run's first digit
# only (the same runs are found; trying every digit of a long number again made it quadratic)
DIGITS15 = re.compile(r"(?<!\d)\d{15}")
# the start of a MAC written with separators: two hex digits, ":" or "-", two hex digits, sought from the
# separator (rarer than a hex digit: the engine skips to it) looking back at the two before
HEX_PAIR = re.compile(r"[:-](?<=[0-9A-Fa-f]{2}[:-])[0-9A-Fa-f]{2}")
# a whole value shaped as a package name (records.PACKAGE, whose ``$`` lets one trailing line feed pass)
PACKAGE_VALUE = re.compile(r"(?<![^\n])[a-z][a-z0-9_]*(?:\.[a-z0-9_]+){2,}(?![^\n])")
LIST_MIN = 5  # records: contact numbers and packages count from five distinct ones (records.find)
FACE_MIN = 128  # media: the smallest face template, in floats (media.find)


@dataclass(slots=True)
class Sieve:
    """Which detectors can find anything in a payload's leaves; the text persona values are sought in."""

    text: str
    location: bool
    location_text: bool  # a value can hold an NMEA sentence, a "MAC,-60" scan list or a bare "lat,lng"
    identifiers: bool
    shapes: Shapes
    records: bool
    media: bool
    numbers: bool = True  # five mobile numbers or more: a contact list can be counted
    packages: bool = True  # five package names or more: an app list can be counted


def sieve(items: Sequence[Leaf]) -> Sieve:
    text = "\n".join([x.value for x in items])
    raw_keys = {x.key for x in items}
    keys = {location.norm(k) for k in raw_keys if k}
    keyless = [x for x in items if not x.key] if "" in raw_keys else []
    shapes, mobiles = NO_SHAPE, 0
    if identifiers.ANY_ID_CHAR.search(text):  # what free-text identifiers need, mobile numbers too
        mobiles = len(identifiers.CN_MOBILE.findall(text))
        digits, mac, email = DIGITS15.search(text) is not None, HEX_PAIR.search(text) is not None, "@" in text
        if digits or mac or email or mobiles:
            shapes = Shapes(digits, mac, email, mobiles > 0)
    # a bare "lat,lng" is a keyless array item; NMEA sentences and "MAC,-60" scan lists (a MAC has
    # hex pairs) are text of any value; pairs, scans and towers otherwise sit under their keys
    in_text = (
        any(x.parent != -1 for x in keyless)
        or ("$" in text and location.NMEA.search(text) is not None)
        or (shapes.mac and location.WIFI_PAIR.search(text) is not None)
    )
    numbers = mobiles >= LIST_MIN
    packages = text.count(".") >= 2 * LIST_MIN and len(PACKAGE_VALUE.findall(text)) >= LIST_MIN
    return Sieve(
        text=text,
        location=in_text or bool(keys & location.ANY_NAME),
        location_text=in_text,
        identifiers=bool(keys & ID_KEYS) or shapes is not NO_SHAPE,
        shapes=shapes,
        records=bool(keys & HEALTH_KEYS) or "BEGIN:VCARD" in text or numbers or packages,
        media=bool(keys & media.AUDIO_KEYS)
        or sum(1 for x in keyless if x.path.endswith("]")) >= FACE_MIN
        or any(x.media for x in items),
        numbers=numbers,
        packages=packages,
    )
