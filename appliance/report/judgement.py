"""What a report judges and cites: the rule packs that ran, the findings with their rules' clauses,
the verdict per requirement (``policies.verdicts``), provenance, and what could not be assessed."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from typing import Any

from appliance import __version__
from appliance.format import fmt_bytes, fmt_ts
from policies.engine import PackError, load_pack, pack_names, rules_sha256
from policies.model import Pack, Rule
from policies.verdicts import NOT_ASSESSED, REVIEW, Measured, Upload, label, requirement_verdicts
from policies.wording import plural


def packs_that_ran(assessments: list[dict[str, Any]]) -> tuple[dict[str, Pack], bool]:
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
    hashes = {str(a["rules_sha256"]) for a in assessments if a["rules_sha256"]}
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


def finding_row(r: dict[str, Any], packs: dict[str, Pack]) -> dict[str, Any]:
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


def requirements(
    dev: dict[str, Any],
    findings: list[dict[str, Any]],
    assessments: list[dict[str, Any]],
    packs: dict[str, Pack],
    phases: list[dict[str, Any]],
    readable_flows: int,
    unreadable: list[dict[str, Any]],
    uploads: list[dict[str, Any]],
    payloadless: bool = False,
) -> list[dict[str, Any]]:
    """The verdict per requirement (``policies.verdicts``) from what this report gathered: the
    upload bursts on flows it could not read (``traffic.upload_row``) can put one under review;
    ``payloadless``: every capture came from Zeek logs, so content is not assessed."""
    measured = Measured(
        assessed=bool(assessments),
        declared=any(a["declaration_sha256"] for a in assessments),
        marked_phases=frozenset(p["phase"] for p in phases if p["start_ns"]),
        readable_flows=readable_flows,
        encrypted_flows=sum(u["flows"] for u in unreadable if u["encrypted"]),
        uploads=tuple(Upload(str(u["phase"]), str(u["flow_id"]), _kind(u)) for u in uploads),
        payloadless=payloadless,
    )
    rules = [r for p in packs.values() for r in p.rules]
    return [
        {
            "id": v.requirement.id,
            "title": v.requirement.title,
            "title_zh": v.requirement.title_zh,
            "verdict": v.verdict,
            "verdict_zh": v.verdict_zh,
            "severity": v.severity,
            "severity_zh": label(v.severity, "zh") if v.severity else "",
            "findings": v.findings,
            "rules": list(v.rules),
            "note": v.note,
            "note_zh": v.note_zh,
        }
        for v in requirement_verdicts(findings, rules, str(dev["category"]), measured)
    ]


def provenance(
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
                "capture_id": a["capture_id"],
                "assessed_at": fmt_ts(int(a["assess_id"])),
                "rules_sha256": a["rules_sha256"],
                "declaration_sha256": a["declaration_sha256"],
                "pack_versions": list(a["pack_versions"]),
                "findings": int(a["nfindings"]),
            }
            for a in assessments
        ],
    }


def not_assessed(
    captures: list[dict[str, Any]],
    assessments: list[dict[str, Any]],
    requirements: list[dict[str, Any]],
    unreadable: list[dict[str, Any]],
    uploads: list[dict[str, Any]],
    provenance: dict[str, Any],
) -> list[dict[str, Any]]:
    """What the report could not judge, and why: one item per topic, each with its figures."""
    items: list[dict[str, Any]] = []
    done = {a["capture_id"] for a in assessments}
    for c in captures:
        if c["capture_id"] not in done:
            items.append(
                {
                    "topic": "assessment",
                    "text": f"Capture {c['capture_id'][:16]} has not been assessed against the rule packs: "
                    f"run `tapaudit assess --capture {c['capture_id'][:16]}`.",
                }
            )
    if assessments and not any(a["declaration_sha256"] for a in assessments):
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
    for verdict, topic in ((NOT_ASSESSED, "requirements"), (REVIEW, "review")):
        by_note: dict[str, list[str]] = defaultdict(list)
        for r in requirements:
            if r["verdict"] == verdict:
                by_note[r["note"]].append(r["id"])
        for note, ids in by_note.items():
            lead = "" if verdict == NOT_ASSESSED else f" ({verdict})"
            items.append({"topic": topic, "text": f"{', '.join(ids)}{lead}: {note}."})
    return items


def _kind(upload: dict[str, Any]) -> str:
    """An upload's class as a note names it: "unknown, like image" when only its leaning is known."""
    kind, leaning = str(upload["kind"]), str(upload.get("leaning") or "")
    return f"{kind}, like {leaning}" if kind == "unknown" and leaning and leaning != kind else kind
