"""Traffic-shape measures read from the store: reporting periods and uploads, from payload bursts.

The bursts' timing and sizes say what encrypted traffic carries and how often; the
period fit (``periodicity``) and upload kinds (``upload_kinds``) run on what these read.
"""

from __future__ import annotations

from appliance.measures.periodicity import periodicity
from appliance.measures.upload_kinds import MIN_UPLOAD, ONE_WAY, Burst, classify_burst
from appliance.store.backends import Store
from appliance.store.queries.scope import Rows, joined, scope

_BURST_FLOWS = """ANY LEFT JOIN (
            SELECT flow_id, if(domain != '', domain, remote_ip) AS dest, organisation AS org,
                readable AS rd, security AS sec, country AS cc, proto AS pr
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


# the stored burst columns, in ``upload_kinds.Burst``'s field order
BURST_FIELDS = (
    "start_ns",
    "end_ns",
    "bytes_out",
    "bytes_in",
    "pkts_out",
    "pkts_in",
    "sq_out",
    "large_out",
    "proto",
)


def uploads(
    store: Store, capture_ids: list[str] | None = None, device: str | None = None, encrypted_only: bool = True
) -> Rows:
    """Bursts large enough to be uploads, each with what it probably carries, how sure (``confidence``
    high/medium/low and ``score`` 0..1) and why. Mostly one-way bursts are uploads; a two-way one
    counts only when it has a call's media shape (``upload_kinds``)."""
    where, params = scope(capture_ids, device)
    where += " AND device_mac != '' AND bytes_out >= %(min)s AND %(one_way)s * bytes_out >= bytes_in"
    fwhere = joined("bursts", where, capture_ids)
    rows = store.query(
        f"""SELECT b.capture_id AS capture_id, b.device_mac AS device_mac, f.dest AS destination,
            f.org AS organisation,
            f.cc AS country,
            f.sec AS security, b.phase AS phase, b.flow_id AS flow_id, b.start_ns AS start_ns,
            b.end_ns AS end_ns, b.bytes_out AS bytes_out, b.bytes_in AS bytes_in, b.pkts_out AS pkts_out,
            b.pkts_in AS pkts_in, b.sq_out AS sq_out, b.large_out AS large_out, f.pr AS proto
        FROM (SELECT * FROM {{db}}.bursts WHERE {where}) AS b
        {_BURST_FLOWS.format(fwhere=fwhere)}
        WHERE f.dest != '' AND (%(all)s OR f.rd = 0)
        ORDER BY device_mac, start_ns""",
        {**params, "min": MIN_UPLOAD, "one_way": ONE_WAY, "all": 0 if encrypted_only else 1},
    )
    out = []
    for r in rows:
        u = classify_burst(Burst(*(int(r[k]) for k in BURST_FIELDS)))
        if u is not None:
            r["flow_id"] = str(r["flow_id"])  # as text: a UInt64 id outgrows JSON numbers
            for k in ("sq_out", "large_out", "proto"):
                del r[k]
            r.update(kind=u.kind, confidence=u.confidence, score=round(u.score, 2), leaning=u.leaning,
                     reason=u.reason, seconds=round(u.seconds, 3), rate=round(u.rate, 1))  # fmt: skip
            out.append(r)
    return out
