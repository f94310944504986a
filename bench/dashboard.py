"""Dashboard query latency: each page's read-API calls against 10 million synthetic flows.

Builds (or reuses) an embedded store (chDB) in ``bench/out/dashboard-<flows>`` whose rows are
generated inside ClickHouse (``INSERT ... SELECT ... FROM numbers(N)``): captures split the flows
evenly, each with its devices (a few on the bench), phases, personal-data observations on
existing flows, payload bursts and a lab-like set of findings. Then, per dashboard page, it runs
the calls that page makes through ``dashboards.data`` (here straight to ``appliance.store.queries``,
so nothing is cached) ``--runs`` times and reports the median and p90 of the page's total.

    python bench/dashboard.py --flows 10000000 --write
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.measures import shapes  # noqa: E402
from appliance.store import queries  # noqa: E402
from appliance.store.backends import ROLLUP_FLOWS, Store, open_store  # noqa: E402
from appliance.store.schema import META  # noqa: E402
from policies import verdicts  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- dashboard-bench:begin -->", "<!-- dashboard-bench:end -->"
T0_NS = 1_764_000_000 * 10**9  # 2025-11-24
DAY_NS = 86_400 * 10**9
INGEST0 = 1_764_100_000 * 10**9
ASSESS0 = 1_764_200_000 * 10**9
PHASES = ["boot", "setup", "consent", "idle", "feature_on", "background"]
KINDS = ["location", "wifi_scan", "imei", "phone", "persona:phone", "mac", "ssid", "email"]
COUNTRIES = ["CN", "US", "DE", "SG", "JP", "IE", "NL", "HK", "", "CN"]
SECURITIES = ["tls1.3", "tls1.2", "none", "quic", "", "tls1.3", "tls1.2", "tls"]
APPS = ["tls", "tls", "http", "quic", "dns", "", "mqtt", "tls"]
SEVERITIES = list(verdicts.SEVERITIES)


def _arr(values: list[str]) -> str:
    return "[" + ", ".join("'" + v + "'" for v in values) + "]"


def _mac(d: str) -> str:
    return f"concat('02:00:5e:00:00:', lower(hex(toUInt8({d}))))"


def _flow_cols(n: str, per: int, devices: int) -> str:
    """Columns derived from a flow number ``n``: the same for a flow and for the rows that refer to it."""
    return f"""{n} AS fn, intDiv(fn, {per}) AS c, cityHash64(fn, 1) AS h, h % {devices} AS d,
        d * 40 + cityHash64(fn, 2) % 40 AS r, cityHash64(fn, 3) % 100 AS dirp,
        toUInt64({T0_NS} + c * {DAY_NS} + (fn % {per}) * intDiv({DAY_NS}, {per})) AS t_ns,
        toUInt64({INGEST0} + c) AS ing, cityHash64(fn) AS fid, {_mac("d")} AS dmac"""


def build(store: Store, flows: int, captures: int, devices: int, bench: int, observations: int,
          bursts: int) -> list[str]:  # fmt: skip
    """Generate the rows; returns the capture ids."""
    caps = [hashlib.sha256(f"bench-capture-{i}".encode()).hexdigest() for i in range(captures)]
    per = -(-flows // captures)
    db = "{db}"
    cap = f"arrayElement({_arr(caps)}, toUInt32(c) + 1)"
    phase = f"arrayElement({_arr(PHASES)}, toUInt32(intDiv((fn % {per}) * {len(PHASES)}, {per})) + 1)"
    remote_ip = "concat('203.0.', toString(intDiv(r, 250) % 256), '.', toString(r % 250 + 1))"
    dev_ip = "concat('10.0.', toString(intDiv(d, 250)), '.', toString(d % 250 + 1))"
    steps: list[tuple[str, str]] = []
    steps.append((
        "flows",
        f"""INSERT INTO {db}.flows (capture_id, ingest_id, flow_id, first_ns, last_ns, ip_version, proto,
            src_ip, src_port, dst_ip, dst_port, src_mac, dst_mac, vlan, device_mac, direction, remote_ip,
            remote_port, pkts_up, pkts_down, bytes_up, bytes_down, payload_up, payload_down, tcp_flags_up,
            tcp_flags_down, tcp_state, handshake, end_reason, segment, app, domain, domain_source,
            registrable, organisation, service, service_kind, party, country, cross_border, as_org,
            security, readable, phase)
        SELECT {cap}, ing, fid, t_ns, t_ns + (h % 120) * 1000000000, 4, if(dirp < 85, 6, 17),
            if(direction = 'inbound', remote_ip_, dev_ip_), toUInt16(32768 + h % 20000),
            if(direction = 'inbound', dev_ip_, remote_ip_), port_,
            if(direction = 'inbound', '02:00:5e:00:01:01', dmac),
            if(direction = 'inbound', dmac, '02:00:5e:00:01:01'),
            0, dmac, direction, remote_ip_, port_,
            1 + h % 40, 1 + h % 30, 60 + h % 20000, 60 + h % 60000, h % 18000, h % 55000, 27, 26,
            arrayElement(['closed', 'established', 'reset', 'half_closed'], toUInt32(h % 4) + 1), 1,
            arrayElement(['fin', 'idle', 'rst', 'active'], toUInt32(h % 4) + 1), 0,
            arrayElement({_arr(APPS)}, toUInt32(r % {len(APPS)}) + 1),
            domain_, if(domain_ = '', '', 'sni'),
            if(domain_ = '', '', concat('vendor', toString(r % 53), '.com')),
            org_, if(org_ = '', '', concat('service', toString(r % 31))),
            if(org_ = '', '', arrayElement(['platform', 'cloud', 'analytics', 'push', 'advertising'],
                toUInt32(r % 5) + 1)),
            if(org_ = '', 'unknown', if(r % 3 = 0, 'first', 'third')), country_,
            if(country_ IN ('CN', ''), 0, 1), concat('AS', toString(r % 97)), sec_,
            if(sec_ IN ('none', ''), 1, 0), {phase}
        FROM (SELECT {_flow_cols("number", per, devices)},
                multiIf(dirp < 80, 'outbound', dirp < 85, 'inbound', dirp < 95, 'local', 'multicast')
                    AS direction, toUInt16(arrayElement([443, 80, 8883, 53], toUInt32(r % 4) + 1)) AS port_,
                {remote_ip} AS remote_ip_, {dev_ip} AS dev_ip_,
                if(r % 5 = 0, '', concat('svc', toString(r % 997), '.vendor', toString(r % 53), '.com'))
                    AS domain_,
                if(r % 7 = 0, '', concat('org', toString(r % 31))) AS org_,
                arrayElement({_arr(COUNTRIES)}, toUInt32(r % {len(COUNTRIES)}) + 1) AS country_,
                arrayElement({_arr(SECURITIES)}, toUInt32(r % {len(SECURITIES)}) + 1) AS sec_
              FROM numbers({flows}))""",
    ))  # fmt: skip
    stride = max(flows // max(observations, 1), 1)
    steps.append((
        "observations",
        f"""INSERT INTO {db}.observations (capture_id, ingest_id, flow_id, ts_ns, device_mac, remote_ip,
            protocol, carrier, data_type, path, confidence, decimals, metres, value_hash, excerpt, detail,
            phase)
        SELECT {cap}, ing, fid, t_ns + number % 7 * 1000000, dmac, {remote_ip}, 'http', 'http.query', kind,
            concat('$.', kind), 'high', if(kind = 'location', toInt8(2 + h % 4), -1),
            if(kind = 'location', 111000 / pow(10, 2 + h % 4), 0), substring(lower(hex(h)), 1, 16),
            concat(substring(kind, 1, 2), '***'), '{{}}', {phase}
        FROM (SELECT number, {_flow_cols(f"number * {stride} % {flows}", per, devices)},
                arrayElement({_arr(KINDS)}, toUInt32((d + number) % {len(KINDS)}) + 1) AS kind
              FROM numbers({observations}))""",
    ))  # fmt: skip
    bstride = max(flows // max(bursts, 1), 1)
    steps.append((
        "bursts",
        f"""INSERT INTO {db}.bursts (capture_id, ingest_id, flow_id, device_mac, start_ns, end_ns, bytes_out,
            bytes_in, pkts_out, pkts_in, phase)
        SELECT {cap}, ing, fid, dmac, t_ns, t_ns + (h % 3000) * 1000000,
            if(h % 50 = 0, 20000 + h % 2000000, 100 + h % 2000), 60 + h % 900,
            toUInt32(1 + h % 30), toUInt32(1 + h % 10), {phase}
        FROM (SELECT {_flow_cols(f"number * {bstride} % {flows}", per, devices)} FROM numbers({bursts}))""",
    ))  # fmt: skip
    steps.append((
        "devices",
        f"""INSERT INTO {db}.devices (capture_id, ingest_id, mac, oui_vendor, name, category, vendor, model,
            on_bench, role, dhcp_hostname, ipv4, first_ns, last_ns)
        SELECT {cap}, toUInt64({INGEST0} + c), {_mac("d")}, 'Espressif Inc.',
            if(d < {bench}, concat('device-', toString(d)), ''),
            if(d < {bench}, arrayElement(['camera', 'speaker', 'plug', 'hub'], toUInt32(d % 4) + 1),
                'unknown'),
            concat('Vendor', toString(d % 9)), if(d < {bench}, concat('M', toString(d)), ''),
            if(d < {bench}, 1, 0), if(d = {devices - 1}, 'gateway', 'device'), concat('host-', toString(d)),
            [{dev_ip}], toUInt64({T0_NS} + c * {DAY_NS}), toUInt64({T0_NS} + (c + 1) * {DAY_NS} - 1)
        FROM (SELECT intDiv(number, {devices}) AS c, number % {devices} AS d
              FROM numbers({captures * devices}))""",
    ))  # fmt: skip
    steps.append((
        "phases",
        f"""INSERT INTO {db}.phases (capture_id, ingest_id, phase, start_ns, end_ns, note)
        SELECT {cap}, toUInt64({INGEST0} + c), arrayElement({_arr(PHASES)}, toUInt32(p) + 1),
            toUInt64({T0_NS} + c * {DAY_NS} + p * intDiv({DAY_NS}, {len(PHASES)})),
            toUInt64({T0_NS} + c * {DAY_NS} + (p + 1) * intDiv({DAY_NS}, {len(PHASES)})), ''
        FROM (SELECT intDiv(number, {len(PHASES)}) AS c, number % {len(PHASES)} AS p
              FROM numbers({captures * len(PHASES)}))""",
    ))  # fmt: skip
    per_dev = 25  # a lab-like assessment: a couple dozen findings per device under test and capture
    steps.append((
        "findings",
        f"""INSERT INTO {db}.findings (capture_id, ingest_id, assess_id, finding_id, device_mac, rule_id,
            pack, pack_version, rules_sha256, severity, requirements, statement, statement_zh, figures,
            flow_ids, first_ns, last_ns, excerpts, observations)
        SELECT {cap}, toUInt64({INGEST0} + c), toUInt64({ASSESS0} + c), lower(hex(cityHash64(number, 9))),
            {_mac("d")}, concat('CN25-', leftPad(toString(k), 2, '0')), 'cn25', '1.0', 'abc',
            arrayElement({_arr(SEVERITIES)}, toUInt32(cityHash64(number) % 5) + 1), ['TR-01'],
            concat('Device ', toString(d), ' sent data to ', toString(k), ' third parties.'), '设备',
            '{{"n": 3}}', [cityHash64(number)], toUInt64({T0_NS} + c * {DAY_NS}),
            toUInt64({T0_NS} + c * {DAY_NS} + 1000), ['ab***'], 3
        FROM (SELECT number, intDiv(number, {bench * per_dev}) AS c, intDiv(number, {per_dev}) % {bench} AS d,
                number % {per_dev} AS k FROM numbers({captures * bench * per_dev}))""",
    ))  # fmt: skip
    # the flow rollup, as a replay writes it at commit
    steps.append(("flow_rollup", ROLLUP_FLOWS.replace("{where}", "1")))
    # the commit markers last, as a replay writes them
    steps.append((
        "captures",
        f"""INSERT INTO {db}.captures (capture_id, ingest_id, path, files, format, packets, bytes, first_ns,
            last_ns, link_types, flows, devices, tool_version, ingested_at, status)
        SELECT {cap}, toUInt64({INGEST0} + c), concat('bench-', toString(c), '.pcap'),
            [concat('bench-', toString(c), '.pcap')], 'pcap', {per} * 50, {per} * 50 * 600,
            toUInt64({T0_NS} + c * {DAY_NS}), toUInt64({T0_NS} + (c + 1) * {DAY_NS} - 1), ['ethernet'],
            {per}, {devices}, 'bench', now(), 'complete'
        FROM (SELECT number AS c FROM numbers({captures}))""",
    ))  # fmt: skip
    for table, sql in steps:
        t = time.perf_counter()
        store.execute(sql)
        print(f"  {table}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    store.execute("OPTIMIZE TABLE {db}.flows FINAL")
    return caps


def open_bench_store(path: Path, args: argparse.Namespace) -> Store:
    store = open_store(str(path))
    store.ensure_schema()
    want = f"{args.flows}/{args.captures}/{args.devices}/{args.bench}/{args.observations}/{args.bursts}"
    have = store.query("SELECT value FROM {db}.meta WHERE key = 'dashboard_bench'")
    if have and have[0]["value"] == want:
        print(f"reusing {path}", file=sys.stderr)
        return store
    if store.query("SELECT 1 FROM {db}.captures LIMIT 1"):
        raise SystemExit(f"{path} holds other data; remove it first")
    print(f"building {path} ({want})", file=sys.stderr)
    t = time.perf_counter()
    build(store, args.flows, args.captures, args.devices, args.bench, args.observations, args.bursts)
    store.insert("meta", [META.row(key="dashboard_bench", value=want)])
    print(f"built in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return store


Call = tuple[str, Callable[[], Any]]


def pages(store: Store) -> dict[str, list[Call]]:
    """Per page, the read-API calls it makes on first render with no capture selected."""
    from dashboards.pages_.common import under_test

    devs = queries.devices(store)
    bench = under_test(devs)
    mac = str(bench[0]["mac"])  # the device picker's default
    total = queries.flow_count(store)
    deep = (max(1, -(-total // 100)) // 2) * 100  # the middle page of 100

    day3 = T0_NS + 2 * DAY_NS
    narrow = queries.FlowFilter(destination="vendor7.", proto=6, since_ns=day3 + DAY_NS // 2,
                                until_ns=day3 + DAY_NS * 3 // 4)  # fmt: skip
    series: list[dict[str, Any]] = []

    def flow_page(device: str | None, flt: queries.FlowFilter | None, offset: int) -> list[Call]:
        """The explorer: per-capture counts (the page count; cached by the page), then one page."""
        counts: list[dict[str, Any]] = []
        what = " (device)" if device else " (filter)" if flt else ""
        return [
            ("devices", lambda: queries.devices(store)),
            (
                f"flow_counts{what}",
                lambda: counts.__setitem__(slice(None), queries.flow_counts(store, None, device, flt)),
            ),
            (
                f"flows 100 @ {offset:,}{what}",
                lambda: queries.flows(store, None, device, 100, offset, flt, counts),
            ),
        ]

    def device_series() -> None:
        series[:] = queries.observation_series(store, None, mac)

    def device_phases() -> None:  # the page shades each capture's phases behind the series
        for cap in sorted({str(s["capture_id"]) for s in series}):
            queries.phase_spans(store, cap, mac)

    return {
        "Captures": [("captures", lambda: queries.captures(store))],
        "Overview": [
            ("devices", lambda: queries.devices(store)),
            ("findings", lambda: queries.findings(store)),
            ("device_overview", lambda: queries.device_overview(store)),
        ],
        "Device": [
            ("devices", lambda: queries.devices(store)),
            ("observation_series", device_series),
            ("phase_spans per capture", device_phases),
            ("measures", lambda: queries.measures(store, None, mac)),
            ("destinations (device)", lambda: queries.destinations(store, None, mac)),
            ("periods", lambda: shapes.periods(store, None, mac)),
            ("uploads", lambda: shapes.uploads(store, None, mac)),
        ],
        "Destinations": [
            ("devices", lambda: queries.devices(store)),
            ("destinations", lambda: queries.destinations(store)),
        ],
        "Findings": [
            ("findings", lambda: queries.findings(store)),
            ("devices", lambda: queries.devices(store)),
        ],
        "Flows, page 1": flow_page(None, None, 0),
        f"Flows, page {deep // 100 + 1:,}": flow_page(None, None, deep),
        "Flows, one device": flow_page(mac, None, 0),
        "Flows, filtered": flow_page(None, narrow, 0),  # destination text, TCP, an afternoon of day 3
    }


def _p90(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(0.9 * (len(s) - 1))))]


def measure(store: Store, runs: int, budget: float, only: list[str] | None = None) -> list[dict[str, Any]]:
    out = []
    for page, calls in pages(store).items():
        if only and not any(page.startswith(o) for o in only):
            continue

        def once(calls: list[Call] = calls) -> dict[str, float]:
            took = {}
            for name, fn in calls:
                t = time.perf_counter()
                fn()
                took[name] = time.perf_counter() - t
            return took

        first = once()  # warm-up: reads the parts from disk
        # far too slow for repeats: the warm-up is the one figure (the page is that slow anyway)
        timed = [once() for _ in range(runs)] if sum(first.values()) <= budget else [first]
        n = len(timed)
        totals = [sum(t.values()) for t in timed]
        per_call = {name: [t[name] for t in timed] for name, _ in calls}
        row: dict[str, Any] = {
            "page": page,
            "runs": n,
            "median": statistics.median(totals),
            "p90": _p90(totals),
            "calls": {k: statistics.median(v) for k, v in per_call.items()},
        }
        print(f"{page}: {n} runs, median {row['median']:.3f} s, p90 {row['p90']:.3f} s", file=sys.stderr)
        for k, v in row["calls"].items():
            print(f"    {k}: {v:.3f} s", file=sys.stderr)
        out.append(row)
    return out


def table(store: Store, rows: list[dict[str, Any]], args: argparse.Namespace, cmd: str) -> str:
    counts = {
        t: int(store.query(f"SELECT count() AS n FROM {{db}}.{t}")[0]["n"])
        for t in ("flows", "devices", "observations", "bursts", "findings", "captures")
    }
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run {now} on {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()},"
        f" chDB {_chdb_version()}, {args.runs} runs per page after one warm-up"
        f" (pages over {args.budget:g} s: the warm-up alone), nothing cached.",
        f"Store: {counts['flows']:,} flows in {counts['captures']} captures,"
        f" {counts['devices']:,} device rows"
        f" ({args.devices} devices per capture, {args.bench} on the bench), {counts['observations']:,}"
        f" observations, {counts['bursts']:,} bursts, {counts['findings']:,} findings.",
        "",
        f"Command: `{cmd}`",
        "",
        "| page | read-API calls (median s each) | runs | median s | p90 s | under 1 s |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        calls = "; ".join(f"{k} {v:.3f}" for k, v in r["calls"].items())
        ok = "yes" if r["median"] < 1 else "**no**"
        lines.append(f"| {r['page']} | {calls} | {r['runs']} | {r['median']:.3f} | {r['p90']:.3f} | {ok} |")
    return "\n".join(lines)


def _chdb_version() -> str:
    import chdb

    return str(chdb.__version__)


def write(text: str) -> None:
    doc = RESULTS.read_text()
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    RESULTS.write_text(doc[:start] + "\n" + text + "\n" + doc[end:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, default=10_000_000)
    ap.add_argument("--captures", type=int, default=5)
    ap.add_argument("--devices", type=int, default=200, help="devices per capture")
    ap.add_argument("--bench", type=int, default=20, help="of which on the bench (under test)")
    ap.add_argument("--observations", type=int, default=2_000_000)
    ap.add_argument("--bursts", type=int, default=5_000_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--budget", type=float, default=20.0,
                    help="pages whose warm-up takes longer (s): the warm-up alone")  # fmt: skip
    ap.add_argument("--store", type=Path, help="data folder (default bench/out/dashboard-<flows>)")
    ap.add_argument("--only", action="append", help="pages whose name starts with this (repeatable)")
    ap.add_argument("--write", action="store_true", help=f"rewrite the table in {RESULTS}")
    args = ap.parse_args(argv)
    path = args.store or ROOT / "bench" / "out" / f"dashboard-{args.flows}"
    store = open_bench_store(path, args)
    try:
        rows = measure(store, args.runs, args.budget, args.only)
        cmd = "python bench/dashboard.py " + " ".join(argv if argv is not None else sys.argv[1:])
        text = table(store, rows, args, cmd.strip())
        print(text)
        if args.write:
            write(text)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
