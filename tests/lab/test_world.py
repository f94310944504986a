"""The map's offline country data (appliance/lookups/world.py): Natural Earth's 1:110m outlines as
world-atlas ships them, keyed by ISO 3166-1 numeric codes, and the point drawn for each country.
Checked against the outlines themselves: the ids are ISO's, and each country's point lies inside
its own largest outline (by ray casting, apart from the centroid arithmetic)."""

from __future__ import annotations

import pycountry
import pytest

from appliance.lookups import world


def _outer_rings(geom: dict[str, object]) -> list[list[tuple[float, float]]]:
    arcs = world._decoded_arcs(world.topojson())
    polys = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
    return [world._ring(arcs, p[0]) for p in polys]  # type: ignore[union-attr]


def _inside(x: float, y: float, ring: list[tuple[float, float]]) -> bool:
    """Even-odd rule: a ray to the east crosses the ring's edges an odd number of times."""
    hit = False
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            hit = not hit
    return hit


def test_ids_are_iso_numeric_codes() -> None:
    geoms = world.topojson()["objects"][world.FEATURE]["geometries"]
    assert len(geoms) == 177  # Natural Earth 1:110m Admin 0, as world-atlas 2.0.2 packs it
    coded = [g for g in geoms if "id" in g]
    assert len(coded) >= 170
    for g in coded:
        c = pycountry.countries.get(numeric=g["id"])
        assert c is not None, g["properties"]
        assert world.numeric(c.alpha_2) == g["id"]
    assert world.numeric("CN") == "156" and world.numeric("zz") == "" and world.numeric("") == ""


@pytest.mark.parametrize("cc", ["CN", "US", "SE", "DE", "FR", "JP", "BR", "AU", "IN", "GB", "CA", "ZA"])
def test_a_countrys_point_lies_inside_it(cc: str) -> None:
    geom = next(g for g in world.topojson()["objects"][world.FEATURE]["geometries"]
                if g.get("id") == world.numeric(cc))  # fmt: skip
    point = world.centroid(cc)
    assert point is not None
    assert any(_inside(point[0], point[1], ring) for ring in _outer_rings(geom)), (cc, point)


def test_russia_across_the_antimeridian() -> None:
    """Russia's mainland outline is cut at 180 degrees (Chukotka lies past it): its point is still
    in Siberia, not in the Pacific, and inside Russia once Chukotka is moved east of the cut."""
    lon, lat = world.centroid("RU") or (0.0, 0.0)
    assert 60 < lon < 130 and 50 < lat < 70
    geom = next(g for g in world.topojson()["objects"][world.FEATURE]["geometries"] if g.get("id") == "643")
    ring = max(_outer_rings(geom), key=len)
    assert _inside(lon, lat, [(x + 360 if x < 0 else x, y) for x, y in ring])


def test_small_places_and_names() -> None:
    """Hong Kong, Macao and Singapore are too small for the 1:110m outlines but hold many servers:
    they still get a point; names come in English and Chinese from ISO 3166 (pycountry)."""
    ids = {str(g.get("id")) for g in world.topojson()["objects"][world.FEATURE]["geometries"]}
    for cc in ("HK", "MO", "SG"):
        assert world.numeric(cc) not in ids
        assert world.centroid(cc) is not None
    assert (world.name("CN"), world.name("CN", "zh")) == ("China", "中国")
    assert (world.name("SE", "zh"), world.name("US", "zh")) == ("瑞典", "美国")
    assert world.name("XX") == "XX" and world.centroid("XX") is None
