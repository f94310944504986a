"""Device: first what is wrong with it (issue 18, point 1: identity, one sentence per kind of problem
with severity, requirements and a way to the evidence, ``verdict``), then its verdict per
requirement (as its report gives them), its observations over time with
the test phases shaded, reporting intervals, location precision, destinations, and its encrypted
traffic's share read with session keys, its periodicity and upload bursts."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from appliance.report.traffic import KEY_SOURCES
from dashboards import charts, data, links
from dashboards.i18n import lang, level, note, reason, t, value, values
from dashboards.pages_ import verdict
from dashboards.pages_.common import pick_device, show, table, ts

TIME_FORMAT = "%m-%d %H:%M"  # time axes: digits only (Vega's default ticks name weekdays in English)


def render(url: str, caps: data.Caps) -> None:
    st.header(t("device"))
    pick, who = st.columns([2, 3], vertical_alignment="bottom")
    with pick:
        dev = pick_device(url, caps, "device_pick")
    if dev is None:
        return
    mac = str(dev["mac"])
    with who:
        verdict.identity(dev)
    verdict.verdict(mac, data.problems(url, caps, mac))
    charts.render(
        url, caps, mac
    )  # the pictures (dashboards/charts/): recipients, map, rates, timeline, precision
    _requirements(data.requirements(url, caps, mac))
    series = data.observation_series(url, caps, mac)
    if series:
        _intervals(series)
    else:
        st.info(t("no_observations"))
    st.subheader(t("destinations"))
    dests = data.destinations(url, caps, mac)
    cols = {"destination": "destination", "organisation": "organisation", "party": "party",
            "countries": "country", "cross_border": "cross_border", "securities": "security",
            "flows": "n_flows", "bytes_sent": "bytes_sent", "bytes_received": "received"}  # fmt: skip
    for r in dests:
        r["party"] = value("party", r["party"])
        r["securities"] = values("security", r["securities"])
        r["cross_border"] = value("bool", r["cross_border"])
        r["flows_link"] = links.href("flows", device=mac, dest=str(r["destination"]))
    cols["flows_link"] = "flows_link"  # the device's flows to this destination
    config = {t("flows_link"): links.link_column(t("flows_link"), "dest")}
    show(table(dests, cols), "device_destinations", config=config)
    _coverage(data.tls_coverage(url, caps, mac))
    _periods(data.periods(url, caps, mac))
    _uploads(data.uploads(url, caps, mac))


def _requirements(reqs: list[dict[str, Any]]) -> None:
    """The verdict (fail, review, pass, not assessed) and, beside it, the worst finding's severity."""
    st.subheader(t("requirements_title"))
    zh = lang() == "zh"
    rows = [
        {
            "id": q["id"],
            "title": q["title_zh"] if zh else q["title"],
            "verdict": level(q["verdict"]),
            "severity": level(q["severity"]),
            "findings": q["findings"],
            "note": note(q["note"]),
        }
        for q in reqs
    ]
    cols = {"id": "req_id", "title": "requirement", "verdict": "verdict", "severity": "worst_finding",
            "findings": "n_findings", "note": "basis"}  # fmt: skip
    show(table(rows, cols), "device_requirements")


def _intervals(series: list[dict[str, Any]]) -> None:
    gaps = [
        {"kind": value("data_type", s["data_type"]), "gap_s": int(g) / 1e9}
        for s in series
        for g in s["gaps"]
        if int(g) > 0
    ]
    if not gaps:
        return
    chart = (
        alt.Chart(pd.DataFrame(gaps), title=t("interval_title"))
        .mark_bar()
        .encode(
            x=alt.X("gap_s:Q", bin=alt.Bin(maxbins=40), title=t("interval_s")),
            y=alt.Y("count():Q", title=t("n_intervals")),
            color=alt.Color("kind:N", title=t("data_type")),
        )
    )
    st.altair_chart(chart, width="stretch")


def _coverage(rows: list[dict[str, Any]]) -> None:
    """Encrypted flows and bytes, of which decrypted and still unread (as the report's section 8)."""
    c = rows[0] if rows else None
    if c is None or not int(c["encrypted_flows"]):
        return
    st.subheader(t("coverage_title"))
    enc_f, enc_b = int(c["encrypted_flows"]), int(c["encrypted_bytes"])
    dec_f, dec_b = int(c["decrypted_flows"]), int(c["decrypted_bytes"])
    shown = [
        {"what": t("coverage_encrypted"), "flows": enc_f, "bytes": enc_b},
        {"what": t("coverage_decrypted"), "flows": dec_f, "bytes": dec_b},
        {"what": t("coverage_unread"), "flows": enc_f - dec_f, "bytes": enc_b - dec_b},
    ]
    cols = {"what": "coverage_what", "flows": "n_flows", "bytes": "coverage_bytes"}
    show(table(shown, cols), "device_coverage")
    if list(c["key_sources"]):
        names = [
            value("key_source", k) if lang() == "zh" else KEY_SOURCES.get(k, k) for k in c["key_sources"]
        ]
        st.caption(f"{t('key_sources')}: {', '.join(names)}")


def _periods(periods: list[dict[str, Any]]) -> None:
    st.subheader(t("periodicity_title"))
    rows = [p for p in periods if p["periodic"]]
    if not rows:
        st.info(t("no_periodic"))
        return
    cols = {"destination": "destination", "organisation": "organisation", "country": "country",
            "period_s": "period", "jitter_s": "jitter", "bursts": "bursts"}  # fmt: skip
    show(table(rows, cols), "device_periods")
    chart = (
        alt.Chart(
            pd.DataFrame([{"dest": p["destination"], "period": p["period_s"]} for p in rows]),
            title=t("periodicity_title"),
        )
        .mark_bar()
        .encode(x=alt.X("period:Q", title=t("period")), y=alt.Y("dest:N", title=t("destination")))
    )
    st.altair_chart(chart, width="stretch")


def _uploads(uploads: list[dict[str, Any]]) -> None:
    st.subheader(t("uploads_title"))
    if not uploads:
        st.info(t("no_uploads"))
        return
    frame = pd.DataFrame(
        [
            {
                "time": pd.Timestamp(int(u["start_ns"]), unit="ns", tz="UTC"),
                "kb": int(u["bytes_out"]) / 1000,
                "dest": str(u["destination"]),
                "kind": value("upload_kind", u["kind"]),
                "confidence": f"{value('confidence', u['confidence'])} {float(u['score']):.2f}",
            }
            for u in uploads
        ]
    )
    chart = (
        alt.Chart(frame, title=t("uploads_title"))
        .mark_circle(size=60)
        .encode(
            x=alt.X("time:T", title=t("time_utc"), axis=alt.Axis(format=TIME_FORMAT)),
            y=alt.Y("kb:Q", title=t("upload_kb")),
            color=alt.Color("kind:N", title=t("upload_kind")),
            tooltip=["time:T", "dest:N", "kind:N", "confidence:N", "kb:Q"],
        )
    )
    st.altair_chart(chart, width="stretch")
    for u in uploads:
        u["start"] = ts(int(u["start_ns"]))
        u["sure"] = f"{value('confidence', u['confidence'])} {float(u['score']):.2f}"
        u["kind"] = value("upload_kind", u["kind"])
        u["reason"] = reason(str(u["reason"]))
    cols = {"start": "start", "destination": "destination", "kind": "upload_kind",
            "sure": "upload_confidence", "bytes_out": "bytes_out", "reason": "upload_reason"}  # fmt: skip
    show(table(uploads, cols), "device_uploads")
