"""Flows: an explorer with server-side paging (LIMIT/OFFSET in ClickHouse) and CSV export of the page."""

from __future__ import annotations

import streamlit as st

from dashboards import data
from dashboards.i18n import t
from dashboards.pages_.common import device_label, table, ts

PROTOS = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}
PAGE_SIZES = (25, 50, 100, 500)


def _endpoint(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def render(url: str, caps: data.Caps) -> None:
    st.header(t("flows"))
    devs = data.devices(url, caps)
    names = {d["mac"]: device_label(d) for d in devs}
    c1, c2, c3 = st.columns([3, 1, 1])
    choice = c1.selectbox(t("device"), ["", *names], format_func=lambda m: names.get(m, t("all")),
                          key="flows_device")  # fmt: skip
    device = choice or None
    size = int(c2.selectbox(t("page_size"), PAGE_SIZES, index=2, key="flows_size"))
    total = data.flow_count(url, caps, device)
    pages = max(1, -(-total // size))
    page = int(c3.number_input(t("page_no"), min_value=1, max_value=pages, value=1, step=1, key="flows_page"))
    st.metric(t("flows_total"), total)
    rows = data.flows(url, caps, device, size, (page - 1) * size)
    for r in rows:
        r["start"] = ts(int(r["first_ns"]))
        r["protocol"] = PROTOS.get(int(r["proto"]), str(r["proto"]))
        r["src"] = _endpoint(str(r["src_ip"]), int(r["src_port"]))
        r["dst"] = _endpoint(str(r["dst_ip"]), int(r["dst_port"]))
    cols = {"start": "start", "protocol": "proto", "src": "src", "dst": "dst", "device_mac": "mac",
            "direction": "direction", "bytes_up": "bytes_up", "bytes_down": "bytes_down",
            "tcp_state": "status", "flow_id": "flow_id"}  # fmt: skip
    frame = table(rows, cols)
    st.caption(f"{t('page_no')} {page} / {pages}")
    st.dataframe(frame, hide_index=True, key="flows_table")
    st.download_button(
        t("download_csv"),
        frame.to_csv(index=False).encode("utf-8"),
        file_name=f"flows-page{page}.csv",
        mime="text/csv",
        key="flows_csv",
    )
