"""Sankey of a device's personal data: data types -> organisations -> countries (issue 18, point 2;
TR-11 encryption, TR-12 cross-border, TR-13 third parties). Band widths are observations; a data
type's band is coloured by how it was carried (clear or TLS), an organisation's band by its party
(first, third). Plotly draws it: Vega-Lite has no Sankey layout, and Streamlit ships plotly.js
in its own frontend, so nothing is fetched from the network.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from appliance.lookups import world
from dashboards.i18n import lang, t

# colours (Okabe and Ito's colour-blind safe palette, 2008): clear text vermilion, encrypted
# bluish green; first party blue, third party orange, unknown grey
CARRIED = {"clear": "rgba(213,94,0,0.55)", "encrypted": "rgba(0,158,115,0.55)"}
PARTY = {"first": "rgba(0,114,178,0.55)", "third": "rgba(230,159,0,0.6)"}
OTHER = "rgba(150,150,150,0.5)"
NODE = {"data_type": "#56B4E9", "country": "#999999"}


def links(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Sankey's links from ``queries.recipient_links`` rows: (data type -> organisation) per
    carriage and (organisation -> country) per party, their values observations. Nodes are named
    with a prefix per column ('t:', 'o:', 'c:'), since an organisation may share a name with a
    data type or a country."""
    out: dict[tuple[str, str, str], int] = {}
    for r in rows:
        kind, org = f"t:{r['data_type']}", f"o:{r['organisation'] or '?'}"
        place = f"c:{r['country'] or '?'}"
        carried = "clear" if r["security"] in ("", "clear", "none") else "encrypted"
        for key in ((kind, org, carried), (org, place, str(r["party"] or "unknown"))):
            out[key] = out.get(key, 0) + int(r["n"])
    return [{"source": s, "target": d, "colour": c, "value": v} for (s, d, c), v in sorted(out.items())]


def _label(node: str) -> str:
    column, _, value = node.partition(":")
    if value == "?":
        return t("sankey_unknown")
    return world.name(value, lang()) if column == "c" else value


def figure(rows: list[dict[str, Any]]) -> go.Figure:
    flows = links(rows)
    nodes = sorted(
        {f["source"] for f in flows} | {f["target"] for f in flows}, key=lambda n: "toc".index(n[0])
    )
    index = {n: i for i, n in enumerate(nodes)}
    unit = t("observations_unit")
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": [_label(n) for n in nodes],
                "color": [
                    NODE.get({"t": "data_type", "c": "country"}.get(n[0], ""), "#444444") for n in nodes
                ],
                "pad": 12,
                "hovertemplate": f"%{{label}}: %{{value}} {unit}<extra></extra>",
            },
            link={
                "source": [index[f["source"]] for f in flows],
                "target": [index[f["target"]] for f in flows],
                "value": [f["value"] for f in flows],
                "color": [CARRIED.get(f["colour"]) or PARTY.get(f["colour"], OTHER) for f in flows],
                "customdata": [t(f"sankey_{f['colour']}") for f in flows],
                "hovertemplate": f"%{{source.label}} → %{{target.label}}: %{{value}} {unit}"
                "<br>%{customdata}<extra></extra>",
            },
        )
    )
    fig.update_layout(
        title={"text": t("sankey_title")},
        height=max(320, 26 * sum(n[0] == "t" for n in nodes) + 120),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        font={"size": 12},
    )
    return fig


def show(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    st.plotly_chart(figure(rows), width="stretch", key="chart_sankey", config={"displaylogo": False})
    st.caption(t("sankey_legend"))
