"""Coordinate systems to WGS-84 against other libraries' published reference pairs.

- googollee/eviltransform (MIT), python/test.py and go/transform_test.go: three WGS-84 / GCJ-02
  pairs (Shanghai, Shenzhen, Beijing), checked there to 1e-6 degrees forward and 0.5 m back.
- hujiulong/gcoord (MIT), test/fixtures/china-cities.json at fedbaa105f19: city centres in WGS-84,
  GCJ-02 and BD-09 (7 decimals), which its own tests hold to 1e-5 (BD-09 to GCJ-02) and 1e-4
  (to WGS-84) degrees. A sample across the country's extremes is copied here, (lon, lat) as there.
"""

from __future__ import annotations

import pytest

from parsers.detect.coordsys import (
    BD09,
    GCJ02,
    UNKNOWN,
    WGS84,
    bd09_to_gcj02,
    distance_m,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    system_named,
    system_of_host,
    to_wgs84,
    wgs84_to_gcj02,
)

EVILTRANSFORM = [  # wgs lat, wgs lon, gcj lat, gcj lon
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]
GCOORD_CITIES = {  # name: (WGS84, GCJ02, BD09), each (lon, lat)
    "Zhumadian": ((114.0164322, 33.0133556), (114.022306, 33.0115324), (114.0287781, 33.0176697)),
    "Nagqu": ((92.0499619, 31.4784436), (92.0512438, 31.4762063), (92.0576832, 31.4824421)),
    "Shenyang": ((123.4253306, 41.8032629), (123.4314787, 41.8057023), (123.438095, 41.8114013)),
    "Qinzhou": ((108.6503952, 21.9828281), (108.6541485, 21.9799392), (108.6607283, 21.9856319)),
    "Jiuquan": ((98.4937175, 39.7319946), (98.4943595, 39.7328234), (98.5008441, 39.7388949)),
    "Xilinhot": ((116.0414035, 43.9312805), (116.0482308, 43.9334573), (116.0546232, 43.9397782)),
    "Quanzhou": ((118.6711365, 24.8770487), (118.6756787, 24.8741363), (118.6821251, 24.8804872)),
}


@pytest.mark.parametrize("wlat, wlon, glat, glon", EVILTRANSFORM)
def test_eviltransform_pairs(wlat: float, wlon: float, glat: float, glon: float) -> None:
    la, lo = wgs84_to_gcj02(wlat, wlon)
    assert la == pytest.approx(glat, abs=1e-6) and lo == pytest.approx(glon, abs=1e-6)
    back = to_wgs84(glat, glon, GCJ02)
    assert distance_m(*back, wlat, wlon) < 0.5
    assert distance_m(glat, glon, wlat, wlon) > 300  # the offset the conversion removes is real


@pytest.mark.parametrize("city", sorted(GCOORD_CITIES))
def test_gcoord_city_pairs(city: str) -> None:
    (wlon, wlat), (glon, glat), (blon, blat) = GCOORD_CITIES[city]
    # gcoord's WGS-84 column sits 0.65-0.68 m from where eviltransform's formula (matched to 1e-6
    # degrees above) puts it, inside gcoord's own 1e-4 degree test tolerance: held to 1 m here
    assert distance_m(*wgs84_to_gcj02(wlat, wlon), glat, glon) < 1.0
    la, lo = gcj02_to_bd09(glat, glon)
    assert (la, lo) == (pytest.approx(blat, abs=1e-6), pytest.approx(blon, abs=1e-6))
    la, lo = bd09_to_gcj02(blat, blon)
    assert (la, lo) == (pytest.approx(glat, abs=1e-6), pytest.approx(glon, abs=1e-6))
    for system, (lon, lat) in ((BD09, (blon, blat)), (GCJ02, (glon, glat)), (WGS84, (wlon, wlat))):
        got = to_wgs84(lat, lon, system)
        assert distance_m(*got, wlat, wlon) < 1.0, system
        assert distance_m(lat, lon, wlat, wlon) > (100 if system != WGS84 else -1)  # a real offset removed


def test_outside_china_and_unknown_are_left_as_sent() -> None:
    assert wgs84_to_gcj02(48.8584, 2.2945) == (48.8584, 2.2945)  # Paris: no offset outside China
    assert gcj02_to_wgs84(48.8584, 2.2945) == (48.8584, 2.2945)
    assert to_wgs84(31.23, 121.47, UNKNOWN) == (31.23, 121.47)


def test_distance_against_a_known_length() -> None:
    # one degree of latitude on the mean sphere: pi * R / 180
    assert distance_m(30.0, 120.0, 31.0, 120.0) == pytest.approx(111_195.08, abs=0.05)


def test_systems_from_names_and_hosts() -> None:
    for text, want in (("bd09ll", BD09), ("BD09MC", BD09), ("gcj02", GCJ02), ("GCJ-02", GCJ02),
                       ("gcj02ll", GCJ02), ("wgs84", WGS84), ("wgs84ll", WGS84), ("gps", WGS84),
                       ("autonavi", GCJ02), ("baidu", BD09), ("utm", "")):  # fmt: skip
        assert system_named(text) == want, text
    for host, want in (("restapi.amap.com", GCJ02), ("apilocate.amap.com", GCJ02), ("apis.map.qq.com", GCJ02),
                       ("api.map.baidu.com:443", BD09), ("map.baidu.com", BD09), ("api.mi.com", ""),
                       ("notamap.com", "")):  # fmt: skip
        assert system_of_host(host) == want, host


def _systems(payload: bytes, content_type: str = "") -> list[tuple[str, str]]:
    from parsers.detect.scan import scan

    return [
        (h.detail["system"], h.detail["system_from"])
        for h in scan(payload, content_type)
        if h.data_type == "location"
    ]


def test_detector_reads_the_stated_system() -> None:
    # Baidu's reverse geocoder names its input system in coordtype (bd09ll, gcj02ll, wgs84ll)
    assert _systems(b"location=31.230416,121.473701&coordtype=wgs84ll&ak=x") == [(WGS84, "field")]
    assert _systems(b'{"lat": 31.2304, "lng": 121.4737, "coord_type": "bd09ll"}', "application/json") == [
        (BD09, "field")
    ]
    assert _systems(b'{"gcjLat": 31.2284, "gcjLng": 121.4781}', "application/json") == [(GCJ02, "key")]
    assert _systems(b'{"pos": {"lat": 31.2304, "lng": 121.4737}, "crs": "GCJ-02"}', "application/json") == [
        (GCJ02, "payload")
    ]
    assert _systems(b'{"lat": 31.2304, "lng": 121.4737}', "application/json") == [(UNKNOWN, "")]
    assert _systems(b"$GPGGA,092750.000,3113.8250,N,12128.4221,E,1,8,1.03,61.7,M,55.2,M,,*76") == [
        (WGS84, "nmea")
    ]
