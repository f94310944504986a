"""The storage read API: every question the CLI, reports and dashboard ask of the store.

Parameterised SQL only (``%(name)s``), aggregation pushed to ClickHouse, and the
same text for chDB and server 18.16.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from appliance.measures.periodicity import periodicity
from appliance.measures.upload_kinds import MIN_UPLOAD, classify
from appliance.store.backends import Store
from policies.verdicts import SEVERITIES

Rows = list[dict[str, Any]]


# The committed ingestion run of each capture: the newest ``captures`` row. Rows of
# superseded or unfinished runs stay invisible (see appliance.store.schema).
# A live capture session is current from its first row on (status 'live'; appliance.live.session).
COMMITTED = "status IN ('complete', 'live')"
CURRENT = f"SELECT max(ingest_id) FROM {{db}}.captures WHERE {COMMITTED} GROUP BY capture_id"


def _capture_rows(where: str) -> str:
    """The ``captures`` rows of ``where``, one per capture: a live session writes a row as it goes
    (its totals so far) and a last one when it stops; the newest, else the complete one, counts."""
    return (
        f"(SELECT * FROM {{db}}.captures WHERE {where}"
        " ORDER BY capture_id, status = 'complete' DESC, last_ns DESC, packets DESC LIMIT 1 BY capture_id)"
    )


def _scope(capture_ids: list[str] | None, device: str | None = None) -> tuple[str, dict[str, Any]]:
    """WHERE clause selecting the current rows of all captures, or of the given ones (and one device's)."""
    if capture_ids:
        where = (
            f"ingest_id IN (SELECT max(ingest_id) FROM {{db}}.captures WHERE {COMMITTED}"
            " AND has(%(caps)s, capture_id) GROUP BY capture_id)"
        )
        params: dict[str, Any] = {"caps": capture_ids}
    else:
        where, params = f"ingest_id IN ({CURRENT})", {}
    if device:
        where += " AND device_mac = %(dev)s"
        params["dev"] = device
    return where, params


def _joined(table: str, where: str, capture_ids: list[str] | None) -> str:
    """WHERE clause for the flows side of a join from ``table``'s rows selected by ``where``: only
    the flows those rows refer to, so the join's hash table holds them and not every flow."""
    fwhere, _ = _scope(capture_ids)
    return f"{fwhere} AND flow_id IN (SELECT flow_id FROM {{db}}.{table} WHERE {where})"


def captures(store: Store) -> Rows:
    return store.query(
        "SELECT capture_id, path, files, packets, bytes, first_ns, last_ns, link_types, truncated,"
        " read_error, skipped_packets, flows, devices, tool_version, toString(ingested_at) AS ingested_at,"
        " status"
        f" FROM {_capture_rows(f'ingest_id IN ({CURRENT})')} ORDER BY first_ns, path"
    )


def devices(store: Store, capture_ids: list[str] | None = None) -> Rows:
    """Devices merged over the chosen captures, with their flow and byte totals."""
    where, params = _scope(capture_ids)
    devs = store.query(
        f"""SELECT mac, argMax(oui_vendor, last_ns) AS oui_vendor, argMax(name, last_ns) AS name,
            argMax(category, last_ns) AS category, argMax(vendor, last_ns) AS vendor,
            argMax(model, last_ns) AS model, argMax(firmware, last_ns) AS firmware,
            max(on_bench) AS on_bench, argMax(role, last_ns) AS role,
            argMax(dhcp_hostname, last_ns) AS dhcp_hostname,
            argMax(dhcp_vendor_class, last_ns) AS dhcp_vendor_class,
            argMax(dhcp_prl, last_ns) AS dhcp_prl, argMax(dhcp_fingerprint, last_ns) AS dhcp_fingerprint,
            groupUniqArrayArray(mdns_names) AS mdns_names, groupUniqArrayArray(ssdp_names) AS ssdp_names,
            groupUniqArrayArray(ipv4) AS ipv4, groupUniqArrayArray(ipv6) AS ipv6,
            min(first_ns) AS first_seen_ns, max(last_ns) AS last_seen_ns, uniqExact(capture_id) AS captures
        FROM {{db}}.devices WHERE {where} GROUP BY mac""",
        params,
    )
    totals = {
        r["mac"]: r
        for r in store.query(
            f"""SELECT device_mac AS mac, sum(flows) AS nflows, sum(bytes_sent) AS sent,
                sum(bytes_received) AS received, uniqExact(remote_ip) AS remotes
            FROM {{db}}.flow_rollup WHERE {where} GROUP BY device_mac""",
            params,
        )
    }
    for d in devs:
        t = totals.get(d["mac"], {})
        d["flows"] = int(t.get("nflows", 0))
        d["bytes_sent"] = int(t.get("sent", 0))
        d["bytes_received"] = int(t.get("received", 0))
        d["remotes"] = int(t.get("remotes", 0))
        d["ipv4"], d["ipv6"] = sorted(d["ipv4"]), sorted(d["ipv6"])
    devs.sort(key=lambda d: (-int(d["on_bench"]), d["role"] != "device", -d["bytes_sent"], d["mac"]))
    return devs


def top_remotes(store: Store, capture_ids: list[str] | None = None, per_device: int = 3) -> Rows:
    """Each device's busiest off-LAN endpoints by bytes."""
    where, params = _scope(capture_ids)
    params = {**params, "n": per_device}
    return store.query(
        f"""SELECT device_mac AS mac, remote_ip, any(proto) AS proto, any(remote_port) AS port,
            count() AS flows, sum(bytes_up + bytes_down) AS bytes
        FROM {{db}}.flows WHERE {where} AND device_mac != '' AND direction IN ('outbound', 'inbound')
        GROUP BY device_mac, remote_ip ORDER BY device_mac, bytes DESC LIMIT %(n)s BY device_mac""",
        params,
    )


@dataclass(frozen=True)
class FlowFilter:
    """What the flow explorer narrows to; every field optional (None: no condition)."""

    device: str | None = None  # the device's own flows, or flows it is either end of (LAN)
    destination: str | None = None  # a substring of the server name, else the remote address
    proto: int | None = None  # IP protocol number (6 TCP, 17 UDP...)
    app: str | None = None  # application protocol dissected (tls, http, dns...); '' for none
    since_ns: int | None = None  # flows that began at or after this time
    until_ns: int | None = None  # ... and before this time

    def sql(self) -> tuple[str, str, dict[str, Any]]:
        """PREWHERE (the time range: read the other columns only for flows in it), WHERE additions."""
        conds: list[str] = []
        pre: list[str] = []
        params: dict[str, Any] = {}
        if self.device:
            conds.append("(device_mac = %(fdev)s OR src_mac = %(fdev)s OR dst_mac = %(fdev)s)")
            params["fdev"] = self.device
        if self.destination:
            conds.append("positionCaseInsensitive(if(domain != '', domain, remote_ip), %(fdest)s) > 0")
            params["fdest"] = self.destination
        if self.proto is not None:
            conds.append("proto = %(fproto)s")
            params["fproto"] = int(self.proto)
        if self.app is not None:
            conds.append("app = %(fapp)s")
            params["fapp"] = self.app
        if self.since_ns is not None:
            pre.append("first_ns >= %(fsince)s")
            params["fsince"] = int(self.since_ns)
        if self.until_ns is not None:
            pre.append("first_ns < %(funtil)s")
            params["funtil"] = int(self.until_ns)
        prewhere = " PREWHERE " + " AND ".join(pre) if pre else ""
        return prewhere, "".join(" AND " + c for c in conds), params


def _flow_filter(device: str | None, flt: FlowFilter | None) -> FlowFilter:
    flt = flt or FlowFilter()
    return replace(flt, device=device) if device else flt


def flow_counts(
    store: Store,
    capture_ids: list[str] | None = None,
    device: str | None = None,
    flt: FlowFilter | None = None,
) -> Rows:
    """Matching flows per capture (``cap``, ``n``), captures in the explorer's order (first packet):
    the explorer's page count, and what ``flows`` walks to find a page's captures."""
    where, params = _scope(capture_ids)
    pre, extra, fparams = _flow_filter(device, flt).sql()
    return store.query(
        f"""SELECT f.cap AS cap, f.n AS n, c.t0 AS t0 FROM (
            SELECT capture_id AS cap, count() AS n FROM {{db}}.flows{pre} WHERE {where}{extra} GROUP BY cap
        ) AS f
        ANY LEFT JOIN (SELECT capture_id AS cap, min(first_ns) AS t0 FROM {{db}}.captures
                       WHERE ingest_id IN ({CURRENT}) GROUP BY cap) AS c USING cap
        ORDER BY t0, cap""",
        {**params, **fparams},
    )


FLOW_COLUMNS = """toString(flow_id) AS flow_id, capture_id, first_ns, last_ns, proto, src_ip, src_port,
    dst_ip, dst_port, src_mac, dst_mac, device_mac, direction, remote_ip, remote_port, pkts_up, pkts_down,
    bytes_up, bytes_down, payload_up, payload_down, tcp_flags_up, tcp_flags_down, tcp_state, end_reason,
    segment, vlan, app, if(domain != '', domain, remote_ip) AS destination, organisation, party, country,
    security, phase"""


def flows(
    store: Store,
    capture_ids: list[str] | None = None,
    device: str | None = None,
    limit: int = 100,
    offset: int = 0,
    flt: FlowFilter | None = None,
    counts: Rows | None = None,
) -> Rows:
    """One page of flows: captures in time order, within each by first packet.

    Paged per capture: the page's captures are found from per-capture counts (``flow_counts``,
    given or computed), then only those are sorted, and only the keys of the page before whole
    rows are read, so a deep page of ten million flows costs one capture's sort of two columns.
    """
    flt = _flow_filter(device, flt)
    pre, extra, fparams = flt.sql()
    out: Rows = []
    skip, want = max(offset, 0), max(limit, 0)
    for c in flow_counts(store, capture_ids, None, flt) if counts is None else counts:
        n = int(c["n"])
        if skip >= n:
            skip -= n
            continue
        if want <= 0:
            break
        where, params = _scope([str(c["cap"])])
        params = {**params, **fparams, "off": skip, "lim": want}
        ids = store.query(
            f"""SELECT flow_id FROM {{db}}.flows{pre} WHERE {where}{extra}
            ORDER BY first_ns, flow_id LIMIT %(off)s, %(lim)s""",
            params,
        )
        rows = store.query(
            f"""SELECT {FLOW_COLUMNS}
            FROM (SELECT * FROM {{db}}.flows PREWHERE has(%(ids)s, flow_id) WHERE {where})
            ORDER BY first_ns, toUInt64(flow_id)""",
            {**params, "ids": [int(r["flow_id"]) for r in ids]},
        )
        out += rows
        want -= len(rows)
        skip = 0
    return out


# Per destination, from the flow rollup (flows summed at ingestion). Aliases differ from column
# names: ClickHouse would substitute an alias inside its own aggregate.
_DEST_COLUMNS = """any(registrable) AS reg_domain, anyLast(organisation) AS org, anyLast(service) AS svc,
            anyLast(service_kind) AS kind, anyLast(party) AS party_of,
            arrayStringConcat(arraySort(groupUniqArray(country)), ',') AS countries,
            max(cross_border) AS abroad, anyLast(as_org) AS network,
            arrayStringConcat(arraySort(groupUniqArray(if(security = '', 'unknown', security))), ',')
                AS securities,
            max(readable) AS any_readable, arrayStringConcat(arraySort(groupUniqArray(app)), ',') AS apps,
            arraySort(groupUniqArray(remote_ip)) AS remote_ips, sum(flows) AS nflows,
            sum(bytes_sent) AS sent, sum(bytes_received) AS received, min(first_ns) AS first_seen_ns,
            max(last_ns) AS last_seen_ns"""


def destinations(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Per device and destination (domain, else remote address): who, what kind, where, how protected."""
    where, params = _scope(capture_ids, device)
    # aliases differ from column names: ClickHouse would substitute an alias inside its own aggregate
    return store.query(
        f"""SELECT device_mac AS mac, destination, {_DEST_COLUMNS}
        FROM {{db}}.flow_rollup WHERE {where} AND direction IN ('outbound', 'inbound')
        GROUP BY mac, destination ORDER BY mac, sent + received DESC, destination""",
        params,
    )


def device_overview(store: Store, capture_ids: list[str] | None = None) -> Rows:
    """Per device: the personal-data types it sent, the third parties and countries it reached."""
    where, params = _scope(capture_ids)
    reach = store.query(
        f"""SELECT device_mac AS mac,
            arraySort(groupUniqArrayIf(organisation, party = 'third' AND organisation != '')) AS third,
            arraySort(groupUniqArrayIf(country, country != '')) AS reached
        FROM {{db}}.flow_rollup WHERE {where} AND direction IN ('outbound', 'inbound') GROUP BY mac""",
        params,
    )
    kinds = store.query(
        f"""SELECT device_mac AS mac, arraySort(groupUniqArray(data_type)) AS kinds
        FROM {{db}}.observations WHERE {where} GROUP BY mac""",
        params,
    )
    out: dict[str, dict[str, Any]] = {}
    for r in reach:
        out[str(r["mac"])] = {"mac": str(r["mac"]), "data_types": [], "third_parties": list(r["third"]),
                              "countries": list(r["reached"])}  # fmt: skip
    for r in kinds:
        row = out.setdefault(str(r["mac"]), {"mac": str(r["mac"]), "data_types": [], "third_parties": [],
                                             "countries": []})  # fmt: skip
        row["data_types"] = list(r["kinds"])
    return sorted(out.values(), key=lambda r: r["mac"])


def observations(
    store: Store,
    capture_ids: list[str] | None = None,
    device: str | None = None,
    data_type: str | None = None,
    limit: int = 100,
) -> Rows:
    """Personal-data observations, newest last, with their flow's destination."""
    where, params = _scope(capture_ids, device)
    if data_type:
        where += " AND (data_type = %(t)s OR startsWith(data_type, %(tp)s))"
        params.update(t=data_type, tp=data_type + ":")
    params["limit"] = limit
    fwhere = _joined("observations", where, capture_ids)
    return store.query(
        f"""SELECT o.ts_ns AS ts_ns, o.device_mac AS mac, o.data_type AS kind, o.carrier AS carrier,
            o.path AS field, o.confidence AS conf, o.decimals AS places, o.metres AS resolution_m,
            o.value_hash AS hash, o.excerpt AS value, o.detail AS extra, o.remote_ip AS remote,
            o.capture_id AS capture, toString(o.flow_id) AS flow, f.dom AS destination, f.org AS organisation,
            f.cc AS country
        FROM (SELECT * FROM {{db}}.observations WHERE {where}) AS o
        ANY LEFT JOIN (SELECT flow_id, domain AS dom, organisation AS org, country AS cc
                       FROM {{db}}.flows WHERE {fwhere}) AS f USING flow_id
        ORDER BY ts_ns LIMIT %(limit)s""",
        params,
    )


def raw_evidence_captures(store: Store) -> set[str]:
    """Captures whose current run stored values as sent."""
    rows = store.query(
        f"SELECT capture_id FROM {{db}}.captures WHERE ingest_id IN ({CURRENT}) AND raw_evidence = 1"
    )
    return {r["capture_id"] for r in rows}


# Reports of one data type from one device to one organisation in one phase: their times
# (one per message), the gaps between them, and runs of reporting without a gap longer
# than RUN_BREAK times the median gap. All in ClickHouse; arrays keep it one pass.
RUN_BREAK = 3


def measures(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Per device x data type x organisation x phase: how often, how precise, for how long, where to."""
    where, params = _scope(capture_ids, device)
    fwhere, fparams = _scope(capture_ids)  # phases of the same captures
    params["k"] = RUN_BREAK
    rows = store.query(
        f"""SELECT mac, kind, org, phase_name, n, reports, first_ns, last_ns, max_decimals, best_metres,
            enc_share, abroad_share, third_share, median_gap_ns, arrayReduce('min', gaps) AS min_gap_ns,
            arrayReduce('max', arrayMap((s, e) -> ts[e] - ts[s], starts,
                arrayConcat(arrayMap(i -> toUInt64(i - 1), arrayPopFront(starts)), [toUInt64(length(ts))])))
                AS longest_run_ns
        FROM (
            SELECT *, arrayReduce('median', gaps) AS median_gap_ns,
                arrayFilter(i -> i = 1 OR gaps[i - 1] > %(k)s * median_gap_ns, arrayEnumerate(ts)) AS starts
            FROM (
                SELECT o.device_mac AS mac, o.data_type AS kind, f.organ AS org, o.phase AS phase_name,
                    count() AS n, arraySort(groupUniqArray(o.ts_ns)) AS ts, length(ts) AS reports,
                    arrayMap(i -> ts[i + 1] - ts[i], arrayEnumerate(arrayPopBack(ts))) AS gaps,
                    min(o.ts_ns) AS first_ns, max(o.ts_ns) AS last_ns,
                    max(o.decimals) AS max_decimals, minIf(o.metres, o.metres > 0) AS best_metres,
                    avg(f.encrypted) AS enc_share, avg(f.abroad) AS abroad_share, avg(f.third) AS third_share
                FROM (SELECT * FROM {{db}}.observations WHERE {where}) AS o
                ANY LEFT JOIN (
                    SELECT flow_id, organisation AS organ, if(security IN ('', 'none'), 0, 1) AS encrypted,
                        cross_border AS abroad, if(party = 'third', 1, 0) AS third
                    FROM {{db}}.flows WHERE {_joined("observations", where, capture_ids)}) AS f USING flow_id
                GROUP BY mac, kind, org, phase_name
            )
        )
        ORDER BY mac, kind, org, phase_name""",
        params,
    )
    spans: dict[str, int] = {}
    for p in _phase_rows(store, fwhere + " AND device_mac = ''", fparams):
        spans[str(p["phase"])] = spans.get(str(p["phase"]), 0) + int(p["end_ns"]) - int(p["start_ns"])
    for r in rows:
        span = spans.get(str(r["phase_name"])) or max(int(r["last_ns"]) - int(r["first_ns"]), 1)
        r["reports_per_hour"] = round(int(r["reports"]) / (span / 3.6e12), 3)
        for k in ("median_gap_ns", "min_gap_ns", "best_metres", "longest_run_ns"):
            v = float(r[k]) if r[k] is not None else 0.0
            r[k] = 0.0 if v != v or v == float("inf") else v  # nan, null or inf when there was one report
    return rows


_BURST_FLOWS = """ANY LEFT JOIN (
            SELECT flow_id, if(domain != '', domain, remote_ip) AS dest, organisation AS org,
                readable AS rd, security AS sec, country AS cc
            FROM {{db}}.flows WHERE {fwhere} AND proto IN (6, 17)) AS f USING flow_id"""


def periods(
    store: Store,
    capture_ids: list[str] | None = None,
    device: str | None = None,
    by_phase: bool = False,
    encrypted_only: bool = True,
) -> Rows:
    """Per capture x device x destination (x phase): the reporting period, from burst times alone.

    Each capture on its own: beats of two test sessions are not one series.
    """
    where, params = _scope(capture_ids, device)
    fwhere = _joined("bursts", where, capture_ids)
    phase = "b.phase" if by_phase else "''"
    rows = store.query(
        f"""SELECT b.capture_id AS capture, b.device_mac AS mac, f.dest AS destination, {phase} AS phase_name,
            any(f.org) AS organisation, any(f.cc) AS country, groupUniqArray(f.sec) AS security,
            groupArray(b.start_ns) AS starts, count() AS bursts, uniqExact(b.flow_id) AS flow_count,
            sum(b.bytes_out) AS bytes_out, sum(b.bytes_in) AS bytes_in,
            min(b.start_ns) AS first_ns, max(b.end_ns) AS last_ns
        FROM (SELECT capture_id, flow_id, device_mac, start_ns, end_ns, bytes_out, bytes_in, phase
              FROM {{db}}.bursts WHERE {where} AND device_mac != '') AS b
        {_BURST_FLOWS.format(fwhere=fwhere)}
        WHERE f.dest != '' AND (%(all)s OR f.rd = 0)
        GROUP BY capture, mac, destination, phase_name
        ORDER BY mac, destination, first_ns, phase_name""",
        {**params, "all": 0 if encrypted_only else 1},
    )
    for r in rows:
        p = periodicity(r.pop("starts"))
        r.update(
            period_s=p.period_s if p else 0.0,
            jitter_s=p.jitter_s if p else 0.0,
            score=p.score if p else 0.0,
            beats=p.beats if p else 0,
            missing=p.missing if p else 0,
            extra=p.extra if p else 0,
            longest_run_s=p.longest_run_s if p else 0.0,
            periodic=bool(p and p.score >= PERIODIC_SCORE),
            security=sorted(s for s in r["security"] if s),
        )
    return rows


PERIODIC_SCORE = 0.5  # below this a grid explains too few beats to call the traffic periodic


def uploads(
    store: Store, capture_ids: list[str] | None = None, device: str | None = None, encrypted_only: bool = True
) -> Rows:
    """Bursts large and one-way enough to be uploads, each with what it probably carries."""
    where, params = _scope(capture_ids, device)
    where += " AND device_mac != '' AND bytes_out >= %(min)s AND bytes_out >= 2 * bytes_in"
    fwhere = _joined("bursts", where, capture_ids)
    rows = store.query(
        f"""SELECT b.capture_id AS capture, b.device_mac AS mac, f.dest AS destination, f.org AS organisation,
            f.cc AS country,
            f.sec AS security, b.phase AS phase_name, toString(b.flow_id) AS flow, b.start_ns AS start_ns,
            b.end_ns AS end_ns, b.bytes_out AS bytes_out, b.bytes_in AS bytes_in, b.pkts_out AS pkts_out
        FROM (SELECT * FROM {{db}}.bursts WHERE {where}) AS b
        {_BURST_FLOWS.format(fwhere=fwhere)}
        WHERE f.dest != '' AND (%(all)s OR f.rd = 0)
        ORDER BY mac, start_ns""",
        {**params, "min": MIN_UPLOAD, "all": 0 if encrypted_only else 1},
    )
    out = []
    for r in rows:
        u = classify(int(r["start_ns"]), int(r["end_ns"]), int(r["bytes_out"]), int(r["bytes_in"]),
                     int(r["pkts_out"]))  # fmt: skip
        if u is not None:
            r.update(kind=u.kind, confidence=u.confidence, reason=u.reason, seconds=round(u.seconds, 3),
                     rate=round(u.rate, 1))  # fmt: skip
            out.append(r)
    return out


def _phase_rows(store: Store, where: str, params: dict[str, Any]) -> Rows:
    """Phase rows of ``where``, one per mark: a live session writes a mark's row when it is made
    (end 0: still running) and again when the next mark ends it; a running one ends with the
    capture's newest packet."""
    return store.query(
        f"""SELECT p.capture_id AS capture, p.phase AS phase, p.start_ns AS start_ns,
            if(p.stop = 0, greatest(c.last, p.start_ns), p.stop) AS end_ns, p.remark AS note,
            p.dev AS device_mac
        FROM (SELECT capture_id, phase, start_ns, max(end_ns) AS stop, any(note) AS remark,
                  device_mac AS dev
              FROM {{db}}.phases WHERE {where} GROUP BY capture_id, phase, start_ns, dev) AS p
        ANY LEFT JOIN (SELECT capture_id, last_ns AS last FROM {_capture_rows(f"ingest_id IN ({CURRENT})")})
            AS c USING capture_id
        ORDER BY start_ns, device_mac""",
        params,
    )


def phase_spans(store: Store, capture_id: str, device: str | None = None) -> Rows:
    """The test phases of one capture (its current run), in time order. With ``device``, as that
    device lived them: a mark for it alone counts like a mark for all, each phase lasting until
    the next mark of either kind (the phase ``Phases.at`` gave its flows and observations)."""
    where, params = _scope([capture_id])
    rows = _phase_rows(store, where + " AND (device_mac = '' OR device_mac = %(pdev)s)",
                       {**params, "pdev": device or ""})  # fmt: skip
    for r in rows:
        del r["capture"]
    if not any(r["device_mac"] for r in rows):
        return rows
    end = max(int(r["end_ns"]) for r in rows)
    for r, nxt in zip(rows, [*rows[1:], None], strict=True):
        r["end_ns"] = int(nxt["start_ns"]) if nxt is not None else end
    return rows


def fact_observations(store: Store, capture_id: str, device: str) -> Rows:
    """One device's observations in one capture, each with its flow's destination facts (for the rules)."""
    where, params = _scope([capture_id], device)
    fwhere = _joined("observations", where, [capture_id])
    return store.query(
        f"""SELECT o.ts_ns AS ts_ns, o.data_type AS data_type, o.carrier AS carrier, o.path AS path,
            o.confidence AS confidence, o.decimals AS decimals, o.metres AS metres, o.excerpt AS excerpt,
            o.detail AS detail, o.flow_id AS flow_id, o.phase AS phase, o.remote_ip AS remote_ip,
            if(f.dom != '', f.dom, o.remote_ip) AS destination, f.org AS organisation, f.pty AS party,
            f.skind AS service_kind, f.cc AS country, f.abroad AS cross_border, f.sec AS security
        FROM (SELECT * FROM {{db}}.observations WHERE {where}) AS o
        ANY LEFT JOIN (SELECT flow_id, domain AS dom, organisation AS org, party AS pty,
                           service_kind AS skind, country AS cc, cross_border AS abroad, security AS sec
                       FROM {{db}}.flows WHERE {fwhere}) AS f USING flow_id
        ORDER BY ts_ns""",
        params,
    )


def fact_flows(store: Store, capture_id: str, device: str) -> Rows:
    """One device's flows in one capture with what the rules need of them, oldest first."""
    where, params = _scope([capture_id], device)
    return store.query(
        f"""SELECT flow_id, first_ns, last_ns, if(domain != '', domain, remote_ip) AS destination,
            remote_ip, remote_port, proto, organisation, party, service_kind, country, cross_border,
            security, readable, app, direction, phase,
            if(direction = 'inbound', bytes_down, bytes_up) AS bytes_out,
            if(direction = 'inbound', bytes_up, bytes_down) AS bytes_in
        FROM {{db}}.flows WHERE {where} ORDER BY first_ns""",
        params,
    )


# The current assessment of each capture: its newest, over the capture's current ingestion.
CURRENT_FINDINGS = (
    "SELECT max(assess_id) FROM {db}.findings WHERE ingest_id IN (" + CURRENT + ") GROUP BY capture_id"
)


def findings(
    store: Store,
    capture_ids: list[str] | None = None,
    device: str | None = None,
    severity: str | None = None,
) -> Rows:
    """Current findings, most severe first."""
    where, params = _scope(capture_ids, device)
    where += f" AND assess_id IN ({CURRENT_FINDINGS}) AND rule_id != ''"
    if severity:
        where += " AND severity = %(sev)s"
        params["sev"] = severity
    return store.query(
        f"""SELECT capture_id, finding_id, device_mac, rule_id, pack, pack_version, rules_sha256,
            declaration_sha256, severity, requirements, statement, statement_zh, figures,
            arrayMap(x -> toString(x), flow_ids) AS flows, first_ns, last_ns, excerpts, observations,
            assess_id
        FROM {{db}}.findings WHERE {where}
        ORDER BY indexOf({list(SEVERITIES)!r}, severity), device_mac, rule_id,
            first_ns, finding_id""",
        params,
    )


# --- read functions of the per-device report (appliance.report) ---


def capture_provenance(store: Store, capture_ids: list[str] | None = None) -> Rows:
    """The current run of each capture with everything a report cites about it: files and their
    sha256, time span, truncation, the databases and catalogue it was enriched with, masking."""
    where, params = _scope(capture_ids)
    return store.query(
        f"""SELECT capture_id, path, files, file_sha256, format, compressed, packets, bytes, first_ns,
            last_ns, link_types, truncated, read_error, skipped_packets, decode_stats, flows, devices,
            idle_timeout_s, active_timeout_s, lan_prefixes, bench_sha256, home, geoip_db, geoip_version,
            catalog_version, psl_version, raw_evidence, phases_sha256, tool_version,
            toString(ingested_at) AS ingested_at
        FROM {_capture_rows(where)} ORDER BY first_ns, path""",
        params,
    )


def device_captures(store: Store, device: str, capture_ids: list[str] | None = None) -> list[str]:
    """The captures (current runs) in which a device was seen, oldest first."""
    where, params = _scope(capture_ids)
    rows = store.query(
        f"""SELECT capture_id AS cap, min(first_ns) AS seen FROM {{db}}.devices
        WHERE {where} AND mac = %(dev)s GROUP BY cap ORDER BY seen, cap""",
        {**params, "dev": device},
    )
    return [str(r["cap"]) for r in rows]


def assessments(store: Store, capture_ids: list[str] | None = None) -> Rows:
    """The current assessment of each capture, with or without findings: when, the packs that raised
    findings (``pack@version``), the hash of every pack that ran and of the declaration used."""
    where, params = _scope(capture_ids)
    return store.query(
        f"""SELECT capture_id AS capture, assess_id AS assessed, any(rules_sha256) AS rules_hash,
            any(declaration_sha256) AS declaration_hash,
            arraySort(groupUniqArrayIf(concat(pack, '@', pack_version), pack != '')) AS pack_versions,
            countIf(rule_id != '') AS nfindings
        FROM {{db}}.findings WHERE {where} AND assess_id IN ({CURRENT_FINDINGS})
        GROUP BY capture, assessed ORDER BY capture""",
        params,
    )


def observation_series(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Per capture x device x data type x organisation: the report times (one per message, sorted) and
    the gaps between them, ns; for interval histograms and timelines."""
    where, params = _scope(capture_ids, device)
    fwhere = _joined("observations", where, capture_ids)
    return store.query(
        f"""SELECT o.capture_id AS capture, o.device_mac AS mac, o.data_type AS kind, f.organ AS org,
            count() AS n, arraySort(groupUniqArray(o.ts_ns)) AS times,
            arrayMap(i -> times[i + 1] - times[i], arrayEnumerate(arrayPopBack(times))) AS gaps
        FROM (SELECT capture_id, device_mac, data_type, ts_ns, flow_id FROM {{db}}.observations
              WHERE {where}) AS o
        ANY LEFT JOIN (SELECT flow_id, organisation AS organ FROM {{db}}.flows WHERE {fwhere}) AS f
            USING flow_id
        GROUP BY capture, mac, kind, org ORDER BY capture, mac, kind, org""",
        params,
    )


def unreadable_flows(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Per device and destination: the flows the appliance could not read (encrypted without keys, or
    not dissected), how many and how many bytes each way; what a report cannot judge by content."""
    where, params = _scope(capture_ids, device)
    return store.query(
        f"""SELECT device_mac AS mac, destination, {_DEST_COLUMNS}
        FROM {{db}}.flow_rollup WHERE {where} AND readable = 0 AND direction IN ('outbound', 'inbound')
        GROUP BY mac, destination ORDER BY mac, sent + received DESC, destination""",
        params,
    )


def phase_activity(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Per capture x device x phase: flows begun, bytes sent, personal-data values and their types."""
    where, params = _scope(capture_ids, device)
    flows_by_phase = store.query(
        f"""SELECT capture_id AS capture, device_mac AS mac, phase AS phase_name, count() AS nflows,
            sum(if(direction = 'inbound', bytes_down, bytes_up)) AS sent
        FROM {{db}}.flows WHERE {where} AND device_mac != '' GROUP BY capture, mac, phase_name""",
        params,
    )
    obs_by_phase = store.query(
        f"""SELECT capture_id AS capture, device_mac AS mac, phase AS phase_name, count() AS nobs,
            arraySort(groupUniqArray(data_type)) AS kinds
        FROM {{db}}.observations WHERE {where} GROUP BY capture, mac, phase_name""",
        params,
    )
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in flows_by_phase:
        key = (str(r["capture"]), str(r["mac"]), str(r["phase_name"]))
        out[key] = {"capture": key[0], "mac": key[1], "phase_name": key[2], "flows": int(r["nflows"]),
                    "bytes_sent": int(r["sent"]), "observations": 0, "data_types": []}  # fmt: skip
    for r in obs_by_phase:
        key = (str(r["capture"]), str(r["mac"]), str(r["phase_name"]))
        row = out.setdefault(key, {"capture": key[0], "mac": key[1], "phase_name": key[2], "flows": 0,
                                   "bytes_sent": 0, "observations": 0, "data_types": []})  # fmt: skip
        row.update(observations=int(r["nobs"]), data_types=list(r["kinds"]))
    return sorted(out.values(), key=lambda r: (r["capture"], r["mac"], r["phase_name"]))


def observation_examples(
    store: Store, capture_ids: list[str] | None = None, device: str | None = None, per_type: int = 3
) -> Rows:
    """Where each data type was found (carrier and field path), how often, to whom, with one stored
    (masked) excerpt: the most frequent places per type."""
    where, params = _scope(capture_ids, device)
    fwhere = _joined("observations", where, capture_ids)
    return store.query(
        f"""SELECT o.data_type AS kind, o.carrier AS carrier_name, o.path AS field, count() AS n,
            any(o.excerpt) AS value, arraySort(groupUniqArray(if(f.dom != '', f.dom, o.remote_ip)))
                AS destinations
        FROM (SELECT data_type, carrier, path, excerpt, flow_id, remote_ip FROM {{db}}.observations
              WHERE {where}) AS o
        ANY LEFT JOIN (SELECT flow_id, domain AS dom FROM {{db}}.flows WHERE {fwhere}) AS f USING flow_id
        GROUP BY kind, carrier_name, field ORDER BY kind, n DESC, carrier_name, field
        LIMIT %(per)s BY kind""",
        {**params, "per": per_type},
    )


def finding(store: Store, finding_id: str) -> Rows:
    """Current findings whose id is ``finding_id`` or starts with it (a unique prefix names one)."""
    where = f"ingest_id IN ({CURRENT}) AND assess_id IN ({CURRENT_FINDINGS}) AND rule_id != ''"
    return store.query(
        f"""SELECT capture_id, ingest_id, assess_id, finding_id, device_mac, rule_id, severity, statement,
            figures, flow_ids, first_ns, last_ns
        FROM {{db}}.findings WHERE {where} AND startsWith(finding_id, %(f)s)
        ORDER BY finding_id LIMIT 2""",
        {"f": finding_id.lower()},
    )


def capture_files(store: Store, capture_id: str) -> Rows:
    """The current run of one capture: its files in replay order, their sha256, its link types."""
    return store.query(
        f"""SELECT capture_id, ingest_id, path, files, file_sha256, link_types, packets, first_ns, last_ns
        FROM {_capture_rows(f"ingest_id IN ({CURRENT}) AND capture_id = %(c)s")}""",
        {"c": capture_id},
    )


def flows_by_id(store: Store, capture_id: str, flow_ids: list[int]) -> Rows:
    """Flow records of one capture's current run by id, with their 5-tuple, time span and packets."""
    where, params = _scope([capture_id])
    return store.query(
        f"""SELECT flow_id, first_ns, last_ns, ip_version, proto, src_ip, src_port, dst_ip, dst_port, vlan,
            device_mac, pkts_up, pkts_down, if(domain != '', domain, remote_ip) AS destination
        FROM {{db}}.flows WHERE {where} AND has(%(ids)s, flow_id) ORDER BY first_ns, flow_id""",
        {**params, "ids": [int(i) for i in flow_ids]},
    )


def evidence_exports(store: Store, finding_id: str | None = None) -> Rows:
    """Evidence files written for findings (all, or one finding's), newest first."""
    where, params = "1", {}
    if finding_id:
        where, params = "finding_id = %(f)s", {"f": finding_id}
    return store.query(
        f"""SELECT capture_id, finding_id, path, sha256, format, packets, bytes,
            arrayMap(x -> toString(x), flow_ids) AS flows, created_ns
        FROM {{db}}.evidence_exports WHERE {where} ORDER BY created_ns DESC""",
        params,
    )


def data_types(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Per data type: how many observations, how many reports, to which organisations and destinations."""
    where, params = _scope(capture_ids, device)
    fwhere = _joined("observations", where, capture_ids)
    return store.query(
        f"""SELECT o.data_type AS kind, count() AS n, uniqExact(o.ts_ns) AS reports,
            arraySort(groupUniqArray(f.org)) AS organisations,
            arraySort(groupUniqArray(f.dest)) AS destinations,
            min(o.ts_ns) AS first_ns, max(o.ts_ns) AS last_ns
        FROM (SELECT * FROM {{db}}.observations WHERE {where}) AS o
        ANY LEFT JOIN (SELECT flow_id, organisation AS org, if(domain != '', domain, remote_ip) AS dest
                       FROM {{db}}.flows WHERE {fwhere}) AS f USING flow_id
        GROUP BY kind ORDER BY kind""",
        params,
    )


def flow_count(
    store: Store,
    capture_ids: list[str] | None = None,
    device: str | None = None,
    flt: FlowFilter | None = None,
) -> int:
    """How many flows ``flows`` pages through (same selection)."""
    return sum(int(c["n"]) for c in flow_counts(store, capture_ids, device, flt))
