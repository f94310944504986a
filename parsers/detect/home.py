"""How near a reported location is to the tester's home (the bench persona's ``home``), as a class.

A device that reports where it is tells, at night or idle, where its wearer lives. The lab knows
the home it set the persona up with, so the distance is measured while the value is in memory
(it is never stored: only the class, "within 100 m", goes into the observation's detail).

- The home is written in WGS-84, as a GPS or a phone's location settings show it. A device may
  report in GCJ-02 (mainland map SDKs) or BD-09 (Baidu), which are offset from WGS-84 by several
  hundred metres in China: the home is moved into the reported system before measuring, with the
  published GCJ-02 approximation (Krasovsky 1940 ellipsoid; the formula as in googollee's
  eviltransform, whose test points the tests use) and Baidu's GCJ-02 -> BD-09 step. A coordinate
  whose system is not named is measured as WGS-84 and as GCJ-02 (what a GPS chip and what a
  mainland map SDK give) and the nearer counts.
- Only coordinates at least as fine as the radius count: two decimals resolve 1.1 km, so a
  city-level value near the home says nothing about the home.
- The radius defaults to 500 m, the spec's bound for precise location (TR-04: "an accuracy field
  <= 500 m = precise"); a lab sets its own with ``home: {radius_m: ...}`` in the bench file.
"""

from __future__ import annotations

import math

from parsers.detect.hits import Hit

RADIUS_M = 500.0  # TR-04's bound for precise location
CLASSES_M = (50, 100, 250, 500, 1000, 2000, 5000)  # what a statement says: "within 100 m"
EARTH_M = 6_371_008.8  # mean Earth radius, IUGG
KRASOVSKY_A = 6378245.0  # GCJ-02's ellipsoid: semi-major axis (m) and eccentricity squared
KRASOVSKY_EE = 0.00669342162296594323
X_PI = math.pi * 3000.0 / 180.0  # Baidu's BD-09 constant


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points, haversine."""
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(h)))


def _in_china(lat: float, lon: float) -> bool:
    return 73.66 < lon < 135.05 and 3.86 < lat < 53.55  # GCJ-02 leaves points outside as they are


def _dlat(x: float, y: float) -> float:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _dlon(x: float, y: float) -> float:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def wgs_to_gcj(lat: float, lon: float) -> tuple[float, float]:
    """A WGS-84 point as GCJ-02 shows it (unchanged outside China)."""
    if not _in_china(lat, lon):
        return lat, lon
    dlat, dlon = _dlat(lon - 105.0, lat - 35.0), _dlon(lon - 105.0, lat - 35.0)
    rad = math.radians(lat)
    magic = 1 - KRASOVSKY_EE * math.sin(rad) ** 2
    sq = math.sqrt(magic)
    dlat = dlat * 180.0 / ((KRASOVSKY_A * (1 - KRASOVSKY_EE)) / (magic * sq) * math.pi)
    dlon = dlon * 180.0 / (KRASOVSKY_A / sq * math.cos(rad) * math.pi)
    return lat + dlat, lon + dlon


def gcj_to_bd(lat: float, lon: float) -> tuple[float, float]:
    """A GCJ-02 point as BD-09 (Baidu) shows it."""
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def distance_class(metres: float) -> int:
    """The smallest class bound the distance is within (CLASSES_M; past the last, the last)."""
    return next((c for c in CLASSES_M if metres <= c), CLASSES_M[-1])


class Home:
    """The persona's home and the radius within which a reported location gives it away."""

    def __init__(self, lat: float, lon: float, radius_m: float = RADIUS_M) -> None:
        self.wgs = (lat, lon)
        self.radius_m = radius_m
        gcj = wgs_to_gcj(lat, lon)
        self.by_system = {"WGS-84": [self.wgs], "GCJ-02": [gcj], "BD-09": [gcj_to_bd(*gcj)]}
        self.by_system["unknown"] = [self.wgs, gcj]

    def distance(self, hit: Hit) -> float | None:
        """How far a location hit is from the home, in its own coordinate system; None when it is
        not a location, cannot be read, or is too coarse (``metres``) to place anyone."""
        if hit.data_type != "location" or hit.metres <= 0 or hit.metres > self.radius_m:
            return None
        try:
            lat, lon = (float(c) for c in hit.value.split(",", 1))
        except ValueError:
            return None
        homes = self.by_system.get(str(hit.detail.get("system", "unknown")), self.by_system["unknown"])
        return min(distance_m(h, (lat, lon)) for h in homes)

    def mark(self, hit: Hit) -> None:
        """Note in the hit's detail that it lies within the radius: ``home_within_m``, the class."""
        d = self.distance(hit)
        if d is not None and d <= self.radius_m:
            hit.detail["home_within_m"] = min(distance_class(d), math.ceil(self.radius_m))
