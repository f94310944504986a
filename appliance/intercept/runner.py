"""`tapaudit intercept`: the live capture and the interceptor in one process, one pipeline, one store.

The appliance is the devices' gateway. The capture session (``appliance.live.session``) reads the
LAN-side interface as ``tapaudit capture`` does; mitmproxy (PyPI ``mitmproxy``, run as a library:
``DumpMaster`` in transparent mode, with ``addon.Interceptor``) terminates the TLS connections that
the nftables rules (``rules``) send it, only those of the bench file's devices to the tested ports.
mitmproxy writes the secrets of both legs of every connection it terminates to one NSS key log
(its SSLKEYLOGFILE logger), which the session follows with its keys labelled ``tls-intercept``: the
device's leg, captured on the LAN side, is decrypted by the same path as a device's own key log
(issue 16). At each flush the session takes the tests' outcomes and writes them to ``tls_tests``
with the flow each belongs to, still open in the flow meter then.

The rules are removed on every way out that runs Python (a normal stop, SIGINT/SIGTERM, an error);
after a SIGKILL the next start removes the table the dead process left before adding its own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from appliance.ingest.owner import flow_id
from appliance.ingest.pipeline import Pipeline
from appliance.intercept import rules
from appliance.intercept.addon import Interceptor, Outcome, Planner
from appliance.intercept.certs import CA, Forger, load_or_create_ca, load_trusted
from appliance.lab.bench import Bench
from appliance.live.session import LiveOptions, Session, SessionStats
from appliance.store.backends import Store
from appliance.store.schema import TLS_TESTS

TCP = 6
DEFAULT_LISTEN_PORT = 8080  # mitmproxy's own default listen port


class InterceptError(Exception):
    """The interceptor cannot start (one-line message)."""


@dataclass
class InterceptOptions:
    bench: Bench | None
    state_dir: str
    keylog: str
    listen_port: int = DEFAULT_LISTEN_PORT
    ports: tuple[int, ...] = rules.DEFAULT_PORTS
    tls_tests: str = "once"
    wrong_host_cert: str = ""
    wrong_host_key: str = ""
    upstream_ca: str = ""  # the CA bundle the upstream leg verifies servers with ('' : certifi's)
    counts: dict[str, int] = field(default_factory=dict)


def default_state_dir() -> str:
    """Where the installation's CA lives: /var/lib/tapaudit/intercept as root, else the user's."""
    if os.geteuid() == 0:
        return "/var/lib/tapaudit/intercept"
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "tapaudit", "intercept")


def _ip(text: str) -> bytes:
    a = ipaddress.ip_address(text.split("%")[0])
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    return a.packed


def _plain(text: str) -> str:
    return str(ipaddress.ip_address(_ip(text)))


def outcome_row(o: Outcome, pipe: Pipeline, capture_id: str, ingest_id: int) -> tuple[object, ...]:
    """The ``tls_tests`` row of one outcome; its flow is the meter's (TCP, device end, server end)."""
    hit = pipe.meter.table.get((TCP, _ip(o.client[0]), o.client[1], _ip(o.server[0]), o.server[1]))
    return TLS_TESTS.row(
        capture_id=capture_id, ingest_id=ingest_id, device_mac=o.device_mac, server_name=o.server_name,
        test=o.test, outcome=o.outcome, reason=o.reason[:300], tls_version=o.tls_version, ts_ns=o.ts_ns,
        client_ip=_plain(o.client[0]), client_port=o.client[1], server_ip=_plain(o.server[0]),
        server_port=o.server[1], flow_id=flow_id(hit[0]) if hit is not None else 0,
    )  # fmt: skip


def _drain(addon: Interceptor) -> Callable[[Pipeline, str, int], dict[str, list[tuple[object, ...]]]]:
    def extra(pipe: Pipeline, capture_id: str, ingest_id: int) -> dict[str, list[tuple[object, ...]]]:
        rows = []
        while not addon.outcomes.empty():
            rows.append(outcome_row(addon.outcomes.get(), pipe, capture_id, ingest_id))
        return {"tls_tests": rows}

    return extra


