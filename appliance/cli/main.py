"""The ``tapaudit`` command line.

Exit codes: 0 success, 1 bad input or storage failure (one line on stderr),
2 usage error, 70 internal error, 130 interrupted. ``--json`` prints machine
output on stdout; progress and tables go to stderr/stdout only for people.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from appliance import __version__
from appliance.cli import capture as cli_capture
from appliance.cli import dashboard as cli_dashboard
from appliance.cli import evidence as cli_evidence
from appliance.cli import findings as cli_findings
from appliance.cli import report as cli_report
from appliance.cli.common import (
    DbOpt,
    DeviceOpt,
    Fail,
    JsonOpt,
    err,
    out,
    pipeline_settings,
)
from appliance.cli.common import mac_opt as _mac_opt
from appliance.cli.common import open_db as _store
from appliance.cli.common import print_json as _print_json
from appliance.cli.common import table as _table
from appliance.format import fmt_bytes as _fmt_bytes
from appliance.format import fmt_secs as _fmt_secs
from appliance.format import fmt_ts as _fmt_ts
from appliance.ingest.replay import ReplayOptions, ReplayResult, replay
from appliance.lab.bench import BenchError
from appliance.lab.phases import PhasesError, load_phases
from appliance.measures import shapes
from appliance.store import queries
from appliance.store.backends import DATABASE, StoreError
from appliance.store.schema import ddl_statements
from parsers.capture import CaptureError, expand_inputs, sniff_format
from policies.declaration import DeclarationError
from policies.engine import PackError

app = typer.Typer(
    help="tapaudit: audit what smart terminals send about people, from captures or a network tap.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
USER_ERRORS = (CaptureError, StoreError, BenchError, PhasesError, DeclarationError, PackError)


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
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[packets]:>10,} pkts"),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


@app.command("replay")
def replay_cmd(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Capture files (.pcap, .pcapng, .gz), directories or globs "
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no tables.")] = False,
) -> None:
    """Replay captures into ClickHouse: flows, devices and their addresses."""
    bench_obj, prefixes, codes = pipeline_settings(bench, lan, home)
    phases_obj = load_phases(phases) if phases else None
    opts = ReplayOptions(idle_timeout, active_timeout, prefixes, bench_obj, force, codes, raw_evidence)
    opts.phases = phases_obj
    for path in paths:  # a typo in the last PATH should fail now, not after an hour of replay
        for f in expand_inputs(path):
            sniff_format(f)
    show_bar = not quiet and not as_json and err.is_terminal
    results: list[ReplayResult] = []
    with _store(db) as store:
        for path in paths:
            if show_bar:
                with _progress() as prog:
                    bar = _Bar(prog)
                    res = replay(store, path, opts, bar)
                    bar.finish()
            else:
                res = replay(store, path, opts)
            results.append(res)
            if not as_json and not quiet:
                _say_result(res)
        ids = [r.capture_id for r in results]
        devs = queries.devices(store, ids)
        tops = queries.top_remotes(store, ids)
    if as_json:
        caps = [dataclasses.asdict(r) for r in results]
        _print_json({"captures": caps, "devices": devs, "top_remotes": tops})
        return
    if not quiet:
        _device_table(devs, tops)


def _say_result(r: ReplayResult) -> None:
    name = r.path
    if r.status == "skipped":
        err.print(
            f"[yellow]{name}[/]: already stored (capture {r.capture_id[:12]}); use --force to re-ingest"
        )
        return
    rate = r.packets / r.seconds if r.seconds else 0
    err.print(
        f"[bold]{name}[/]: {r.packets:,} packets, {r.flows:,} flows, {r.devices} devices "
        f"in {r.seconds:.1f} s ({rate:,.0f} pkt/s); link types {', '.join(r.link_types) or '-'}"
    )
    if r.truncated:
        err.print(f"  [yellow]truncated[/]: {r.read_error}; ingested up to the last whole packet")
    if r.skipped_packets:
        err.print(f"  skipped {r.skipped_packets:,} packets that could not be decoded")
    bad = {k: v for k, v in r.stats.items() if k.startswith("malformed_")}
    if bad:
        err.print("  malformed and skipped: " + ", ".join(f"{k[10:]} {v}" for k, v in bad.items()))
    for mac in r.bench_missing:
        err.print(f"  [yellow]bench device {mac} was not seen in this capture[/]")


def _device_table(devs: list[dict[str, Any]], tops: list[dict[str, Any]]) -> None:
    by_mac: dict[str, list[dict[str, Any]]] = {}
    for t in tops:
        by_mac.setdefault(t["mac"], []).append(t)
    table = Table(title="Devices", header_style="bold")
    for col in (
        "MAC",
        "Vendor",
        "Name",
        "Category",
        "Addresses",
        "Flows",
        "Sent",
        "Received",
        "Top remote endpoints",
    ):
        table.add_column(
            col, justify="right" if col in ("Flows", "Sent", "Received") else "left", no_wrap=col == "MAC"
        )
    for d in devs:
        addrs = ", ".join(d["ipv4"] + d["ipv6"][:2]) + (" …" if len(d["ipv6"]) > 2 else "")
        remotes = "\n".join(
            f"{t['remote_ip']}:{t['port']} ({_fmt_bytes(int(t['bytes']))})" for t in by_mac.get(d["mac"], [])
        )
        cat = d["category"] if d["role"] == "device" else f"{d['category']} (gateway)"
        table.add_row(
            d["mac"],
            d["vendor"] or "-",
            d["name"] or "-",
            cat,
            addrs or "-",
            f"{d['flows']:,}",
            _fmt_bytes(d["bytes_sent"]),
            _fmt_bytes(d["bytes_received"]),
            remotes or "-",
        )
    out.print(table)


@app.command("devices")
def devices_cmd(
    db: DbOpt = None,
    capture: Annotated[
        list[str] | None, typer.Option("--capture", help="Only these capture ids (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the local devices found in stored captures."""
    with _store(db) as store:
        devs = queries.devices(store, capture)
        tops = queries.top_remotes(store, capture)
    if as_json:
        _print_json(devs)
    else:
        _device_table(devs, tops)


