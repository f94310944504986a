"""How often each data type is reported in each test phase, reports per hour, as
``appliance.measures``' figures give it (issue 18, point 2; TR-14 minimisation: a feature turned
off should stop its reports). A heat map: test phases across in the order they ran, data types
down, the rate in each cell.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.i18n import t, value


def rates(measures: list[dict[str, Any]]) -> pd.DataFrame:
    """Per data type x phase: reports and reports per hour, summed over the recipient
    organisations of ``queries.measures`` rows (each a rate over the same phase's length), the
    phases ordered by their first report."""
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    first: dict[str, int] = {}
    for m in measures:
        phase = value("phase", m["phase"]) or "-"
        first[phase] = min(first.get(phase, int(m["first_ns"])), int(m["first_ns"]))
        cell = cells.setdefault((str(m["data_type"]), phase), {"reports": 0, "per_hour": 0.0, "orgs": []})
        cell["reports"] += int(m["reports"])
        cell["per_hour"] += float(m["reports_per_hour"])
        cell["orgs"].append(str(m["organisation"]) or "?")
    order = sorted(first, key=lambda p: first[p])
    rows = [
        {"data_type": k, "phase": p, "order": order.index(p), "reports": c["reports"],
         "per_hour": round(c["per_hour"], 2), "organisations": ", ".join(sorted(set(c["orgs"])))}
        for (k, p), c in sorted(cells.items())
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["data_type", "phase", "order", "reports", "per_hour", "organisations"])


def chart(frame: pd.DataFrame) -> alt.LayerChart | alt.FacetChart:
    phases = list(frame.sort_values("order")["phase"].drop_duplicates())
    base = alt.Chart(frame).encode(
        x=alt.X("phase:N", title=t("phase"), sort=phases, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("data_type:N", title=t("data_type")),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("per_hour:Q", title=t("reports_per_hour"), scale=alt.Scale(scheme="oranges")),
        tooltip=[
            alt.Tooltip("data_type:N", title=t("data_type")),
            alt.Tooltip("phase:N", title=t("phase")),
            alt.Tooltip("per_hour:Q", title=t("reports_per_hour")),
            alt.Tooltip("reports:Q", title=t("n_reports")),
            alt.Tooltip("organisations:N", title=t("organisation")),
        ],
    )
    text = base.mark_text(fontSize=11).encode(text=alt.Text("per_hour:Q", format=".1f"))
    return alt.layer(cells, text).properties(title=t("frequency_phase_title"), height=alt.Step(24))


def show(measures: list[dict[str, Any]]) -> None:
    frame = rates(measures)
    if frame.empty:
        return
    st.altair_chart(chart(frame), width="stretch", key="chart_frequency")
