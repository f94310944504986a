"""The per-device lab report: data gathered from the read API, rendered as HTML, Markdown, JSON or PDF.

``data.gather`` builds a ``ReportData`` (plain data, the JSON format as it is); ``charts``
draws its charts; ``render_html``, ``render_md`` and ``pdf`` lay it out.
"""

FORMATS = ("html", "md", "json", "pdf")
