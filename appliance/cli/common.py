"""What every tapaudit command shares: the consoles, common options, one-line failures, formats."""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from appliance.format import fmt_bytes, fmt_secs, fmt_ts  # noqa: F401  (re-exported for the commands)
from appliance.lab.bench import Bench, load_bench, normalize_mac
from appliance.store.backends import Store, open_store
from parsers.lan import DEFAULT_LAN, LanPrefixes
from policies.verdicts import SEVERITIES, at_least

# Piped output is read later (files, CI logs): do not squeeze tables into 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 220)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 220)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Data folder for embedded ClickHouse, or clickhouse://user:pass@host:9000/db "
        "[env TAPAUDIT_DB; default ./data]",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of tables.")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="Only this device (MAC).")]


EXIT_FINDINGS = 3  # `--fail-on`: a finding at or above the severity exists (README, "Exit codes")


class Fail(Exception):
    """A user-facing error raised inside a command."""


def safe(text: str) -> str:
    """``text`` as a terminal shows it harmlessly: control and format characters escaped as
    Python writes them (``\\x1b``, ``\\x9b``, ``\\u202e``), so a file name or any user string with
    escape sequences (colours, cursor moves, window titles, OSC 8 links) or bidi overrides cannot
    drive the terminal or hide text; printable text, non-ASCII letters included, is unchanged."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or unicodedata.category(ch) == "Zs" else repr(ch)[1:-1] for ch in text
    )


def one_line(msg: str) -> str:
    """An error or a note as one safe line: whitespace runs (newlines included) folded to a space,
    then every other control character escaped (``safe``)."""
    return safe(" ".join(msg.split()))


def note(msg: str) -> None:
    """One line for a person on stderr, so stdout (a table or --json) stays what it was."""
    sys.stderr.write(f"tapaudit: {one_line(msg)}\n")


def limit_note(shown: int, total: int, offset: int = 0) -> None:
    """Say on stderr when ``--limit`` (or ``--offset``) left rows out: a cut list reads as all."""
    if shown + offset < total or offset:
        shown_rows = (
            f"rows {offset + 1:,}-{offset + shown:,} of {total:,}"
            if offset and shown
            else (f"{shown:,} of {total:,} rows")
        )
        note(f"showing {shown_rows}; --limit 0 for all")


def fail_on(severities: list[str], floor: str | None) -> None:
    """``--fail-on SEVERITY``: exit with EXIT_FINDINGS (after the output) when a finding is at or
    above ``floor`` (``policies.verdicts``), so a product team's CI can stop on it."""
    if floor is None:
        return
    n = sum(at_least(s, floor) for s in severities)
    if n:
        note(f"{n:,} finding{'s' if n != 1 else ''} at or above {floor} (--fail-on {floor})")
        raise typer.Exit(EXIT_FINDINGS)


def _severity(value: str | None) -> str | None:
    """``--fail-on`` names one of the severities (a usage error otherwise, exit 2)."""
    if value is not None and value not in SEVERITIES:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(SEVERITIES)}")
    return value


FailOnOpt = Annotated[
    str | None,
    typer.Option(
        "--fail-on",
        callback=_severity,
        help=f"Exit with code {EXIT_FINDINGS} when a finding is at or above this severity "
        f"({', '.join(SEVERITIES)}): for a product's CI.",
        show_default=False,
    ),
]


@contextmanager
def open_db(db: str | None) -> Iterator[Store]:
    store = open_store(db)
    try:
        store.ensure_schema()
        if store.collected.runs:  # rows of runs killed before they committed, deleted at this open
            note(store.collected.line())
        yield store
    finally:
        store.close()


def pipeline_settings(
    bench: str | None, lan: list[str] | None, home: list[str] | None
) -> tuple[Bench | None, list[str], list[str]]:
    """The bench file, LAN prefixes (given, else the bench file's, else RFC 1918/ULA/link-local) and
    home jurisdiction codes of a replay or a live capture, checked: Fail names the bad option."""
    bench_obj = load_bench(bench) if bench else None
    prefixes = lan or (bench_obj.lan_prefixes if bench_obj and bench_obj.lan_prefixes else list(DEFAULT_LAN))
    try:
        LanPrefixes(prefixes)
    except ValueError as exc:
        raise Fail(f"--lan: {exc}") from None
    codes = [c.strip().upper() for c in (home or ["CN"])]
    bad = [c for c in codes if len(c) != 2 or not c.isalpha()]
    if bad:
        raise Fail(f"--home: not an ISO 3166 alpha-2 country code: {bad[0]!r}")
    return bench_obj, prefixes, codes


class DataTable(Table):
    """A table whose cells are data: a text cell shows as it is, never read as console markup
    (``[link=...]``, ``[bold]``: what a device's host name or path may carry, issue 17) and with its
    control characters escaped (``safe``). A cell that means to be styled is a ``Text``."""

    def add_row(self, *renderables: RenderableType | None, **kw: Any) -> None:
        cells = [Text(safe(c)) if isinstance(c, str) else c for c in renderables]
        super().add_row(*cells, **kw)


def table(title: str, columns: tuple[str, ...]) -> Table:
    """A table for a person: bold header, long values folded rather than cut."""
    table = DataTable(title=title, header_style="bold")
    for col in columns:
        table.add_column(col, overflow="fold")
    return table


def print_json(doc: object) -> None:
    """Machine output on stdout: indented, non-ASCII names kept as they are."""
    print(json.dumps(doc, indent=2, default=str, ensure_ascii=False))


def mac_opt(device: str | None) -> str | None:
    if not device:
        return None
    try:
        return normalize_mac(device)
    except ValueError as exc:
        raise Fail(f"--device: {exc}") from None
