"""The device and the captures of a report: who the device is, which files were read, and the
test phases marked in them with what the device did in each (``appliance.report.data.gather``)."""

from __future__ import annotations

import json
from typing import Any

from appliance.store import queries
from appliance.store.backends import Store


def device_row(d: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "mac",
        "name",
        "vendor",
        "oui_vendor",
        "category",
        "model",
        "firmware",
        "on_bench",
        "role",
        "attributed_by",
        "dhcp_hostname",
        "dhcp_vendor_class",
        "dhcp_prl",
        "dhcp_fingerprint",
        "mdns_names",
        "ssdp_names",
        "ipv4",
        "ipv6",
        "first_seen_ns",
        "last_seen_ns",
        "captures",
        "flows",
        "bytes_sent",
        "bytes_received",
        "remotes",
    )
    out = {k: d.get(k) for k in keys}
    out["on_bench"] = bool(out["on_bench"])
    for k in ("mdns_names", "ssdp_names"):
        out[k] = sorted(str(x) for x in out[k] or [])
    return out


def capture_row(r: dict[str, Any]) -> dict[str, Any]:
    stats = json.loads(str(r["decode_stats"]) or "{}")
    return {
        "capture_id": r["capture_id"],
        "path": r["path"],
        "files": [
            {"file": f, "sha256": s}
            for f, s in zip(r["files"], r["file_sha256"] or [""] * len(r["files"]), strict=False)
        ],
        "format": r["format"],
        "packets": int(r["packets"]),
        "bytes": int(r["bytes"]),
        "first_ns": int(r["first_ns"]),
        "last_ns": int(r["last_ns"]),
        "duration_s": round((int(r["last_ns"]) - int(r["first_ns"])) / 1e9, 3),
        "link_types": list(r["link_types"]),
        "truncated": bool(r["truncated"]),
        "read_error": r["read_error"],
        "skipped_packets": int(r["skipped_packets"]),
        "malformed": {k[10:]: int(v) for k, v in sorted(stats.items()) if k.startswith("malformed_") and v},
        "flows": int(r["flows"]),
        "devices": int(r["devices"]),
        "lan_prefixes": list(r["lan_prefixes"]),
        "home": list(r["home"]),
        "bench_sha256": r["bench_sha256"],
        "phases_sha256": r["phases_sha256"],
        "geoip_db": r["geoip_db"],
        "geoip_version": r["geoip_version"],
        "catalog_version": r["catalog_version"],
        "psl_version": r["psl_version"],
        "raw_evidence": bool(r["raw_evidence"]),
        "tool_version": r["tool_version"],
        "ingested_at": r["ingested_at"],
    }


def phases(store: Store, caps: list[str], mac: str) -> list[dict[str, Any]]:
    """Each capture's marked phases with what the device did in them; activity before the first mark
    as an 'unmarked' row without times."""
    activity = {(a["capture_id"], a["phase"]): a for a in queries.phase_activity(store, caps, mac)}
    out = []
    for cap in caps:
        spans = queries.phase_spans(store, cap, mac)
        seen = set()
        for p in spans:
            a = activity.get((cap, p["phase"]), {})
            seen.add(p["phase"])
            out.append(
                _phase_row(cap, str(p["phase"]), int(p["start_ns"]), int(p["end_ns"]), str(p["note"]), a)
            )
        for (c, name), a in sorted(activity.items()):
            if c == cap and name not in seen:
                out.append(_phase_row(cap, name, 0, 0, "before the first mark" if spans else "", a))
    return out


def _phase_row(cap: str, name: str, start: int, end: int, note: str, a: dict[str, Any]) -> dict[str, Any]:
    return {
        "capture_id": cap,
        "phase": name,
        "start_ns": start,
        "end_ns": end,
        "duration_s": round((end - start) / 1e9, 3),
        "note": note,
        "flows": int(a.get("flows", 0)),
        "bytes_sent": int(a.get("bytes_sent", 0)),
        "observations": int(a.get("observations", 0)),
        "data_types": list(a.get("data_types", [])),
    }
