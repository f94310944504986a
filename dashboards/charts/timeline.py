"""The device's observations over time, one row per data type, each mark coloured by the
organisation that received it, over the test phases (issue 18, point 2). Times only: no value.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.i18n import t, value

MAX_POINTS = 5000  # per series (data type x organisation): a browser draws this many ticks at ease


def points(series: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per report time of ``queries.observation_series`` rows: time, data type, recipient."""
    rows = [
        {"time": pd.Timestamp(int(ns), unit="ns", tz="UTC"), "data_type": str(s["data_type"]),
         "recipient": str(s["organisation"]) or "?"}
        for s in series
        for ns in list(s["times"])[:MAX_POINTS]
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["time", "data_type", "recipient"])


def chart(frame: pd.DataFrame, phases: list[dict[str, Any]]) -> alt.LayerChart | alt.FacetChart:
    ticks = (
        alt.Chart(frame)
        .mark_tick(thickness=2, size=14)
        .encode(
            x=alt.X("time:T", title=t("time_utc"), axis=alt.Axis(format="%H:%M")),
            y=alt.Y("data_type:N", title=t("data_type")),
            color=alt.Color("recipient:N", title=t("recipient"), scale=alt.Scale(scheme="tableau10")),
            tooltip=[
                alt.Tooltip("time:T", title=t("time_utc"), format="%Y-%m-%d %H:%M:%S"),
                alt.Tooltip("data_type:N", title=t("data_type")),
                alt.Tooltip("recipient:N", title=t("recipient")),
            ],
        )
    )
    layers: list[Any] = []
    if phases:
        spans = pd.DataFrame(
            [{"phase": value("phase", p["phase"]),
              "start": pd.Timestamp(int(p["start_ns"]), unit="ns", tz="UTC"),
              "end": pd.Timestamp(int(p["end_ns"]), unit="ns", tz="UTC")} for p in phases]
        )  # fmt: skip
        layers.append(alt.Chart(spans).mark_rect(opacity=0.08, color="gray", stroke="gray").encode(
            x="start:T", x2="end:T", tooltip=[alt.Tooltip("phase:N", title=t("phase"))]))  # fmt: skip
        layers.append(
            alt.Chart(spans)
            .mark_text(align="left", baseline="top", dx=3, dy=-14, fontSize=10, color="gray")
            .encode(x="start:T", y=alt.value(0), text="phase:N")
        )
    return alt.layer(*layers, ticks).properties(title=t("timeline_recipient_title"), height=alt.Step(24))


def show(series: list[dict[str, Any]], phases: list[dict[str, Any]]) -> None:
    frame = points(series)
    if frame.empty:
        return
    st.altair_chart(chart(frame, phases), width="stretch", key="chart_timeline")
