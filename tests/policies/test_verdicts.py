"""policies.verdicts: the one severity scale, and a requirement's verdict from its findings and from
what could be measured (each way to pass, fail or stay not assessed)."""

from __future__ import annotations

from typing import Any

import pytest

from policies.model import ALL, Rule
from policies.requirements import BY_ID, REQUIREMENTS
from policies.verdicts import (
    ASCENDING,
    COLORS,
    LABELS_ZH,
    NOT_ASSESSED,
    PASS,
    SEVERITIES,
    VERDICTS,
    Measured,
    at_least,
    rank,
    requirement_verdicts,
    worst,
)

ALL_MEASURED = Measured(
    assessed=True,
    declared=True,
    marked_phases=frozenset({"boot", "idle", "feature_off", "withdraw"}),
    readable_flows=5,
    encrypted_flows=0,
)


def _rule(rid: str, reqs: tuple[str, ...], categories: tuple[str, ...] = (ALL,)) -> Rule:
    return Rule(rid, "pack", rid, "", reqs, (), categories, (ALL,), "check", {}, "medium", "", "")


def _finding(severity: str, *reqs: str, rule: str = "R-1") -> dict[str, Any]:
    return {"severity": severity, "requirements": list(reqs), "rule_id": rule}


def _verdict(req: str, findings: list[dict[str, Any]], measured: Measured, rules: list[Rule] | None = None,
             category: str = "watch") -> tuple[str, str, tuple[str, ...]]:  # fmt: skip
    rules = [_rule("R-1", (req,))] if rules is None else rules
    [v] = requirement_verdicts(findings, rules, category, measured, [BY_ID[req]])
    return v.verdict, v.note, v.rules


def test_scale_is_worst_first_and_labelled() -> None:
    assert SEVERITIES == ("fail", "high", "medium", "low", "info")
    assert ASCENDING == ("info", "low", "medium", "high", "fail")
    assert VERDICTS == ("fail", "high", "medium", "low", "info", "pass", "not assessed")
    assert [rank(v) for v in VERDICTS] == list(range(len(VERDICTS)))
    assert rank("urgent") > rank(NOT_ASSESSED)
    assert set(LABELS_ZH) == set(VERDICTS) and LABELS_ZH["fail"] == "不合格"
    assert list(COLORS) == list(SEVERITIES) and all(c.startswith("#") for c in COLORS.values())


def test_worst_and_at_least() -> None:
    assert worst(["low", "high", "info"]) == "high"
    assert worst(["info", "fail", "medium"]) == "fail"
    assert worst(["pass", "low"]) == "low" and worst(["not assessed", "pass"]) == "pass"
    assert worst(["urgent", "info"]) == "info"  # an unknown value never wins
    with pytest.raises(ValueError):
        worst([])
    assert at_least("high", "medium") and at_least("medium", "medium") and not at_least("low", "medium")
    assert at_least("fail", "info") and not at_least("info", "fail")


def test_failing_findings_give_the_worst_severity() -> None:
    findings = [_finding("medium", "TR-02"), _finding("high", "TR-02", rule="R-2"), _finding("fail", "TR-11")]
    verdict, note, rules = _verdict("TR-02", findings, ALL_MEASURED)
    assert (verdict, note, rules) == ("high", "2 findings", ("R-1",))
    # findings count even where nothing else could be measured, and name their rules when none judges
    verdict, note, rules = _verdict("TR-02", findings, Measured(assessed=False, declared=False), rules=[])
    assert (verdict, note, rules) == ("high", "2 findings", ("R-1", "R-2"))


def test_not_assessed_for_each_missing_measure() -> None:
    none_stored = Measured(assessed=False, declared=True, readable_flows=5)
    assert _verdict("TR-11", [], none_stored)[:2] == (
        NOT_ASSESSED,
        "no assessment stored: run `tapaudit assess`",
    )
    other_category = [_rule("R-1", ("TR-11",), ("speaker",))]
    assert _verdict("TR-11", [], ALL_MEASURED, other_category)[:2] == (
        NOT_ASSESSED,
        "no rule for this device category in the packs that ran",
    )
    undeclared = Measured(assessed=True, declared=False, readable_flows=5)
    assert _verdict("TR-01", [], undeclared)[:2] == (
        NOT_ASSESSED,
        "needs the product's declaration (the consent time)",
    )
    unmarked = Measured(assessed=True, declared=True, marked_phases=frozenset({"boot"}), readable_flows=5)
    assert _verdict("TR-06", [], unmarked)[:2] == (
        NOT_ASSESSED,
        "needs a marked phase: idle, mute, background",
    )
    unread = Measured(assessed=True, declared=True, readable_flows=0, encrypted_flows=7)
    assert _verdict("TR-02", [], unread)[:2] == (
        NOT_ASSESSED,
        "no readable traffic: every flow was encrypted or not dissected",
    )


def test_pass_where_everything_it_needs_was_measured() -> None:
    assert _verdict("TR-06", [], ALL_MEASURED) == (PASS, "its rules raised nothing", ("R-1",))
    some_unread = Measured(assessed=True, declared=True, readable_flows=3, encrypted_flows=2)
    assert _verdict("TR-02", [], some_unread)[:2] == (
        PASS,
        "its rules raised nothing; 2 encrypted flows unread",
    )
    assert _verdict("TR-11", [], some_unread)[:2] == (
        PASS,
        "its rules raised nothing",
    )  # not judged on content


def test_every_requirement_gets_one_verdict_in_order() -> None:
    rules = [_rule(f"R-{r.id}", (r.id,)) for r in REQUIREMENTS]
    verdicts = requirement_verdicts([_finding("low", "TR-03")], rules, "watch", ALL_MEASURED)
    assert [v.requirement.id for v in verdicts] == [r.id for r in REQUIREMENTS]
    by_id = {v.requirement.id: v for v in verdicts}
    assert by_id["TR-03"].verdict == "low" and by_id["TR-03"].verdict_zh == "低风险"
    assert by_id["TR-03"].findings == 1 and by_id["TR-11"].findings == 0
    assert all(v.verdict in VERDICTS for v in verdicts)
