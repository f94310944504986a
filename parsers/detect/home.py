"""How near a reported location is to the tester's home (the bench persona's ``home``), as a class.

A device that reports where it is tells, at night or idle, where its wearer lives. The lab knows
the home it set the persona up with, so the distance is measured while the value is in memory
(it is never stored: only the class, "within 100 m", goes into the observation's detail).

- The home is written in WGS-84, as a GPS or a phone's location settings show it. A device may
  report in GCJ-02 (mainland map SDKs) or BD-09 (Baidu), which are offset from WGS-84 by several
  hundred metres in China: the home is moved into the reported system before measuring, with the
  forward conversions of ``parsers.detect.coordsys`` (exact, unlike their inverses). The system is
  the one the payload names or the map API's default (``appliance.ingest.observe`` marks the home
  after setting it); a coordinate whose system is still unknown is measured as WGS-84 and as
  GCJ-02 (what a GPS chip and what a mainland map SDK give) and the nearer counts.
- Only coordinates at least as fine as the radius count: two decimals resolve 1.1 km, so a
  city-level value near the home says nothing about the home.
- The radius defaults to 500 m, the spec's bound for precise location (TR-04: "an accuracy field
  <= 500 m = precise"); a lab sets its own with ``home: {radius_m: ...}`` in the bench file.
"""

from __future__ import annotations

import math

from parsers.detect.coordsys import BD09, GCJ02, UNKNOWN, WGS84, distance_m, gcj02_to_bd09, wgs84_to_gcj02
from parsers.detect.hits import Hit

RADIUS_M = 500.0  # TR-04's bound for precise location
CLASSES_M = (50, 100, 250, 500, 1000, 2000, 5000)  # what a statement says: "within 100 m"


def distance_class(metres: float) -> int:
    """The smallest class bound the distance is within (CLASSES_M; past the last, the last)."""
    return next((c for c in CLASSES_M if metres <= c), CLASSES_M[-1])


class Home:
    """The persona's home and the radius within which a reported location gives it away."""

    def __init__(self, lat: float, lon: float, radius_m: float = RADIUS_M) -> None:
        self.wgs = (lat, lon)
        self.radius_m = radius_m
        gcj = wgs84_to_gcj02(lat, lon)
        self.by_system = {
            WGS84: [self.wgs],
            GCJ02: [gcj],
            BD09: [gcj02_to_bd09(*gcj)],
            UNKNOWN: [self.wgs, gcj],
        }

    def distance(self, hit: Hit) -> float | None:
        """How far a location hit is from the home, in its own coordinate system; None when it is
        not a location, cannot be read, or is too coarse (``metres``) to place anyone."""
        if hit.data_type != "location" or hit.metres <= 0 or hit.metres > self.radius_m:
            return None
        try:
            lat, lon = (float(c) for c in hit.value.split(",", 1))
        except ValueError:
            return None
        homes = self.by_system.get(str(hit.detail.get("system", UNKNOWN)), self.by_system[UNKNOWN])
        return min(distance_m(*h, lat, lon) for h in homes)

    def mark(self, hit: Hit) -> None:
        """Note in the hit's detail that it lies within the radius: ``home_within_m``, the class."""
        d = self.distance(hit)
        if d is not None and d <= self.radius_m:
            hit.detail["home_within_m"] = min(distance_class(d), math.ceil(self.radius_m))
