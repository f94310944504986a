"""The per-device lab report: data gathered from the read API, rendered as HTML, Markdown, JSON or PDF.

``data.gather`` builds a ``ReportData`` (plain data, the JSON format as it is; ``identity``,
``traffic`` and ``judgement`` gather its parts); ``charts`` draws its charts; ``view`` turns it
into one document (``document``'s blocks) that ``templates/`` lay out as HTML and Markdown
(``render_html``, ``render_md``), and ``pdf`` prints the HTML.
"""

FORMATS = ("html", "md", "json", "pdf")
