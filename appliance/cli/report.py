"""The report command: one device's lab report as HTML, Markdown, JSON or PDF."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from appliance.cli.common import DbOpt, Fail, err, mac_opt, open_db, print_json, safe
from appliance.format import fmt_bytes
from appliance.report import FORMATS

if TYPE_CHECKING:
    from appliance.report.data import ReportData

LANGS = ("en", "zh", "both")


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
    lang: Annotated[
        str, typer.Option("--lang", help="Headings and labels in English, Chinese or both: en, zh, both.")
    ] = "both",
    lab_file: Annotated[
        str | None,
        typer.Option(
            "--lab",
            help="The laboratory's settings file (TOML: laboratory, customer, report number scheme, "
            "items, signatories, time zone; appliance/report/lab.example.toml). Default: env TAPAUDIT_LAB, "
            "else ~/.config/tapaudit/lab.toml if it exists.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """A device's lab report as test evidence: report number, laboratory, customer and item; identity,
    scenario, captures, tools and rules, decision rule and overall conformity, verdict per requirement,
    findings with their evidence and clauses, charts, what could not be assessed, and the signatures."""
    from appliance.report.data import ReportError, gather
    from appliance.report.lab import LabSettingsError, load

    fmt, lang = fmt.lower(), lang.lower()
    if fmt not in FORMATS:
        raise Fail(f"--format must be one of {', '.join(FORMATS)}")
    if lang not in LANGS:
        raise Fail(f"--lang must be one of {', '.join(LANGS)}")
    try:
        lab = load(lab_file)
    except LabSettingsError as exc:
        raise Fail(str(exc)) from None
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
    start = time.monotonic()

    def progress(step: str) -> None:
        if fmt == "pdf" and not as_json:
            err.print(f"[{time.monotonic() - start:4.1f} s] {step}", highlight=False)

    try:
        if fmt == "pdf":
            progress("loading WeasyPrint and the CJK font")
            from appliance.report.pdf import check_pdf_support

            check_pdf_support()  # before any work: no CJK font or no pango is one line now
        progress("reading the device's traffic, findings and verdicts from the store")
        with open_db(db) as store:
            data = gather(store, mac, capture, lab=lab)
        written = _write(data, fmt, path, lang, progress)
    except (ReportError, LabSettingsError) as exc:
        raise Fail(str(exc)) from None
    if as_json:
        print_json(
            {
                "device": mac,
                "format": fmt,
                "files": [str(p) for p in written],
                "captures": [c["capture_id"] for c in data.captures],
                "report_number": data.issue["report_number"],
                "conformity": data.issue["conformity"]["result"],
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


def _write(
    data: ReportData, fmt: str, path: Path | None, lang: str, progress: Callable[[str], None]
) -> list[Path]:
    """Render and write the report (and a Markdown report's charts); the files written. A PDF's
    steps are told to ``progress`` as they start (stderr, with the seconds since the command began)."""
    if fmt == "json":
        text = data.to_json() + "\n"
    elif fmt == "html":
        from appliance.report.render_html import render_html

        text = render_html(data, lang)
    elif fmt == "md":
        from appliance.report.render_md import render_md

        text, charts = render_md(data, path.name.removesuffix(".md") if path else None, lang)
        if path is not None:
            for name, png in charts.items():
                (path.parent / name).write_bytes(png)
            path.write_text(text, encoding="utf-8")
            return [path, *(path.parent / n for n in charts)]
    else:
        from appliance.report.pdf import render_pdf

        assert path is not None
        path.write_bytes(render_pdf(data, lang, progress))
        return [path]
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return []
    path.write_text(text, encoding="utf-8")
    return [path]


COMMANDS: dict[str, Callable[..., None]] = {"report": report_cmd}
