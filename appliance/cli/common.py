"""What every tapaudit command shares: the consoles, common options, one-line failures, formats."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from appliance.cli.base import DbOpt, Fail, one_line, safe  # noqa: F401  (re-exported)
from appliance.format import (  # noqa: F401  (re-exported for the commands)
    ENV_TZ,
    fmt_bool,
    fmt_bytes,
    fmt_count,
    fmt_duration,
    fmt_hash,
    fmt_mac,
    fmt_num,
    fmt_secs,
    fmt_ts,
    time_col,
)

if TYPE_CHECKING:  # the modules below are imported where used: every error exit imports this one
    from rich.console import Console
    from rich.table import Table

    from appliance.lab.bench import Bench
    from appliance.store.backends import Store


def __getattr__(name: str) -> Console:
    """``out`` and ``err``, the consoles for stdout and stderr, made on first use: a quiet replay
    prints nothing and does not import rich (0.02 CPU-s, issue 20, point 3). Piped output is read
    later (files, CI logs): lines are not squeezed into 80 columns; tables follow COLUMNS when it is
    set (appliance.cli.tables)."""
    if name not in ("out", "err"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rich.console import Console

    stream = sys.stderr if name == "err" else sys.stdout
    console = Console(stderr=name == "err", highlight=False, width=None if stream.isatty() else 220)
    globals()[name] = console
    return console


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of tables.")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="Only this device (MAC).")]


EXIT_FINDINGS = 3  # `--fail-on`: a finding at or above the severity exists (README, "Exit codes")


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


@contextmanager
def open_db(db: str | None) -> Iterator[Store]:
    from appliance.store.backends import open_store

    lab_zone()
    store = open_store(db)
    try:
        store.ensure_schema()
        if store.collected.runs:  # rows of runs killed before they committed, deleted at this open
            note(store.collected.line())
        yield store
    finally:
        store.close()


def lab_zone() -> None:
    """Times are printed in the lab's zone (``appliance.format``): TAPAUDIT_TZ, else the lab settings
    file's (``appliance.report.lab``, as ``tapaudit report`` finds it), else UTC; either one bad is
    one line before anything is printed."""
    from appliance.format import ZoneError, lab_zone_read, zone_name

    try:
        if not lab_zone_read():
            from appliance.report.lab import LabSettingsError, load

            try:
                load(None)
            except LabSettingsError as exc:
                raise Fail(str(exc)) from None
        zone_name()
    except ZoneError as exc:
        raise Fail(f"{ENV_TZ}: {exc}") from None


def pipeline_settings(
    bench: str | None, lan: list[str] | None, home: list[str] | None
) -> tuple[Bench | None, list[str], list[str]]:
    """The bench file, LAN prefixes (given, else the bench file's, else RFC 1918/ULA/link-local) and
    home jurisdiction codes of a replay or a live capture, checked: Fail names the bad option."""
    from appliance.lab.bench import load_bench
    from parsers.lan import DEFAULT_LAN, LanPrefixes

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
    from appliance.cli.tables import DataTable

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
    from appliance.lab.bench import normalize_mac

    try:
        return normalize_mac(device)
    except ValueError as exc:
        raise Fail(f"--device: {exc}") from None
