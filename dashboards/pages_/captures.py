"""Captures: every stored capture with its sha256, time span, devices and status."""

from __future__ import annotations

import os

import streamlit as st

from dashboards import data
from dashboards.i18n import t
from dashboards.pages_.common import table, ts


def _status(c: dict) -> str:
    if c["read_error"]:
        return f"read error: {c['read_error']}"
    return "truncated" if int(c["truncated"]) else "complete"


def render(url: str, caps: data.Caps) -> None:
    st.header(t("captures"))
    rows = [
        {
            "sha256": c["capture_id"],
            "path": os.path.basename(str(c["path"])),
            "start": ts(c["first_ns"]),
            "end": ts(c["last_ns"]),
            "duration": round((int(c["last_ns"]) - int(c["first_ns"])) / 6e10, 1),
            "packets": int(c["packets"]),
            "flows": int(c["flows"]),
            "devices": int(c["devices"]),
            "status": _status(c),
        }
        for c in data.captures(url)
        if not caps or c["capture_id"] in caps
    ]
    cols = {"sha256": "sha256", "path": "path", "start": "start", "end": "end", "duration": "duration",
            "packets": "packets", "flows": "n_flows", "devices": "devices", "status": "status"}  # fmt: skip
    st.dataframe(table(rows, cols), hide_index=True, key="captures_table")
