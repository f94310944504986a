"""Everything a device's lab report shows, gathered from the storage read API (``appliance.store.queries``).

``gather`` returns a ``ReportData``: plain data (JSON as it is, for the dashboard), which the
renderers (HTML, Markdown, PDF) only lay out. Values are the stored excerpts as the read API
gives them: masked, a capture stored with raw evidence too (``queries.display``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from appliance import __version__
from appliance.format import fmt_bytes
from appliance.measures import shapes
from appliance.report import charts
from appliance.report.charts import Chart
from appliance.store import queries
from appliance.store.backends import Store
from policies.engine import PackError, load_pack, pack_names, rules_sha256
from policies.model import ALL, Pack, Rule
from policies.requirements import REQUIREMENTS, VERDICT_ZH, VERDICTS, Requirement

SCHEMA = "tapaudit.report/1"
SEVERITY_ORDER = {v: i for i, v in enumerate(VERDICTS)}


class ReportError(Exception):
    """Bad input for a report (unknown device or capture): one line for the user."""


@dataclass
class ReportData:
    schema: str
    generated_at: str  # UTC, ISO 8601
    tool_version: str
    device: dict[str, Any]
    captures: list[dict[str, Any]]
    phases: list[dict[str, Any]]
    provenance: dict[str, Any]
    requirements: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    data_types: list[dict[str, Any]]
    measures: list[dict[str, Any]]
    destinations: list[dict[str, Any]]
    unreadable: list[dict[str, Any]]
    uploads: list[dict[str, Any]]
    not_assessed: list[dict[str, Any]]
    charts: list[Chart] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, ensure_ascii=False, default=str)

    def chart(self, chart_id: str) -> Chart:
        return next(c for c in self.charts if c.id == chart_id)


def plural(n: int, noun: str) -> str:
    """'1 flow', '2 flows'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def figure_text(v: Any) -> str:
    """A finding's figure as text: lists joined, floats short."""
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) or "-"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {figure_text(x)}" for k, x in v.items())
    return str(v)


def resolve_capture(store: Store, wanted: str) -> str:
    """A stored capture by its sha256 or a prefix of it; ReportError when none or several match."""
    have = [str(c["capture_id"]) for c in queries.captures(store)]
    match = [c for c in have if c.startswith(wanted.strip().lower())] if wanted.strip() else []
    if len(match) != 1:
        raise ReportError(
            f"--capture {wanted}: {'no' if not match else 'more than one'} stored capture matches"
        )
    return match[0]


