"""Flows: an explorer with server-side paging (LIMIT/OFFSET in ClickHouse) and CSV export of the page,
narrowed by device, destination, transport and application protocol, and time (all in ClickHouse)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from appliance.store.queries import FlowFilter
from dashboards import data, links
from dashboards.i18n import t, value
from dashboards.pages_.common import device_label, show, table, ts

PROTOS = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}
TRANSPORTS: tuple[int | None, ...] = (None, 6, 17, 1, 58)
# application protocols always offered; the stored ones of the selection are added
APPS = ("tls", "http", "dns", "quic", "mqtt", "ntp", "dhcp", "mdns", "ssdp")
PAGE_SIZES = (25, 50, 100, 500)
MINUTE = 60_000_000_000


def _endpoint(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _to_dt(ns: int) -> dt.datetime:
    """UTC as a naive datetime (what st.datetime_input shows and returns)."""
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).replace(tzinfo=None)


def _to_ns(value: dt.datetime) -> int:
    return int(value.replace(tzinfo=dt.UTC).timestamp()) * 1_000_000_000


def span(url: str, caps: data.Caps) -> tuple[int, int]:
    """The selected captures' time span in whole minutes: from the minute of the first packet to
    the minute after the last (the time inputs' resolution)."""
    rows = [c for c in data.captures(url) if not caps or c["capture_id"] in caps]
    if not rows:
        return 0, MINUTE
    first = min(int(c["first_ns"]) for c in rows)
    last = max(int(c["last_ns"]) for c in rows)
    return first // MINUTE * MINUTE, (last // MINUTE + 1) * MINUTE


def _apps(url: str, caps: data.Caps) -> list[str]:
    seen = {a for d in data.destinations(url, caps) for a in str(d.get("apps") or "").split(",") if a}
    return sorted(seen | set(APPS))


def _time_range(url: str, caps: data.Caps, c1: Any, c2: Any) -> tuple[int | None, int | None]:
    """From and until (UTC) inputs, the selection's whole span by default (then no condition)."""
    lo, hi = span(url, caps)
    if st.session_state.get("flows_span") != (lo, hi):  # another capture selection: start over
        st.session_state["flows_span"] = (lo, hi)
        st.session_state.pop("flows_since", None)
        st.session_state.pop("flows_until", None)
    since = c1.datetime_input(t("since"), _to_dt(lo), step=60, key="flows_since")
    until = c2.datetime_input(t("until"), _to_dt(hi), step=60, key="flows_until")
    since_ns = _to_ns(since) if since is not None else None
    until_ns = _to_ns(until) if until is not None else None
    return (None if since_ns is None or since_ns <= lo else since_ns,
            None if until_ns is None or until_ns >= hi else until_ns)  # fmt: skip


def render(url: str, caps: data.Caps) -> None:
    st.header(t("flows"))
    devs = data.devices(url, caps)
    names = {d["mac"]: device_label(d) for d in devs}
    c1, c2, c3 = st.columns([3, 1, 1])
    choice = c1.selectbox(t("device"), ["", *names], format_func=lambda m: names.get(m, t("all")),
                          key="flows_device", placeholder=t("choose"))  # fmt: skip
    device = choice or None
    size = int(c2.selectbox(t("page_size"), PAGE_SIZES, index=2, key="flows_size", placeholder=t("choose")))
    f1, f2, f3 = st.columns([3, 1, 1])
    dest = f1.text_input(t("dest_filter"), key="flows_dest").strip()
    proto = f2.selectbox(t("transport"), TRANSPORTS, key="flows_proto", placeholder=t("choose"),
                         format_func=lambda p: t("any") if p is None else PROTOS[p])  # fmt: skip
    app = f3.selectbox(t("app"), [None, *_apps(url, caps), ""], key="flows_app", placeholder=t("choose"),
                       format_func=lambda a: t("any") if a is None else a or t("app_none"))  # fmt: skip
    r1, r2 = st.columns(2)
    since, until = _time_range(url, caps, r1, r2)
    flt = FlowFilter(destination=dest or None, proto=proto, app=app, since_ns=since, until_ns=until)
    total = data.flow_count(url, caps, device, flt)
    pages = max(1, -(-total // size))
    sig = (caps, device, size, flt)
    prev = st.session_state.get("flows_sig")
    st.session_state["flows_sig"] = sig
    if prev is not None and prev != sig:  # another selection: back to its first page
        st.session_state["flows_page"] = 1
    if int(st.session_state.get("flows_page", 1)) > pages:
        st.session_state["flows_page"] = pages
    page = int(c3.number_input(t("page_no"), min_value=1, max_value=pages, step=1, key="flows_page"))
    st.metric(t("flows_total"), total)
    rows = data.flows(url, caps, device, size, (page - 1) * size, flt)
    for r in rows:
        r["start"] = ts(int(r["first_ns"]))
        r["protocol"] = PROTOS.get(int(r["proto"]), str(r["proto"]))
        r["src"] = _endpoint(str(r["src_ip"]), int(r["src_port"]))
        r["dst"] = _endpoint(str(r["dst_ip"]), int(r["dst_port"]))
        r["direction"] = value("direction", r["direction"])
        r["tcp_state"] = value("tcp_state", r["tcp_state"])
        r["device_link"] = links.href("device", device=str(r["device_mac"])) if r["device_mac"] else None
    cols = {
        "start": "start",
        "protocol": "proto",
        "app": "app",
        "destination": "destination",
        "src": "src",
        "dst": "dst",
        "device_mac": "mac",
        "device_link": "device_link",
        "direction": "direction",
        "bytes_up": "bytes_up",
        "bytes_down": "bytes_down",
        "tcp_state": "status",
    }  # fmt: skip  (named by time, device, destination)
    frame = table(rows, cols)
    st.caption(f"{t('page_no')} {page} / {pages}")
    config = {t("device_link"): links.link_column(t("device_link"), "device")}  # the device's page
    show(frame, "flows_table", config=config)
    st.download_button(
        t("download_csv"),
        frame.drop(columns=[t("device_link")]).to_csv(index=False).encode("utf-8"),
        file_name=f"flows-page{page}.csv",
        mime="text/csv",
        key="flows_csv",
    )
