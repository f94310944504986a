"""The report as Markdown (GitHub-flavoured tables), laid out by ``templates/report.md.j2``.

Charts are PNG files written next to the .md and linked by their file name; when the report
goes to stdout there is nowhere to put them, and a note says so.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jinja2

from appliance.report import charts, view
from appliance.report.data import ReportData
from appliance.report.document import Run

# CommonMark lets any ASCII punctuation be escaped (spec 0.31, section 2.4): these start emphasis,
# code, links and images, raw HTML and entities, headings, strikethrough and tables.
_SPECIAL = re.compile(r"([\\`*_|<>\[\]#!~&$])")
# GFM's autolink extension (spec section 6.9) links bare ``www.``, ``http://`` and e-mail text even
# without brackets: an escaped ``.``, ``:`` or ``@`` breaks the pattern and still shows the character.
_AUTOLINK = re.compile(r"(?i)(?<=\bwww)(\.)|(?<=\bhttps)(:)|(?<=\bhttp)(:)|(?<=\bftp)(:)|(@)")


def esc(value: Any) -> str:
    """Plain text for a Markdown table cell or paragraph: traffic text (hosts, paths, names) is data,
    never markup, so nothing in it can make a link, an image or HTML (issue 17)."""
    text = _SPECIAL.sub(r"\\\1", str(value))
    text = _AUTOLINK.sub(lambda m: "\\" + m.group(0), text)
    return text.replace("\r", " ").replace("\n", "<br>")


def inline(text: str) -> str:
    """Prose whose `backquoted` parts are commands or names: those as code spans, the rest escaped."""
    parts = str(text).split("`")
    return "".join(code(p) if i % 2 else esc(p) for i, p in enumerate(parts))


def code(value: Any) -> str:
    """Literal text (ids, masked excerpts, field paths) in a code span; '-' when empty."""
    text = str(value).replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    if not text:
        return "-"
    if "`" not in text:
        return f"`{text}`"
    fence = "`" * (max(len(run) for run in re.findall(r"`+", text)) + 1)  # longer than any run inside
    return f"{fence} {text} {fence}"


def md_run(r: Run) -> str:
    """A run as Markdown: ids and code as code spans, badges and strong text bold, secondary text plain."""
    if r.kind in ("id", "code"):
        return code(r.text)
    if r.kind in ("strong", "badge"):
        return f"**{esc(r.text)}**"
    if r.kind == "prose":
        return inline(r.text)
    if r.kind == "br":
        return "<br>"
    if r.kind == "nl":  # a table cell is one line: the run's separator instead of a break
        return r.text
    return esc(r.text)


def md_runs(runs: list[Run]) -> str:
    return "".join(md_run(r) for r in runs)


def md_label(runs: list[Run]) -> str:
    """A column label: the report's own words, unescaped ("#"), on one line."""
    return "".join(r.text for r in runs)


def chart_file_names(stem: str, data: ReportData) -> dict[str, str]:
    """chart id -> the PNG's file name beside the report (``report.md`` -> ``report.intervals.png``)."""
    return {c.id: f"{stem}.{c.id}.png" for c in data.charts if not c.empty}


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("appliance.report", "templates"),
        autoescape=False,  # Markdown: the filters escape
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(runs=md_runs, label=md_label, esc=esc, code=code)
    return env.get_template("report.md.j2")


def render_md(
    data: ReportData, chart_stem: str | None = None, lang: str = "both"
) -> tuple[str, dict[str, bytes]]:
    """The Markdown text (headings and labels in ``lang``: en, zh, both), and the chart PNGs to
    write beside it (file name -> bytes)."""
    names = chart_file_names(chart_stem, data) if chart_stem else {}
    files = {names[c.id]: charts.render(c, "png", dpi=150) for c in data.charts if c.id in names}
    return _template().render(v=view.build(data, lang), files=names), files
