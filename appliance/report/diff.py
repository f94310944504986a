"""What changed between two captures of one product (two firmware versions, say).

Everything comes from the read API (``appliance.store.queries``) of each capture on its own:

- destinations (domain, else remote address) with their organisation and countries;
  the organisations and the countries they add up to;
- data types seen in what the device sent (``observations``);
- reporting series (data type x organisation x phase, from ``queries.measures``): new and
  gone ones, and those in both whose median interval changed (by ``FREQUENCY_RATIO`` or
  more) or whose precision changed (decimals sent, metres they resolve);
- findings, by rule and subject (``figures.subject``).

Without ``device`` the devices of each capture are taken together: the two captures may
come from two units of the product, with two MACs.
"""

from __future__ import annotations

import json
from typing import Any

from appliance.store import queries
from appliance.store.backends import Store

FREQUENCY_RATIO = 1.1  # a median interval this much longer or shorter is a change, not jitter
METRES_RATIO = 1.1


class DiffError(Exception):
    """The captures cannot be compared as asked; one line for the user."""


def compare(store: Store, capture_a: str, capture_b: str, device: str | None = None) -> dict[str, Any]:
    """The differences from capture A to capture B (ids as stored), as a JSON-ready document."""
    caps = {str(c["capture_id"]): c for c in queries.captures(store)}
    for cid in (capture_a, capture_b):
        if cid not in caps:
            raise DiffError(f"capture {cid[:16]} is not stored")
        if device and device not in {str(d["mac"]) for d in queries.devices(store, [cid])}:
            raise DiffError(f"device {device} is not in capture {cid[:16]} ({caps[cid]['path']})")
    sides = [_side(store, cid, device) for cid in (capture_a, capture_b)]
    a, b = sides
    doc: dict[str, Any] = {
        "a": _capture(caps[capture_a]),
        "b": _capture(caps[capture_b]),
        "device": device or "",
    }
    doc["destinations"] = _new_gone(a["destinations"], b["destinations"])
    doc["organisations"] = _new_gone(a["organisations"], b["organisations"])
    doc["countries"] = _new_gone(a["countries"], b["countries"])
    doc["data_types"] = _new_gone(a["data_types"], b["data_types"])
    doc["series"] = _new_gone(a["series"], b["series"])
    doc["frequency"], doc["precision"] = _series_changes(a["series"], b["series"])
    doc["findings"] = _new_gone(a["findings"], b["findings"])
    doc["changes"] = (
        sum(
            len(doc[k]["new"]) + len(doc[k]["gone"])
            for k in ("destinations", "organisations", "countries", "data_types", "series", "findings")
        )
        + len(doc["frequency"])
        + len(doc["precision"])
    )
    return doc


def _capture(c: dict[str, Any]) -> dict[str, Any]:
    return {k: c[k] for k in ("capture_id", "path", "first_ns", "last_ns", "packets")}


def _side(store: Store, cid: str, device: str | None) -> dict[str, dict[Any, dict[str, Any]]]:
    """One capture's facts, each keyed by what identifies it across captures."""
    caps = [cid]
    dests: dict[Any, dict[str, Any]] = {}
    for r in queries.destinations(store, caps, device):
        d = dests.setdefault(
            r["destination"],
            {
                "destination": r["destination"],
                "organisation": "",
                "network": "",
                "countries": set(),
                "flows": 0,
                "bytes_sent": 0,
            },
        )
        d["organisation"] = d["organisation"] or str(r["organisation"])
        d["network"] = d["network"] or str(r["as_org"])
        d["countries"].update(c for c in str(r["countries"]).split(",") if c)
        d["flows"] += int(r["flows"])
        d["bytes_sent"] += int(r["bytes_sent"])
    orgs: dict[Any, dict[str, Any]] = {}
    countries: dict[Any, dict[str, Any]] = {}
    for d in dests.values():
        d["countries"] = sorted(d["countries"])
        if d["organisation"]:
            o = orgs.setdefault(d["organisation"], {"organisation": d["organisation"], "destinations": []})
            o["destinations"].append(d["destination"])
        for cc in d["countries"]:
            c = countries.setdefault(cc, {"country": cc, "destinations": []})
            c["destinations"].append(d["destination"])
    kinds: dict[Any, dict[str, Any]] = {
        r["data_type"]: {
            "data_type": r["data_type"],
            "reports": int(r["reports"]),
            "organisations": [o for o in r["organisations"] if o],
            "destinations": list(r["destinations"]),
        }
        for r in queries.data_types(store, caps, device)
    }
    series: dict[Any, dict[str, Any]] = {}
    for m in queries.measures(store, caps, device):
        key = (str(m["data_type"]), str(m["organisation"]), str(m["phase"]))
        row = {
            "data_type": key[0],
            "organisation": key[1],
            "phase": key[2],
            "reports": int(m["reports"]),
            "interval_s": round(float(m["median_gap_ns"]) / 1e9, 3),
            "max_decimals": int(m["max_decimals"]),
            "best_metres": round(float(m["best_metres"]), 3),
        }
        # several devices with the same series (no --device): the busiest one stands for them
        if key not in series or row["reports"] > series[key]["reports"]:
            series[key] = row
    findings: dict[Any, dict[str, Any]] = {}
    for f in queries.findings(store, caps, device):
        figures = json.loads(str(f["figures"]) or "{}")
        subject = str(figures.get("subject", "")) if isinstance(figures, dict) else ""
        fkey = (str(f["rule_id"]), subject)
        findings.setdefault(
            fkey,
            {
                "rule_id": fkey[0],
                "subject": subject,
                "severity": f["severity"],
                "device": f["device_mac"],
                "statement": f["statement"],
                "finding_id": f["finding_id"],
            },
        )
    return {
        "destinations": dests,
        "organisations": orgs,
        "countries": countries,
        "data_types": kinds,
        "series": series,
        "findings": findings,
    }


def _new_gone(a: dict[Any, dict[str, Any]], b: dict[Any, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {
        "new": [b[k] for k in sorted(b.keys() - a.keys())],
        "gone": [a[k] for k in sorted(a.keys() - b.keys())],
    }


def _series_changes(
    a: dict[Any, dict[str, Any]], b: dict[Any, dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Series in both captures whose median interval, or whose precision, changed."""
    freq, prec = [], []
    for key in sorted(a.keys() & b.keys()):
        x, y = a[key], b[key]
        head = {"data_type": key[0], "organisation": key[1], "phase": key[2]}
        ia, ib = x["interval_s"], y["interval_s"]
        if ia > 0 and ib > 0 and max(ia, ib) / min(ia, ib) >= FREQUENCY_RATIO:
            freq.append(
                {
                    **head,
                    "a_interval_s": ia,
                    "b_interval_s": ib,
                    "a_reports": x["reports"],
                    "b_reports": y["reports"],
                    "factor": round(ia / ib, 3),
                }
            )
        da, db = x["max_decimals"], y["max_decimals"]
        ma, mb = x["best_metres"], y["best_metres"]
        metres_moved = ma > 0 and mb > 0 and max(ma, mb) / min(ma, mb) >= METRES_RATIO
        if da >= 0 and db >= 0 and (da != db or metres_moved):
            prec.append(
                {
                    **head,
                    "a_decimals": da,
                    "b_decimals": db,
                    "a_metres": ma,
                    "b_metres": mb,
                    "finer": db > da or (db == da and mb < ma),
                }
            )
    return freq, prec
