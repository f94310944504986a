"""Tables for a person on the terminal: data cells that are never read as markup, and columns
dropped from the right when the terminal (or COLUMNS) is too narrow for them (issue 18: tables that
fit 80 columns; ``--json`` always has every field). Piped output is as wide as COLUMNS says when
it is set, else 220 (``common.out``).

Apart from ``common`` so that a command that prints no table (and every error exit) does not
import rich's tables (issue 18, point 6).
"""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

from appliance.cli.base import safe


class DataTable(Table):
    """A table whose cells are data: a text cell shows as it is, never read as console markup
    (``[link=...]``, ``[bold]``: what a device's host name or path may carry, issue 17) and with its
    control characters escaped (``safe``). A cell that means to be styled is a ``Text``."""

    def add_row(self, *renderables: RenderableType | None, **kw: Any) -> None:
        cells = [Text(safe(c)) if isinstance(c, str) else c for c in renderables]
        super().add_row(*cells, **kw)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Drop columns from the right until what cannot wrap fits the width (issue 18)."""
        cols = os.environ.get("COLUMNS", "")  # a terminal's width is the console's own
        if not console.is_terminal and cols.isdigit() and 0 < int(cols) < options.max_width:
            options = options.update(max_width=int(cols))
        dropped = fit(self, console, options)
        if dropped:  # said under the table: stderr stays for errors and notes about rows
            self.caption = (
                f"{len(dropped)} column{'s' if len(dropped) > 1 else ''} left out to fit "
                f"{options.max_width} columns: {', '.join(dropped)} (a wider terminal or --json shows them)"
            )
        yield from super().__rich_console__(console, options)


FOLD_MIN = 17  # a MAC address stays on one line; narrower breaks most hosts and names in pieces


def _min_width(console: Console, options: ConsoleOptions, column: Column) -> int:
    """The narrowest a column should be: its longest word (header included), or FOLD_MIN for a
    column that folds longer words."""
    cells = [column.header, *column.cells]
    longest = max((Measurement.get(console, options, c).minimum for c in cells), default=1)
    return min(longest, FOLD_MIN) if column.overflow == "fold" and not column.no_wrap else longest


def fit(table: Table, console: Console, options: ConsoleOptions, keep: int = 2) -> list[str]:
    """Remove the right-most columns (the commands put the least needed last: ids, times, checks)
    while the columns' narrowest widths, padding and rules do not fit ``options.max_width``;
    the first ``keep`` columns stay. Returns the headers removed, in their order."""
    dropped: list[str] = []
    _, right, _, left = table.padding
    per_column = left + right + (1 if table.box else 0)  # its padding and the rule before it
    edges = 2 if table.box and table.show_edge else 0
    while len(table.columns) > keep:
        need = sum(_min_width(console, options, c) + per_column for c in table.columns) + edges - 1
        if need <= options.max_width:
            break
        dropped.insert(0, str(table.columns.pop().header))
    return dropped
