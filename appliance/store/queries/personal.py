"""Reads of personal data: observations and the measures over them (how often, how precise, to whom)."""

from __future__ import annotations

from typing import Any

from appliance.masking import mask_hit
from appliance.store.backends import Store
from appliance.store.queries.display import shown
from appliance.store.queries.scope import Rows, joined, scope
from appliance.store.queries.traffic import phase_rows


def observations(
    store: Store,
    capture_ids: list[str] | None = None,
    device: str | None = None,
    data_type: str | None = None,
    limit: int = 100,
    reveal: bool = False,
) -> Rows:
    """Personal-data observations, newest last, with their flow's domain, organisation and country
    and the test phase they fell in, keyed by the schema's column names so readers need no
    renaming; ``limit`` 0 for all; excerpts masked unless ``reveal`` (refused for captures stored
    masked: ``display.shown``)."""
    where, params = _observation_scope(capture_ids, device, data_type)
    fwhere = joined("observations", where, capture_ids)
    rows = store.query(
        f"""SELECT o.ts_ns AS ts_ns, o.device_mac AS device_mac, o.data_type AS data_type,
            o.carrier AS carrier, o.path AS path, o.confidence AS confidence, o.decimals AS decimals,
            o.metres AS metres, o.coord_system AS coord_system, o.value_hash AS value_hash,
            o.excerpt AS excerpt, o.detail AS detail, o.remote_ip AS remote_ip,
            o.capture_id AS capture_id, o.phase AS phase, o.plaintext AS plaintext, flow_id, f.dom AS domain,
            f.org AS organisation, f.cc AS country
        FROM (SELECT * FROM {{db}}.observations WHERE {where}) AS o
        ANY LEFT JOIN (SELECT flow_id, domain AS dom, organisation AS org, country AS cc
                       FROM {{db}}.flows WHERE {fwhere}) AS f USING flow_id
        ORDER BY ts_ns{" LIMIT %(limit)s" if limit > 0 else ""}""",
        {**params, "limit": limit},
    )
    for r in rows:  # the join key cannot be re-aliased as a string in SQL (ClickHouse 18.16)
        r["flow_id"] = str(r["flow_id"])
    return shown(store, rows, reveal, "capture_id", _mask_excerpt)


def observation_count(
    store: Store,
    capture_ids: list[str] | None = None,
    device: str | None = None,
    data_type: str | None = None,
) -> int:
    """How many observations ``observations`` would return without a limit."""
    where, params = _observation_scope(capture_ids, device, data_type)
    rows = store.query(f"SELECT count() AS n FROM {{db}}.observations WHERE {where}", params)
    return int(rows[0]["n"]) if rows else 0


def _observation_scope(
    capture_ids: list[str] | None, device: str | None, data_type: str | None
) -> tuple[str, dict[str, Any]]:
    where, params = scope(capture_ids, device)
    if data_type:
        where += " AND (data_type = %(t)s OR startsWith(data_type, %(tp)s))"
        params.update(t=data_type, tp=data_type + ":")
    return where, params


def _mask_excerpt(r: dict[str, Any]) -> None:
    r["excerpt"] = mask_hit(str(r["data_type"]), str(r["excerpt"]))


# Reports of one data type from one device to one organisation in one phase: their times
# (one per message), the gaps between them, and runs of reporting without a gap longer
# than RUN_BREAK times the median gap. All in ClickHouse; arrays keep it one pass.
RUN_BREAK = 3


