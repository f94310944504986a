"""`tapaudit intercept`: the live capture with the lab gateway's TLS interceptor (issue 19)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Annotated

import typer

from appliance.cli.capture import ControlOpt, DurationOpt, FlushOpt, RawEvidenceOpt, SpoolOpt
from appliance.cli.common import DbOpt, Fail, JsonOpt, err, open_db, out, pipeline_settings, print_json


def intercept_cmd(
    iface: Annotated[
        str, typer.Option("--interface", "-i", help="The LAN-side interface of the gateway, to capture on.")
    ],
    bench: Annotated[
        str | None,
        typer.Option("--bench", help="Bench file (YAML) naming the devices: only they are intercepted."),
    ] = None,
    db: DbOpt = None,
    tls_tests: Annotated[
        str,
        typer.Option(
            "--tls-tests",
            help="off (no test: the interceptor's CA), once per device and server "
            "name, or every-connection (breaks a device that refuses them).",
        ),
    ] = "once",
    ports: Annotated[
        list[int] | None,
        typer.Option("--port", help="TCP port to intercept (repeatable). Default 443, 8883."),
    ] = None,
    listen_port: Annotated[int, typer.Option("--listen-port", help="The interceptor's local port.")] = 8080,
    state_dir: Annotated[
        str | None,
        typer.Option(
            "--state-dir", help="Where the installation's CA is kept (created on first use, key 0600)."
        ),
    ] = None,
    keylog: Annotated[
        str | None,
        typer.Option(
            "--keylog-file",
            help="Where the interceptor writes its TLS key log (the capture follows "
            "it). Default: intercept.keylog in the state folder.",
        ),
    ] = None,
    wrong_host_cert: Annotated[
        str,
        typer.Option("--wrong-host-cert", help="A certificate the devices trust, for another name (PEM)."),
    ] = "",
    wrong_host_key: Annotated[str, typer.Option("--wrong-host-key", help="Its private key (PEM).")] = "",
    upstream_ca: Annotated[
        str,
        typer.Option("--upstream-ca", help="CA bundle to verify the real servers with (default certifi's)."),
    ] = "",
    ring: Annotated[str, typer.Option("--ring", help="Folder of the rotating pcapng ring files.")] = "./ring",
    spool: SpoolOpt = "./spool",
    flush: FlushOpt = 5.0,
    duration: DurationOpt = 0.0,
    control: ControlOpt = None,
    raw_evidence: RawEvidenceOpt = False,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No status lines.")] = False,
) -> None:
    """Capture as the devices' gateway and intercept their TLS: certificate-validation tests per destination, decrypting what the devices accept, passing the rest through untouched."""  # noqa: E501
    from appliance.ingest.pipeline import PipelineOptions
    from appliance.intercept.certs import CertError
    from appliance.intercept.rules import DEFAULT_PORTS, RulesError
    from appliance.intercept.runner import InterceptError, InterceptOptions, default_state_dir, run
    from appliance.live.control import ControlError, default_path
    from appliance.live.session import LiveOptions, SessionStats
    from appliance.live.source import LiveCaptureError

    if not bench:
        raise Fail("--bench is required: the interceptor redirects only the devices the bench file names")
    bench_obj, prefixes, codes = pipeline_settings(bench, None, None)
    state = state_dir or default_state_dir()
    keylog = keylog or os.path.join(state, "intercept.keylog")
    io = InterceptOptions(bench=bench_obj, state_dir=state, keylog=keylog,
                          listen_port=listen_port, ports=tuple(ports or DEFAULT_PORTS), tls_tests=tls_tests,
                          wrong_host_cert=wrong_host_cert, wrong_host_key=wrong_host_key,
                          upstream_ca=upstream_ca)  # fmt: skip
    pipeline = PipelineOptions(idle_s=60.0, active_s=300.0, lan_prefixes=prefixes, bench=bench_obj,
                               home=codes, raw_evidence=raw_evidence)  # fmt: skip
    live = LiveOptions(iface=iface, ring_dir=ring, spool_dir=spool, control=control or default_path(),
                       flush_s=flush, duration_s=duration, pipeline=pipeline)  # fmt: skip

    def report(st: SessionStats) -> None:
        if not quiet and not as_json:
            err.print(f"{time.strftime('%H:%M:%S')} batch {st.batches}: {st.packets:,} packets, {st.flows:,} "
                      f"flows, {st.observations:,} observations")  # fmt: skip

    os.makedirs(ring, exist_ok=True)
    with open_db(db) as store:
        store.hash_key()
        try:
            st = run(
                store, live, io, report, announce=lambda line: err.print(line, markup=False, highlight=False)
            )
        except (InterceptError, CertError, RulesError, LiveCaptureError, ControlError, OSError) as exc:
            raise Fail(str(exc)) from None
    if as_json:
        print_json({**st.as_dict(), "intercept": io.counts})
    elif not quiet:
        c = io.counts
        out.print(f"intercept {st.capture_id[:12]}: {st.packets:,} packets, {st.flows:,} flows; connections "
                  f"{c.get('connections', 0)}, tested {c.get('tested', 0)}, intercepted "
                  f"{c.get('intercepted', 0)}, passed through {c.get('passed', 0)}")  # fmt: skip


COMMANDS: dict[str, Callable[..., None]] = {"intercept": intercept_cmd}
