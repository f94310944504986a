"""`tapaudit capture` (the live tap mode) and `tapaudit mark` (test-phase marks for a running session)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Annotated

import typer

from appliance.cli.common import (
    DbOpt,
    Fail,
    JsonOpt,
    err,
    fmt_bytes,
    mac_opt,
    open_db,
    out,
    pipeline_settings,
    print_json,
)
from appliance.ingest.keyfiles import load_keys
from appliance.ingest.pipeline import PipelineOptions
from appliance.live.control import ControlError, default_path, request
from appliance.live.session import LiveOptions, Session, SessionStats, install_signal_handlers
from appliance.live.source import LiveCaptureError

ControlOpt = Annotated[
    str | None,
    typer.Option("--control", help="The session's control socket [env TAPAUDIT_CONTROL; default "
                 "/run/tapaudit/control.sock when writable, else /tmp/tapaudit-UID/control.sock]",
                 show_default=False),
]  # fmt: skip

# the options every live session takes (capture, zeek, intercept): declared once
SpoolOpt = Annotated[str, typer.Option("--spool", help="Folder for batches while ClickHouse is unreachable.")]
FlushOpt = Annotated[float, typer.Option("--flush", help="Seconds between writes to the store.", min=0.2)]
DurationOpt = Annotated[
    float, typer.Option("--duration", help="Stop after this many seconds (0: on SIGINT/SIGTERM).", min=0)
]
LanOpt = Annotated[list[str] | None, typer.Option("--lan", help="A LAN prefix (repeatable).")]
HomeOpt = Annotated[
    list[str] | None, typer.Option("--home", help="Home jurisdiction, ISO code (repeatable). Default CN.")
]
RawEvidenceOpt = Annotated[bool, typer.Option("--raw-evidence", help="Store personal values unmasked.")]


def capture_cmd(
    iface: Annotated[
        str, typer.Option("--interface", "-i", help="Interface to capture on (a mirror port, a tap).")
    ],
    bpf: Annotated[str, typer.Option("--bpf", help="BPF capture filter (libpcap syntax).")] = "",
    bench: Annotated[
        str | None, typer.Option("--bench", help="Bench file (YAML) naming the devices under test.")
    ] = None,
    db: DbOpt = None,
    ring: Annotated[
        str, typer.Option("--ring", help="Folder of the rotating pcapng ring files (the evidence).")
    ] = "./ring",
    ring_size: Annotated[float, typer.Option("--ring-size", help="MB per ring file.", min=0.01)] = 100.0,
    ring_files: Annotated[
        int, typer.Option("--ring-files", help="Ring files kept (the oldest goes).", min=1)
    ] = 20,
    evidence_budget: Annotated[
        float,
        typer.Option(
            "--evidence-budget",
            help="MB of ring files kept past rotation because they hold evidence of findings.",
            min=0,
        ),
    ] = 1000.0,
    evidence_hold: Annotated[
        float,
        typer.Option(
            "--evidence-hold",
            help="Seconds the ring files of messages that carried personal data wait for a finding to"
            " pin them, within the evidence budget.",
            min=0,
        ),
    ] = 300.0,
    spool: SpoolOpt = "./spool",
    flush: FlushOpt = 5.0,
    duration: DurationOpt = 0.0,
    control: ControlOpt = None,
    lan: LanOpt = None,
    home: HomeOpt = None,
    idle_timeout: Annotated[
        float, typer.Option(help="Seconds without packets that end a flow.", min=1)
    ] = 60.0,
    active_timeout: Annotated[
        float, typer.Option(help="Seconds after which a long flow is written and goes on.", min=1)
    ] = 300.0,
    buffer_mb: Annotated[int, typer.Option("--buffer", help="Kernel capture buffer, MB.", min=1)] = 256,
    raw_evidence: RawEvidenceOpt = False,
    keylog: Annotated[
        list[str] | None,
        typer.Option(
            "--keylog",
            help="TLS key log (NSS SSLKEYLOGFILE format) to follow as it grows, read at each flush "
            "(repeatable; a folder: every file in it when the capture starts). It must exist at the start.",
        ),
    ] = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No status lines.")] = False,
) -> None:
    """Capture live from an interface: ring files on disk, flows and observations to the store every few seconds."""  # noqa: E501
    bench_obj, prefixes, codes = pipeline_settings(bench, lan, home)
    pipeline = PipelineOptions(idle_s=idle_timeout, active_s=active_timeout, lan_prefixes=prefixes,
                               bench=bench_obj, home=codes, raw_evidence=raw_evidence,
                               keylogs=list(keylog or []))  # fmt: skip
    load_keys(pipeline.keylogs)  # every key log readable now (one line naming it otherwise); then followed
    opts = LiveOptions(iface=iface, bpf=bpf, ring_dir=ring, ring_size_mb=ring_size, ring_files=ring_files,
                       spool_dir=spool, control=control or default_path(), flush_s=flush, buffer_mb=buffer_mb,
                       duration_s=duration, pipeline=pipeline, evidence_mb=evidence_budget,
                       evidence_hold_s=evidence_hold)  # fmt: skip
    last_drops = [0]
    last_refused = [0]

    def report(st: SessionStats) -> None:
        drops = st.dropped + st.if_dropped
        if drops > last_drops[0]:
            split = f"{st.dropped:,} by the kernel, {st.if_dropped:,} by the interface in all"
            new = drops - last_drops[0]
            err.print(f"[yellow]warning:[/] {new:,} packets dropped since the last flush ({split})")
            last_drops[0] = drops
        if st.evidence_refused > last_refused[0]:
            err.print(f"[yellow]warning:[/] {st.evidence_note}")
            last_refused[0] = st.evidence_refused
        if st.spool_pending and st.store_error:
            err.print(
                f"[yellow]warning:[/] store unreachable, {st.spool_pending} batches spooled: {st.store_error}"
            )
        if not quiet and not as_json:
            err.print(f"{time.strftime('%H:%M:%S')} batch {st.batches}: {st.packets:,} packets "
                      f"({fmt_bytes(st.bytes)}), {st.flows:,} flows, {st.observations:,} observations, "
                      f"drops {st.dropped}+{st.if_dropped}, lag {st.lag_s:.1f} s, phase {st.phase or '-'}, "
                      f"spooled {st.spool_pending}")  # fmt: skip

    os.makedirs(ring, exist_ok=True)
    with open_db(db) as store:
        store.hash_key()  # no masking key, or another store's: refused before the interface opens
        session = Session(store, opts, report)
        install_signal_handlers(session)
        try:
            st = session.run()
        except (LiveCaptureError, ControlError) as exc:
            raise Fail(str(exc)) from None
    if as_json:
        print_json(st.as_dict())
    elif not quiet:
        out.print(f"capture {st.capture_id[:12]}: {st.packets:,} packets, {st.flows:,} flows, "
                  f"{st.observations:,} observations in {st.batches} batches; dropped {st.dropped} (kernel), "
                  f"{st.if_dropped} (interface); {len(st.ring_files)} ring files in {ring}")  # fmt: skip
    if st.spool_pending:
        raise Fail(f"{st.spool_pending} batches are still spooled in {spool}: the next capture writes them")


def mark_cmd(
    phase: Annotated[
        str, typer.Argument(help="Phase name: boot, setup, consent, idle, feature_on, background...")
    ],
    note: Annotated[str, typer.Option("--note", help="What the engineer did.")] = "",
    device: Annotated[str | None, typer.Option("--device", help="A mark for this device only (MAC).")] = None,
    control: ControlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Mark the start of a test phase in the running capture session, now."""
    body = {"op": "mark", "phase": phase, "note": note, "device": mac_opt(device) or ""}
    try:
        reply = request(control or default_path(), body)
    except ControlError as exc:
        raise Fail(str(exc)) from None
    if as_json:
        print(json.dumps(reply))
    else:
        from appliance.cli.common import lab_zone
        from appliance.format import fmt_ts, zone_name

        lab_zone()
        when = f"{fmt_ts(int(reply['ts_ns']))} {zone_name()}"
        scope = f" for {reply['device']}" if reply.get("device") else ""
        out.print(f"marked {reply['phase']}{scope} at {when} in capture {str(reply['capture_id'])[:12]}")


COMMANDS: dict[str, Callable[..., None]] = {"capture": capture_cmd, "mark": mark_cmd}
