"""One severity scale, worst first, and the verdict a requirement gets from its findings.

Rule packs, the engine, the checks, the report, the dashboard and the CLI all order severities;
they did it in six places, two of them mildest first. Here the order is written once
(``SEVERITIES``, worst first), with its labels and colours, and the requirement verdicts extend it
with ``pass`` and ``not assessed``. ``requirement_verdicts`` is the judgement the report makes per
requirement: pure (findings, rules and what could be measured in, verdicts out, no store), so the
dashboard and the CLI can give the same verdicts as the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policies.model import Rule
from policies.requirements import REQUIREMENTS, Requirement
from policies.wording import plural

SEVERITIES = ("fail", "high", "medium", "low", "info")  # a finding's severity, worst first
ASCENDING = SEVERITIES[::-1]  # mildest first: how packs, rule errors and `assess --json` list them
PASS = "pass"
NOT_ASSESSED = "not assessed"
VERDICTS = (*SEVERITIES, PASS, NOT_ASSESSED)  # a requirement's verdict, worst first

LABELS = {v: v for v in VERDICTS}
LABELS_ZH = {
    "fail": "不合格",
    "high": "高风险",
    "medium": "中风险",
    "low": "低风险",
    "info": "提示",
    PASS: "通过",
    NOT_ASSESSED: "未评估",
}
COLORS = {  # the dashboard's severity chart, dark (worst) to pale
    "fail": "#7f0000",
    "high": "#d7301f",
    "medium": "#fc8d59",
    "low": "#fdcc8a",
    "info": "#bdbdbd",
}

_RANK = {v: i for i, v in enumerate(VERDICTS)}


def rank(verdict: str) -> int:
    """0 for the worst; unknown values rank after every known one (so they never win ``worst``)."""
    return _RANK.get(verdict, len(VERDICTS))


def worst(verdicts: Iterable[str]) -> str:
    """The worst of some severities or verdicts (ValueError when there are none)."""
    return min(verdicts, key=rank)


def at_least(severity: str, floor: str) -> bool:
    """Whether a severity is as bad as ``floor`` or worse ("high" is at least "medium")."""
    return rank(severity) <= rank(floor)


@dataclass(frozen=True)
class Measured:
    """What the captures behind the verdicts allowed to be measured."""

    assessed: bool  # an assessment is stored for them
    declared: bool  # a product declaration was given to it
    marked_phases: frozenset[str] = field(default_factory=frozenset)  # phases with a start mark
    readable_flows: int = 0  # flows off the LAN whose content was read
    encrypted_flows: int = 0  # flows that could not be read for want of keys


@dataclass(frozen=True)
class RequirementVerdict:
    requirement: Requirement
    verdict: str  # one of VERDICTS
    note: str  # why, in one phrase (may quote a command in backquotes)
    findings: int  # how many findings name the requirement
    rules: tuple[str, ...]  # the rules that judge it for this category (else those of its findings)

    @property
    def verdict_zh(self) -> str:
        return LABELS_ZH[self.verdict]


def requirement_verdicts(
    findings: Sequence[Mapping[str, Any]],
    rules: Iterable[Rule],
    category: str,
    measured: Measured,
    requirements: Sequence[Requirement] = REQUIREMENTS,
) -> list[RequirementVerdict]:
    """The verdict per requirement: the worst severity among its findings; else pass where a rule
    judged it on what it needs, else not assessed, with the reason.

    ``findings`` are mappings with ``severity``, ``requirements`` and ``rule_id`` (the store's rows
    and the report's findings both are); ``rules`` those of the packs that ran.
    """
    applicable = [r for r in rules if r.applies_to(category)]
    out = []
    for req in requirements:
        mine = [f for f in findings if req.id in f["requirements"]]
        judged_by = sorted({r.id for r in applicable if req.id in r.requirements})
        verdict, note = requirement_verdict(req, [str(f["severity"]) for f in mine], judged_by, measured)
        named = judged_by or sorted({str(f["rule_id"]) for f in mine})
        out.append(RequirementVerdict(req, verdict, note, len(mine), tuple(named)))
    return out


def requirement_verdict(
    req: Requirement, severities: Sequence[str], rules: Sequence[str], measured: Measured
) -> tuple[str, str]:
    """One requirement's verdict and its note, from its findings' severities and the rules that judge it."""
    if severities:
        return worst(severities), plural(len(severities), "finding")
    if not measured.assessed:
        return NOT_ASSESSED, "no assessment stored: run `tapaudit assess`"
    if not rules:
        return NOT_ASSESSED, "no rule for this device category in the packs that ran"
    if req.declaration and not measured.declared:
        return NOT_ASSESSED, f"needs the product's declaration ({req.declaration})"
    if req.phases and not measured.marked_phases & set(req.phases):
        return NOT_ASSESSED, f"needs a marked phase: {', '.join(req.phases)}"
    if req.content and measured.readable_flows <= 0:
        return NOT_ASSESSED, "no readable traffic: every flow was encrypted or not dissected"
    note = "its rules raised nothing"
    if req.content and measured.encrypted_flows:
        note += f"; {plural(measured.encrypted_flows, 'encrypted flow')} unread"
    return PASS, note
