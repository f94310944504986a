"""Overview: the devices under test with category, vendor, findings by severity, data types sent,
third parties and countries reached."""

from __future__ import annotations

from collections import Counter

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import data, links
from dashboards.i18n import level, t, value, values
from dashboards.pages_.common import table, under_test
from policies.verdicts import COLORS, SEVERITIES


def render(url: str, caps: data.Caps) -> None:
    st.header(t("overview"))
    devs = under_test(data.devices(url, caps))
    findings = data.findings(url, caps)
    by_dev: dict[str, Counter[str]] = {}
    for f in findings:
        by_dev.setdefault(str(f["device_mac"]), Counter())[str(f["severity"])] += 1
    c1, c2, c3 = st.columns(3)
    c1.metric(t("devices_total"), len(devs))
    c2.metric(t("findings_total"), len(findings))
    c3.metric(t("flows_total"), sum(int(d["flows"]) for d in devs))
    reach = {str(r["mac"]): r for r in data.device_overview(url, caps)}
    rows = []
    for d in devs:
        sev = by_dev.get(d["mac"], Counter())
        r = reach.get(d["mac"], {})
        rows.append(
            {
                "mac": d["mac"],
                "attributed_by": value("attributed_by", d["attributed_by"]),
                "name": d["name"],
                "category": value("category", d["category"]),
                "vendor": d["vendor"] or d["oui_vendor"],
                "findings": ", ".join(f"{sev[s]} {level(s)}" for s in SEVERITIES if sev[s]) or "-",
                "data_types": values("data_type", r.get("data_types", [])),
                "third_parties": ", ".join(r.get("third_parties", [])) or "-",
                "countries": ", ".join(r.get("countries", [])) or "-",
                "flows": int(d["flows"]),
                "open": links.href("device", device=str(d["mac"])),
            }
        )
    cols = {"open": "device_link", "mac": "mac", "attributed_by": "attributed_by", "name": "name",
            "category": "category", "vendor": "vendor", "findings": "findings", "data_types": "data_types",
            "third_parties": "third_parties", "countries": "countries", "flows": "n_flows"}  # fmt: skip
    config = {t("device_link"): links.link_column(t("device_link"), "device")}  # each row opens its device
    st.dataframe(table(rows, cols), hide_index=True, key="overview_table", column_config=config)
    counts = Counter(str(f["severity"]) for f in findings)
    labels = [level(s) for s in SEVERITIES]
    frame = pd.DataFrame({"severity": labels, "count": [counts[s] for s in SEVERITIES]})
    chart = (
        alt.Chart(frame, title=t("severity_title"))
        .mark_bar()
        .encode(
            x=alt.X("severity:N", sort=labels, title=t("severity")),
            y=alt.Y("count:Q", title=f"{t('count')} ({t('findings_n')})"),
            color=alt.Color(
                "severity:N",
                scale=alt.Scale(domain=labels, range=[COLORS[s] for s in SEVERITIES]),
                legend=None,
            ),
        )
    )
    st.altair_chart(chart, width="stretch")
