"""The test persona's own values (from the bench file), found in clear or hashed.

Labs fill the bench file with the persona they set the device up with: a value for any
identifier the detectors know (``FIELDS``: IMEI, MEID, IMSI, ICCID, MAC, serial, Android ID,
OAID, IDFA/GAID, phone, resident ID number, e-mail), the person's name and home coordinates.
Devices and SDKs often send these hashed (MD5/SHA-1/SHA-256, upper or lower case, with or
without separators) to dodge a plain-text search; every such variant is precomputed once and
looked for in each payload's text with one pass per payload. A persona value is found as
``persona:<field>``, the field named as the detectors name its type, so one value found by both
counts once (``policies.checks.common.dedupe_persona``). Location hits near the home are marked
with their distance class (``parsers.detect.home``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from parsers.detect.hits import HIGH, Hit
from parsers.detect.home import RADIUS_M, Home
from parsers.detect.identifiers import KEYS
from parsers.detect.values import Leaf

FIELDS = (*KEYS, "name")  # every identifier type the detectors know (identifiers.KEYS), and a name
ALIASES = {"id_number": "cn_id", "resident_id": "cn_id", "gaid": "idfa"}  # other names labs use
MIN_LEN = 5  # shorter known values would match by chance


class PersonaMatcher:
    """Variants of each known value (forms and hashes) -> (field, form)."""

    def __init__(self, persona: Mapping[str, Any]) -> None:
        self.variants: dict[str, tuple[str, str]] = {}
        for name, value in persona.items():
            key = ALIASES.get(name, name)
            if key in FIELDS and value:
                for form, text in _forms(key, str(value)):
                    self._add(key, form, text)
        home = persona.get("home")
        self.home: Home | None = None
        if isinstance(home, Mapping) and "lat" in home and "lon" in home:
            radius = float(home.get("radius_m") or RADIUS_M)
            self.home = Home(float(home["lat"]), float(home["lon"]), radius)
        self.pattern = variants_pattern(list(self.variants)) if self.variants else None
        self.shortest = min(map(len, self.variants), default=0)  # a shorter value holds none of them

    def _add(self, key: str, form: str, text: str) -> None:
        if len(text) < MIN_LEN:
            return
        self.variants.setdefault(text.lower(), (key, form))
        for algo in ("md5", "sha1", "sha256"):
            for t in {text, text.lower(), text.upper()}:
                digest = hashlib.new(algo, t.encode("utf-8")).hexdigest()
                self.variants.setdefault(digest, (key, f"{algo}({form})"))

    def find(self, leaves: Iterable[Leaf]) -> list[Hit]:
        if self.pattern is None:
            return []
        hits: list[Hit] = []
        seen: set[tuple[str, str, str]] = set()
        for leaf in leaves:
            if len(leaf.value) < self.shortest:
                continue
            for m in self.pattern.finditer(leaf.value):
                key, form = self.variants[m.group(0).lower()]
                if (key, form, leaf.path) in seen:
                    continue
                seen.add((key, form, leaf.path))
                hits.append(Hit(f"persona:{key}", leaf.path, m.group(0), HIGH, detail={"form": form}))
        return hits


def variants_pattern(variants: list[str]) -> re.Pattern[str]:
    """One pattern for all variants, case-insensitive: at the leftmost place any of them starts, the
    longest one there.

    Written as a trie (``(?:a(?:bc|d)|e...)``, a variant's end an optional group: longer first), so
    the regex engine tries one branch per character instead of every variant in turn (a payload's
    text was read about 60 times over). That is what the alternation of all variants, longest first,
    matches, as long as no two branches out of one node match the same character (``s`` and ``ſ``
    case-insensitively); when two do, the alternation itself is used.
    """
    trie: dict[str, dict] = {}
    for text in variants:
        node = trie
        for ch in text:
            node = node.setdefault(ch, {})
        node[""] = {}  # a variant ends here
    body = _branches(trie)
    if body is None:
        longest_first = sorted(variants, key=len, reverse=True)
        return re.compile("|".join(re.escape(k) for k in longest_first), re.IGNORECASE)
    return re.compile(body, re.IGNORECASE)


def _branches(node: dict[str, dict]) -> str | None:
    """A trie node as a pattern; None when two of its branches start with case-equivalent characters."""
    chars = sorted(ch for ch in node if ch)
    for i, a in enumerate(chars):
        if any(re.fullmatch(re.escape(a), b, re.IGNORECASE) for b in chars[i + 1 :]):
            return None
    kids = []
    for ch in chars:
        rest = _branches(node[ch])
        if rest is None:
            return None
        kids.append(re.escape(ch) + rest)
    if not kids:
        return ""
    body = kids[0] if len(kids) == 1 else "(?:" + "|".join(kids) + ")"
    return f"(?:{body})?" if "" in node else body


def _forms(key: str, value: str) -> list[tuple[str, str]]:
    """The spellings a device may use: as given, without separators, with country code or not."""
    forms = [("clear", value)]
    bare = re.sub(r"[\s:.\-()]", "", value)
    if bare != value:
        forms.append(("no separators", bare))
    if key == "phone":
        digits = re.sub(r"\D", "", value)
        if digits.startswith("86") and len(digits) == 13:
            forms += [("national", digits[2:]), ("e164", "+" + digits)]
        elif len(digits) == 11:
            forms += [("national", digits), ("e164", "+86" + digits)]
    if key == "mac":
        hexes = re.sub(r"[^0-9A-Fa-f]", "", value)
        forms += [("colons", ":".join(hexes[i : i + 2] for i in range(0, 12, 2))),
                  ("dashes", "-".join(hexes[i : i + 2] for i in range(0, 12, 2)))]  # fmt: skip
    return forms