def prepare(io: InterceptOptions) -> tuple[list[str], CA, Interceptor]:
    """Everything checked before a rule is set: the bench's devices, the CA, the test certificates."""
    if io.bench is None:
        raise InterceptError("--bench is required: the interceptor redirects only the devices it names")
    macs = sorted(io.bench.devices)
    if not macs:
        raise InterceptError(f"{io.bench.path}: the bench file names no device: nothing to intercept")
    if bool(io.wrong_host_cert) != bool(io.wrong_host_key):
        raise InterceptError("--wrong-host-cert and --wrong-host-key go together")
    ca = load_or_create_ca(io.state_dir)
    trusted = load_trusted(io.wrong_host_cert, io.wrong_host_key) if io.wrong_host_cert else None
    try:
        planner = Planner(io.tls_tests)
    except ValueError as exc:
        raise InterceptError(str(exc)) from None
    fd = os.open(io.keylog, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # secrets: owner only
    os.close(fd)
    return macs, ca, Interceptor(planner, Forger(ca, trusted), set(macs))


async def _proxy(io: InterceptOptions, addon: Interceptor, session: Session) -> None:
    from mitmproxy.net import tls as net_tls

    # mitmproxy reads SSLKEYLOGFILE once, at import; the logger is set here instead, for this run
    net_tls.log_master_secret = net_tls.make_master_secret_logger(io.keylog)
    from mitmproxy.options import Options
    from mitmproxy.tools.dump import DumpMaster

    opts = Options()
    opts.update(mode=["transparent"], listen_port=io.listen_port, confdir=io.state_dir, http2=False)
    if io.upstream_ca:
        opts.update(ssl_verify_upstream_trusted_ca=io.upstream_ca)
    master = DumpMaster(opts, with_termlog=False, with_dumper=False)
    master.addons.add(addon)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)

    async def watch() -> None:  # the capture ended on its own (--duration, an error): stop the proxy
        while not session.stop.is_set():
            await asyncio.sleep(0.2)
        master.shutdown()

    task = loop.create_task(watch())
    try:
        await master.run()
    finally:
        task.cancel()


BR_NF = "/proc/sys/net/bridge/bridge-nf-call-iptables"


def bridge_warning(iface: str) -> str:
    """A capture on a bridge whose frames pass netfilter's IP hooks (br_netfilter) sees the
    redirected packets (to the interceptor's port) instead of the device's: say so."""
    try:
        on = Path(f"/sys/class/net/{iface}/bridge").exists() and Path(BR_NF).read_text().strip() == "1"
    except OSError:
        return ""
    if not on:
        return ""
    return (f"warning: {iface} is a bridge and net.bridge.bridge-nf-call-iptables is 1: the capture sees "
            "the redirected packets; set it to 0 (sysctl) or capture on the devices' port")  # fmt: skip


def run(
    store: Store,
    live: LiveOptions,
    io: InterceptOptions,
    report: Callable[[SessionStats], None] | None = None,
    announce: Callable[[str], None] = print,
) -> SessionStats:
    """Capture and intercept until SIGINT/SIGTERM (or ``live.duration_s``); the rules go on the way out."""
    macs, ca, addon = prepare(io)
    live.intercept_keylog = io.keylog
    live.extra = _drain(addon)
    announce(f"interceptor CA: {ca.path} sha256 {ca.sha256}")
    if warn := bridge_warning(live.iface):
        announce(warn)
    session = Session(store, live, report)
    failure: list[BaseException] = []
    stats: list[SessionStats] = []

    def capture() -> None:
        try:
            stats.append(session.run())
        except BaseException as exc:  # handed to the main thread
            failure.append(exc)
        finally:
            session.stop.set()

    left = rules.install(macs, io.ports, io.listen_port, tag=f"tapaudit intercept pid {os.getpid()}")
    try:
        if left:
            announce(f"removed the redirect rules a stopped interceptor left (table {rules.TABLE})")
        announce(f"redirecting TCP {', '.join(map(str, io.ports))} of {len(macs)} bench devices to port "
                 f"{io.listen_port}; TLS tests {io.tls_tests}; key log {io.keylog}")  # fmt: skip
        th = threading.Thread(target=capture, name="capture", daemon=True)
        th.start()
        try:
            asyncio.run(_proxy(io, addon, session))
        finally:
            session.stop.set()
            th.join()
    finally:
        rules.remove()
    io.counts = dict(addon.counts)
    if failure:
        raise failure[0]
    return stats[0]


def ca_fingerprint(state_dir: str) -> tuple[Path, str]:
    ca = load_or_create_ca(state_dir)
    return ca.path, ca.sha256
