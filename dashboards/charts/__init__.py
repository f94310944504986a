"""The device page's pictures (issue 18, point 2), one module per chart: where its personal data
goes (``sankey``), where its traffic goes on a map (``world_map``), how often each data type is
reported per test phase (``frequency``), when it was observed and who received it
(``timeline``), how precise its locations are (``precision``). Each chart reads through
``dashboards.data`` (the read API) and shows counts, times, names of recipients and precisions,
never a personal value.
"""

from __future__ import annotations

import streamlit as st

from dashboards import data
from dashboards.charts import frequency, precision, sankey, timeline, world_map
from dashboards.i18n import t


def render(url: str, caps: data.Caps, mac: str) -> None:
    """All the device's charts, under one heading, below the rest of its page."""
    st.subheader(t("charts_title"))
    sankey.show(data.recipient_links(url, caps, mac))
    world_map.show(data.destination_countries(url, caps, mac), data.home_countries(url, caps))
    frequency.show(data.measures(url, caps, mac))
    series = data.observation_series(url, caps, mac)
    spans = [
        p for cap in sorted({str(s["capture_id"]) for s in series}) for p in data.phase_spans(url, cap, mac)
    ]
    timeline.show(series, spans)
    precision.show(data.location_precision(url, caps, mac))
