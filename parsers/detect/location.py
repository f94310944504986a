"""Precise location and its proxies: coordinate pairs, NMEA sentences, Wi-Fi scans, cell towers.

A coordinate is a number under a latitude or longitude key (``lat``, ``gpsLng``,
``homeLatitude``...) within range, paired with its sibling; or a ``"lat,lng"`` string
under a location key; or an NMEA GGA/RMC sentence. Precision is the decimal places
the device sent (of the coarser coordinate) and what they resolve in metres, which is
what the 2025 special action's "high precision" turns on. The coordinate system
(WGS-84, GCJ-02, BD-09: ``parsers.detect.coordsys``) is read from a sibling field
(``coordtype``, ``coord_type``, ``coordsys``...), else the pair's key (``gcjLat``), else a
field anywhere in the payload; the observer adds the map API's own default by host. An
accuracy radius is read from sibling fields when sent.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable
from functools import lru_cache

from parsers.detect.coordsys import BD09, GCJ02, UNKNOWN, WGS84, system_named
from parsers.detect.hits import HIGH, LOW, MEDIUM, Hit
from parsers.detect.values import Leaf

METRES_PER_DEGREE = 111_320.0
PREFIXES = (
    "",
    "gps",
    "wgs",
    "gcj",
    "bd",
    "cur",
    "current",
    "home",
    "last",
    "loc",
    "location",
    "device",
    "my",
    "user",
)
LAT_NAMES = frozenset(p + s for p in PREFIXES for s in ("lat", "latitude"))
LON_NAMES = frozenset(p + s for p in PREFIXES for s in ("lng", "lon", "long", "longitude"))
PAIR_NAMES = frozenset(
    ("location", "loc", "latlng", "lnglat", "lonlat", "latlon", "position", "pos", "point", "coord", "coords",
     "coordinate", "coordinates", "gps", "geo", "center")
)  # fmt: skip
LNG_FIRST = frozenset(("lnglat", "lonlat", "location", "point", "coordinates"))  # Amap, GeoJSON order
SYSTEM_KEYS = frozenset(("coordtype", "coordsys", "coordsystem", "crs", "datum", "gpstype", "coortype"))
KEY_SYSTEMS = (("gcj", GCJ02), ("bd", BD09), ("wgs", WGS84), ("gps", WGS84))  # gcjLat, bdLng, wgsLat...
ACCURACY_KEYS = frozenset(("accuracy", "acc", "radius", "hacc", "horizontalaccuracy", "locacc", "precision"))
NUMBER = re.compile(r"^-?\d{1,3}\.(\d+)$")
PAIR = re.compile(r"^\s*(-?\d{1,3}\.\d+)\s*[,; ]\s*(-?\d{1,3}\.\d+)\s*$")
NMEA = re.compile(r"\$(?:GP|GN|GL|GA|BD|GB)(GGA|RMC),([^*\r\n]*)")
MAC = r"(?:[0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}"
WIFI_PAIR = re.compile(MAC + r"[,:;| ]\s*-\d{2,3}\b")
WIFI_KEYS = frozenset(("bssid", "mac", "macaddr", "macaddress", "apmac", "wifimac"))
SIGNAL_KEYS = frozenset(("rssi", "signal", "level", "strength", "dbm", "signalstrength", "sig"))
CELL_KEYS = (frozenset(("mcc",)), frozenset(("mnc",)), frozenset(("lac", "tac")),
             frozenset(("cid", "ci", "cellid", "eci", "cellidentity")))  # fmt: skip
# a tower as one string: Amap's positioning API ``bts=mcc,mnc,lac,cellid,signal`` (``nearbts``: |-separated)
CELL_TEXT_KEYS = frozenset(("bts", "nearbts", "cdmabts"))
CELL_TEXT = re.compile(r"^\s*([2-7]\d\d),(\d{1,3}),(\d{1,6}),(\d{1,10})(?:,-?\d{1,3})?\s*$")
CELL_NAMES = frozenset().union(*CELL_KEYS, CELL_TEXT_KEYS)
ANY_NAME = LAT_NAMES | LON_NAMES | PAIR_NAMES | WIFI_KEYS | SIGNAL_KEYS | SYSTEM_KEYS | CELL_NAMES


@lru_cache(maxsize=4096)  # payloads repeat their keys: normalise each once
def norm(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def decimals(text: str) -> int:
    m = NUMBER.match(text.strip())
    return len(m.group(1)) if m else -1


def precision_m(places: int) -> float:
    """North-south extent of the last decimal place sent, in metres (the spec's 4 dp ~ 11 m)."""
    return round(METRES_PER_DEGREE * 10.0**-places, 3)


def _pair_hit(path: str, lat: str, lon: str, confidence: str) -> Hit | None:
    try:
        la, lo = float(lat), float(lon)
    except ValueError:
        return None
    if not (-90 <= la <= 90 and -180 <= lo <= 180) or (abs(la) < 1e-9 and abs(lo) < 1e-9):
        return None
    d = min(decimals(lat), decimals(lon))
    if d < 1:
        return None
    ew = precision_m(d) * math.cos(math.radians(la))
    return Hit("location", path, f"{lat},{lon}", confidence, d, precision_m(d), {"ew_metres": round(ew, 3)})


def find(leaves: Iterable[Leaf], in_text: bool = True) -> list[Hit]:
    """Location hits among a payload's leaves (grouped by the object they sit in); ``in_text`` False
    when no value can hold a sentence, a scan list or a bare pair (``parsers.detect.sieve``)."""
    groups: dict[int, list[Leaf]] = {}
    items = list(leaves)
    if not any(not x.key or norm(x.key) in ANY_NAME for x in items):
        # no field a coordinate, scan or cell could be in: only sentences and scan lists in values
        return [h for x in items if "$G" in x.value or "-" in x.value for h in _text(x)]
    doc_system = ""  # a coordinate system named anywhere in the payload applies to all its pairs
    for leaf in items:
        groups.setdefault(leaf.parent, []).append(leaf)
        if leaf.key and norm(leaf.key) in SYSTEM_KEYS:
            doc_system = doc_system or system_named(leaf.value)
    hits: list[Hit] = []
    wifi = 0
    for parent, group in groups.items():
        keyed = {norm(x.key): x for x in group if x.key}
        if ANY_NAME.isdisjoint(keyed):
            continue  # no pair, scan or tower can be in this object (an accuracy alone finds nothing)
        # each look through the object's fields only when one of the names sought is among them (the
        # C-level set test): most objects have no coordinate, no system, no accuracy, no tower
        lat = lon = None
        if not LAT_NAMES.isdisjoint(keyed):
            lat = next((x for k, x in keyed.items() if k in LAT_NAMES and decimals(x.value) > 0), None)
        if not LON_NAMES.isdisjoint(keyed):
            lon = next((x for k, x in keyed.items() if k in LON_NAMES and decimals(x.value) > 0), None)
        found: list[Hit] = []
        if lat is not None and lon is not None and parent != -1:
            h = _pair_hit(lat.path.rsplit(".", 1)[0], lat.value, lon.value, HIGH)
            if h:
                found.append(h)
        for k, x in keyed.items() if not PAIR_NAMES.isdisjoint(keyed) else ():
            m = PAIR.match(x.value) if k in PAIR_NAMES else None
            if m:
                a, b = m.groups()
                # Amap and GeoJSON write lng,lat under these keys, Tencent and Baidu lat,lng under
                # ``location``: a second number past 90 can only be the longitude
                lng_first = (k in LNG_FIRST and abs(float(b)) <= 90) or abs(float(a)) > 90
                h = _pair_hit(x.path, b, a, HIGH) if lng_first else _pair_hit(x.path, a, b, HIGH)
                if h:
                    found.append(h)
        if found:
            system = next((system_named(x.value) for k, x in keyed.items() if k in SYSTEM_KEYS), "")
            by_key = next(
                (sy for p, sy in KEY_SYSTEMS if lat is not None and norm(lat.key).startswith(p)), ""
            )
            acc = next((x.value for k, x in keyed.items() if k in ACCURACY_KEYS), None)
            for h in found:
                # stated beside the pair, else by the pair's own key (gcjLat), else anywhere in the payload
                h.detail["system"], h.detail["system_from"] = next(
                    (
                        (sy, src)
                        for sy, src in ((system, "field"), (by_key, "key"), (doc_system, "payload"))
                        if sy
                    ),
                    (UNKNOWN, ""),
                )
                if acc is not None:
                    with contextlib.suppress(ValueError):
                        h.detail["accuracy_m"] = float(acc)
        hits += found
        if not WIFI_KEYS.isdisjoint(keyed) and not SIGNAL_KEYS.isdisjoint(keyed):
            wifi += 1
        for k, x in keyed.items() if not CELL_TEXT_KEYS.isdisjoint(keyed) else ():
            if k in CELL_TEXT_KEYS:
                for tower in x.value.split("|"):
                    cm = CELL_TEXT.match(tower)
                    if cm:
                        hits.append(Hit("cell_tower", x.path, ",".join(cm.groups()), HIGH))
        if all(not names.isdisjoint(keyed) for names in CELL_KEYS):
            vals = [next(x.value for k, x in keyed.items() if k in names) for names in CELL_KEYS]
            hits.append(Hit("cell_tower", group[0].path.rsplit(".", 1)[0], ",".join(vals), HIGH))
    if wifi >= 2:
        hits.append(Hit("wifi_scan", "$", f"{wifi} access points", HIGH, detail={"access_points": wifi}))
    for leaf in items if in_text else ():
        hits += _text(leaf)
    return hits


def _text(leaf: Leaf) -> list[Hit]:
    hits: list[Hit] = []
    for m in NMEA.finditer(leaf.value):
        h = _nmea(m.group(1), m.group(2).split(","))
        if h:
            hits.append(h)
    aps = WIFI_PAIR.findall(leaf.value)
    if len(aps) >= 2:
        hits.append(
            Hit(
                "wifi_scan",
                leaf.path,
                f"{len(aps)} access points",
                MEDIUM,
                detail={"access_points": len(aps)},
            )
        )
    bare = not leaf.key and leaf.parent != -1  # a "lat,lng" string as an array item: weak evidence
    pair = PAIR.match(leaf.value) if bare else None
    if pair:
        h = _pair_hit(leaf.path, pair.group(1), pair.group(2), LOW)
        if h:
            hits.append(h)
    return hits


def _nmea(kind: str, f: list[str]) -> Hit | None:
    """GGA: time, lat, N/S, lon, E/W...; RMC: time, status, lat, N/S, lon, E/W..."""
    i = 1 if kind == "GGA" else 2
    if len(f) < i + 4 or not f[i] or not f[i + 2]:
        return None
    try:
        lat = int(f[i][:2]) + float(f[i][2:]) / 60
        lon = int(f[i + 2][:3]) + float(f[i + 2][3:]) / 60
    except ValueError:
        return None
    lat *= -1 if f[i + 1] == "S" else 1
    lon *= -1 if f[i + 3] == "W" else 1
    minutes_dp = len(f[i].split(".", 1)[1]) if "." in f[i] else 0
    # minutes with d decimals resolve 1852 m * 10^-d; as degree decimals that is about d + 2
    metres = round(1852.0 * 10.0**-minutes_dp, 3)
    places = max(0, round(-math.log10(metres / METRES_PER_DEGREE)))
    return Hit(
        "location",
        "nmea",
        f"{lat:.7f},{lon:.7f}",
        HIGH,
        places,
        metres,
        {"system": WGS84, "system_from": "nmea", "nmea": kind},
    )
