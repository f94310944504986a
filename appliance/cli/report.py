"""The report command: one device's lab report as HTML, Markdown, JSON or PDF."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from appliance.cli.common import DbOpt, Fail, err, mac_opt, open_db, print_json, safe
from appliance.format import fmt_bytes
from appliance.report import FORMATS
from appliance.report.data import ReportData, ReportError, gather


def report_cmd(
    device: Annotated[str, typer.Option("--device", help="The device under test (MAC).", show_default=False)],
    capture: Annotated[
        str | None,
        typer.Option(
            "--capture", help="Only this capture (sha256 or a prefix); default every capture with the device."
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"Report format: {', '.join(FORMATS)}.")
    ] = "html",
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write (md: the charts go beside it as PNG files); '-' for stdout (not pdf). "
            "Default report-<MAC>.<format> in the current folder.",
            show_default=False,
        ),
    ] = None,
    db: DbOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary on stdout: files written, verdicts.")
    ] = False,
) -> None:
    """A device's lab report as test evidence: identity, scenario, captures, tools and rules, verdict per
    requirement, findings with their evidence and clauses, charts, and what could not be assessed."""
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise Fail(f"--format must be one of {', '.join(FORMATS)}")
    mac = mac_opt(device)
    assert mac is not None
    to_stdout = output == "-"
    if to_stdout and fmt == "pdf":
        raise Fail("-o -: a PDF is not written to stdout; give a file name")
    if to_stdout and as_json:
        raise Fail("--json and -o - both write to stdout; give -o a file name")
    path = None if to_stdout else Path(output or f"report-{mac.replace(':', '')}.{fmt}")
    if path is not None:
        _check_writable(path)
    try:
        if fmt == "pdf":
            from appliance.report.pdf import check_pdf_support

            check_pdf_support()  # before any work: no CJK font or no pango is one line now
        with open_db(db) as store:
            data = gather(store, mac, capture)
        written = _write(data, fmt, path)
    except ReportError as exc:
        raise Fail(str(exc)) from None
    if as_json:
        print_json(
            {
                "device": mac,
                "format": fmt,
                "files": [str(p) for p in written],
                "captures": [c["capture_id"] for c in data.captures],
                "findings": len(data.findings),
                "verdicts": {q["id"]: q["verdict"] for q in data.requirements},
            }
        )
    elif written:
        size = sum(p.stat().st_size for p in written)
        extra = f" and {len(written) - 1} chart files" if len(written) > 1 else ""
        err.print(f"wrote {escape(safe(str(written[0])))}{extra} ({fmt_bytes(size)})", highlight=False)


def _check_writable(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise Fail(f"-o {path}: folder {folder} does not exist")
    if path.is_dir():
        raise Fail(f"-o {path}: is a folder")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise Fail(f"-o {path}: not writable")


def _write(data: ReportData, fmt: str, path: Path | None) -> list[Path]:
    """Render and write the report (and a Markdown report's charts); the files written."""
    if fmt == "json":
        text = data.to_json() + "\n"
    elif fmt == "html":
        from appliance.report.render_html import render_html

        text = render_html(data)
    elif fmt == "md":
        from appliance.report.render_md import render_md

        text, charts = render_md(data, path.name.removesuffix(".md") if path else None)
        if path is not None:
            for name, png in charts.items():
                (path.parent / name).write_bytes(png)
            path.write_text(text, encoding="utf-8")
            return [path, *(path.parent / n for n in charts)]
    else:
        from appliance.report.pdf import render_pdf

        assert path is not None
        path.write_bytes(render_pdf(data))
        return [path]
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return []
    path.write_text(text, encoding="utf-8")
    return [path]


COMMANDS: dict[str, Callable[..., None]] = {"report": report_cmd}
