"""What a device sent, as a report shows it: destinations, measures per recipient and phase, the
personal data types found, how much of the encrypted traffic was decrypted, the flows that could not
be read and the encrypted upload bursts.

Values are the stored excerpts as the read API gives them (masked: ``queries.display``).
"""

from __future__ import annotations

import statistics
from typing import Any

from appliance.measures import shapes
from appliance.store import queries
from appliance.store.backends import Store


def destination_row(r: dict[str, Any]) -> dict[str, Any]:
    sec = [c for c in str(r["securities"]).split(",") if c]
    return {
        "destination": r["destination"],
        "registrable": r["registrable"],
        "organisation": r["organisation"],
        "service": r["service"],
        "kind": r["service_kind"],
        "party": r["party"] or "unknown",
        "countries": [c for c in str(r["countries"]).split(",") if c],
        "cross_border": bool(r["cross_border"]),
        "as_org": r["as_org"],
        "security": sec,
        "readable": bool(r["readable"]),
        "apps": [c for c in str(r["apps"]).split(",") if c],
        "remote_ips": list(r["remote_ips"]),
        "flows": int(r["flows"]),
        "bytes_up": int(r["bytes_sent"]),
        "bytes_down": int(r["bytes_received"]),
        "first_ns": int(r["first_ns"]),
        "last_ns": int(r["last_ns"]),
    }


def measure_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "data_type": r["data_type"],
        "organisation": r["organisation"],
        "phase": r["phase"],
        "reports": int(r["reports"]),
        "observations": int(r["n"]),
        "reports_per_hour": float(r["reports_per_hour"]),
        "median_interval_s": round(float(r["median_gap_ns"]) / 1e9, 3),
        "min_interval_s": round(float(r["min_gap_ns"]) / 1e9, 3),
        "longest_run_s": round(float(r["longest_run_ns"]) / 1e9, 3),
        "max_decimals": int(r["max_decimals"]),
        "best_metres": float(r["best_metres"]),
        "encrypted_share": round(float(r["enc_share"]), 3),
        "cross_border_share": round(float(r["abroad_share"]), 3),
        "third_party_share": round(float(r["third_share"]), 3),
        "first_ns": int(r["first_ns"]),
        "last_ns": int(r["last_ns"]),
    }


def data_types(
    series: list[dict[str, Any]],
    measures: list[dict[str, Any]],
    examples: list[dict[str, Any]],
    phase_order: list[str],
) -> list[dict[str, Any]]:
    """One row per data type: how much, how often, how precise, where found, to whom."""
    out: dict[str, dict[str, Any]] = {}
    for s in series:
        k = str(s["data_type"])
        row = out.setdefault(
            k,
            {
                "data_type": k,
                "observations": 0,
                "reports": 0,
                "organisations": [],
                "phases": [],
                "first_ns": 0,
                "last_ns": 0,
                "gaps": [],
                "found_in": [],
            },
        )
        times = [int(t) for t in s["times"]]
        row["observations"] += int(s["n"])
        row["reports"] += len(times)
        if s["organisation"] and s["organisation"] not in row["organisations"]:
            row["organisations"].append(s["organisation"])
        row["first_ns"] = min(times[0], row["first_ns"] or times[0]) if times else row["first_ns"]
        row["last_ns"] = max(times[-1], row["last_ns"]) if times else row["last_ns"]
        row["gaps"] += [int(g) / 1e9 for g in s["gaps"]]
    for m in measures:
        typed = out.get(m["data_type"])
        if typed is None:
            continue
        if m["phase"] not in typed["phases"]:
            typed["phases"].append(m["phase"])
        typed["max_decimals"] = max(typed.get("max_decimals", -1), m["max_decimals"])
        if m["best_metres"] > 0:
            typed["best_metres"] = min(typed.get("best_metres") or m["best_metres"], m["best_metres"])
    for e in examples:
        typed = out.get(str(e["data_type"]))
        if typed is not None:
            typed["found_in"].append(
                {
                    "carrier": e["carrier"],
                    "path": e["path"],
                    "observations": int(e["n"]),
                    "excerpt": str(e["excerpt"]),  # masked by the read API
                    "destinations": list(e["destinations"]),
                }
            )
    rows = []
    for row in sorted(out.values(), key=lambda r: (-r["observations"], r["data_type"])):
        gaps = row.pop("gaps")
        row["median_interval_s"] = round(statistics.median(gaps), 3) if gaps else 0.0
        row["min_interval_s"] = round(min(gaps), 3) if gaps else 0.0
        row.setdefault("max_decimals", -1)
        row.setdefault("best_metres", 0.0)
        row["organisations"].sort()
        rank = {name: i for i, name in reversed(list(enumerate(phase_order)))}
        row["phases"].sort(key=lambda name: (rank.get(name, -1), name))
        rows.append(row)
    return rows


