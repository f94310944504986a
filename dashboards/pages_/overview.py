"""Overview: a grid of the devices under test and every device with findings (issue 18, point 1),
each card with its verdict (worst severity, number of problems) and top problem and a button that
opens its device page; then the devices' table (category, vendor, data types sent, third parties,
countries reached) and the problems by severity.

Problems are facts (``queries.problems``), so the cards' counts add up to the distinct
(device, fact) pairs the Findings page counts."""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import data, links
from dashboards.i18n import level, t, value, values
from dashboards.pages_ import verdict
from dashboards.pages_.common import show, table, under_test
from policies.verdicts import COLORS, SEVERITIES

GRID_COLUMNS = 3
TOP_CLAMP = verdict.CLAMP.replace("line-clamp:2", "line-clamp:4")  # cards of even height


def render(url: str, caps: data.Caps) -> None:
    st.header(t("overview"))
    problems = data.problems(url, caps)
    by_dev = verdict.by_device(problems)
    devs = under_test(data.devices(url, caps), set(by_dev))
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("devices_total"), len(devs))
    c2.metric(t("problems_total"), len(problems))
    c3.metric(t("findings_clauses"), sum(len(p["findings"]) for p in problems))
    c4.metric(t("flows_total"), sum(int(d["flows"]) for d in devs))
    _grid(devs, by_dev)
    _table(url, caps, devs, by_dev)
    _chart(problems)


def _grid(devs: list[dict[str, Any]], by_dev: dict[str, list[dict[str, Any]]]) -> None:
    """One card per device, the worst first: name, MAC, verdict, top problem, open button."""
    order = sorted(devs, key=lambda d: (_rank(by_dev.get(str(d["mac"]), [])), str(d["name"] or d["mac"])))
    for start in range(0, len(order), GRID_COLUMNS):
        cols = st.columns(GRID_COLUMNS)
        for col, d in zip(cols, order[start : start + GRID_COLUMNS], strict=False):
            with col.container(border=True):
                _card(d, by_dev.get(str(d["mac"]), []))


def _rank(problems: list[dict[str, Any]]) -> tuple[int, int]:
    return (
        (SEVERITIES.index(str(problems[0]["severity"])), -len(problems)) if problems else (len(SEVERITIES), 0)
    )


def _card(d: dict[str, Any], problems: list[dict[str, Any]]) -> None:
    e = html.escape
    mac = str(d["mac"])
    name = str(d["name"] or d["vendor"] or d["oui_vendor"] or mac)
    if problems:
        head = f"{verdict.badge(str(problems[0]['severity']))} <b>{len(problems)}</b> {e(t('problems_n'))}"
        what = e(verdict.check_label(str(problems[0]["check"])))
        text = e(verdict.sentence(problems[0]))
        top = f"<div style='font-size:.85rem;{TOP_CLAMP}'><b>{what}</b>: {text}</div>"
    else:
        head, top = e(t("verdict_clean")), ""
    st.html(
        f"<div data-testid='device-card' data-mac='{e(mac)}'><b>{e(name)}</b><br>"
        f"<code style='font-size:.8rem'>{e(mac)}</code><div style='margin:4px 0'>{head}</div>{top}</div>"
    )
    st.button(t("open_device"), key=f"open_{mac}", on_click=verdict.open_device, args=(mac,))


def _table(
    url: str, caps: data.Caps, devs: list[dict[str, Any]], by_dev: dict[str, list[dict[str, Any]]]
) -> None:
    reach = {str(r["mac"]): r for r in data.device_overview(url, caps)}
    rows = []
    for d in devs:
        sev = Counter(str(p["severity"]) for p in by_dev.get(str(d["mac"]), []))
        r = reach.get(d["mac"], {})
        rows.append(
            {
                "mac": d["mac"],
                "attributed_by": value("attributed_by", d["attributed_by"]),
                "name": d["name"],
                "category": value("category", d["category"]),
                "vendor": d["vendor"] or d["oui_vendor"],
                "problems": ", ".join(f"{sev[s]} {level(s)}" for s in SEVERITIES if sev[s]) or "-",
                "data_types": values("data_type", r.get("data_types", [])),
                "third_parties": ", ".join(r.get("third_parties", [])) or "-",
                "countries": ", ".join(r.get("countries", [])) or "-",
                "flows": int(d["flows"]),
                "open": links.href("device", device=str(d["mac"])),
            }
        )
    cols = {"open": "device_link", "mac": "mac", "attributed_by": "attributed_by", "name": "name",
            "category": "category",
            "vendor": "vendor", "problems": "problems_total", "data_types": "data_types",
            "third_parties": "third_parties", "countries": "countries", "flows": "n_flows"}  # fmt: skip
    config = {t("device_link"): links.link_column(t("device_link"), "device")}  # each row opens its device
    show(table(rows, cols), "overview_table", config=config)


def _chart(problems: list[dict[str, Any]]) -> None:
    counts = Counter(str(p["severity"]) for p in problems)
    labels = [level(s) for s in SEVERITIES]
    frame = pd.DataFrame({"severity": labels, "count": [counts[s] for s in SEVERITIES]})
    chart = (
        alt.Chart(frame, title=t("problems_by_severity"))
        .mark_bar()
        .encode(
            x=alt.X("severity:N", sort=labels, title=t("severity")),
            y=alt.Y("count:Q", title=f"{t('count')} ({t('problems_n')})"),
            color=alt.Color(
                "severity:N",
                scale=alt.Scale(domain=labels, range=[COLORS[s] for s in SEVERITIES]),
                legend=None,
            ),
        )
    )
    st.altair_chart(chart, width="stretch")
