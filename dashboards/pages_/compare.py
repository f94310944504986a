"""Compare: what changed from capture A to capture B (two firmware versions, say), from
``appliance.report.diff.compare``: destinations, organisations, countries and data types new and gone,
reporting series new and gone, frequency and precision changes, findings new and gone.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from appliance.report.diff import DiffError, compare
from appliance.store.backends import StoreError
from dashboards import data
from dashboards.i18n import lang, t, value
from dashboards.pages_.common import device_label, lit, table, ts


def _countries(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "countries": ", ".join(r.get("countries", []))} for r in rows]


WORDS = {
    "data_type": "data_type",
    "phase": "phase",
    "severity": "level",
    "finer": "bool",
    "subject": "data_type",
}  # column: kind


def _words(rows: list[Any]) -> list[Any]:
    """Rows with their data types, phases, severities and yes/no in the chosen language."""
    return [
        {k: value(WORDS[k], v) if k in WORDS else v for k, v in r.items()}
        if isinstance(r, dict)
        else value("data_type", r)
        for r in rows
    ]


def _side_words(part: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {side: _words(rows) for side, rows in part.items()}


def _side_by_side(part: dict[str, list[dict[str, Any]]], what: str, cols: dict[str, str]) -> None:
    """The new rows (left) and the gone rows (right); the key column says which side it is."""
    left, right = st.columns(2)
    key, *rest = cols
    for col, side in ((left, "new"), (right, "gone")):
        labels = {key: f"{side}_{what}", **{c: cols[c] for c in rest}}
        col.caption(t("new_in_b") if side == "new" else t("gone_in_b"))
        col.dataframe(table(part[side], labels), hide_index=True)


def render(url: str, caps: data.Caps) -> None:
    st.header(t("compare"))
    stored = [c for c in data.captures(url) if not caps or c["capture_id"] in caps]
    if len(stored) < 2:
        st.info(t("need_two"))
        return
    names = {str(c["capture_id"]): os.path.basename(str(c["path"])) for c in stored}
    ids = list(names)
    c1, c2, c3 = st.columns(3)
    a = c1.selectbox(
        t("capture_a"),
        ids,
        index=0,
        format_func=lambda c: f"{names[c]} ({c[:8]})",
        key="cmp_a",
        placeholder=t("choose"),
    )
    b = c2.selectbox(
        t("capture_b"),
        ids,
        index=1,
        format_func=lambda c: f"{names[c]} ({c[:8]})",
        key="cmp_b",
        placeholder=t("choose"),
    )
    if a is None or b is None or a == b:
        st.info(t("same_capture"))
        return
    devs = {str(d["mac"]): d for d in data.devices(url, tuple(sorted((a, b))))}
    choices = ["", *sorted(devs)]
    mac = c3.selectbox(t("device"), choices, format_func=lambda m: device_label(devs[m]) if m else t("all"),
                       key="cmp_dev", placeholder=t("choose"))  # fmt: skip
    try:
        doc = data._run(url, compare, a, b, mac or None)
    except (DiffError, StoreError) as exc:
        st.error(lit(exc))
        return
    left, right = st.columns(2)
    for col, side, label in ((left, "a", "capture_a"), (right, "b", "capture_b")):
        cap = doc[side]
        col.markdown(
            f"**{t(label)}:** {lit(os.path.basename(str(cap['path'])))} · {ts(cap['first_ns'])} · "
            f"{int(cap['packets']):,} {t('packets').lower()}"
        )
    st.metric(t("changes"), doc["changes"])

    st.subheader(t("destinations"))
    _side_by_side(_countries_doc(doc["destinations"]), "destination",
                  {"destination": "", "organisation": "organisation", "countries": "countries"})  # fmt: skip
    _side_by_side(doc["organisations"], "organisation", {"organisation": ""})
    _side_by_side(doc["countries"], "country", {"country": ""})

    st.subheader(t("data_types"))
    _side_by_side(_side_words(doc["data_types"]), "data_type", {"data_type": "", "reports": "reports"})

    st.subheader(t("series_title"))
    series_cols = {"data_type": "", "organisation": "organisation", "phase": "phase",
                   "interval_s": "interval_s", "reports": "reports"}  # fmt: skip
    _side_by_side(_side_words(doc["series"]), "series", series_cols)

    st.subheader(t("frequency_title"))
    freq_cols = {"data_type": "data_type", "organisation": "organisation", "phase": "phase",
                 "a_interval_s": "a_interval", "b_interval_s": "b_interval", "a_reports": "a_reports",
                 "b_reports": "b_reports", "factor": "factor"}  # fmt: skip
    st.dataframe(table(_words(doc["frequency"]), freq_cols), hide_index=True)

    st.subheader(t("precision_title_cmp"))
    prec_cols = {"data_type": "data_type", "organisation": "organisation", "phase": "phase",
                 "a_decimals": "a_decimals", "b_decimals": "b_decimals", "a_metres": "a_metres",
                 "b_metres": "b_metres", "finer": "finer"}  # fmt: skip
    st.dataframe(table(_words(doc["precision"]), prec_cols), hide_index=True)

    st.subheader(t("findings"))
    finding_cols = {"rule_id": "", "subject": "subject", "severity": "severity", "statement": "statement"}
    zh = {str(f["statement"]): str(f["statement_zh"]) for f in data.findings(url, tuple(sorted((a, b))))}
    said = {
        side: [{**r, "statement": zh.get(str(r["statement"])) or r["statement"]} for r in rows]
        for side, rows in doc["findings"].items()
    }  # the statement in Chinese, the findings' own (diff's document carries the English)
    _side_by_side(_side_words(said if lang() == "zh" else doc["findings"]), "finding", finding_cols)


def _countries_doc(part: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {side: _countries(rows) for side, rows in part.items()}
