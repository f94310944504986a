"""What every tapaudit command shares: the consoles, common options, one-line failures, formats."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

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


def note(msg: str) -> None:
    """One line for a person on stderr, so stdout (a table or --json) stays what it was."""
    sys.stderr.write(f"tapaudit: {msg}\n")


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


def table(title: str, columns: tuple[str, ...]) -> Table:
    """A table for a person: bold header, long values folded rather than cut."""
    table = Table(title=title, header_style="bold")
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