def unreadable(store: Store, caps: list[str], mac: str) -> list[dict[str, Any]]:
    """Flows the appliance could not read, per destination, with the period of their encrypted beats."""
    periods: dict[str, dict[str, Any]] = {}
    for p in shapes.periods(store, caps, mac):
        best = periods.get(p["destination"])
        if best is None or (p["periodic"], p["bursts"]) > (best["periodic"], best["bursts"]):
            periods[p["destination"]] = p
    out = []
    for r in queries.unreadable_flows(store, caps, mac):
        sec = [c for c in str(r["securities"]).split(",") if c]
        per = periods.get(r["destination"])
        out.append(
            {
                "destination": r["destination"],
                "organisation": r["organisation"] or (f"AS: {r['as_org']}" if r["as_org"] else ""),
                "party": r["party"] or "unknown",
                "countries": [c for c in str(r["countries"]).split(",") if c],
                "security": sec,
                "encrypted": any(s not in ("none", "unknown") for s in sec),
                "apps": [c for c in str(r["apps"]).split(",") if c],
                "flows": int(r["flows"]),
                "bytes_up": int(r["bytes_sent"]),
                "bytes_down": int(r["bytes_received"]),
                "first_ns": int(r["first_ns"]),
                "last_ns": int(r["last_ns"]),
                "period_s": round(float(per["period_s"]), 1) if per and per["periodic"] else 0.0,
                "period_score": float(per["score"]) if per else 0.0,
                "bursts": int(per["bursts"]) if per else 0,
            }
        )
    return out


# where the keys that decrypted a flow came from (parsers.decrypt.keys: Secrets.source)
KEY_SOURCES = {
    "tls-keylog": "TLS key log (SSLKEYLOGFILE)",
    "tls-dsb": "pcapng Decryption Secrets Block",
    "tls-intercept": "the lab gateway's interceptor (the device accepted its certificate)",
}


def coverage(store: Store, caps: list[str], mac: str) -> dict[str, Any]:
    """The device's encrypted flows off the LAN and their bytes: decrypted with session keys, and
    still unread (issue 16: the report says how much of what it judged it could see)."""
    rows = queries.tls_coverage(store, caps, mac)
    r: dict[str, Any] = rows[0] if rows else {}
    enc_f, enc_b = int(r.get("encrypted_flows", 0)), int(r.get("encrypted_bytes", 0))
    dec_f, dec_b = int(r.get("decrypted_flows", 0)), int(r.get("decrypted_bytes", 0))
    return {
        "encrypted_flows": enc_f,
        "encrypted_bytes": enc_b,
        "decrypted_flows": dec_f,
        "decrypted_bytes": dec_b,
        "unread_flows": enc_f - dec_f,
        "unread_bytes": enc_b - dec_b,
        "key_sources": [str(k) for k in r.get("key_sources", [])],
        # the key files the captures were replayed with (path and sha256, never a secret)
        "key_files": [
            {
                "path": str(k["path"]),
                "sha256": str(k["sha256"]),
                "kind": str(k["kind"]),
                "lines": int(k["lines"]),
            }
            for cap in caps
            for k in queries.capture_keys(store, cap)
        ],
    }


def upload_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "destination": r["destination"],
        "organisation": r["organisation"],
        "phase": r["phase"],
        "flow_id": r["flow_id"],
        "start_ns": int(r["start_ns"]),
        "seconds": float(r["seconds"]),
        "bytes_up": int(r["bytes_out"]),
        "kind": r["kind"],
        "leaning": r.get("leaning", ""),
        "confidence": r["confidence"],
        "score": float(r["score"]),
        "reason": r["reason"],
    }