@app.command("flows")
def flows_cmd(
    db: DbOpt = None,
    device: Annotated[str | None, typer.Option("--device", help="Only flows of this device MAC.")] = None,
    capture: Annotated[
        list[str] | None, typer.Option("--capture", help="Only these capture ids (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.", min=1)] = 50,
    offset: Annotated[int, typer.Option(help="Rows to skip.", min=0)] = 0,
    as_json: JsonOpt = False,
) -> None:
    """List stored flows, oldest first."""
    mac = _mac_opt(device)
    with _store(db) as store:
        rows = queries.flows(store, capture, mac, limit, offset)
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"Flows{' of ' + mac if mac else ''}", header_style="bold")
    for col in ("Start (UTC)", "Proto", "Initiator", "Responder", "Pkts ↑/↓", "Bytes ↑/↓", "State", "End"):
        table.add_column(col)
    names = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp6"}
    for r in rows:
        table.add_row(
            _fmt_ts(int(r["first_ns"])),
            names.get(int(r["proto"]), str(r["proto"])),
            f"{r['src_ip']}:{r['src_port']}",
            f"{r['dst_ip']}:{r['dst_port']}",
            f"{r['pkts_up']}/{r['pkts_down']}",
            f"{_fmt_bytes(int(r['bytes_up']))}/{_fmt_bytes(int(r['bytes_down']))}",
            r["tcp_state"] or "-",
            r["end_reason"],
        )
    out.print(table)


