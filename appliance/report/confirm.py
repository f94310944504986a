"""Wireshark's second opinion on each finding in the report (issue 22): the outcome of the check
beside each finding, the count in the summary, every disagreement in "What could not be
assessed", and an appendix with tshark's one-line summaries of each finding's evidence packets.

The rows are the read API's (``appliance.store.queries.findings.confirmations``): the newest
check of each current finding, every value masked when it was written. A disagreement is data: a
finding Wireshark does not confirm stays in the report, counted and listed with its difference.
"""

from __future__ import annotations

from typing import Any

from appliance.report.document import Block, Heading, Paragraph, Run, Runs, Table, col, text
from appliance.store.queries.findings import json_list

CONFIRMED, NOT_CONFIRMED, NOT_CHECKABLE = "confirmed", "not confirmed", "not checkable"  # the contract's
NOT_CHECKED = "not checked"  # no row: Wireshark was not asked
OUTCOMES = (CONFIRMED, NOT_CONFIRMED, NOT_CHECKABLE, NOT_CHECKED)
OUTCOMES_ZH = {CONFIRMED: "已确认", NOT_CONFIRMED: "未确认", NOT_CHECKABLE: "无法核查", NOT_CHECKED: "未核查"}


def confirmation(row: dict[str, Any] | None) -> dict[str, Any]:
    """One finding's check as the report carries it (JSON as it is); "not checked" without a row."""
    if row is None:
        return {"outcome": NOT_CHECKED, "reason": "", "tshark_version": "", "keyed": False, "checked_ns": 0,
                "checks": [], "packets": [], "tree": []}  # fmt: skip
    return {
        "outcome": str(row["outcome"]),
        "reason": str(row["reason"]),
        "tshark_version": str(row["tshark_version"]),
        "keyed": bool(int(row["keyed"])),
        "checked_ns": int(row["checked_ns"]),
        "checks": json_list(row["checks"]),
        "packets": json_list(row["packets"]),
        "tree": json_list(row["tree"]),
    }


def attach(findings: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """Each finding's ``confirmation``, from the read API's rows (matched by finding id)."""
    by_id = {str(r["finding_id"]): r for r in rows}
    for f in findings:
        f["confirmation"] = confirmation(by_id.get(str(f["finding_id"])))


def counts(findings: list[dict[str, Any]]) -> dict[str, int]:
    """How many findings have each outcome (every outcome named, zero or not)."""
    got = [f["confirmation"]["outcome"] for f in findings]
    return {o: got.count(o) for o in OUTCOMES}


def count_line(findings: list[dict[str, Any]]) -> str:
    """The summary's count per outcome; prose: the command that checks the unchecked is code."""
    c = counts(findings)
    hint = " (`tapaudit assess --confirm` checks them)" if c[NOT_CHECKED] else ""
    each = ", ".join(f"{c[o]} {o}" for o in OUTCOMES)
    return f"Wireshark's check of the findings (appendix): {each}{hint}."


def not_confirmed(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One "What could not be assessed" item per finding Wireshark does not confirm: its number,
    rule and id, and the difference (``data``: masked traffic text, drawn as literal text)."""
    items = []
    for i, f in enumerate(findings, 1):
        c = f["confirmation"]
        if c["outcome"] == NOT_CONFIRMED:
            items.append(
                {
                    "topic": "not-confirmed",
                    "text": f"Finding {i} ({f['rule_id']}, id {str(f['finding_id'])[:16]}) is not "
                    f"confirmed by Wireshark (tshark {c['tshark_version'] or '?'}); it stands as tapaudit "
                    "raised it. The difference: ",
                    "data": c["reason"] or "(none given)",
                }
            )
    return items


def outcome_runs(c: dict[str, Any]) -> Runs:
    """The outcome, its reason as literal text, and the tshark that read the packets."""
    runs: Runs = [Run(c["outcome"], "strong"), Run(f" {OUTCOMES_ZH.get(c['outcome'], '')}", "muted")]
    if c["reason"]:
        runs += [Run(": "), Run(c["reason"], "code")]
    if c["tshark_version"]:
        keys = ", with the TLS session keys" if c["keyed"] else ""
        runs += [Run(f" (tshark {c['tshark_version']}{keys})", "muted")]
    return runs


INTRO = (
    "Each finding's evidence packets (`tapaudit evidence`) dissected by Wireshark's tshark, and what the "
    "finding states checked against what Wireshark reads there. Values are masked as in the rest of the "
    "report; a personal value is compared by its keyed hash. "
)
PACKET_COLUMNS = [col("Frame", right=True), col("Time (UTC)", cls="t"), col("Source", cls="id"),
                  col("Destination", cls="id"), col("Protocol", cls="nw"), col("Length", right=True),
                  col("Info", width="40%")]  # fmt: skip
CHECK_COLUMNS = [col("Claim"), col("Wireshark field", cls="id"), col("Finding says"), col("Wireshark reads"),
                 col("Agrees"), col("Frame", right=True)]  # fmt: skip


def appendix(findings: list[dict[str, Any]]) -> list[Block]:
    """Per finding: its check, the claims compared and tshark's summary line of each evidence packet."""
    if not findings:
        return [Paragraph(text("No findings, nothing to check."), muted=True)]
    blocks: list[Block] = [
        Paragraph(
            [Run(INTRO + count_line(findings), "prose")],
            muted=True,
        )
    ]  # fmt: skip
    unchecked = [str(i) for i, f in enumerate(findings, 1) if f["confirmation"]["outcome"] == NOT_CHECKED]
    if len(unchecked) == len(findings):
        blocks.append(Paragraph(text(f"None of the {len(findings)} findings has been checked yet.")))
    elif unchecked:
        blocks.append(Paragraph(text(f"Not checked: findings {', '.join(unchecked)}.")))
    for i, f in enumerate(findings, 1):
        c = f["confirmation"]
        if c["outcome"] == NOT_CHECKED:
            continue
        blocks += [Heading(f"Finding {i}: {f['rule_id']}"), Paragraph([Run("Wireshark's check: "),
                   *outcome_runs(c)])]  # fmt: skip
        if c["checks"]:
            blocks.append(Table(CHECK_COLUMNS, [check_row(k) for k in c["checks"]], cls="dense"))
        if c["packets"]:
            blocks.append(Table(PACKET_COLUMNS, [packet_row(p) for p in c["packets"]], cls="dense"))
    return blocks


def _lit(value: Any) -> Runs:
    """Traffic text, drawn literally (a code span in Markdown, <code> in HTML)."""
    return [Run(str(value), "code")]


def check_row(k: dict[str, Any]) -> list[Runs]:
    return [text(k.get("claim", "")), [Run(str(k.get("field", "")), "id")], _lit(k.get("expected", "")),
            _lit(k.get("seen", "")), text("yes" if k.get("ok") else "NO"),
            text(k.get("frame") or "-")]  # fmt: skip


def packet_row(p: dict[str, Any]) -> list[Runs]:
    """tshark's packet list line: frame, time, source, destination, protocol, length, info."""
    return [text(p.get(k, "")) for k in ("frame", "time", "src", "dst", "protocol", "length")] + [
        _lit(p.get("info", ""))
    ]
