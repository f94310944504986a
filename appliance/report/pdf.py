"""The report as PDF: the HTML report laid out by WeasyPrint on A4 pages with page numbers.

WeasyPrint needs pango (Debian's libpango, in the base image) and the Chinese text a CJK
font (fonts-wqy-microhei, installed by scripts/ensure-debs.sh); either missing is a one-line
error. Nothing is fetched: the HTML is self-contained and only data: URLs are allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from appliance.report.data import ReportData, ReportError
from appliance.report.fonts import INSTALL_HINT, cjk_font
from appliance.report.render_html import render_html


def check_pdf_support() -> None:
    """ReportError with one line when a PDF cannot be made here (before any work is done)."""
    if cjk_font() is None:
        raise ReportError(f"--format pdf: no CJK font for the Chinese text: {INSTALL_HINT}")
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:  # OSError: pango missing
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReportError(f"--format pdf: WeasyPrint cannot be loaded ({first})") from None


def render_pdf(data: ReportData, lang: str = "both", progress: Callable[[str], None] | None = None) -> bytes:
    """The PDF; ``progress`` is told each step as it starts (the CLI shows them on stderr).

    The charts go in as PNG: WeasyPrint spends most of its time on matplotlib's SVG glyph paths
    (``render_html.chart_src``)."""
    say = progress or (lambda _step: None)
    check_pdf_support()
    import weasyprint

    kwargs: dict[str, Any] = {}
    try:
        from weasyprint.urls import URLFetcher

        kwargs["url_fetcher"] = URLFetcher(allowed_protocols=("data",))
    except (ImportError, TypeError):  # older WeasyPrint: the HTML has no external URL anyway
        pass
    say("drawing the charts and the HTML")
    html = render_html(data, lang, chart_format="png")
    say("laying out the pages")
    doc = weasyprint.HTML(string=html, **kwargs).render()
    say(f"writing {len(doc.pages)} pages")
    pdf = doc.write_pdf()
    if not isinstance(pdf, bytes):
        raise ReportError("WeasyPrint returned no PDF")
    return pdf
