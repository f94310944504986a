"""What the pages share: time formatting, traffic text made literal, the device picker, the data
frame helpers."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import streamlit as st

from appliance.format import fmt_ts
from dashboards import data
from dashboards.i18n import t


def ts(ns: int) -> str:
    """A time as the CLI and the report print it (``appliance.format``)."""
    return fmt_ts(int(ns)) if ns else "-"


_TICKS = re.compile("`+")


def lit(value: Any) -> str:
    """Text for st.markdown and every label Streamlit reads as Markdown (expanders, alerts, captions,
    metrics) as a code span: a host, path, device name or file name from traffic or an upload shows
    exactly as typed and never makes a link, an image, HTML, emphasis, a LaTeX formula or a
    Streamlit ``:icon:`` directive (issue 17). Backslash escapes are not enough: Streamlit's
    Markdown (remark-gfm) turns bare ``http://`` and ``www.`` text into links after escapes are
    resolved, but never inside code (CommonMark 0.31, section 6.1). The fence is longer than any
    run of backticks inside, and spaces pad a value that starts or ends with one. One line."""
    text = " ".join(str(value).splitlines())
    if not text:
        return ""
    fence = "`" * (max((len(m) for m in _TICKS.findall(text)), default=0) + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def to_dt(ns: Any) -> pd.Series:
    return pd.to_datetime(pd.Series(ns, dtype="int64"), unit="ns", utc=True)


def device_label(d: dict[str, Any]) -> str:
    """A device as pickers show it (plain text: Streamlit does not read options as Markdown); through
    ``lit`` wherever it goes into Markdown."""
    return f"{d['name'] or d['oui_vendor'] or '?'} ({d['mac']})"


def under_test(devices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Devices on the bench, else every device that is not the gateway or a phone."""
    bench = [d for d in devices if int(d["on_bench"])]
    return bench or [d for d in devices if d["role"] == "device"]


def pick_device(url: str, caps: data.Caps, key: str) -> dict[str, Any] | None:
    devs = under_test(data.devices(url, caps)) or data.devices(url, caps)
    if not devs:
        st.info(t("no_data"))
        return None
    by_mac = {d["mac"]: d for d in devs}
    mac = st.selectbox(t("device"), list(by_mac), format_func=lambda m: device_label(by_mac[m]), key=key,
                       placeholder=t("choose"))  # fmt: skip
    return by_mac[mac]


def table(rows: list[dict[str, Any]], columns: dict[str, str]) -> pd.DataFrame:
    """Rows as a frame with the chosen columns, renamed to labels (of the current language)."""
    frame = pd.DataFrame([{t(label): r.get(col) for col, label in columns.items()} for r in rows])
    if frame.empty:
        frame = pd.DataFrame(columns=[t(label) for label in columns.values()])
    return frame
