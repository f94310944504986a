"""Map of where a device's traffic went, country by country, with lines from the lab's home
jurisdiction and the cross-border ones in red (issue 18, point 2; TR-12). The outlines are
Natural Earth's, shipped with the appliance (``appliance.lookups.world``) and embedded in the
chart's spec: the browser fetches no map.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from appliance.lookups import world
from dashboards.i18n import lang, t

# The outlines go into the spec's datasets by name after Altair has built it: given to Altair as
# inline values, its schema validation walks all 108 kB of them, 2.5 s to build and 2 s more to
# serialise (measured on the lab's learning tablet), where the rest of the device page takes 1 s.
OUTLINES = "world-110m"
CROSS, HOME, DOMESTIC = "#D7191C", "#0072B2", "#56B4E9"  # ColorBrewer red; Okabe and Ito (2008) blues


def places(countries: list[dict[str, Any]], home: list[str]) -> pd.DataFrame:
    """One row per destination country (``queries.destination_countries``) with its point on the
    map, its map id and whether it is abroad: outside ``home`` (``captures.home``)."""
    homes = {h.upper() for h in home}
    rows = []
    for c in countries:
        cc = str(c["country"]).upper()
        point = world.centroid(cc)
        rows.append({
            "cc": cc, "id": world.numeric(cc), "name": world.name(cc, lang()),
            "lon": point[0] if point else None, "lat": point[1] if point else None,
            "abroad": cc not in homes, "flows": int(c["flows"]), "bytes_sent": int(c["bytes_sent"]),
            "observations": int(c["observations"]), "destinations": ", ".join(c["destinations"][:8]),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["cc", "id", "name", "lon", "lat", "abroad", "flows", "bytes_sent",
                                       "observations", "destinations"])  # fmt: skip


def chart(frame: pd.DataFrame, home: list[str]) -> alt.LayerChart:
    shown = frame.dropna(subset=["lon"]).copy()
    shown["status"] = [t("map_abroad") if a else t("map_domestic") for a in shown["abroad"]]
    origin = next((p for p in (world.centroid(h) for h in home) if p), None)
    if origin is not None:
        shown["lon0"], shown["lat0"] = origin
    ids = pd.DataFrame(
        [{"id": world.numeric(h), "status": t("map_home")} for h in home]
        + [{"id": i, "status": s} for i, s in zip(shown["id"], shown["status"], strict=True)]
    ).drop_duplicates("id")
    topo = alt.NamedData(name=OUTLINES, format=alt.DataFormat(type="topojson", feature=world.FEATURE))
    scale = alt.Scale(
        domain=[t("map_home"), t("map_domestic"), t("map_abroad")], range=[HOME, DOMESTIC, CROSS]
    )
    legend = alt.Legend(title=t("map_legend"), orient="bottom", labelLimit=400)
    land = alt.Chart(topo).mark_geoshape(fill="#eeeeee", stroke="white", strokeWidth=0.5)
    marked = (
        alt.Chart(topo)
        .mark_geoshape(stroke="white", strokeWidth=0.5, opacity=0.6)
        .transform_lookup(lookup="id", from_=alt.LookupData(ids, "id", ["status"]))
        .transform_filter("isValid(datum.status)")
        .encode(color=alt.Color("status:N", scale=scale, legend=legend))
    )
    tips = [
        alt.Tooltip("name:N", title=t("country")),
        alt.Tooltip("flows:Q", title=t("n_flows")),
        alt.Tooltip("bytes_sent:Q", title=t("bytes_sent"), format=",d"),
        alt.Tooltip("observations:Q", title=t("observations_unit")),
        alt.Tooltip("destinations:N", title=t("destination")),
    ]
    layers: list[Any] = [land, marked]
    if origin is not None and not shown.empty:
        layers.append(
            alt.Chart(shown[shown["cc"].map(lambda c: c not in home)])
            .mark_rule(strokeWidth=2.5)
            .encode(
                longitude="lon0:Q",
                latitude="lat0:Q",
                longitude2="lon:Q",
                latitude2="lat:Q",
                color=alt.Color("status:N", scale=scale, legend=None),
            )
        )
    layers.append(
        alt.Chart(shown)
        .mark_circle(opacity=0.9, stroke="black", strokeWidth=0.5)
        .encode(
            longitude="lon:Q",
            latitude="lat:Q",
            size=alt.Size("flows:Q", title=t("n_flows"), scale=alt.Scale(range=[60, 600])),
            color=alt.Color("status:N", scale=scale, legend=None),
            tooltip=tips,
        )
    )
    return (
        alt.layer(*layers)
        .project(type="equalEarth")
        .properties(title=t("map_title"), height=420)
        .configure_view(stroke=None)
    )


def spec(frame: pd.DataFrame, home: list[str]) -> dict[str, Any]:
    """The Vega-Lite spec the page sends: the chart with the outlines in its datasets."""
    out = chart(frame, home).to_dict()
    out.setdefault("datasets", {})[OUTLINES] = world.topojson()
    return out


def show(countries: list[dict[str, Any]], home: list[str]) -> None:
    if not countries:
        return
    frame = places(countries, home)
    st.vega_lite_chart(spec(frame, home), width="stretch", key="chart_map")
    off = frame[frame["lon"].isna()]
    if not off.empty:
        st.caption(f"{t('map_off')}: {', '.join(off['name'])}")
