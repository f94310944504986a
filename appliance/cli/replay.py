"""`tapaudit replay`: captures into the store, with a progress bar and a summary per capture.

The bar and the per-capture lines go to stderr so that ``--json`` on stdout stays machine-readable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from appliance.cli import common
from appliance.cli.common import DbOpt, Fail, JsonOpt, open_db, pipeline_settings, print_json, safe
from appliance.ingest.keyfiles import load_keys
from appliance.lab.phases import load_phases
from parsers.capture import CaptureError, sniff_format
from parsers.capture_file import DEFAULT_MAX_DECOMPRESSED, DEFAULT_MAX_RATIO, Limits, fmt_size, parse_size
from parsers.capture_inputs import expand_inputs

if TYPE_CHECKING:  # the pipeline and the store are imported once the inputs are checked (issue 18);
    # the bar, the Zeek reader and the device table only when used (issue 20)
    from rich.progress import Progress, TaskID

    from appliance.ingest.replay import ReplayResult


class _Bar:
    """A rich progress bar on stderr: bytes, packets, MB/s and ETA."""

    def __init__(self, progress: Progress) -> None:
        self.p = progress
        self.task: TaskID | None = None

    def start(self, label: str, total_bytes: int | None) -> None:
        name = os.path.basename(label.rstrip("/")) or label
        self.task = self.p.add_task(name[:40], total=total_bytes, packets=0)

    def update(self, done_bytes: int, packets: int) -> None:
        if self.task is not None:
            self.p.update(self.task, completed=done_bytes, packets=packets)

    def finish(self) -> None:
        if self.task is not None:
            t = self.p.tasks[self.task]
            if t.total is not None:
                self.p.update(self.task, completed=t.total)


def _progress() -> Progress:
    """Transient, on stderr: the bar disappears once a capture is done and never mixes with --json."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[packets]:>10,} pkts"),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=common.err,
        transient=True,
    )


def replay_cmd(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Capture files (.pcap, .pcapng; .gz, .xz or .bz2 of either), directories or globs "
            "of rotated files; each PATH is one capture."
        ),
    ],
    bench: Annotated[
        str | None, typer.Option("--bench", help="Bench file (YAML) naming the devices under test.")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    idle_timeout: Annotated[
        float, typer.Option(help="Seconds without packets that end a flow.", min=0.001)
    ] = 120.0,
    active_timeout: Annotated[
        float, typer.Option(help="Seconds after which a long flow is cut.", min=0.001)
    ] = 1800.0,
    lan: Annotated[
        list[str] | None,
        typer.Option(
            "--lan",
            help="A LAN prefix (repeatable). Default: RFC 1918, "
            "ULA, link-local, or the bench file's lan_prefixes.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Re-ingest captures already stored.")] = False,
    home: Annotated[
        list[str] | None,
        typer.Option(
            "--home",
            help="Home jurisdiction, ISO country code (repeatable) for cross_border. Default CN "
            "(mainland China: HK, MO and TW count as outbound).",
        ),
    ] = None,
    phases: Annotated[
        str | None,
        typer.Option(
            "--phases", help="Test phases file (CSV timestamp,phase,note or YAML) to split measures by."
        ),
    ] = None,
    raw_evidence: Annotated[
        bool,
        typer.Option("--raw-evidence", help="Store personal values unmasked (query strings, client ids...)."),
    ] = False,
    keylog: Annotated[
        list[str] | None,
        typer.Option(
            "--keylog",
            help="TLS key log (NSS SSLKEYLOGFILE format) to decrypt with (repeatable; a folder: every "
            "file in it). A pcapng's own Decryption Secrets Blocks are read without it.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no tables.")] = False,
    max_decompressed: Annotated[
        str,
        typer.Option(
            "--max-decompressed",
            metavar="SIZE",
            help="Largest output of one compressed capture file (e.g. 8GiB, 500MB; 0: no limit); "
            "a file beyond it is refused and nothing of it stored.",
        ),
    ] = fmt_size(DEFAULT_MAX_DECOMPRESSED).replace(" ", ""),
    max_ratio: Annotated[
        int,
        typer.Option(
            "--max-ratio",
            min=0,
            help="Largest decompressed-to-compressed ratio of a capture file, judged after 64 MiB "
            "of output (0: no limit); real captures stay far below the default.",
        ),
    ] = DEFAULT_MAX_RATIO,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            min=0,
            help="Worker processes for one capture (0: the CPUs available, one for a capture under "
            "32 MiB). The stored results are the same whatever the number.",
        ),
    ] = 0,
) -> None:
    """Replay captures into ClickHouse: flows, devices and their addresses."""
    try:
        limits = Limits(max_decompressed=parse_size(max_decompressed), max_ratio=max_ratio)
    except ValueError as exc:
        raise Fail(f"--max-decompressed: {exc}") from None
    bench_obj, prefixes, codes = pipeline_settings(bench, lan, home)
    phases_obj = load_phases(phases) if phases else None
    load_keys(list(keylog or []))  # an unreadable key log fails now, before any capture is stored
    zeek = {p for p in paths if _zeek_logs(p)}  # Zeek logs, told by their content (issue 21)
    files: list[str] = []
    for path in paths:  # a typo in the last PATH should fail now, not after an hour of replay
        if path in zeek:
            from parsers.zeek.inputs import find_logs

            find_logs(path)
            continue
        for f in expand_inputs(path):
            sniff_format(f)
            files.append(f)
    from appliance.ingest.sources import Prehash

    prehash = Prehash(files)  # the captures' sha256s, while the pipeline's modules load and the store opens
    from appliance.ingest.replay import ReplayOptions, replay_all

    opts = ReplayOptions(idle_s=idle_timeout, active_s=active_timeout, lan_prefixes=prefixes, bench=bench_obj,
                         home=codes, raw_evidence=raw_evidence, phases=phases_obj, force=force,
                         keylogs=list(keylog or []), limits=limits, jobs=jobs, prehash=prehash)  # fmt: skip
    show_bar = not quiet and not as_json and common.err.is_terminal
    captures = [p for p in paths if p not in zeek]
    by_path: dict[int, ReplayResult] = {}
    with open_db(db) as store:
        for i, path in enumerate(paths):
            if path in zeek:
                from appliance.ingest.zeek_replay import replay_logs

                by_path[i] = replay_logs(store, path, opts)
                if not as_json and not quiet:
                    _say_result(by_path[i])
        where = [i for i, p in enumerate(paths) if p not in zeek]
        with _progress() if show_bar else contextlib.nullcontext() as prog:
            bar = _Bar(prog) if prog is not None else None
            for i, res in zip(where, replay_all(store, captures, opts, bar), strict=True):
                if bar is not None:
                    bar.finish()
                by_path[i] = res
                if not as_json and not quiet:
                    _say_result(res)
        results = [by_path[i] for i in range(len(paths))]
        if quiet and not as_json:
            return  # nothing more is printed: the devices are not read back
        from appliance.store import queries

        ids = [r.capture_id for r in results]
        devs = queries.devices(store, ids)
        tops = queries.top_remotes(store, ids)
    if as_json:
        caps = [dataclasses.asdict(r) for r in results]
        print_json({"captures": caps, "devices": devs, "top_remotes": tops})
        return
    from appliance.cli.browse import device_table

    device_table(devs, tops)


