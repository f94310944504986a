"""The policy commands: assess stored captures against the packs, list the findings."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer

from appliance.cli.common import (
    DbOpt,
    DeviceOpt,
    Fail,
    FailOnOpt,
    JsonOpt,
    fail_on,
    fmt_ts,
    mac_opt,
    open_db,
    out,
    print_json,
    table,
)
from appliance.findings.assess import assess
from appliance.store import queries
from appliance.store.backends import Store
from policies.declaration import load_declarations
from policies.engine import pack_names
from policies.verdicts import ASCENDING

DeclarationOpt = Annotated[
    list[str] | None,
    typer.Option("--declaration", help="A product declaration (YAML) or a folder of them; repeatable."),
]
PackOpt = Annotated[
    list[str] | None,
    typer.Option("--pack", help=f"Rule pack to run (repeatable; default all: {', '.join(pack_names())})."),
]


def assess_cmd(
    capture: Annotated[
        list[str] | None, typer.Option("--capture", help="Capture id (sha256 or its prefix); default all.")
    ] = None,
    declaration: DeclarationOpt = None,
    pack: PackOpt = None,
    fail_on_severity: FailOnOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Judge stored captures against the rule packs and store the findings (replacing earlier ones).
    With --fail-on, exit 3 when a finding is at or above that severity."""
    decls = load_declarations(declaration or [])
    with open_db(db) as store:
        ids = _captures(store, capture)
        results = [assess(store, cid, pack, decls) for cid in ids]
    doc: list[dict[str, Any]] = [
        {
            "capture_id": a.capture_id,
            "packs": {p.id: p.version for p in a.packs},
            "rules_sha256": a.rules_sha256,
            "findings": {s: sum(f.severity == s for f in a.findings) for s in ASCENDING},
        }
        for a in results
    ]
    if as_json:
        print_json(doc)
    else:
        for d in doc:
            counts = ", ".join(f"{n} {s}" for s, n in d["findings"].items() if n) or "no findings"
            out.print(f"{d['capture_id'][:12]}: {counts} (rules {d['rules_sha256'][:12]})")
    fail_on([f.severity for a in results for f in a.findings], fail_on_severity)


def findings_cmd(
    device: DeviceOpt = None,
    severity: Annotated[str | None, typer.Option("--severity", help="Only this severity.")] = None,
    fail_on_severity: FailOnOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The current findings, most severe first: rule, statement with figures, evidence.
    With --fail-on, exit 3 when one of those listed is at or above that severity."""
    if severity and severity not in ASCENDING:
        raise Fail(f"--severity must be one of {', '.join(ASCENDING)}")
    mac = mac_opt(device)
    with open_db(db) as store:
        rows = queries.findings(store, device=mac, severity=severity)
    for r in rows:
        r["figures"] = json.loads(str(r["figures"]) or "{}")
    if as_json:
        print_json(rows)
    elif not rows:
        out.print("No findings (run `tapaudit assess` after a replay).")
    else:
        t = table("Findings", ("Severity", "Device", "Rule", "Requirement", "Statement", "First (UTC)", "Id"))
        for r in rows:
            t.add_row(
                str(r["severity"]),
                str(r["device_mac"]),
                str(r["rule_id"]),
                ", ".join(r["requirements"]),
                str(r["statement"]),
                fmt_ts(int(r["first_ns"])),
                str(r["finding_id"]),
            )
        out.print(t)
    fail_on([str(r["severity"]) for r in rows], fail_on_severity)


def _captures(store: Store, wanted: list[str] | None) -> list[str]:
    have = [str(c["capture_id"]) for c in queries.captures(store)]
    if not wanted:
        if not have:
            raise Fail("no captures stored: replay one first")
        return have
    out_ids = []
    for w in wanted:
        match = [c for c in have if c.startswith(w.lower())]
        if len(match) != 1:
            raise Fail(f"--capture {w}: {'no' if not match else 'more than one'} stored capture matches")
        out_ids.append(match[0])
    return out_ids


COMMANDS: dict[str, Callable[..., None]] = {"assess": assess_cmd, "findings": findings_cmd}
