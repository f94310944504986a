"""Run the policy packs over a stored capture: facts per device from the read API, findings back.

The facts are read once per device (observations, measures, flows, periods, uploads,
phases) and handed to the pure engine (``policies.engine``); its findings are stored
with the packs' versions and hash and the declaration's hash. A new assessment of a
capture replaces the previous one for readers (``queries.CURRENT_FINDINGS``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from appliance.measures import shapes
from appliance.store import queries
from appliance.store.backends import Store
from appliance.store.schema import FINDINGS
from policies.declaration import Declaration
from policies.engine import evaluate, load_pack, pack_names, rules_sha256
from policies.model import Facts, Finding, Pack, PhaseSpan


@dataclass
class Assessment:
    capture_id: str
    assess_id: int
    packs: list[Pack]
    rules_sha256: str
    findings: list[Finding]


def gather(store: Store, capture_id: str, device: dict[str, Any]) -> Facts:
    """Everything the rules may look at for one device of one capture."""
    mac = str(device["mac"])
    caps = [capture_id]
    measures = [
        {
            "data_type": m["data_type"],
            "organisation": m["organisation"],
            "phase": m["phase"],
            "reports": int(m["reports"]),
            "median_gap_s": float(m["median_gap_ns"]) / 1e9,
            "min_gap_s": float(m["min_gap_ns"]) / 1e9,
            "longest_run_s": float(m["longest_run_ns"]) / 1e9,
            "max_decimals": int(m["max_decimals"]),
            "best_metres": float(m["best_metres"]),
            "first_ns": int(m["first_ns"]),
            "last_ns": int(m["last_ns"]),
            "enc_share": float(m["enc_share"]),
            "abroad_share": float(m["abroad_share"]),
            "third_share": float(m["third_share"]),
            "reports_per_hour": float(m["reports_per_hour"]),
        }
        for m in queries.measures(store, caps, mac)
    ]
    tests = queries.tls_tests(store, caps, mac)
    # a TLS 1.0/1.1-only test was the interceptor's choice of version, not the device's: its flows
    # are judged by the tls_test_accepted rules, not again as the device's old TLS
    imposed = {int(t["flow_id"]) for t in tests if t["test"] == "legacy-tls" and int(t["flow_id"])}
    return Facts(
        capture_id=capture_id,
        device={k: device.get(k, "") for k in ("mac", "name", "category", "vendor", "model", "firmware")},
        phases=[
            PhaseSpan(str(p["phase"]), int(p["start_ns"]), int(p["end_ns"]))
            for p in queries.phase_spans(store, capture_id, mac)
        ],
        observations=[
            o for o in queries.fact_observations(store, capture_id, mac) if int(o["flow_id"]) not in imposed
        ],
        measures=measures,
        flows=[f for f in queries.fact_flows(store, capture_id, mac) if int(f["flow_id"]) not in imposed],
        periods=[p for p in shapes.periods(store, caps, mac)],
        uploads=shapes.uploads(store, caps, mac),
        tls_tests=tests,
    )


def assess(
    store: Store,
    capture_id: str,
    pack_ids: Sequence[str] | None = None,
    declarations: Sequence[Declaration] = (),
) -> Assessment:
    """Evaluate the packs on every device under test of one capture and store the findings.

    Each device is judged against the declaration that names its MAC (or one naming
    no device at all); a device without a declaration gets only what needs none.
    """
    packs = [load_pack(p) for p in (pack_ids or pack_names())]
    digest = rules_sha256(packs)
    assess_id = time.time_ns()
    ingest = _ingest_of(store, capture_id)
    found: list[Finding] = []
    used: dict[str, Declaration] = {}
    for dev in queries.devices(store, [capture_id]):
        if dev["role"] != "device":
            continue
        decl = declaration_for(declarations, str(dev["mac"]))
        if decl is not None:
            used[decl.sha256] = decl
        found += evaluate(packs, gather(store, capture_id, dev), decl)
    decl_hash = _combined(list(used.values()))
    versions = {p.id: p.version for p in packs}
    run = {"capture_id": capture_id, "ingest_id": ingest, "assess_id": assess_id, "rules_sha256": digest,
           "declaration_sha256": decl_hash}  # fmt: skip
    rows: list[tuple[Any, ...]] = [
        FINDINGS.row(
            **run,
            finding_id=f.id,
            device_mac=f.device,
            rule_id=f.rule.id,
            fact=f.fact,
            pack=f.rule.pack,
            pack_version=versions[f.rule.pack],
            severity=f.severity,
            requirements=list(f.rule.requirements),
            statement=f.statement,
            statement_zh=f.statement_zh,
            figures=json.dumps(f.figures, sort_keys=True, default=str, ensure_ascii=False),
            flow_ids=f.flow_ids,
            first_ns=f.first_ns,
            last_ns=f.last_ns,
            excerpts=f.excerpts,
            observations=f.observations,
        )
        for f in found
    ]
    if not rows:  # an assessment with nothing to say still replaces the previous one
        rows = [FINDINGS.row(**run, finding_id="", device_mac="", rule_id="", fact="", pack="",
                             pack_version="", severity="none", requirements=[], statement="", statement_zh="",
                             figures="{}",
                             flow_ids=[], first_ns=0, last_ns=0, excerpts=[], observations=0)]  # fmt: skip
    store.insert("findings", rows)
    return Assessment(capture_id, assess_id, packs, digest, found)


def declaration_for(declarations: Sequence[Declaration], mac: str) -> Declaration | None:
    """The declaration naming this device, else one that names no device, else None."""
    named = [d for d in declarations if mac in d.devices]
    if named:
        return named[0]
    return next((d for d in declarations if not d.devices), None)


def _combined(decls: list[Declaration]) -> str:
    """One hash over the declarations used (one: its own sha256; none: '')."""
    if len(decls) <= 1:
        return decls[0].sha256 if decls else ""
    return hashlib.sha256("".join(sorted(d.sha256 for d in decls)).encode()).hexdigest()


def _ingest_of(store: Store, capture_id: str) -> int:
    rows = store.query(
        f"SELECT max(ingest_id) AS i FROM {{db}}.captures WHERE capture_id = %(c)s AND {queries.COMMITTED}",
        {"c": capture_id},
    )
    return int(rows[0]["i"]) if rows else 0
