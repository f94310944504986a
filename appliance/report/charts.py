"""The report's charts: built as data (``Chart``, part of the report's JSON), drawn with matplotlib.

Three charts: reporting intervals per data type (histogram, log x axis in seconds),
destinations by country and party (stacked bars), and a timeline of the personal data sent
by data type with the test phases shaded. Each has a title (English, and Chinese where a
CJK font is installed), axis labels with units and a legend. Drawn as SVG (text as paths,
so the HTML needs no font) or PNG; matplotlib's object API only, no pyplot state.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from dataclasses import dataclass, field
from typing import Any, cast

from appliance.format import fmt_bytes, zone, zone_name
from appliance.report.fonts import cjk_font

WIDTH_IN = 7.0  # an A4 page's text width at 15 mm margins
NICE_SECONDS = (0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
PARTIES = (
    ("first", "first party (第一方)"),
    ("third", "third party (第三方)"),
    ("unknown", "unknown (未知)"),
)
PARTY_COLOURS = {"first": "#4c78a8", "third": "#e45756", "unknown": "#bab0ac"}


@dataclass
class Chart:
    id: str  # intervals, destinations, timeline
    kind: str  # histogram, bar, timeline
    title: str
    title_zh: str
    x_label: str
    y_label: str
    legend_title: str
    # histogram: {label, values (s)}; bar: {label, key, values per category}; timeline: {label, times_ns}
    series: list[dict[str, Any]] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # bar: the x categories
    annotations: list[str] = field(default_factory=list)  # bar: a note above each category
    spans: list[dict[str, Any]] = field(default_factory=list)  # timeline: phase, start_ns, end_ns
    note: str = ""  # how to read it, or why it is empty

    @property
    def empty(self) -> bool:
        return not any(s.get("values") or s.get("times_ns") for s in self.series)


def interval_chart(gaps_by_type: dict[str, list[float]]) -> Chart:
    """Histogram of the intervals (s) between consecutive reports of each data type to each recipient."""
    series = [{"label": k, "values": sorted(v)} for k, v in sorted(gaps_by_type.items()) if v]
    return Chart(
        id="intervals",
        kind="histogram",
        title="Reporting intervals by data type",
        title_zh="各类个人信息的上报间隔",
        x_label="Interval between consecutive reports (s, log scale)",
        y_label="Intervals (count)",
        legend_title="Data type (数据类型)",
        series=series,
        note="Each interval is the time between two messages carrying the same data type to the same "
        "organisation; bars are stacked by data type."
        if series
        else "No data type was reported twice: there are no intervals to show.",
    )


def destination_chart(destinations: list[dict[str, Any]]) -> Chart:
    """Stacked bars: destinations per country, split by party, with the bytes sent there above each bar."""
    countries: dict[str, dict[str, int]] = {}
    sent: dict[str, int] = {}
    for d in destinations:
        cs = d["countries"] or [""]
        for c in cs:
            label = (c or "unknown") + (" (abroad)" if d["cross_border"] and c else "")
            party = d["party"] if d["party"] in PARTY_COLOURS else "unknown"
            countries.setdefault(label, {}).setdefault(party, 0)
            countries[label][party] += 1
            sent[label] = sent.get(label, 0) + int(d["bytes_up"]) // len(cs)
    cats = sorted(countries, key=lambda c: (-sum(countries[c].values()), c))
    series = [
        {"label": label, "key": key, "values": [countries[c].get(key, 0) for c in cats]}
        for key, label in PARTIES
        if any(countries[c].get(key, 0) for c in cats)
    ]
    return Chart(
        id="destinations",
        kind="bar",
        title="Destinations by country and party",
        title_zh="按国家/地区和归属方统计的目的地",
        x_label="Country where the remote address is located (ISO 3166)",
        y_label="Destinations (count)",
        legend_title="Party (归属方)",
        series=series,
        categories=cats,
        annotations=[fmt_bytes(sent[c]) + " sent" for c in cats],
        note="A destination is a domain (else an address); above each bar, the bytes the device sent there."
        if cats
        else "The device sent nothing off the LAN.",
    )


def timeline_chart(times_by_type: dict[str, list[int]], phases: list[dict[str, Any]]) -> Chart:
    """Each message carrying personal data, by data type over time, on the shaded test phases."""
    series: list[dict[str, Any]] = [
        {"label": k, "times_ns": sorted(v)} for k, v in sorted(times_by_type.items()) if v
    ]
    first = min((s["times_ns"][0] for s in series), default=0)
    last = max((s["times_ns"][-1] for s in series), default=0)
    long_run = last - first > 12 * 3600 * 10**9  # hh:mm alone would repeat
    return Chart(
        id="timeline",
        kind="timeline",
        title="Personal data sent over time, by data type",
        title_zh="按数据类型的个人信息发送时间线",
        x_label=f"Time ({zone_name()}, " + ("mm-dd hh:mm" if long_run else "hh:mm") + ")",
        y_label="Data type",
        legend_title="Test phase (测试阶段)",
        series=series,
        spans=[{"phase": p["phase"], "start_ns": p["start_ns"], "end_ns": p["end_ns"]} for p in phases],
        note="One mark per message carrying the data type; the shading shows the test phases."
        if series
        else "No personal data was found in what the device sent.",
    )


def render(chart: Chart, fmt: str = "svg", dpi: int = 150) -> bytes:
    """The chart drawn as SVG or PNG bytes (an empty chart says so in its plot area)."""
    import matplotlib
    from matplotlib.figure import Figure

    font = cjk_font()
    families = ["DejaVu Sans"]
    if font:
        from matplotlib import font_manager

        if font.family not in {f.name for f in font_manager.fontManager.ttflist}:
            font_manager.fontManager.addfont(font.path)
        families.append(font.family)
    rc: dict[str, Any] = {
        "font.family": families,
        "font.size": 8,
        "axes.titlesize": 9.5,
        "svg.fonttype": "path",  # glyphs as paths: the SVG shows Chinese without the reader's fonts
        "svg.hashsalt": f"tapaudit-{chart.id}",  # stable ids, distinct per chart
        "axes.unicode_minus": False,
    }
    with matplotlib.rc_context(cast(Any, rc)):  # rc_context types its keys as literals
        fig = Figure(figsize=(WIDTH_IN, _height(chart)), layout="constrained")
        ax = fig.add_subplot()
        title = chart.title + (f"\n{chart.title_zh}" if font and chart.title_zh else "")
        ax.set_title(title)
        ax.set_xlabel(chart.x_label)
        ax.set_ylabel(chart.y_label)
        if chart.empty:
            ax.text(0.5, 0.5, chart.note, ha="center", va="center", transform=ax.transAxes, wrap=True)
            ax.set_xticks([])
            ax.set_yticks([])
        elif chart.kind == "histogram":
            _histogram(ax, chart)
        elif chart.kind == "bar":
            _bars(ax, chart)
        else:
            _timeline(ax, chart)
        buf = io.BytesIO()
        meta = {"Date": None} if fmt == "svg" else {}
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta)
    return buf.getvalue()


def _height(chart: Chart) -> float:
    if chart.kind == "timeline":
        return max(2.6, 1.9 + 0.24 * len(chart.series))
    if chart.kind == "histogram":
        return max(3.0, 2.2 + 0.16 * len(chart.series))
    return 3.2


def _legend(ax: Any, chart: Chart) -> None:
    ax.legend(
        title=chart.legend_title,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=7,
        title_fontsize=7.5,
        frameon=False,
    )


def _histogram(ax: Any, chart: Chart) -> None:
    from matplotlib import colormaps

    values = [v for s in chart.series for v in s["values"] if v > 0]
    lo, hi = min(values) / 1.3, max(values) * 1.3
    lo = max([t for t in NICE_SECONDS if t <= lo], default=lo)  # a labelled tick at either end
    hi = min([t for t in NICE_SECONDS if t >= hi], default=hi)
    lo_e, hi_e = math.log10(lo), math.log10(hi)
    n = 36
    edges = [10 ** (lo_e + (hi_e - lo_e) * i / n) for i in range(n + 1)]
    cmap = colormaps["tab10" if len(chart.series) <= 10 else "tab20"]
    ax.hist(
        [[v for v in s["values"] if v > 0] for s in chart.series],
        bins=edges,
        stacked=True,
        label=[s["label"] for s in chart.series],
        color=[cmap(i % cmap.N) for i in range(len(chart.series))],
        edgecolor="white",
        linewidth=0.3,
    )
    ax.set_xscale("log")
    ticks = [t for t in NICE_SECONDS if edges[0] <= t <= edges[-1]]
    if len(ticks) >= 2:
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="y", linewidth=0.3, alpha=0.6)
    _legend(ax, chart)


def _bars(ax: Any, chart: Chart) -> None:
    xs = list(range(len(chart.categories)))
    bottom = [0] * len(xs)
    for s in chart.series:
        ax.bar(xs, s["values"], bottom=bottom, label=s["label"], color=PARTY_COLOURS.get(s["key"]), width=0.6)
        bottom = [b + v for b, v in zip(bottom, s["values"], strict=True)]
    for x, top, note in zip(xs, bottom, chart.annotations, strict=True):
        ax.annotate(note, (x, top), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=7)
    ax.set_xticks(
        xs, chart.categories, rotation=30 if len(xs) > 6 else 0, ha="right" if len(xs) > 6 else "center"
    )
    pad = max(0.0, (4 - len(xs)) / 2)  # one or two countries: bars of a normal width, not the whole axis
    ax.set_xlim(-0.6 - pad, len(xs) - 0.4 + pad)
    ax.set_ylim(0, max(bottom) * 1.18 + 0.5)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="y", linewidth=0.3, alpha=0.6)
    _legend(ax, chart)


def _timeline(ax: Any, chart: Chart) -> None:
    from matplotlib import colormaps, dates
    from matplotlib.patches import Patch

    def num(ns: int) -> float:
        return float(dates.date2num(dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)))

    first = min(s["times_ns"][0] for s in chart.series)
    last = max(s["times_ns"][-1] for s in chart.series)
    spans = [p for p in chart.spans if p["end_ns"] > p["start_ns"]]
    lo = min([first, *[p["start_ns"] for p in spans]])
    hi = max([last, *[p["end_ns"] for p in spans]])
    pastel = colormaps["Pastel2"]
    colours: dict[str, Any] = {}
    for p in spans:
        colour = colours.setdefault(p["phase"], pastel(len(colours) % 8))
        ax.axvspan(num(p["start_ns"]), num(p["end_ns"]), color=colour, alpha=0.7, linewidth=0)
    top = len(chart.series) - 1  # first data type at the top
    for i, s in enumerate(chart.series):
        xs = [num(t) for t in s["times_ns"]]
        ax.plot(xs, [top - i] * len(xs), linestyle="none", marker="|", markersize=9, color="#1f3b5a")
    ax.set_yticks([top - i for i in range(len(chart.series))], [s["label"] for s in chart.series])
    ax.set_ylim(-0.7, len(chart.series) - 0.3)
    pad = max((hi - lo) * 0.01, 10**9)
    ax.set_xlim(num(lo - pad), num(hi + pad))
    fmt = "%m-%d %H:%M" if "mm-dd" in chart.x_label else "%H:%M"
    ax.xaxis.set_major_locator(dates.AutoDateLocator(tz=zone(), minticks=4, maxticks=9))
    ax.xaxis.set_major_formatter(dates.DateFormatter(fmt, tz=zone()))  # the lab's clock, as the tables
    ax.grid(axis="x", linewidth=0.3, alpha=0.6)
    if colours:
        handles = [Patch(facecolor=c, alpha=0.7, label=name) for name, c in colours.items()]
        ax.legend(
            handles=handles,
            title=chart.legend_title,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=7,
            title_fontsize=7.5,
            frameon=False,
        )
