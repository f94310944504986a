"""What the pages share: time formatting, traffic text made literal, the device picker, the data
frame helpers.

Every table a page shows goes through ``table`` (and ``show``), which formats its cells as the CLI
and the report do (``appliance.format``, issue 18 point 3): bytes in kB/MB, periods rounded,
flags as yes/no (是/否), MACs with their vendor, times in the lab's zone with the UTC offset in the
column's help, hashes cut short in a narrow column that still holds (and copies) the whole one."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import pandas as pd
import streamlit as st

from appliance import format as fmt
from dashboards import data
from dashboards.i18n import lang, t


def lab_zone() -> str:
    """The zone times are shown in: TAPAUDIT_TZ, else the lab settings file's (read once per
    process, as the CLI does), else UTC. A bad setting shows times in UTC; the report download
    names the problem in its one-line error."""
    try:
        if not fmt.lab_zone_read():
            from appliance.report.lab import LabSettingsError, load

            try:
                load(None)
            except LabSettingsError:
                fmt.use_zone("")
        return fmt.zone_name()
    except fmt.ZoneError:
        return fmt.UTC


def ts(ns: int) -> str:
    """A time as the CLI and the report print it (``appliance.format``), in the lab's zone."""
    if not ns:
        return "-"
    lab_zone()
    try:
        return fmt.fmt_ts(int(ns))
    except fmt.ZoneError:  # a bad TAPAUDIT_TZ: UTC, said so
        return fmt.fmt_ts_utc(int(ns))


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


def under_test(devices: list[dict[str, Any]], with_findings: Collection[str] = ()) -> list[dict[str, Any]]:
    """Devices on the bench, else every device that is not the gateway or a phone; and, either way,
    every device with findings (``with_findings``, MACs): a bench file of one capture must not hide
    the devices of the others (issue 18)."""
    bench = [d for d in devices if int(d["on_bench"])]
    chosen = bench or [d for d in devices if d["role"] == "device"]
    have = {str(d["mac"]) for d in chosen}
    return chosen + [d for d in devices if str(d["mac"]) in with_findings and str(d["mac"]) not in have]


def pick_device(url: str, caps: data.Caps, key: str) -> dict[str, Any] | None:
    found = {str(p["device_mac"]) for p in data.problems(url, caps)}
    devs = under_test(data.devices(url, caps), found) or data.devices(url, caps)
    if not devs:
        st.info(t("no_data"))
        return None
    by_mac = {d["mac"]: d for d in devs}
    mac = st.selectbox(t("device"), list(by_mac), format_func=lambda m: device_label(by_mac[m]), key=key,
                       placeholder=t("choose"))  # fmt: skip
    return by_mac[mac]


# What a column holds, by its row key (``table``'s columns): formatted as everywhere else.
BYTES = re.compile(r"(^|_)bytes($|_)|^(sent|received)$")
FLAGS = frozenset(
    {"cross_border", "readable", "truncated", "on_bench", "periodic", "encrypted", "keyed", "ok"}
)
MACS = frozenset({"mac", "device_mac"})
HASHES = frozenset({"sha256", "capture_id", "finding_id", "rules_sha256", "declaration_sha256", "value_hash"})
TIMES = frozenset({"start", "end", "first", "last", "first_seen", "last_seen", "time", "when"})


def cell(key: str, value: Any) -> Any:
    """One value of column ``key`` as a person reads it (``appliance.format``); others as they are."""
    if value is None:
        return "-"
    if key.endswith("_ns") and isinstance(value, int | float):
        return ts(int(value))
    if BYTES.search(key) and isinstance(value, int | float):
        return fmt.fmt_bytes(value)
    if key.endswith("_s") and isinstance(value, int | float):
        return fmt.fmt_secs(float(value))
    if key in FLAGS:
        return fmt.fmt_bool(value, lang())
    if key in MACS and isinstance(value, str):
        return fmt.fmt_mac(value)
    return value


def cells(row: dict[str, Any], columns: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
    """A row's cells; a MAC gets its vendor only where no vendor or name column says who it is."""
    named = bool({"vendor", "name", "device"} & set(columns))
    return {labels[c]: row.get(c) if c in MACS and named else cell(c, row.get(c)) for c in columns}


def table(rows: list[dict[str, Any]], columns: dict[str, str]) -> pd.DataFrame:
    """Rows as a frame with the chosen columns, renamed to labels (of the current language), each
    cell formatted (``cell``); a time column's label names the lab's zone. ``show`` draws it."""
    labels = {col: _label(col, label) for col, label in columns.items()}
    frame = pd.DataFrame([cells(r, columns, labels) for r in rows])
    if frame.empty:
        frame = pd.DataFrame(columns=list(labels.values()))
    frame.attrs["kinds"] = {labels[col]: _kind(col) for col in columns}
    if "time" in frame.attrs["kinds"].values() and lab_zone() != fmt.UTC:  # the offsets at these times
        times = {int(v) for r in rows for k, v in r.items() if k.endswith("_ns") and isinstance(v, int) and v}
        frame.attrs["zone"] = fmt.zone_note(times)
    return frame


_UNIT = re.compile(r"\s*[(（](s|秒)[)）]$")


def _label(col: str, label: str) -> str:
    """The column's label; a time's names the lab zone, a period's loses its ``(s)`` (cells say it)."""
    text = t(label)
    if _kind(col) == "time":
        return text.replace("UTC", lab_zone())
    return _UNIT.sub("", text) if col.endswith("_s") else text


def _kind(col: str) -> str:
    if col in TIMES or col.endswith("_ns"):
        return "time"
    if col in HASHES:
        return "hash"
    return ""


def column_config(frame: pd.DataFrame) -> dict[str, Any]:
    """Streamlit column settings for ``table``'s frame: a time column's help gives the zone and its
    UTC offsets (UTC on hover); a hash column is narrow (the hash reads short) and copies whole."""
    config: dict[str, Any] = {}
    kinds = frame.attrs.get("kinds", {})
    for label, kind in kinds.items():
        if kind == "time" and lab_zone() != fmt.UTC:
            zone = frame.attrs.get("zone") or fmt.zone_note()
            config[label] = st.column_config.TextColumn(label, help=t("utc_help").format(zone=zone))
        elif kind == "hash":
            config[label] = st.column_config.TextColumn(label, width="small", help=t("hash_help"))
    return config


def show(
    frame: pd.DataFrame | Any, key: str, where: Any = None, config: dict[str, Any] | None = None
) -> None:
    """``st.dataframe`` of a ``table`` (or its Styler) with ``column_config``, in ``where`` (a
    container) or the page; ``config`` adds columns of its own (links)."""
    base = frame.data if hasattr(frame, "data") and isinstance(frame.data, pd.DataFrame) else frame
    cfg = {**column_config(base), **(config or {})}
    (where or st).dataframe(frame, hide_index=True, key=key, column_config=cfg)
