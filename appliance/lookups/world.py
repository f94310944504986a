"""The world's countries offline, for the dashboard's map of destinations (issue 18, TR-12 asks
where personal data goes): their outlines, a point inside each, and their names in English and
Chinese.

- Outlines: Natural Earth's 1:110m Admin 0 countries (public domain) as TopoJSON, from the npm
  package world-atlas 2.0.2 (``maps/countries-110m.json``, 108 kB, its licence beside it). The
  charts embed it in their spec, so the browser never fetches a map from a CDN (the appliance
  runs with no network; Plotly's and Vega's geo examples load theirs from one).
- Geometries are keyed by ISO 3166-1 numeric codes, the flows table by alpha-2 codes (GeoLite2):
  ``pycountry`` (ISO 3166-1 as Debian's iso-codes ship it, with its translations) maps one to the
  other and names a country in Chinese.
- The point for a country is the area-weighted centroid of its largest ring (planar, in degrees):
  France's mainland rather than a point between Europe and Guiana. Enough for a marker and a line.
"""

from __future__ import annotations

import gettext
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pycountry

TOPOJSON = Path(__file__).with_name("maps") / "countries-110m.json"
FEATURE = "countries"  # the object of TOPOJSON holding one geometry per country

# Places too small for the 1:110m outlines where servers often are (hosting hubs, offshore
# registrations): the (longitude, latitude) of their capital, to one decimal.
SMALL_PLACES = {
    "HK": (114.2, 22.3), "MO": (113.5, 22.2), "SG": (103.8, 1.3), "BH": (50.6, 26.2),
    "MT": (14.5, 35.9), "MU": (57.5, -20.2), "LI": (9.5, 47.1), "MC": (7.4, 43.7),
    "AD": (1.5, 42.5), "GI": (-5.4, 36.1), "IM": (-4.5, 54.2), "JE": (-2.1, 49.2),
    "GG": (-2.5, 49.5), "BM": (-64.8, 32.3), "KY": (-81.4, 19.3), "VG": (-64.6, 18.4),
}  # fmt: skip


@lru_cache(maxsize=1)
def topojson() -> dict[str, Any]:
    """The countries' TopoJSON, parsed once."""
    data: dict[str, Any] = json.loads(TOPOJSON.read_text())
    return data


def numeric(cc: str) -> str:
    """ISO 3166-1 numeric code of alpha-2 ``cc``, as world-atlas spells its ids ('840'); '' if unknown."""
    c = pycountry.countries.get(alpha_2=cc.upper()) if len(cc) == 2 else None
    return str(c.numeric) if c is not None else ""


@lru_cache(maxsize=1)
def _zh() -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"], fallback=True)


def name(cc: str, lang: str = "en") -> str:
    """A country's short name in English or Chinese ('zh'); the code itself when unknown."""
    c = pycountry.countries.get(alpha_2=cc.upper()) if len(cc) == 2 else None
    if c is None:
        return cc
    return _zh().gettext(c.name) if lang == "zh" else str(c.name)


def centroid(cc: str) -> tuple[float, float] | None:
    """(longitude, latitude) of a point for country ``cc`` on the map, None when the map has it not."""
    return _centroids().get(numeric(cc)) or SMALL_PLACES.get(cc.upper())


@lru_cache(maxsize=1)
def _centroids() -> dict[str, tuple[float, float]]:
    topo = topojson()
    arcs = _decoded_arcs(topo)
    out: dict[str, tuple[float, float]] = {}
    for geom in topo["objects"][FEATURE]["geometries"]:
        polys = geom.get("arcs") or []
        if geom.get("type") == "Polygon":
            polys = [polys]
        rings = [_ring(arcs, poly[0]) for poly in polys if poly]  # outer rings
        best = max(rings, key=lambda r: abs(_area(r)), default=None)
        if best is not None and "id" in geom and abs(_area(best)) > 0:
            out[str(geom["id"])] = _ring_centroid(best)
    return out


def _decoded_arcs(topo: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """Arcs in degrees: quantized and delta-encoded positions (TopoJSON spec 2.1.3, 2.2)."""
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    out = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            pts.append((x * sx + tx, y * sy + ty))
        out.append(pts)
    return out


def _ring(arcs: list[list[tuple[float, float]]], refs: list[int]) -> list[tuple[float, float]]:
    """A ring's positions from its arc indexes; a negative index ~i is arc i reversed (spec 2.2.2)."""
    pts: list[tuple[float, float]] = []
    for i in refs:
        arc = arcs[i] if i >= 0 else arcs[~i][::-1]
        pts.extend(arc[1:] if pts else arc)
    return pts


def _area(ring: list[tuple[float, float]]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True)) / 2


def _ring_centroid(ring: list[tuple[float, float]]) -> tuple[float, float]:
    """The ring's centroid; a ring cut at the antimeridian (Russia's, whose Chukotka lies past
    -180) is taken whole east of it, and the result wrapped back to [-180, 180]."""
    if max(x for x, _ in ring) - min(x for x, _ in ring) > 180:
        ring = [(x + 360 if x < 0 else x, y) for x, y in ring]
    a = _area(ring)
    pairs = list(zip(ring, ring[1:] + ring[:1], strict=True))
    cx = sum((x0 + x1) * (x0 * y1 - x1 * y0) for (x0, y0), (x1, y1) in pairs) / (6 * a)
    cy = sum((y0 + y1) * (x0 * y1 - x1 * y0) for (x0, y0), (x1, y1) in pairs) / (6 * a)
    return round((cx + 180) % 360 - 180, 3), round(cy, 3)
