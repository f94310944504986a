"""What every read-API query answers on a store, in one comparable value: two stores that hold the
same captures (a server and chDB, a cluster and one node) must give equal snapshots."""

from __future__ import annotations

import json
from typing import Any

from appliance.measures import shapes
from appliance.store import queries
from appliance.store.backends import Store


def snapshot(store: Store) -> dict[str, Any]:
    """Captures, flows (all of them, and a filtered page), devices, destinations, observations,
    records, measures, periods and uploads, each in an order that does not depend on the engine."""
    caps = queries.captures(store)
    flows = queries.flows(store, limit=1_000_000)
    devs = queries.devices(store)
    for d in devs:  # array order from groupUniqArray is not defined
        for k in ("mdns_names", "ssdp_names"):
            d[k] = sorted(d[k])
    dests = [
        tuple(
            str(d[k])
            for k in (
                "device_mac",
                "destination",
                "organisation",
                "service_kind",
                "party",
                "countries",
                "cross_border",
                "securities",
                "flows",
                "bytes_sent",
                "bytes_received",
            )
        )
        for d in queries.destinations(store)
    ]
    obs = [
        tuple(
            str(o[k])
            for k in (
                "device_mac",
                "data_type",
                "carrier",
                "path",
                "confidence",
                "decimals",
                "excerpt",
                "domain",
            )
        )
        for o in queries.observations(store, limit=1_000_000)
    ]
    counts = {t: store.query(f"SELECT count() AS n FROM {{db}}.{t}")[0]["n"] for t in ("dns", "tls", "http")}
    measures = [
        tuple(
            str(m[k])
            for k in (
                "device_mac",
                "data_type",
                "organisation",
                "phase",
                "reports",
                "median_gap_ns",
                "min_gap_ns",
                "longest_run_ns",
                "max_decimals",
                "best_metres",
                "reports_per_hour",
            )
        )
        for m in queries.measures(store)
    ]
    periods = [
        tuple(
            str(r[k])
            for k in ("device_mac", "destination", "bursts", "period_s", "jitter_s", "score", "longest_run_s")
        )
        for r in shapes.periods(store, by_phase=True, encrypted_only=False)
    ]
    uploads = [
        tuple(
            str(r[k]) for k in ("device_mac", "flow_id", "start_ns", "bytes_out", "kind", "leaning", "score")
        )
        for r in shapes.uploads(store)
    ]
    # the explorer's filters and paging: a time range (PREWHERE), a destination and a transport
    caps_t = sorted((int(c["first_ns"]), int(c["last_ns"])) for c in caps)
    t0, t1 = caps_t[-1]
    narrow = queries.FlowFilter(destination=".", proto=6, since_ns=t0 + (t1 - t0) // 4, until_ns=t1)
    page = [f["flow_id"] for f in queries.flows(store, None, None, 7, 3, narrow)]
    # the device page's pictures (queries.recipients), for every device
    macs = sorted({str(d["mac"]) for d in devs})
    reads = (queries.recipient_links, queries.destination_countries, queries.location_precision)
    pictures = [
        (mac, json.dumps([q(store, None, mac) for q in reads], sort_keys=True, default=str)) for mac in macs
    ]
    return {
        "pictures": pictures,
        "home": queries.home_countries(store),
        "overview": queries.device_overview(store),
        "flow_counts": [(c["cap"], c["n"]) for c in queries.flow_counts(store, flt=narrow)],
        "flow_page": page,
        "periods": sorted(periods),
        "uploads": sorted(uploads),
        "measures": sorted(measures),
        "destinations": sorted(dests),
        "observations": sorted(obs),
        "records": counts,
        "captures": sorted((c["capture_id"], c["packets"], c["flows"], c["devices"]) for c in caps),
        "flows": sorted(tuple(sorted(f.items())) for f in flows),
        "devices": sorted(json.dumps(d, sort_keys=True, default=str) for d in devs),
    }
