"""How precisely the device sends locations, per destination, in metres (issue 18, point 2; TR-14
minimisation: a weather forecast needs a city, not 0.1 m). Each point is a precision some
observations had, sized by how many; the scale is logarithmic, 0.1 m to kilometres."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.i18n import t


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``queries.location_precision`` rows as the chart's frame (destination, data type, metres, n)."""
    out = [
        {"destination": str(r["destination"]), "data_type": str(r["data_type"]),
         "metres": float(r["metres"]), "n": int(r["n"])}
        for r in rows if float(r["metres"]) > 0
    ]  # fmt: skip
    return pd.DataFrame(out, columns=["destination", "data_type", "metres", "n"])


def chart(points: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(points)
        .mark_point(filled=True, opacity=0.8)  # bars have no base on a log scale: Vega-Lite drops them
        .encode(
            x=alt.X("metres:Q", title=t("precision_metres"), scale=alt.Scale(type="log")),
            y=alt.Y("destination:N", title=t("destination"), axis=alt.Axis(labelLimit=320)),
            color=alt.Color("data_type:N", title=t("data_type")),
            size=alt.Size("n:Q", title=t("observations_unit"), scale=alt.Scale(range=[40, 400])),
            tooltip=[
                alt.Tooltip("destination:N", title=t("destination")),
                alt.Tooltip("data_type:N", title=t("data_type")),
                alt.Tooltip("metres:Q", title=t("precision_metres"), format=".3~g"),
                alt.Tooltip("n:Q", title=t("observations_unit")),
            ],
        )
        .properties(title=t("precision_dest_title"), height=alt.Step(36))
    )


def show(rows: list[dict[str, Any]]) -> None:
    points = frame(rows)
    if points.empty:
        return
    st.altair_chart(chart(points), width="stretch", key="chart_precision")
