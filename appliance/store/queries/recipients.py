"""Reads behind the device page's pictures (issue 18, point 2): which data types go to which
organisations in which countries, in clear or under TLS, first or third party (TR-11, TR-12,
TR-13); where the device's traffic goes, country by country, and which of it crosses the border
of the lab's home jurisdiction (``captures.home``); how precisely locations are sent, per
destination, in metres.

Counts only, no values: nothing here reads an excerpt or a value hash, so no personal value
reaches a chart or its tooltip. Keys carry the schema's column names where they are columns.
"""

from __future__ import annotations

from appliance.store.backends import Store
from appliance.store.queries.scope import Rows, joined, scope

# the flows side of an observation: who received it, where, how it was carried
_FLOW_FACTS = """SELECT flow_id, domain AS dom, organisation AS org, country AS cc, party AS pty,
    if(security IN ('', 'none'), 'clear', security) AS carried FROM {db}.flows WHERE """


def recipient_links(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Observations counted per data type x recipient organisation x country x party x carriage
    ('clear', else the flow's security: 'tls', 'dtls'...). An organisation the catalogue does not
    know is named by its domain, else by the server's address; an observation whose flow is not
    stored has none of them (''), and is counted all the same."""
    where, params = scope(capture_ids, device)
    rows = store.query(
        f"""SELECT kind AS data_type, recipient AS organisation, place AS country, side AS party,
            how AS security, n
        FROM (
            SELECT o.data_type AS kind,
                if(f.org != '', f.org, if(f.dom != '', f.dom, o.remote_ip)) AS recipient,
                f.cc AS place, f.pty AS side, if(f.carried = '', 'clear', f.carried) AS how, count() AS n
            FROM (SELECT data_type, flow_id, remote_ip FROM {{db}}.observations WHERE {where}) AS o
            ANY LEFT JOIN ({_FLOW_FACTS}{joined("observations", where, capture_ids)}) AS f USING flow_id
            GROUP BY kind, recipient, place, side, how
        ) ORDER BY data_type, organisation, country, party, security""",
        params,
    )
    for r in rows:
        r["n"] = int(r["n"])
    return rows


def home_countries(store: Store, capture_ids: list[str] | None = None) -> list[str]:
    """The home jurisdiction(s) the captures were ingested with (ISO alpha-2, ``captures.home``):
    what ``flows.cross_border`` was measured against."""
    where, params = scope(capture_ids)
    rows = store.query(
        f"SELECT DISTINCT arrayJoin(home) AS cc FROM {{db}}.captures WHERE {where} ORDER BY cc", params
    )
    return [str(r["cc"]) for r in rows]


def destination_countries(
    store: Store, capture_ids: list[str] | None = None, device: str | None = None
) -> Rows:
    """Per country the device's flows went to (off the LAN, located): flows, bytes sent, whether
    they crossed the border (``cross_border``), the destinations and organisations there, and the
    personal-data observations carried to it."""
    where, params = scope(capture_ids, device)
    flows = store.query(
        f"""SELECT place AS country, nflows, sent, abroad AS cross_border, dests AS destinations,
            orgs AS organisations
        FROM (
            SELECT country AS place, count() AS nflows,
                sum(if(direction = 'inbound', bytes_down, bytes_up)) AS sent, max(cross_border) AS abroad,
                arraySort(groupUniqArray(if(domain != '', domain, remote_ip))) AS dests,
                arraySort(groupUniqArray(organisation)) AS orgs
            FROM {{db}}.flows WHERE {where} AND country != '' AND party != 'local' GROUP BY place
        ) ORDER BY country""",
        params,
    )
    obs = {
        str(r["cc"]): int(r["n"])
        for r in store.query(
            f"""SELECT f.cc AS cc, count() AS n
            FROM (SELECT flow_id FROM {{db}}.observations WHERE {where}) AS o
            ANY LEFT JOIN ({_FLOW_FACTS}{joined("observations", where, capture_ids)}) AS f USING flow_id
            GROUP BY cc""",  # not ANY INNER JOIN: newer ClickHouse keeps one left row per key there
            params,
        )
    }
    out = []
    for r in flows:
        cc = str(r["country"])
        out.append({"country": cc, "flows": int(r["nflows"]), "bytes_sent": int(r["sent"]),
                    "cross_border": int(r["cross_border"]), "observations": obs.get(cc, 0),
                    "destinations": [str(d) for d in r["destinations"]],
                    "organisations": [str(o) for o in r["organisations"] if o]})  # fmt: skip
    return out


def location_precision(store: Store, capture_ids: list[str] | None = None, device: str | None = None) -> Rows:
    """Per destination x data type x precision: how many observations gave a position that precise
    (``observations.metres``, the uncertainty its decimals or accuracy field imply; 0 = none)."""
    where, params = scope(capture_ids, device)
    rows = store.query(
        f"""SELECT dest AS destination, kind AS data_type, m AS metres, n
        FROM (
            SELECT if(f.dom != '', f.dom, o.remote_ip) AS dest, o.data_type AS kind, o.metres AS m,
                count() AS n
            FROM (SELECT data_type, flow_id, remote_ip, metres FROM {{db}}.observations
                  WHERE {where} AND metres > 0) AS o
            ANY LEFT JOIN ({_FLOW_FACTS}{joined("observations", where + " AND metres > 0", capture_ids)})
                AS f USING flow_id
            GROUP BY dest, kind, m
        ) ORDER BY destination, data_type, metres""",
        params,
    )
    for r in rows:
        r["metres"], r["n"] = float(r["metres"]), int(r["n"])
    return rows