def measures(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Per device x data type x organisation x phase: how often, how precise, for how long, where to.

    The four keys carry the schema's names (device_mac, data_type, organisation, phase); the
    figures computed from them keep descriptive ones (reports, median_gap_ns, best_metres...)."""
    where, params = scope(capture_ids, device)
    fwhere, fparams = scope(capture_ids)  # phases of the same captures
    params["k"] = RUN_BREAK
    rows = store.query(
        f"""SELECT mac AS device_mac, kind AS data_type, org AS organisation, phase_name AS phase,
            n, reports, first_ns, last_ns, max_decimals, best_metres,
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
                    FROM {{db}}.flows WHERE {joined("observations", where, capture_ids)}) AS f USING flow_id
                GROUP BY mac, kind, org, phase_name
            )
        )
        ORDER BY device_mac, data_type, organisation, phase""",
        params,
    )
    spans: dict[str, int] = {}
    for p in phase_rows(store, fwhere + " AND device_mac = ''", fparams):
        spans[str(p["phase"])] = spans.get(str(p["phase"]), 0) + int(p["end_ns"]) - int(p["start_ns"])
    for r in rows:
        span = spans.get(str(r["phase"])) or max(int(r["last_ns"]) - int(r["first_ns"]), 1)
        r["reports_per_hour"] = round(int(r["reports"]) / (span / 3.6e12), 3)
        for k in ("median_gap_ns", "min_gap_ns", "best_metres", "longest_run_ns"):
            v = float(r[k]) if r[k] is not None else 0.0
            r[k] = 0.0 if v != v or v == float("inf") else v  # nan, null or inf when there was one report
    return rows


def fact_observations(store: Store, capture_id: str, device: str) -> Rows:
    """One device's observations in one capture, each with its flow's destination facts (for the rules)."""
    where, params = scope([capture_id], device)
    fwhere = joined("observations", where, [capture_id])
    return store.query(
        f"""SELECT o.ts_ns AS ts_ns, o.data_type AS data_type, o.carrier AS carrier, o.path AS path,
            o.confidence AS confidence, o.decimals AS decimals, o.metres AS metres,
            o.coord_system AS coord_system, o.excerpt AS excerpt, o.detail AS detail,
            o.flow_id AS flow_id, o.phase AS phase, o.remote_ip AS remote_ip,
            if(f.dom != '', f.dom, o.remote_ip) AS destination, f.org AS organisation, f.pty AS party,
            f.skind AS service_kind, f.cc AS country, f.abroad AS cross_border, f.sec AS security
        FROM (SELECT * FROM {{db}}.observations WHERE {where}) AS o
        ANY LEFT JOIN (SELECT flow_id, domain AS dom, organisation AS org, party AS pty,
                           service_kind AS skind, country AS cc, cross_border AS abroad, security AS sec
                       FROM {{db}}.flows WHERE {fwhere}) AS f USING flow_id
        ORDER BY ts_ns""",
        params,
    )


def observation_series(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Per capture x device x data type x organisation: the report times (one per message, sorted) and
    the gaps between them, ns; for interval histograms and timelines. Keys as in the schema
    (capture_id, device_mac, data_type, organisation), renamed outside the grouping select so no
    alias there shadows a column."""
    where, params = scope(capture_ids, device)
    fwhere = joined("observations", where, capture_ids)
    return store.query(
        f"""SELECT capture AS capture_id, mac AS device_mac, kind AS data_type, org AS organisation,
            n, times, gaps
        FROM (
            SELECT o.capture_id AS capture, o.device_mac AS mac, o.data_type AS kind, f.organ AS org,
                count() AS n, arraySort(groupUniqArray(o.ts_ns)) AS times,
                arrayMap(i -> times[i + 1] - times[i], arrayEnumerate(arrayPopBack(times))) AS gaps
            FROM (SELECT capture_id, device_mac, data_type, ts_ns, flow_id FROM {{db}}.observations
                  WHERE {where}) AS o
            ANY LEFT JOIN (SELECT flow_id, organisation AS organ FROM {{db}}.flows WHERE {fwhere}) AS f
                USING flow_id
            GROUP BY capture, mac, kind, org
        ) ORDER BY capture_id, device_mac, data_type, organisation""",
        params,
    )


