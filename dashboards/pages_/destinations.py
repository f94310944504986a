"""Destinations: organisations and countries reached across devices; cross-border highlighted."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from appliance.format import fmt_bool
from dashboards import data
from dashboards.i18n import lang, t, value
from dashboards.pages_.common import device_label, show, table


def render(url: str, caps: data.Caps) -> None:
    st.header(t("destinations"))
    names = {d["mac"]: device_label(d) for d in data.devices(url, caps)}
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in data.destinations(url, caps):  # already one row per device x destination
        for cc in str(r["countries"]).split(",") or [""]:
            key = (str(r["organisation"]) or "?", cc or "?")
            g = groups.setdefault(
                key,
                {
                    "org": key[0],
                    "country": key[1],
                    "devices": set(),
                    "dests": set(),
                    "flows": 0,
                    "sent": 0,
                    "abroad": False,
                    "party": str(r["party"]),
                },
            )
            g["devices"].add(names.get(str(r["device_mac"]), str(r["device_mac"])))
            g["dests"].add(str(r["destination"]))
            g["flows"] += int(r["flows"])
            g["sent"] += int(r["bytes_sent"])
            g["abroad"] = g["abroad"] or bool(int(r["cross_border"]))
    rows = sorted(groups.values(), key=lambda g: (not g["abroad"], -g["sent"], g["org"]))
    for g in rows:
        g["devices_txt"] = ", ".join(sorted(g["devices"]))
        g["dests_txt"] = ", ".join(sorted(g["dests"]))
        g["abroad_txt"] = ("⚠ " if g["abroad"] else "") + fmt_bool(g["abroad"], lang())
        g["party_txt"] = value("party", g["party"])
    cols = {
        "org": "organisation",
        "country": "country",
        "abroad_txt": "cross_border",
        "party_txt": "party",
        "devices_txt": "devices",
        "dests_txt": "destination",
        "flows": "n_flows",
        "sent": "bytes_sent",
    }
    frame = table(rows, cols)
    abroad_col = t("cross_border")

    def _hl(row: pd.Series) -> list[str]:
        style = "background-color: #fde0dd" if str(row[abroad_col]).startswith("⚠") else ""
        return [style] * len(row)

    show(frame.style.apply(_hl, axis=1), "destinations_table")
    if rows:
        chart_frame = pd.DataFrame(
            [
                {"org": g["org"], "country": g["country"], "kb": g["sent"] / 1000, "abroad": g["abroad"]}
                for g in rows
            ]
        )
        chart = (
            alt.Chart(chart_frame, title=t("dest_title"))
            .mark_bar()
            .encode(
                x=alt.X("kb:Q", title=f"{t('bytes_sent')} (kB)"),
                y=alt.Y("org:N", sort="-x", title=t("organisation")),
                color=alt.Color("country:N", title=t("country")),
                strokeWidth=alt.condition("datum.abroad", alt.value(2), alt.value(0)),
                stroke=alt.value("#d7301f"),
                tooltip=["org", "country", "kb", "abroad"],
            )
        )
        st.altair_chart(chart, width="stretch")
