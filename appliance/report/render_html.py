"""The report as ONE self-contained HTML file: inline CSS, charts as inline SVG data, no external URL.

``templates/report.html.j2`` lays out the document of ``appliance.report.view``;
``templates/report.css.j2`` styles it. The same HTML is the PDF's source (``appliance.report.pdf``):
its ``@page`` rules give A4 pages with page numbers, and every table wraps (long ids break
anywhere) so nothing overflows.
"""

from __future__ import annotations

import base64
from functools import cache

import jinja2
from markupsafe import Markup, escape

from appliance.report import charts, view
from appliance.report.data import ReportData
from appliance.report.document import Run
from appliance.report.fonts import css_families
from policies.verdicts import COLORS


def _badges() -> dict[str, tuple[str, str]]:
    """Each severity's and verdict's badge colours (``policies.verdicts.COLORS``), with a text
    colour that stays readable on it (dark on pale backgrounds, by relative luminance)."""
    out = {}
    for name, bg in COLORS.items():
        r, g, b = (int(bg[i : i + 2], 16) for i in (1, 3, 5))
        out[name.replace(" ", "-")] = (bg, "#222" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#fff")
    return out


def _inline(text: str) -> Markup:
    """Prose whose `backquoted` parts are commands or names: those as <code>, all of it escaped."""
    parts = str(text).split("`")
    return Markup("").join(Markup("<code>%s</code>") % p if i % 2 else escape(p) for i, p in enumerate(parts))


def html_run(r: Run) -> Markup:
    """A run as HTML: ids monospaced and breaking anywhere, badges coloured by what they name."""
    if r.kind == "id":
        return Markup('<span class="id">%s</span>') % (r.text or "-")
    if r.kind == "code":
        return Markup("<code>%s</code>") % r.text
    if r.kind == "strong":
        return Markup("<b>%s</b>") % r.text
    if r.kind == "badge":
        return Markup('<span class="badge v-%s">%s</span>') % (r.text.replace(" ", "-"), r.text)
    if r.kind == "muted":
        return Markup('<span class="muted">%s</span>') % r.text
    if r.kind == "prose":
        return _inline(r.text)
    if r.kind == "anchor":
        return Markup('<a href="#f-%s">%s</a>') % (r.text, r.text)
    if r.kind in ("br", "nl"):
        return Markup("<br>")
    return escape(r.text)


def html_runs(runs: list[Run]) -> Markup:
    return Markup("").join(html_run(r) for r in runs)


def chart_src(chart: charts.Chart, fmt: str = "svg") -> str:
    """The chart as an SVG data URI (self-contained, and each chart's ids kept to itself), or as a
    PNG one for the PDF: WeasyPrint lays out matplotlib's SVG (every glyph a path) in about 6 s of
    the demo child watch's 11 s, a 200 dpi PNG of the same chart in a fraction of a second."""
    if fmt == "png":
        return "data:image/png;base64," + base64.b64encode(charts.render(chart, "png", dpi=200)).decode()
    return "data:image/svg+xml;base64," + base64.b64encode(charts.render(chart, "svg")).decode()


@cache
def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("appliance.report", "templates"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["runs"] = html_runs
    return env


def render_html(data: ReportData, lang: str = "both", chart_format: str = "svg") -> str:
    """The report as one HTML page, headings and labels in ``lang`` (en, zh, both)."""
    doc = view.build(data, lang)
    safe_head = "".join(ch for ch in doc.head if ch not in '"\\<>')  # inside a CSS string in <style>
    css = (
        _env(False)
        .get_template("report.css.j2")
        .render(
            head=safe_head,
            generated_at=data.generated_at,
            fonts=css_families(),
            badges=_badges(),
            lang=lang,
            number=data.issue.get("report_number", "").replace('"', ""),
        )
    )
    return (
        _env(True)
        .get_template("report.html.j2")
        .render(
            v=doc,
            css=Markup(css),
            chart_src={c.id: chart_src(c, chart_format) for c in data.charts if not c.empty},
        )
    )