@app.command("destinations")
def destinations_cmd(
    device: DeviceOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Who each device talks to: domain, organisation, kind, party, country, encryption, volume."""
    mac = _mac_opt(device)
    with _store(db) as store:
        rows = queries.destinations(store, device=mac)
    rows = [
        {
            "mac": r["mac"],
            "destination": r["destination"],
            "registrable": r["reg_domain"],
            "organisation": r["org"],
            "service": r["svc"],
            "kind": r["kind"],
            "party": r["party_of"],
            "countries": [c for c in str(r["countries"]).split(",") if c],
            "cross_border": bool(r["abroad"]),
            "as_org": r["network"],
            "security": [c for c in str(r["securities"]).split(",") if c],
            "encrypted": _encrypted(str(r["securities"])),
            "readable": bool(r["any_readable"]),
            "apps": [c for c in str(r["apps"]).split(",") if c],
            "remote_ips": r["remote_ips"],
            "flows": int(r["nflows"]),
            "bytes_up": int(r["sent"]),
            "bytes_down": int(r["received"]),
            "first_ns": int(r["first_seen_ns"]),
            "last_ns": int(r["last_seen_ns"]),
        }
        for r in rows
    ]
    if as_json:
        _print_json(rows)
        return
    cols = ("Device", "Destination", "Organisation", "Kind", "Party", "Country", "Encrypted", "Flows")
    table = _table("Destinations", (*cols, "Up", "Down", "First (UTC)", "Last (UTC)"))
    for r in rows:
        table.add_row(
            r["mac"],
            r["destination"],
            r["organisation"] or (f"AS: {r['as_org']}" if r["as_org"] else "-"),
            r["kind"] or "-",
            r["party"],
            (",".join(r["countries"]) or "-") + (" ⚑ abroad" if r["cross_border"] else ""),
            f"{r['encrypted']} ({','.join(r['security'])})",
            f"{r['flows']:,}",
            _fmt_bytes(r["bytes_up"]),
            _fmt_bytes(r["bytes_down"]),
            _fmt_ts(r["first_ns"]),
            _fmt_ts(r["last_ns"]),
        )
    out.print(table)


def _encrypted(security: str) -> str:
    """yes when every flow was encrypted, no when none was, partly, or unknown."""
    kinds = set(security.split(",")) - {""}
    enc = {k for k in kinds if k != "none" and k != "unknown"}
    if not kinds or kinds == {"unknown"}:
        return "unknown"
    if enc and not kinds - enc:
        return "yes"
    if "none" in kinds and not enc:
        return "no"
    return "partly"


@app.command("observations")
def observations_cmd(
    device: DeviceOpt = None,
    data_type: Annotated[
        str | None, typer.Option("--type", help="Only this data type (location, imei, persona, image...).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.", min=1)] = 200,
    reveal: Annotated[
        bool,
        typer.Option(
            "--reveal", help="Show values as sent (only for captures replayed with --raw-evidence)."
        ),
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Personal data found in what devices sent: type, where, precision, destination; values masked."""
    mac = _mac_opt(device)
    with _store(db) as store:
        try:  # the read API masks, or reveals what was stored as sent
            rows = queries.observations(store, device=mac, data_type=data_type, limit=limit, reveal=reveal)
        except queries.RevealError as exc:
            raise Fail(f"--reveal: {exc}") from None
    rows = [
        {
            "ts_ns": int(r["ts_ns"]),
            "mac": r["mac"],
            "data_type": r["kind"],
            "carrier": r["carrier"],
            "path": r["field"],
            "confidence": r["conf"],
            "decimals": int(r["places"]),
            "metres": float(r["resolution_m"]),
            "value": str(r["value"]),
            "value_hash": r["hash"],
            "detail": json.loads(str(r["extra"]) or "{}"),
            "destination": r["destination"] or r["remote"],
            "organisation": r["organisation"],
            "country": r["country"],
            "flow_id": r["flow"],
            "capture_id": r["capture"],
        }
        for r in rows
    ]
    if as_json:
        _print_json(rows)
        return
    cols = ("Time (UTC)", "Device", "Type", "Where", "Value", "Precision", "Conf.", "Destination", "Country")
    table = _table("Observations", cols)
    for r in rows:
        precision = f"{r['decimals']} dp ({r['metres']:g} m)" if r["decimals"] >= 0 else "-"
        table.add_row(
            _fmt_ts(r["ts_ns"]),
            r["mac"],
            r["data_type"],
            f"{r['carrier']} {r['path']}",
            r["value"],
            precision,
            r["confidence"],
            str(r["destination"]),
            str(r["country"] or "-"),
        )
    out.print(table)


@app.command("measures")
def measures_cmd(
    device: DeviceOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How often, how precisely and for how long each device sent each kind of personal data, by phase."""
    mac = _mac_opt(device)
    with _store(db) as store:
        rows = queries.measures(store, device=mac)
    rows = [
        {
            "mac": r["mac"],
            "data_type": r["kind"],
            "organisation": r["org"],
            "phase": r["phase_name"],
            "reports": int(r["reports"]),
            "observations": int(r["n"]),
            "reports_per_hour": r["reports_per_hour"],
            "median_interval_s": round(r["median_gap_ns"] / 1e9, 3),
            "min_interval_s": round(r["min_gap_ns"] / 1e9, 3),
            "longest_run_s": round(r["longest_run_ns"] / 1e9, 3),
            "max_decimals": int(r["max_decimals"]),
            "best_metres": r["best_metres"],
            "encrypted_share": round(float(r["enc_share"]), 3),
            "cross_border_share": round(float(r["abroad_share"]), 3),
            "third_party_share": round(float(r["third_share"]), 3),
            "first_ns": int(r["first_ns"]),
            "last_ns": int(r["last_ns"]),
        }
        for r in rows
    ]
    if as_json:
        _print_json(rows)
        return
    cols = ("Device", "Type", "To", "Phase", "Reports", "Per hour", "Median gap", "Min gap", "Longest run")
    table = _table("Measures", (*cols, "Precision", "Encrypted", "Abroad", "3rd party"))
    for r in rows:
        precision = f"{r['max_decimals']} dp ({r['best_metres']:g} m)" if r["max_decimals"] >= 0 else "-"
        table.add_row(
            r["mac"],
            r["data_type"],
            r["organisation"] or "-",
            r["phase"],
            str(r["reports"]),
            f"{r['reports_per_hour']:g}",
            _fmt_secs(r["median_interval_s"]),
            _fmt_secs(r["min_interval_s"]),
            _fmt_secs(r["longest_run_s"]),
            precision,
            f"{r['encrypted_share']:.0%}",
            f"{r['cross_border_share']:.0%}",
            f"{r['third_party_share']:.0%}",
        )
    out.print(table)


@app.command("periods")
def periods_cmd(
    device: DeviceOpt = None,
    by_phase: Annotated[bool, typer.Option("--by-phase", help="One period per test phase.")] = False,
    include_readable: Annotated[
        bool, typer.Option("--all", help="Also flows the appliance could read (clear text).")
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How regularly each device reports to each destination, from the timing of encrypted traffic."""
    mac = _mac_opt(device)
    with _store(db) as store:
        rows = shapes.periods(store, device=mac, by_phase=by_phase, encrypted_only=not include_readable)
    rows = [
        {
            "capture_id": r["capture"],
            "mac": r["mac"],
            "destination": r["destination"],
            "organisation": r["organisation"],
            "country": r["country"],
            "phase": r["phase_name"],
            "security": r["security"],
            "flows": int(r["flow_count"]),
            "bursts": int(r["bursts"]),
            "bytes_out": int(r["bytes_out"]),
            "period_s": r["period_s"],
            "jitter_s": r["jitter_s"],
            "score": r["score"],
            "periodic": r["periodic"],
            "beats": r["beats"],
            "missing": r["missing"],
            "extra": r["extra"],
            "longest_run_s": r["longest_run_s"],
            "first_ns": int(r["first_ns"]),
            "last_ns": int(r["last_ns"]),
        }
        for r in rows
    ]
    if as_json:
        _print_json(rows)
        return
    cols = ("Device", "Destination", "Capture", "Phase", "Flows", "Bursts", "Period", "Jitter", "Score")
    table = _table("Reporting periods (from burst timing)", (*cols, "Missing/extra", "Longest run", "Sent"))
    for r in rows:
        periodic = r["periodic"]
        table.add_row(
            r["mac"],
            r["destination"] + (f" ({r['organisation']})" if r["organisation"] else ""),
            r["capture_id"][:12],
            r["phase"] or "all",
            str(r["flows"]),
            str(r["bursts"]),
            _fmt_secs(r["period_s"]) if periodic else "[dim]none[/dim]",
            f"{r['jitter_s']:.2f} s" if periodic else "-",
            f"{r['score']:.2f}",
            f"{r['missing']}/{r['extra']}" if periodic else "-",
            _fmt_secs(r["longest_run_s"]) if periodic else "-",
            _fmt_bytes(r["bytes_out"]),
        )
    out.print(table)


@app.command("uploads")
def uploads_cmd(
    device: DeviceOpt = None,
    include_readable: Annotated[
        bool, typer.Option("--all", help="Also flows the appliance could read (clear text).")
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload bursts in encrypted traffic, each with the media it probably carries and why."""
    mac = _mac_opt(device)
    with _store(db) as store:
        rows = shapes.uploads(store, device=mac, encrypted_only=not include_readable)
    rows = [
        {
            "capture_id": r["capture"],
            "mac": r["mac"],
            "destination": r["destination"],
            "organisation": r["organisation"],
            "phase": r["phase_name"],
            "flow": r["flow"],
            "start_ns": int(r["start_ns"]),
            "seconds": r["seconds"],
            "bytes_out": int(r["bytes_out"]),
            "rate": r["rate"],
            "kind": r["kind"],
            "confidence": r["confidence"],
            "reason": r["reason"],
        }
        for r in rows
    ]
    if as_json:
        _print_json(rows)
        return
    if not rows:
        out.print("No upload bursts (none of 16 KiB or more, mostly one way).")
        return
    table = _table("Upload bursts", ("Device", "Start", "Destination", "Phase", "Sent", "Probably", "Why"))
    for r in rows:
        table.add_row(
            r["mac"],
            _fmt_ts(r["start_ns"]),
            r["destination"],
            r["phase"],
            _fmt_bytes(r["bytes_out"]),
            f"{r['kind']} ({r['confidence']})",
            r["reason"],
        )
    out.print(table)


@app.command("captures")
def captures_cmd(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """List stored captures with their sha256, time span and counts."""
    with _store(db) as store:
        rows = queries.captures(store)
    if as_json:
        _print_json(rows)
        return
    table = Table(title="Captures", header_style="bold")
    for col in ("sha256", "Path", "Packets", "Flows", "Devices", "First (UTC)", "Last (UTC)", "Truncated"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["capture_id"][:16],
            r["path"],
            f"{int(r['packets']):,}",
            f"{int(r['flows']):,}",
            str(r["devices"]),
            _fmt_ts(int(r["first_ns"])),
            _fmt_ts(int(r["last_ns"])),
            "yes" if r["truncated"] else "no",
        )
    out.print(table)


@app.command("schema")
def schema_cmd(database: Annotated[str, typer.Option(help="Database name.")] = DATABASE) -> None:
    """Print the ClickHouse DDL that tapaudit creates."""
    for stmt in ddl_statements(database):
        print(stmt + ";\n")


# commands kept in their own modules, each listing them in COMMANDS, registered here by name
for _module in (cli_findings, cli_evidence, cli_report, cli_dashboard, cli_capture):
    for _name, _fn in _module.COMMANDS.items():
        app.command(_name)(_fn)


def _version(value: bool) -> None:
    if value:
        print(f"tapaudit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """tapaudit command line."""


def _one_line(msg: str) -> None:
    sys.stderr.write(f"tapaudit: {' '.join(msg.split())}\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning errors into one line and an exit code."""
    try:
        app(args=argv)
    except SystemExit as exc:  # click's own exit: usage errors are 2, --help is 0
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except (Fail, *USER_ERRORS) as exc:
        _one_line(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        _one_line("interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("TAPAUDIT_DEBUG"):
            raise
        _one_line(f"internal error: {type(exc).__name__}: {exc} (set TAPAUDIT_DEBUG=1 for the traceback)")
        return 70
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