def phase_activity(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Per capture x device x phase (keyed capture_id, device_mac, phase as in the schema): flows
    begun, bytes sent, personal-data values and their types."""
    where, params = scope(capture_ids, device)
    flows_by_phase = store.query(
        f"""SELECT capture_id, device_mac, phase, count() AS nflows,
            sum(if(direction = 'inbound', bytes_down, bytes_up)) AS sent
        FROM {{db}}.flows WHERE {where} AND device_mac != '' GROUP BY capture_id, device_mac, phase""",
        params,
    )
    obs_by_phase = store.query(
        f"""SELECT capture_id, device_mac, phase, count() AS nobs,
            arraySort(groupUniqArray(data_type)) AS kinds
        FROM {{db}}.observations WHERE {where} GROUP BY capture_id, device_mac, phase""",
        params,
    )
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in flows_by_phase:
        key = (str(r["capture_id"]), str(r["device_mac"]), str(r["phase"]))
        out[key] = {"capture_id": key[0], "device_mac": key[1], "phase": key[2], "flows": int(r["nflows"]),
                    "bytes_sent": int(r["sent"]), "observations": 0, "data_types": []}  # fmt: skip
    for r in obs_by_phase:
        key = (str(r["capture_id"]), str(r["device_mac"]), str(r["phase"]))
        row = out.setdefault(key, {"capture_id": key[0], "device_mac": key[1], "phase": key[2], "flows": 0,
                                   "bytes_sent": 0, "observations": 0, "data_types": []})  # fmt: skip
        row.update(observations=int(r["nobs"]), data_types=list(r["kinds"]))
    return sorted(out.values(), key=lambda r: (r["capture_id"], r["device_mac"], r["phase"]))


def observation_examples(
    store: Store, capture_ids: list[str] | None = None, device: str | None = None, per_type: int = 3
) -> Rows:
    """Where each data type was found (carrier and field path), how often, to whom, with one stored
    (masked) excerpt: the most frequent places per type. Keys as in the schema (data_type, carrier,
    path, excerpt); the aggregates are named apart inside, so no alias shadows its own column."""
    where, params = scope(capture_ids, device)
    fwhere = joined("observations", where, capture_ids)
    rows = store.query(
        f"""SELECT kind AS data_type, carrier_name AS carrier, field AS path, n, value AS excerpt,
            destinations
        FROM (
            SELECT o.data_type AS kind, o.carrier AS carrier_name, o.path AS field, count() AS n,
                any(o.excerpt) AS value, arraySort(groupUniqArray(if(f.dom != '', f.dom, o.remote_ip)))
                    AS destinations
            FROM (SELECT data_type, carrier, path, excerpt, flow_id, remote_ip FROM {{db}}.observations
                  WHERE {where}) AS o
            ANY LEFT JOIN (SELECT flow_id, domain AS dom FROM {{db}}.flows WHERE {fwhere}) AS f
                USING flow_id
            GROUP BY kind, carrier_name, field ORDER BY kind, n DESC, carrier_name, field
            LIMIT %(per)s BY kind
        )""",
        {**params, "per": per_type},
    )
    return shown(store, rows, False, None, _mask_excerpt)


def data_types(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Per data type: how many observations, how many reports, to which organisations and destinations."""
    where, params = scope(capture_ids, device)
    fwhere = joined("observations", where, capture_ids)
    return store.query(
        f"""SELECT o.data_type AS data_type, count() AS n, uniqExact(o.ts_ns) AS reports,
            arraySort(groupUniqArray(f.org)) AS organisations,
            arraySort(groupUniqArray(f.dest)) AS destinations,
            min(o.ts_ns) AS first_ns, max(o.ts_ns) AS last_ns
        FROM (SELECT * FROM {{db}}.observations WHERE {where}) AS o
        ANY LEFT JOIN (SELECT flow_id, organisation AS org, if(domain != '', domain, remote_ip) AS dest
                       FROM {{db}}.flows WHERE {fwhere}) AS f USING flow_id
        GROUP BY data_type ORDER BY data_type""",
        params,
    )
