"""The policy commands: assess stored captures against the packs, list the findings."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from appliance.cli.common import (
    EXIT_FINDINGS,
    DbOpt,
    DeviceOpt,
    Fail,
    JsonOpt,
    err,
    fmt_hash,
    fmt_mac,
    fmt_ts,
    mac_opt,
    note,
    open_db,
    out,
    print_json,
    table,
    time_col,
)
from policies.pack_files import pack_names
from policies.verdicts import ASCENDING, SEVERITIES, at_least

if TYPE_CHECKING:  # imported where used: the store, the engine's run and Wireshark's check (issue 18)
    from appliance.findings.confirm import Outcome
    from appliance.store.backends import Store

DeclarationOpt = Annotated[
    list[str] | None,
    typer.Option("--declaration", help="A product declaration (YAML) or a folder of them; repeatable."),
]
PackOpt = Annotated[
    list[str] | None,
    typer.Option("--pack", help=f"Rule pack to run (repeatable; default all: {', '.join(pack_names())})."),
]


def fail_on(severities: list[str], floor: str | None) -> None:
    """``--fail-on SEVERITY``: exit with EXIT_FINDINGS (after the output) when a finding is at or
    above ``floor`` (``policies.verdicts``), so a product team's CI can stop on it."""
    if floor is None:
        return
    n = sum(at_least(s, floor) for s in severities)
    if n:
        note(f"{n:,} finding{'s' if n != 1 else ''} at or above {floor} (--fail-on {floor})")
        raise typer.Exit(EXIT_FINDINGS)


def _severity(value: str | None) -> str | None:
    """``--fail-on`` names one of the severities (a usage error otherwise, exit 2)."""
    if value is not None and value not in SEVERITIES:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(SEVERITIES)}")
    return value


FailOnOpt = Annotated[
    str | None,
    typer.Option(
        "--fail-on",
        callback=_severity,
        help=f"Exit with code {EXIT_FINDINGS} when a finding is at or above this severity "
        f"({', '.join(SEVERITIES)}): for a product's CI.",
        show_default=False,
    ),
]


def assess_cmd(
    capture: Annotated[
        list[str] | None, typer.Option("--capture", help="Capture id (sha256 or its prefix); default all.")
    ] = None,
    declaration: DeclarationOpt = None,
    pack: PackOpt = None,
    fail_on_severity: FailOnOpt = None,
    confirm: Annotated[
        bool,
        typer.Option(
            "--confirm",
            help="Then have Wireshark (tshark) dissect each finding's evidence packets and check what it "
            "states; one process per finding, as many at once as the machine has cores. Slow.",
        ),
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Judge stored captures against the rule packs and store the findings (replacing earlier ones).
    With --fail-on, exit 3 when a finding is at or above that severity."""
    from appliance.findings.assess import assess
    from appliance.findings.confirm import OUTCOMES
    from appliance.store import queries
    from policies.declaration import load_declarations

    decls = load_declarations(declaration or [])
    confirmed: dict[str, str] = {}
    with open_db(db) as store:
        ids = _captures(store, capture)
        results = [assess(store, cid, pack, decls) for cid in ids]
        if confirm:
            confirmed = confirm_findings(store, [f["finding_id"] for f in queries.findings(store, ids)])
    doc: list[dict[str, Any]] = [
        {
            "capture_id": a.capture_id,
            "packs": {p.id: p.version for p in a.packs},
            "rules_sha256": a.rules_sha256,
            "findings": {s: sum(f.severity == s for f in a.findings) for s in ASCENDING},
        }
        for a in results
    ]
    if confirm:
        for d in doc:
            d["confirmations"] = {o: sum(v == o for v in confirmed.values()) for o in OUTCOMES}
    if as_json:
        print_json(doc)
    else:
        for d in doc:
            counts = ", ".join(f"{n} {s}" for s, n in d["findings"].items() if n) or "no findings"
            out.print(f"{d['capture_id'][:12]}: {counts} (rules {d['rules_sha256'][:12]})")
        if confirm:
            n = {o: sum(v == o for v in confirmed.values()) for o in OUTCOMES}
            out.print("Wireshark: " + ", ".join(f"{k} {o}" for o, k in n.items()))
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
    from appliance.store import queries
    from appliance.store.queries.findings import confirmations

    if severity and severity not in ASCENDING:
        raise Fail(f"--severity must be one of {', '.join(ASCENDING)}")
    mac = mac_opt(device)
    with open_db(db) as store:
        rows = queries.findings(store, device=mac, severity=severity)
        checked = {str(c["finding_id"]): c for c in confirmations(store)}
    for r in rows:
        r["figures"] = json.loads(str(r["figures"]) or "{}")
        c = checked.get(str(r["finding_id"]))
        r["wireshark"] = (
            {"outcome": c["outcome"], "reason": c["reason"], "tshark_version": c["tshark_version"]}
            if c
            else None
        )
    if as_json:
        print_json(rows)
    elif not rows:
        out.print("No findings (run `tapaudit assess` after a replay).")
    else:
        heads = (
            "Severity",
            "Device",
            "Rule",
            "Requirement",
            "Statement",
            time_col("First"),
            "Wireshark",
            "Id",
        )
        t = table("Findings", heads)
        for r in rows:
            t.add_row(
                str(r["severity"]),
                fmt_mac(str(r["device_mac"])),
                str(r["rule_id"]),
                ", ".join(r["requirements"]),
                str(r["statement"]),
                fmt_ts(int(r["first_ns"])),
                _badge(r["wireshark"]),
                fmt_hash(str(r["finding_id"]), 16, mark=""),  # a prefix `evidence` takes
            )
        out.print(t)
    fail_on([str(r["severity"]) for r in rows], fail_on_severity)


def _badge(c: dict[str, Any] | None) -> str:
    """The Wireshark check in a cell: its outcome, and what differs or why it could not be checked."""
    if not c:
        return "-"
    return str(c["outcome"]) + (f": {c['reason']}" if c["reason"] else "")


def confirm_findings(store: Store, finding_ids: list[str]) -> dict[str, str]:
    """Wireshark's check of each finding, with a progress bar on stderr; finding id -> outcome."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from appliance.findings.confirm import confirm_all
    from appliance.findings.evidence import EvidenceError
    from appliance.findings.tshark_read import TsharkError

    outcomes: dict[str, str] = {}
    bar = Progress(
        TextColumn("Wireshark check"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=True,
    )  # fmt: skip
    with bar:
        task = bar.add_task("", total=len(finding_ids))

        def step(fid: str, res: Outcome) -> None:
            outcomes[fid] = res.outcome
            bar.advance(task)

        try:
            confirm_all(store, finding_ids, step=step)
        except (TsharkError, EvidenceError) as exc:
            raise Fail(str(exc)) from None
    return outcomes


def _captures(store: Store, wanted: list[str] | None) -> list[str]:
    from appliance.store import queries

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
