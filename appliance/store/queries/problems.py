"""Findings grouped by problem (issue 18, point 1): one row per device and fact, whichever packs
rule on it, so the count a user sees is the count of distinct problems, not of packs' clauses.

A fact is the check a rule runs and the subject it found (``policies.model.fact_key``), written
with each finding (``findings.fact``, schema 20). Findings assessed before it have no fact and each
stays a problem of its own (``finding:<id>``) until the capture is assessed again.
"""

from __future__ import annotations

import json
from typing import Any

from appliance.store.backends import Store
from appliance.store.queries.findings import findings
from appliance.store.queries.scope import Rows


def problems(
    store: Store, capture_ids: list[str] | None = None, device: str | None = None, reveal: bool = False
) -> Rows:
    """One row per (device, fact) of the current findings, worst first: ``device_mac``, ``fact``,
    ``check``, ``subject``; ``severity`` the worst of its findings; ``rule_ids``, ``packs``,
    ``requirements`` every pack and clause that rules on it; ``statement``, ``statement_zh`` and
    ``figures`` (parsed) of its worst finding; the union of ``flows`` and ``excerpts`` (masked
    unless ``reveal``), ``first_ns``/``last_ns`` over all, ``observations`` the most any finding
    counted; ``findings`` its findings as ``findings`` gives them, worst first."""
    return group(findings(store, capture_ids, device, reveal=reveal))


def group(rows: Rows) -> Rows:
    """Findings (rows of ``queries.findings``, each with its ``fact``) grouped by device and fact."""
    # imported here: the package imports this module, and the verdicts bring the packs' model and
    # wording, 5 ms of every replay's start that reads devices only (issue 20, point 3)
    from policies.verdicts import rank

    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        fact = str(r.get("fact") or "") or f"finding:{r['finding_id']}"
        by.setdefault((str(r["device_mac"]), fact), []).append(r)
    out = [_one(mac, fact, sorted(members, key=lambda m: rank(str(m["severity"]))))
           for (mac, fact), members in by.items()]  # fmt: skip
    out.sort(key=lambda g: (rank(str(g["severity"])), str(g["device_mac"]), str(g["fact"])))
    return out


def _one(mac: str, fact: str, members: list[dict[str, Any]]) -> dict[str, Any]:
    from policies.verdicts import worst  # loaded by ``group``, the one caller

    lead = members[0]
    check, _, subject = fact.partition(":")
    starts = [int(m["first_ns"]) for m in members if int(m["first_ns"])]
    try:
        figures = json.loads(str(lead["figures"]) or "{}")
    except ValueError:
        figures = {}
    return {
        "device_mac": mac,
        "fact": fact,
        "check": check,
        "subject": subject,
        "severity": worst(str(m["severity"]) for m in members),
        "rule_ids": _union(m["rule_id"] for m in members),
        "packs": _union(m["pack"] for m in members),
        "requirements": _union(q for m in members for q in m["requirements"]),
        "statement": str(lead["statement"]),
        "statement_zh": str(lead["statement_zh"]),
        "figures": figures if isinstance(figures, dict) else {},
        "flows": sorted({str(f) for m in members for f in m["flows"]}, key=int),
        "excerpts": _union(e for m in members for e in m["excerpts"]),
        "first_ns": min(starts) if starts else 0,
        "last_ns": max(int(m["last_ns"]) for m in members),
        "observations": max(int(m["observations"]) for m in members),
        "capture_ids": _union(m["capture_id"] for m in members),
        "findings": members,
    }


def _union(values: Any) -> list[str]:
    return sorted({str(v) for v in values})