def _zeek_logs(path: str) -> bool:
    """Whether PATH names Zeek logs (``parsers.zeek.inputs.is_zeek_input``). A file a capture's magic
    opens is not a log, so the Zeek reader is imported only for what is not a capture file (2 ms of
    a capture's replay start, issue 20, point 3)."""
    if os.path.isfile(path):
        try:
            sniff_format(path)
            return False
        except (CaptureError, OSError):
            pass
    from parsers.zeek.inputs import is_zeek_input

    return is_zeek_input(path)


def _say_result(r: ReplayResult) -> None:
    """One line per capture on stderr, then what was truncated, undecodable or missing from the bench."""
    from rich.markup import escape

    err = common.err
    name = escape(safe(r.path))  # a file name is neither markup nor terminal control
    if r.status == "skipped":
        err.print(
            f"[yellow]{name}[/]: already stored (capture {r.capture_id[:12]}); use --force to re-ingest"
        )
        return
    rate = r.packets / r.seconds if r.seconds else 0
    if r.source != "capture":
        rows = sum(v for k, v in r.stats.items() if k.startswith("rows_"))
        err.print(
            f"[bold]{name}[/]: Zeek logs ({len(r.files)} files, {rows:,} rows), {r.flows:,} flows, "
            f"{r.devices} devices in {r.seconds:.1f} s; no payload, so content is not assessed"
        )
        if r.skipped_packets:
            err.print(f"  skipped {r.skipped_packets:,} log lines that could not be read")
        return
    err.print(
        f"[bold]{name}[/]: {r.packets:,} packets, {r.flows:,} flows, {r.devices} devices "
        f"in {r.seconds:.1f} s ({rate:,.0f} pkt/s"
        + (f", {r.jobs} workers" if r.jobs > 1 else "")
        + f"); link types {', '.join(r.link_types) or '-'}"
    )
    if r.serial_because:
        why = "; ".join(r.serial_because)
        err.print(f"  replayed in one process: its rows could differ by worker ({why})")
    if r.key_files or any(r.tls.values()):
        t = r.tls
        err.print(
            f"  TLS flows: {t.get('decrypted', 0):,} decrypted, {t.get('no_key', 0):,} no key, "
            f"{t.get('failed', 0):,} failed; key files {len(r.key_files)}"
            + (f", {r.bad_dsb} malformed secrets blocks skipped" if r.bad_dsb else "")
        )
    if r.truncated:
        err.print(
            f"  [yellow]truncated[/]: {escape(safe(r.read_error))}; ingested up to the last whole packet"
        )
    if r.skipped_packets:
        err.print(f"  skipped {r.skipped_packets:,} packets that could not be decoded")
    bad = {k: v for k, v in r.stats.items() if k.startswith("malformed_")}
    if bad:
        err.print("  malformed and skipped: " + ", ".join(f"{k[10:]} {v}" for k, v in bad.items()))
    for mac in r.bench_missing:
        err.print(f"  [yellow]bench device {mac} was not seen in this capture[/]")


COMMANDS: dict[str, Callable[..., None]] = {"replay": replay_cmd}
