"""Traffic-shape measures read from the store: reporting periods and uploads, from payload bursts.

The bursts' timing and sizes say what encrypted traffic carries and how often; the
period fit (``periodicity``) and upload kinds (``upload_kinds``) run on what these read.
"""

from __future__ import annotations

from appliance.measures.periodicity import periodicity
from appliance.measures.upload_kinds import MIN_UPLOAD, classify
from appliance.store.backends import Store
from appliance.store.queries.scope import Rows, joined, scope

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
    where, params = scope(capture_ids, device)
    fwhere = joined("bursts", where, capture_ids)
    phase = "b.phase" if by_phase else "''"
    rows = store.query(
        f"""SELECT b.capture_id AS capture_id, b.device_mac AS device_mac, f.dest AS destination,
            {phase} AS phase,
            any(f.org) AS organisation, any(f.cc) AS country, groupUniqArray(f.sec) AS security,
            groupArray(b.start_ns) AS starts, count() AS bursts, uniqExact(b.flow_id) AS flow_count,
            sum(b.bytes_out) AS bytes_out, sum(b.bytes_in) AS bytes_in,
            min(b.start_ns) AS first_ns, max(b.end_ns) AS last_ns
        FROM (SELECT capture_id, flow_id, device_mac, start_ns, end_ns, bytes_out, bytes_in, phase
              FROM {{db}}.bursts WHERE {where} AND device_mac != '') AS b
        {_BURST_FLOWS.format(fwhere=fwhere)}
        WHERE f.dest != '' AND (%(all)s OR f.rd = 0)
        GROUP BY capture_id, device_mac, destination, phase
        ORDER BY device_mac, destination, first_ns, phase""",
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
    where, params = scope(capture_ids, device)
    where += " AND device_mac != '' AND bytes_out >= %(min)s AND bytes_out >= 2 * bytes_in"
    fwhere = joined("bursts", where, capture_ids)
    rows = store.query(
        f"""SELECT b.capture_id AS capture_id, b.device_mac AS device_mac, f.dest AS destination,
            f.org AS organisation,
            f.cc AS country,
            f.sec AS security, b.phase AS phase, b.flow_id AS flow_id, b.start_ns AS start_ns,
            b.end_ns AS end_ns, b.bytes_out AS bytes_out, b.bytes_in AS bytes_in, b.pkts_out AS pkts_out
        FROM (SELECT * FROM {{db}}.bursts WHERE {where}) AS b
        {_BURST_FLOWS.format(fwhere=fwhere)}
        WHERE f.dest != '' AND (%(all)s OR f.rd = 0)
        ORDER BY device_mac, start_ns""",
        {**params, "min": MIN_UPLOAD, "all": 0 if encrypted_only else 1},
    )
    out = []
    for r in rows:
        u = classify(int(r["start_ns"]), int(r["end_ns"]), int(r["bytes_out"]), int(r["bytes_in"]),
                     int(r["pkts_out"]))  # fmt: skip
        if u is not None:
            r["flow_id"] = str(r["flow_id"])  # as text: a UInt64 id outgrows JSON numbers
            r.update(kind=u.kind, confidence=u.confidence, reason=u.reason, seconds=round(u.seconds, 3),
                     rate=round(u.rate, 1))  # fmt: skip
            out.append(r)
    return out
