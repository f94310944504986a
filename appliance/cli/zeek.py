"""`tapaudit zeek`: a live session fed by a Zeek sensor through its WebSocket API (issue 21)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

import typer

from appliance.cli.capture import ControlOpt, DurationOpt, FlushOpt, HomeOpt, LanOpt, RawEvidenceOpt, SpoolOpt
from appliance.cli.common import DbOpt, Fail, JsonOpt, err, open_db, out, pipeline_settings, print_json


def zeek_cmd(
    connect: Annotated[
        str | None,
        typer.Option(
            "--connect", help="Zeek's WebSocket API, ws://HOST:PORT (path /v1/messages/json added)."
        ),
    ] = None,
    print_script: Annotated[
        bool, typer.Option("--print-script", help="Print the Zeek script to load on the sensor, and exit.")
    ] = False,
    bench: Annotated[
        str | None, typer.Option("--bench", help="Bench file (YAML) naming the devices under test.")
    ] = None,
    db: DbOpt = None,
    spool: SpoolOpt = "./spool",
    flush: FlushOpt = 5.0,
    duration: DurationOpt = 0.0,
    control: ControlOpt = None,
    lan: LanOpt = None,
    home: HomeOpt = None,
    raw_evidence: RawEvidenceOpt = False,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No status lines.")] = False,
) -> None:
    """Follow a Zeek sensor live: its connection, DNS, TLS, HTTP and DHCP rows to the store every few seconds."""  # noqa: E501
    from appliance.ingest.pipeline import PipelineOptions
    from appliance.live.control import ControlError, default_path
    from appliance.live.session import SessionStats, install_signal_handlers
    from appliance.live.zeek_client import ZeekClient, script_text
    from appliance.live.zeek_session import ZeekLiveOptions, ZeekSession

    if print_script:
        out.print(script_text(), markup=False, highlight=False, soft_wrap=True)
        return
    if not connect:
        raise Fail("--connect ws://HOST:PORT is needed (the sensor's WebSocket API; see --print-script)")
    try:
        client = ZeekClient(connect)
    except ValueError as exc:
        raise Fail(f"--connect: {exc}") from None
    bench_obj, prefixes, codes = pipeline_settings(bench, lan, home)
    pipeline = PipelineOptions(idle_s=60.0, active_s=300.0, lan_prefixes=prefixes, bench=bench_obj,
                               home=codes, raw_evidence=raw_evidence)  # fmt: skip
    opts = ZeekLiveOptions(url=client.url, spool_dir=spool, control=control or default_path(), flush_s=flush,
                           duration_s=duration, pipeline=pipeline)  # fmt: skip

    def report(st: SessionStats) -> None:
        c = client.stats
        if st.spool_pending and st.store_error:
            err.print(
                f"[yellow]warning:[/] store unreachable, {st.spool_pending} batches spooled: {st.store_error}"
            )
        if not c.connected and c.last_error:
            err.print(f"[yellow]warning:[/] Zeek not connected ({c.last_error}); retrying")
        if not quiet and not as_json:
            err.print(f"{time.strftime('%H:%M:%S')} batch {st.batches}: {c.rows:,} rows from Zeek, "
                      f"{st.flows:,} flows, {st.observations:,} observations, connects {c.connects}, "
                      f"phase {st.phase or '-'}, spooled {st.spool_pending}")  # fmt: skip

    with open_db(db) as store:
        store.hash_key()
        session = ZeekSession(store, opts, report, client=client)
        install_signal_handlers(session)
        try:
            st = session.run()
        except ControlError as exc:
            raise Fail(str(exc)) from None
    if as_json:
        print_json({**st.as_dict(), "zeek": client.stats.as_dict()})
    elif not quiet:
        c = client.stats
        out.print(f"zeek {st.capture_id[:12]}: {c.rows:,} rows, {st.flows:,} flows, {st.observations:,} "
                  f"observations in {st.batches} batches; connected {c.connects} times")  # fmt: skip
    if st.spool_pending:
        raise Fail(f"{st.spool_pending} batches are still spooled in {spool}: the next session writes them")


COMMANDS: dict[str, Callable[..., None]] = {"zeek": zeek_cmd}