def gather(store: Store, mac: str, capture: str | None = None, now: dt.datetime | None = None) -> ReportData:
    """The report of one device (a normalised MAC) over the captures it is in, or over one capture."""
    scope = [resolve_capture(store, capture)] if capture else None
    caps = queries.device_captures(store, mac, scope)
    if not caps:
        where = f"capture {scope[0][:16]}" if scope else "any stored capture"
        raise ReportError(f"--device {mac}: not seen in {where} (see `tapaudit devices`)")
    dev = next(d for d in queries.devices(store, caps) if d["mac"] == mac)
    provenance_rows = queries.capture_provenance(store, caps)
    captures = [_capture(r) for r in provenance_rows]
    phases = _phases(store, caps, mac)
    destinations = [_destination(r) for r in queries.destinations(store, caps, mac)]
    measures = [_measure(r) for r in queries.measures(store, caps, mac)]
    series = queries.observation_series(store, caps, mac)
    examples = queries.observation_examples(store, caps, mac)
    assessments = queries.assessments(store, caps)
    packs, packs_verified = _packs_that_ran(assessments)
    findings = [_finding(r, packs) for r in queries.findings(store, caps, mac)]
    unreadable = _unreadable(store, caps, mac)
    uploads = [_upload(r) for r in shapes.uploads(store, caps, mac)]
    # flows off the LAN whose content the appliance read (local DHCP, mDNS... do not count)
    readable_flows = sum(d["flows"] for d in destinations) - sum(u["flows"] for u in unreadable)
    requirements = _requirements(dev, findings, assessments, packs, phases, readable_flows, unreadable)
    provenance = _provenance(provenance_rows, assessments, packs, packs_verified)
    data = ReportData(
        schema=SCHEMA,
        generated_at=(now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        tool_version=__version__,
        device=_device(dev),
        captures=captures,
        phases=phases,
        provenance=provenance,
        requirements=requirements,
        findings=findings,
        data_types=_data_types(series, measures, examples, [p["phase"] for p in phases]),
        measures=measures,
        destinations=destinations,
        unreadable=unreadable,
        uploads=uploads,
        not_assessed=_not_assessed(captures, assessments, requirements, unreadable, uploads, provenance),
    )
    gaps: dict[str, list[float]] = defaultdict(list)
    times: dict[str, list[int]] = defaultdict(list)
    for s in series:
        gaps[str(s["kind"])] += [int(g) / 1e9 for g in s["gaps"]]
        times[str(s["kind"])] += [int(t) for t in s["times"]]
    data.charts = [
        charts.interval_chart(dict(gaps)),
        charts.destination_chart(destinations),
        charts.timeline_chart(dict(times), [p for p in phases if p["start_ns"]]),
    ]
    return data


def _device(d: dict[str, Any]) -> dict[str, Any]:
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


def _capture(r: dict[str, Any]) -> dict[str, Any]:
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


def _phases(store: Store, caps: list[str], mac: str) -> list[dict[str, Any]]:
    """Each capture's marked phases with what the device did in them; activity before the first mark
    as an 'unmarked' row without times."""
    activity = {(a["capture"], a["phase_name"]): a for a in queries.phase_activity(store, caps, mac)}
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


def _destination(r: dict[str, Any]) -> dict[str, Any]:
    sec = [c for c in str(r["securities"]).split(",") if c]
    return {
        "destination": r["destination"],
        "registrable": r["reg_domain"],
        "organisation": r["org"],
        "service": r["svc"],
        "kind": r["kind"],
        "party": r["party_of"] or "unknown",
        "countries": [c for c in str(r["countries"]).split(",") if c],
        "cross_border": bool(r["abroad"]),
        "as_org": r["network"],
        "security": sec,
        "readable": bool(r["any_readable"]),
        "apps": [c for c in str(r["apps"]).split(",") if c],
        "remote_ips": list(r["remote_ips"]),
        "flows": int(r["nflows"]),
        "bytes_up": int(r["sent"]),
        "bytes_down": int(r["received"]),
        "first_ns": int(r["first_seen_ns"]),
        "last_ns": int(r["last_seen_ns"]),
    }


def _measure(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "data_type": r["kind"],
        "organisation": r["org"],
        "phase": r["phase_name"],
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


def _data_types(
    series: list[dict[str, Any]],
    measures: list[dict[str, Any]],
    examples: list[dict[str, Any]],
    phase_order: list[str],
) -> list[dict[str, Any]]:
    """One row per data type: how much, how often, how precise, where found, to whom."""
    out: dict[str, dict[str, Any]] = {}
    for s in series:
        k = str(s["kind"])
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
        if s["org"] and s["org"] not in row["organisations"]:
            row["organisations"].append(s["org"])
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
        typed = out.get(str(e["kind"]))
        if typed is not None:
            typed["found_in"].append(
                {
                    "carrier": e["carrier_name"],
                    "path": e["field"],
                    "observations": int(e["n"]),
                    "excerpt": str(e["value"]),  # masked by the read API
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


def _packs_that_ran(assessments: list[dict[str, Any]]) -> tuple[dict[str, Pack], bool]:
    """The packs of the stored assessments, loaded for their rules' clauses and explanations.

    An assessment stores the hash over every pack that ran (and pack@version on each finding): the
    packs on disk that give that hash are those that ran (verified); when none do, the packs
    have changed since, and the ones the findings name are loaded as they are now (unverified).
    """
    available: dict[str, Pack] = {}
    for name in pack_names():
        try:
            p = load_pack(name)
        except PackError:
            continue
        available[p.id] = p
    named = {pv.rpartition("@")[0] for a in assessments for pv in a["pack_versions"]}
    for name in named - set(available):
        try:
            available[name] = load_pack(name)
        except PackError:
            continue
    hashes = {str(a["rules_hash"]) for a in assessments if a["rules_hash"]}
    if not hashes:
        return {}, True
    ran: dict[str, Pack] = {}
    ids = sorted(available)
    sizes = range(len(ids), 0, -1) if len(ids) <= 10 else (len(ids),)
    verified = True
    for digest in hashes:
        found = None
        for size in sizes:
            for combo in itertools.combinations(ids, size):
                if rules_sha256(available[i] for i in combo) == digest:
                    found = combo
                    break
            if found:
                break
        if found is None:
            verified = False
            found = tuple(n for n in named if n in available)
        ran.update({i: available[i] for i in found})
    return ran, verified


def _rule(packs: dict[str, Pack], pack: str, rule_id: str) -> Rule | None:
    """The rule as its pack file has it (None when the pack or the rule is gone)."""
    p = packs.get(pack)
    return next((r for r in p.rules if r.id == rule_id), None) if p else None


def _finding(r: dict[str, Any], packs: dict[str, Pack]) -> dict[str, Any]:
    rule = _rule(packs, str(r["pack"]), str(r["rule_id"]))
    excerpts = [str(e) for e in r["excerpts"]]  # masked by the read API, raw-evidence captures too
    return {
        "finding_id": r["finding_id"],
        "capture_id": r["capture_id"],
        "severity": r["severity"],
        "rule_id": r["rule_id"],
        "pack": r["pack"],
        "pack_version": r["pack_version"],
        "rules_sha256": r["rules_sha256"],
        "declaration_sha256": r["declaration_sha256"],
        "requirements": list(r["requirements"]),
        "statement": r["statement"],
        "statement_zh": r["statement_zh"],
        "figures": json.loads(str(r["figures"]) or "{}"),
        "flow_ids": list(r["flows"]),
        "first_ns": int(r["first_ns"]),
        "last_ns": int(r["last_ns"]),
        "excerpts": excerpts,
        "observations": int(r["observations"]),
        "title": rule.title if rule else "",
        "title_zh": rule.title_zh if rule else "",
        "clauses": list(rule.clauses) if rule else [],
        "explain": rule.explain if rule else "(the rule is no longer in its pack)",
        "explain_zh": rule.explain_zh if rule else "",
    }


def _unreadable(store: Store, caps: list[str], mac: str) -> list[dict[str, Any]]:
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
                "organisation": r["org"] or (f"AS: {r['network']}" if r["network"] else ""),
                "party": r["party_of"] or "unknown",
                "countries": [c for c in str(r["countries"]).split(",") if c],
                "security": sec,
                "encrypted": any(s not in ("none", "unknown") for s in sec),
                "apps": [c for c in str(r["apps"]).split(",") if c],
                "flows": int(r["nflows"]),
                "bytes_up": int(r["sent"]),
                "bytes_down": int(r["received"]),
                "first_ns": int(r["first_seen_ns"]),
                "last_ns": int(r["last_seen_ns"]),
                "period_s": round(float(per["period_s"]), 1) if per and per["periodic"] else 0.0,
                "period_score": float(per["score"]) if per else 0.0,
                "bursts": int(per["bursts"]) if per else 0,
            }
        )
    return out


def _upload(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "destination": r["destination"],
        "organisation": r["organisation"],
        "phase": r["phase_name"],
        "flow_id": r["flow"],
        "start_ns": int(r["start_ns"]),
        "seconds": float(r["seconds"]),
        "bytes_up": int(r["bytes_out"]),
        "kind": r["kind"],
        "confidence": r["confidence"],
        "reason": r["reason"],
    }


def _requirements(
    dev: dict[str, Any],
    findings: list[dict[str, Any]],
    assessments: list[dict[str, Any]],
    packs: dict[str, Pack],
    phases: list[dict[str, Any]],
    readable_flows: int,
    unreadable: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The verdict per requirement: the worst severity among its findings; else pass where a rule
    judged it on what it needs, else not assessed, with the reason."""
    category = str(dev["category"])
    marked = {p["phase"] for p in phases if p["start_ns"]}
    declared = any(a["declaration_hash"] for a in assessments)
    enc_flows = sum(u["flows"] for u in unreadable if u["encrypted"])
    out = []
    for req in REQUIREMENTS:
        mine = [f for f in findings if req.id in f["requirements"]]
        rules = sorted(
            {
                r.id
                for p in packs.values()
                for r in p.rules
                if req.id in r.requirements and (ALL in r.categories or category in r.categories)
            }
        )
        verdict, note = _verdict(req, mine, rules, assessments, declared, marked, readable_flows, enc_flows)
        out.append(
            {
                "id": req.id,
                "title": req.title,
                "title_zh": req.title_zh,
                "verdict": verdict,
                "verdict_zh": VERDICT_ZH[verdict],
                "findings": len(mine),
                "rules": rules or sorted({f["rule_id"] for f in mine}),
                "note": note,
            }
        )
    return out


def _verdict(
    req: Requirement,
    mine: list[dict[str, Any]],
    rules: list[str],
    assessments: list[dict[str, Any]],
    declared: bool,
    marked: set[str],
    readable_flows: int,
    enc_flows: int,
) -> tuple[str, str]:
    if mine:
        worst = min((f["severity"] for f in mine), key=lambda s: SEVERITY_ORDER.get(s, 99))
        return worst, plural(len(mine), "finding")
    if not assessments:
        return "not assessed", "no assessment stored: run `tapaudit assess`"
    if not rules:
        return "not assessed", "no rule for this device category in the packs that ran"
    if req.declaration and not declared:
        return "not assessed", f"needs the product's declaration ({req.declaration})"
    if req.phases and not marked & set(req.phases):
        return "not assessed", f"needs a marked phase: {', '.join(req.phases)}"
    if req.content and readable_flows <= 0:
        return "not assessed", "no readable traffic: every flow was encrypted or not dissected"
    note = "its rules raised nothing"
    if req.content and enc_flows:
        note += f"; {plural(enc_flows, 'encrypted flow')} unread"
    return "pass", note


def _provenance(
    rows: list[dict[str, Any]], assessments: list[dict[str, Any]], packs: dict[str, Pack], verified: bool
) -> dict[str, Any]:
    def uniq(key: str) -> list[str]:
        return sorted({str(r[key]) for r in rows if r[key]})

    return {
        "tool_version": __version__,
        "ingested_with": uniq("tool_version"),
        "geoip_db": uniq("geoip_db"),
        "geoip_version": uniq("geoip_version"),
        "catalog_version": uniq("catalog_version"),
        "psl_version": uniq("psl_version"),
        "bench_sha256": uniq("bench_sha256"),
        "phases_sha256": uniq("phases_sha256"),
        "raw_evidence": any(bool(r["raw_evidence"]) for r in rows),
        "packs": [
            {"pack": p.id, "version": p.version, "title": p.title, "sha256": p.sha256, "rules": len(p.rules)}
            for p in sorted(packs.values(), key=lambda p: p.id)
        ],
        "packs_verified": verified,
        "assessments": [
            {
                "capture_id": a["capture"],
                "assessed_at": dt.datetime.fromtimestamp(int(a["assessed"]) / 1e9, dt.UTC).strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
                "rules_sha256": a["rules_hash"],
                "declaration_sha256": a["declaration_hash"],
                "pack_versions": list(a["pack_versions"]),
                "findings": int(a["nfindings"]),
            }
            for a in assessments
        ],
    }


def _not_assessed(
    captures: list[dict[str, Any]],
    assessments: list[dict[str, Any]],
    requirements: list[dict[str, Any]],
    unreadable: list[dict[str, Any]],
    uploads: list[dict[str, Any]],
    provenance: dict[str, Any],
) -> list[dict[str, Any]]:
    """What the report could not judge, and why: one item per topic, each with its figures."""
    items: list[dict[str, Any]] = []
    done = {a["capture"] for a in assessments}
    for c in captures:
        if c["capture_id"] not in done:
            items.append(
                {
                    "topic": "assessment",
                    "text": f"Capture {c['capture_id'][:16]} has not been assessed against the rule packs: "
                    f"run `tapaudit assess --capture {c['capture_id'][:16]}`.",
                }
            )
    if assessments and not any(a["declaration_hash"] for a in assessments):
        items.append(
            {
                "topic": "declaration",
                "text": "No product declaration was given for this device: "
                "what was sent could not be compared with what the maker declares (consent time, "
                "purposes, intervals, recipients, telemetry fields, sensors).",
            }
        )
    if assessments and not provenance["packs_verified"]:
        items.append(
            {
                "topic": "packs",
                "text": "The rule packs on disk differ from those the assessment "
                "ran (rules sha256 does not match): clauses and explanations are quoted from the "
                "current pack files.",
            }
        )
    enc = [u for u in unreadable if u["encrypted"]]
    if enc:
        items.append(
            {
                "topic": "encrypted",
                "text": f"{plural(sum(u['flows'] for u in enc), 'encrypted flow')} to "
                f"{plural(len(enc), 'destination')} ({fmt_bytes(sum(u['bytes_up'] for u in enc))} sent, "
                f"{fmt_bytes(sum(u['bytes_down'] for u in enc))} received) were not decrypted (no keys): "
                "their content could not be inspected; only timing, volume and destination are reported "
                "(table below).",
            }
        )
    other = [u for u in unreadable if not u["encrypted"]]
    if other:
        items.append(
            {
                "topic": "undissected",
                "text": f"{plural(sum(u['flows'] for u in other), 'flow')} to "
                f"{plural(len(other), 'destination')} used protocols the appliance does not dissect "
                f"({fmt_bytes(sum(u['bytes_up'] for u in other))} sent): their content was not inspected.",
            }
        )
    if uploads:
        items.append(
            {
                "topic": "uploads",
                "text": f"Encrypted upload bursts: {len(uploads)}. By their size and "
                "timing they look like media or bulk data; what they carry cannot be confirmed.",
            }
        )
    for c in captures:
        if c["truncated"]:
            items.append(
                {
                    "topic": "truncated",
                    "text": f"Capture {c['path']} is truncated ({c['read_error']}): "
                    "it was read up to its last whole packet.",
                }
            )
        if c["skipped_packets"]:
            items.append(
                {
                    "topic": "skipped",
                    "text": f"Capture {c['path']}: packets skipped as undecodable "
                    f"(unsupported link type or broken headers): {c['skipped_packets']}.",
                }
            )
        if c["malformed"]:
            counts = ", ".join(f"{k} {v}" for k, v in c["malformed"].items())
            items.append(
                {"topic": "malformed", "text": f"Capture {c['path']}: malformed messages skipped ({counts})."}
            )
    skipped = [r for r in requirements if r["verdict"] == "not assessed"]
    if skipped:
        by_note: dict[str, list[str]] = defaultdict(list)
        for r in skipped:
            by_note[r["note"]].append(r["id"])
        for note, ids in by_note.items():
            items.append({"topic": "requirements", "text": f"{', '.join(ids)}: {note}."})
    return items
