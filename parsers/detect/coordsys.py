"""Coordinate systems of a location and their conversion to WGS-84, for distances.

Chinese map services publish coordinates in obfuscated systems: GCJ-02 (the national
surveying bureau's "Mars" datum; Amap/AutoNavi, Tencent Maps, Google Maps in China) and
BD-09 (Baidu, GCJ-02 shifted again). A point sent in either is displaced by up to ~500 m
from the WGS-84 position a GPS reports, so a distance between a sent location and a known
place (a persona's home, TR-04's "near home") needs both in WGS-84 first.

Systems are named by what a payload states (``coordtype=bd09ll``, ``coord_type=gcj02``,
``coordsys=gps``, a ``gcjLat`` key), else by the map API the request went to (its documented
default: Amap's Web service API takes GCJ-02, Tencent's WebService API GCJ-02, Baidu's
``api.map.baidu.com`` BD-09), else ``unknown``; NMEA sentences are WGS-84 by definition.

The conversions are the published formulas as the widely used open implementations give them
(googollee/eviltransform, MIT; wandergis/coordtransform, MIT; Artoria2e5/PRCoords, CC0): the
GCJ-02 offset on the Krasovsky 1940 ellipsoid, Baidu's BD-09 rotation (``x_pi = pi*3000/180``,
offsets 0.0065/0.006), and their inverses by fixed-point iteration (Cai Jun 2014, as PRCoords'
``*_bored``), exact to well under a millimetre where the one-step inverse errs by metres.
Tested against eviltransform's and gcoord's reference pairs (tests/parsers/test_coordsys.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

WGS84, GCJ02, BD09, UNKNOWN = "WGS-84", "GCJ-02", "BD-09", "unknown"
GCJ_A = 6378245.0  # Krasovsky 1940 semi-major axis, m
GCJ_EE = 0.00669342162296594323  # its first eccentricity squared
X_PI = math.pi * 3000.0 / 180.0  # Baidu's rotation constant
BD_DLON, BD_DLAT = 0.0065, 0.006  # Baidu's fixed offsets, degrees
EPS = 1e-10  # degrees (~0.01 mm): where the inverse iteration stops
EARTH_R = 6371008.8  # mean Earth radius (IUGG), m
Forward = Callable[[float, float], tuple[float, float]]

# named in a payload (keys normalised: lower case, no '_' or '-'), as the map SDKs spell them:
# Baidu coordtype bd09ll/bd09mc/gcj02ll/wgs84ll, Amap coordsys gps/baidu/autonavi, GeoJSON-ish crs
SYSTEM_NAMES = {
    "gcj02": GCJ02, "gcj": GCJ02, "gcj02ll": GCJ02, "autonavi": GCJ02, "amap": GCJ02, "mars": GCJ02,
    "bd09": BD09, "bd09ll": BD09, "bd09mc": BD09, "baidu": BD09, "bd": BD09,
    "wgs84": WGS84, "wgs": WGS84, "wgs84ll": WGS84, "gps": WGS84, "epsg:4326": WGS84,
}  # fmt: skip

# map APIs whose documented default system applies when a request names none (host suffixes)
HOST_SYSTEMS = (
    ("restapi.amap.com", GCJ02), ("amap.com", GCJ02), ("autonavi.com", GCJ02),
    ("apis.map.qq.com", GCJ02), ("map.qq.com", GCJ02),
    ("api.map.baidu.com", BD09), ("map.baidu.com", BD09),
)  # fmt: skip


def system_named(text: str) -> str:
    """The system a stated name means (``bd09ll``, ``GCJ-02``, ``gps``...); '' if none."""
    return SYSTEM_NAMES.get(text.strip().lower().replace("_", "").replace("-", ""), "")


def system_of_host(host: str) -> str:
    """The documented default system of a map API host; '' for any other host."""
    h = host.lower().rstrip(".").split(":", 1)[0]
    return next((s for suffix, s in HOST_SYSTEMS if h == suffix or h.endswith("." + suffix)), "")


def in_china(lat: float, lon: float) -> bool:
    """The bounding box inside which the GCJ-02 offset applies (eviltransform's ``outOfChina``)."""
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    if not in_china(lat, lon):
        return lat, lon
    x, y = lon - 105.0, lat - 35.0
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
        + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
        + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
        + (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    )  # fmt: skip
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
        + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
        + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
        + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    )  # fmt: skip
    rad = math.radians(lat)
    magic = 1.0 - GCJ_EE * math.sin(rad) ** 2
    dlat = dlat * 180.0 / (GCJ_A * (1.0 - GCJ_EE) / (magic * math.sqrt(magic)) * math.pi)
    dlon = dlon * 180.0 / (GCJ_A / math.sqrt(magic) * math.cos(rad) * math.pi)
    return lat + dlat, lon + dlon


def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * X_PI)
    return z * math.sin(theta) + BD_DLAT, z * math.cos(theta) + BD_DLON


def bd09_to_gcj02_rough(lat: float, lon: float) -> tuple[float, float]:
    """Baidu's published inverse (decimetre-level); ``to_wgs84`` refines it."""
    x, y = lon - BD_DLON, lat - BD_DLAT
    z = math.hypot(x, y) - 0.00002 * math.sin(y * X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def _invert(forward: Forward, lat: float, lon: float, start: tuple[float, float]) -> tuple[float, float]:
    """The point p with forward(p) == (lat, lon), by fixed-point iteration from ``start``."""
    la, lo = start
    for _ in range(30):
        fa, fo = forward(la, lo)
        da, do = fa - lat, fo - lon
        if abs(da) < EPS and abs(do) < EPS:
            break
        la, lo = la - da, lo - do
    return la, lo


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    if not in_china(lat, lon):
        return lat, lon
    return _invert(wgs84_to_gcj02, lat, lon, (lat, lon))


def bd09_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    return _invert(gcj02_to_bd09, lat, lon, bd09_to_gcj02_rough(lat, lon))


def to_wgs84(lat: float, lon: float, system: str) -> tuple[float, float]:
    """The WGS-84 position of a point given in ``system`` (WGS-84, GCJ-02, BD-09). A point in an
    unknown system is returned as sent: the caller decides what an unconverted distance is worth."""
    if system == GCJ02:
        return gcj02_to_wgs84(lat, lon)
    if system == BD09:
        return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))
    return lat, lon


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres, on the mean Earth radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_R * math.asin(min(1.0, math.sqrt(h)))
