"""The blocks a report is made of: sections of headings, paragraphs, tables, figures and finding
cards, as plain data with every value already formatted (``appliance.format``).

``appliance.report.view`` builds each section once from the gathered data;
``templates/report.html.j2`` and ``templates/report.md.j2`` only know how to draw each kind of
block. Text inside a cell or paragraph is a list of runs whose kind says what the text is (an id,
a badge, muted...), not how it looks: each format draws a kind its own way
(``render_html.html_runs``, ``render_md.md_runs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from appliance.format import fmt_secs, fmt_ts


@dataclass(frozen=True)
class Run:
    """A piece of text and what it is.

    kind: ``text``; ``id`` (hashes, MACs, flow ids: monospaced, break anywhere); ``code`` (field
    paths and masked excerpts); ``strong``; ``badge`` (a severity or verdict, the text names it);
    ``muted`` (secondary); ``prose`` (text whose `backquoted` parts are commands); ``anchor`` (a
    finding's number, linking to its card); ``br`` (a line break); ``nl`` (a line break where the
    format can stack lines, else the run's text: Markdown table cells are one line).
    """

    text: str
    kind: str = "text"


Runs = list[Run]
BR = Run("", "br")


def nl(sep: str) -> Run:
    return Run(sep, "nl")


def text(value: Any) -> Runs:
    return [Run(str(value))]


def ident(value: Any) -> Runs:
    return [Run(str(value), "id")]


def ts(ns: int) -> str:
    return fmt_ts(int(ns)) if ns else "-"


@dataclass(frozen=True)
class Column:
    label: Runs
    right: bool = False  # numbers: right-aligned
    cls: str = ""  # the HTML cells' class: nw (no wrap), t (times), dom (domains), id
    width: str = ""  # an HTML width for the column, e.g. "26%"


def col(label: str | Runs, right: bool = False, cls: str = "", width: str = "") -> Column:
    return Column(text(label) if isinstance(label, str) else label, right, cls, width)


@dataclass
class Table:
    kind: ClassVar[str] = "table"
    columns: list[Column]
    rows: list[list[Runs]]  # a row of one cell under several columns spans them all
    cls: str = ""  # dense, or kv: a key column and a value column, keys as row heads
    empty: str = ""  # the one row to show when there are none


@dataclass
class Paragraph:
    kind: ClassVar[str] = "paragraph"
    runs: Runs
    muted: bool = False


@dataclass
class Heading:
    kind: ClassVar[str] = "heading"
    title: str
    title_zh: str = ""


@dataclass
class Bullets:
    kind: ClassVar[str] = "bullets"
    items: list[Runs]


@dataclass
class Figure:
    kind: ClassVar[str] = "figure"
    chart_id: str
    title: str
    alt: str  # what the chart shows, for a reader who cannot see it
    note: str
    empty: bool


@dataclass
class FindingCard:
    kind: ClassVar[str] = "finding"
    index: int
    severity: str
    rule_id: str
    title: str
    title_zh: str
    statements: list[str]
    figures: list[tuple[str, str]]  # the measured figures behind the statement: name, value as text
    table: Table  # evidence: observations, flows, masked excerpts, the finding's id
    clause: Runs


Block = Table | Paragraph | Heading | Bullets | Figure | FindingCard


@dataclass
class Section:
    id: str  # the HTML anchor
    number: int
    title: str
    title_zh: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class ReportView:
    title: str
    title_zh: str
    head: str  # the device as the HTML title and page header name it
    subtitle: Runs
    sections: list[Section]
    footer: Runs
    generated_at: str
    tool_version: str
    front: list[Block] = field(default_factory=list)  # the identification table, before section 1
    lang: str = "both"  # headings and labels: en, zh or both (``--lang``)


def figure_text(v: Any) -> str:
    """A finding's figure as text: lists joined, floats short."""
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) or "-"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {figure_text(x)}" for k, x in v.items())
    return str(v)


def stacked(a: str, b: str, sep: str = " / ") -> Runs:
    """Two figures of one cell: stacked where the format can, else on one line with ``sep``."""
    return [Run(a), nl(sep), Run(b)]


def span(first: int, last: int) -> Runs:
    return [Run(ts(first)), BR, Run(ts(last))]


def secs(s: float) -> str:
    return fmt_secs(float(s))
