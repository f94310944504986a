"""Distances to the persona's home across coordinate systems, against published test points.

The WGS-84 -> GCJ-02 points are the test suite of googollee/eviltransform (Shanghai, Shenzhen,
Beijing); the BD-09 point is its BD-09 -> WGS-84 test, whose WGS-84 side comes from approximate
inverses: the forward chain lands 11 m from the BD-09 point, well inside the smallest class (50 m).
"""

from __future__ import annotations

import math

import pytest

from parsers.detect.coordsys import distance_m
from parsers.detect.coordsys import gcj02_to_bd09 as gcj_to_bd
from parsers.detect.coordsys import wgs84_to_gcj02 as wgs_to_gcj
from parsers.detect.hits import Hit
from parsers.detect.home import Home

EVILTRANSFORM_GCJ = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
]


@pytest.mark.parametrize(("lat", "lon", "glat", "glon"), EVILTRANSFORM_GCJ)
def test_wgs_to_gcj_matches_published_points(lat: float, lon: float, glat: float, glon: float) -> None:
    got = wgs_to_gcj(lat, lon)
    assert got == pytest.approx((glat, glon), abs=1e-9)


def test_bd09_chain_and_outside_china() -> None:
    bd = gcj_to_bd(*wgs_to_gcj(29.196131605295484, 120.00877901149691))
    assert distance_m(*bd, 29.199786, 120.019809) < 15
    assert wgs_to_gcj(48.8584, 2.2945) == (48.8584, 2.2945)  # Paris: GCJ-02 applies in China only


def test_distance_is_the_great_circle() -> None:
    assert distance_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(math.pi * 6_371_008.8 / 180)


def location(value: str, metres: float, system: str) -> Hit:
    return Hit("location", "$", value, metres=metres, detail={"system": system})


def test_marks_by_system_and_precision() -> None:
    home = Home(31.1774276, 121.5272106)
    gcj = "31.175304,121.531542"
    cases = [
        (location(gcj, 0.111, "GCJ-02"), 50),  # the home itself, as a Chinese map SDK writes it
        (location(gcj, 0.111, "unknown"), 50),  # no system named: WGS-84 or GCJ-02, the nearer
        (location(gcj, 0.111, "WGS-84"), 500),  # read as WGS-84 it is 475 m off
        (location("31.18,121.53", 1113.2, "WGS-84"), None),  # two decimals place no one
        (location("31.1954,121.5272", 11.1, "WGS-84"), None),  # 2 km north
    ]
    for hit, want in cases:
        home.mark(hit)
        assert hit.detail.get("home_within_m") == want, hit
