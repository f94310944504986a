"""The test persona's own values (from the bench file), found in clear or hashed.

Labs fill the bench file with the persona they set the device up with: phone,
e-mail, name, home coordinates, IMEI, MAC, serial. Devices and SDKs often send
these hashed (MD5/SHA-1/SHA-256, upper or lower case, with or without separators)
to dodge a plain-text search; every such variant is precomputed once and looked
for in each payload's text with one pass per payload.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from parsers.detect.hits import HIGH, Hit
from parsers.detect.values import Leaf

FIELDS = ("phone", "email", "name", "imei", "mac", "serial", "android_id", "oaid", "id_number")
MIN_LEN = 5  # shorter known values would match by chance


class PersonaMatcher:
    """Variants of each known value (forms and hashes) -> (field, form)."""

    def __init__(self, persona: Mapping[str, Any]) -> None:
        self.variants: dict[str, tuple[str, str]] = {}
        for key in FIELDS:
            value = persona.get(key)
            if value:
                for form, text in _forms(key, str(value)):
                    self._add(key, form, text)
        home = persona.get("home")
        self.home: tuple[float, float] | None = None
        if isinstance(home, Mapping) and "lat" in home and "lon" in home:
            self.home = (float(home["lat"]), float(home["lon"]))
        keys = sorted(self.variants, key=len, reverse=True)
        self.pattern = re.compile("|".join(re.escape(k) for k in keys), re.IGNORECASE) if keys else None

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
            for m in self.pattern.finditer(leaf.value):
                key, form = self.variants[m.group(0).lower()]
                if (key, form, leaf.path) in seen:
                    continue
                seen.add((key, form, leaf.path))
                hits.append(Hit(f"persona:{key}", leaf.path, m.group(0), HIGH, detail={"form": form}))
        return hits


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
