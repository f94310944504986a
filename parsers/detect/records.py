"""Collections and sensor values: contact lists, installed-app lists, health and fitness readings."""

from __future__ import annotations

import re
from collections.abc import Iterable

from parsers.detect.hits import HIGH, MEDIUM, Hit
from parsers.detect.identifiers import CN_MOBILE
from parsers.detect.location import norm
from parsers.detect.values import Leaf

READING = re.compile(r"\d{1,6}(?:\.\d+)?")  # a health reading: a number, up to six digits before a point
PACKAGE = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+){2,}$")
HEALTH = {
    "heart_rate": frozenset(("heartrate", "hr", "bpm", "pulse", "heartbeat", "restingheartrate")),
    "spo2": frozenset(("spo2", "bloodoxygen", "oxygensaturation", "bo", "sao2")),
    "steps": frozenset(("steps", "stepcount", "step", "stepnum", "totalsteps")),
    "sleep": frozenset(("sleep", "sleepduration", "deepsleep", "lightsleep", "remsleep", "sleepminutes")),
    "blood_pressure": frozenset(("systolic", "diastolic", "bloodpressure", "sbp", "dbp")),
    "temperature": frozenset(("bodytemp", "bodytemperature", "temperaturebody")),
}
_HEALTH_KEY = {k: kind for kind, names in HEALTH.items() for k in names}
APP_KEYS = frozenset(
    ("apps", "applist", "packages", "pkgs", "pkglist", "installedapps", "packagename", "pkg")
)


def find(leaves: Iterable[Leaf], count_numbers: bool = True, count_packages: bool = True) -> list[Hit]:
    """Contact lists, app lists and health readings; ``count_numbers`` or ``count_packages`` False when the
    payload holds fewer than five mobile numbers or package names in all (``parsers.detect.sieve``):
    those lists are not counted then, as they could not reach five."""
    hits: list[Hit] = []
    numbers: set[str] = set()
    packages: set[str] = set()
    for leaf in leaves:
        v = leaf.value
        if "BEGIN:VCARD" in v:
            hits.append(Hit("contacts", leaf.path, f"{v.count('BEGIN:VCARD')} vCards", HIGH,
                            detail={"entries": v.count("BEGIN:VCARD")}))  # fmt: skip
        elif count_numbers and len(v) >= 11:  # a vCard's numbers are that contact list, already reported
            numbers.update(m.group(1).replace("-", "").replace(" ", "") for m in CN_MOBILE.finditer(v))
        if count_packages and PACKAGE.match(v) and (norm(leaf.key) in APP_KEYS or "." in leaf.path):
            packages.add(v)
        kind = _HEALTH_KEY.get(norm(leaf.key)) if leaf.key else None
        if kind and READING.fullmatch(v) and float(v) > 0:
            hits.append(Hit(f"health:{kind}", leaf.path, v, MEDIUM))
    if len(numbers) >= 5:
        hits.append(
            Hit("contacts", "$", f"{len(numbers)} phone numbers", MEDIUM, detail={"numbers": len(numbers)})
        )
    if len(packages) >= 5:
        hits.append(
            Hit("app_list", "$", f"{len(packages)} packages", MEDIUM, detail={"packages": len(packages)})
        )
    return hits
