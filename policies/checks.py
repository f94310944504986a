"""The checks rules name: each turns one device's facts into findings with the measured figures.

A check reads a rule's ``params`` (thresholds) and ``phases``; it never changes the
facts. ``CHECKS`` is the explicit registry the packs refer to by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from policies.declaration import Declaration
from policies.model import Facts, Finding, Rule

Check = Callable[[Rule, Facts, Declaration | None], list[Finding]]


def _finding(
    rule: Rule,
    facts: Facts,
    statement: str,
    statement_zh: str,
    figures: dict[str, Any],
    obs: list[dict[str, Any]] | None = None,
    flows: list[dict[str, Any]] | None = None,
    severity: str = "",
) -> Finding:
    """A finding backed by observations and/or flows: their ids, time span and masked excerpts."""
    obs = obs or []
    flows = flows or []
    times = [int(o["ts_ns"]) for o in obs] + [int(f["first_ns"]) for f in flows]
    ids = sorted({int(o["flow_id"]) for o in obs} | {int(f["flow_id"]) for f in flows})
    excerpts = sorted({str(o["excerpt"]) for o in obs if o.get("excerpt")})[:5]
    return Finding(
        rule=rule,
        device=facts.mac,
        severity=severity or rule.severity,
        statement=statement,
        statement_zh=statement_zh,
        figures=figures,
        flow_ids=ids,
        first_ns=min(times) if times else 0,
        last_ns=max(times) if times else 0,
        excerpts=excerpts,
        observations=len(obs),
    )


def sensitive_before_consent(rule: Rule, facts: Facts, decl: Declaration | None) -> list[Finding]:
    """TR-01: personal data (or any third-party contact) before the consent the declaration names."""
    consent = _consent_ns(facts, decl.consent if decl else {})
    if consent is None:
        return []
    early = [o for o in facts.observations if int(o["ts_ns"]) < consent]
    if not early:
        return []
    kinds = sorted({str(o["data_type"]) for o in early})
    dests = sorted({str(o["destination"]) for o in early if o.get("destination")})
    return [
        _finding(
            rule,
            facts,
            f"{len(early)} personal-data values ({', '.join(kinds)}) sent to"
            f" {', '.join(dests) or 'the network'} before consent was given",
            f"在用户同意之前发送了 {len(early)} 项个人信息（{', '.join(kinds)}）",
            {"subject": ",".join(kinds), "values": len(early), "types": kinds, "destinations": dests},
            obs=early,
        )
    ]


def _consent_ns(facts: Facts, moment: dict[str, Any]) -> int | None:
    if "at_ns" in moment:
        return int(moment["at_ns"])
    if "phase" in moment:
        return facts.phase_start(str(moment["phase"]))
    return None


CHECKS: dict[str, Check] = {
    "sensitive_before_consent": sensitive_before_consent,
}
