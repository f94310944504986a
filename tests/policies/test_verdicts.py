"""policies.verdicts: the severity scale and the verdict scale, and a requirement's verdict from its
findings and from what could be measured (each way to fail, need review, pass or stay not assessed)."""

from __future__ import annotations

from typing import Any

import pytest

from policies.engine import load_pack, pack_names
from policies.model import ALL, Rule
from policies.requirements import BY_ID, REQUIREMENTS
from policies.verdicts import (
    ASCENDING,
    COLORS,
    FAIL,
    LABELS,
    NOT_ASSESSED,
    PASS,
    REVIEW,
    SEVERITIES,
    VERDICTS,
    Measured,
    Upload,
    at_least,
    label,
    rank,
    requirement_verdicts,
    verdict_rank,
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


def _finding(severity: str, *reqs: str, rule: str = "R-1", flows: tuple[int, ...] = ()) -> dict[str, Any]:
    return {"severity": severity, "requirements": list(reqs), "rule_id": rule, "flow_ids": list(flows)}


def _verdict(req: str, findings: list[dict[str, Any]], measured: Measured, rules: list[Rule] | None = None,
             category: str = "watch") -> tuple[str, str, tuple[str, ...]]:  # fmt: skip
    rules = [_rule("R-1", (req,))] if rules is None else rules
    [v] = requirement_verdicts(findings, rules, category, measured, [BY_ID[req]])
    return v.verdict, v.note, v.rules


def test_scales_are_worst_first_and_labelled() -> None:
    assert SEVERITIES == ("fail", "high", "medium", "low", "info")
    assert ASCENDING == ("info", "low", "medium", "high", "fail")
    # a verdict is never a risk level: the only word the two scales share is the spec's "fail"
    assert VERDICTS == ("fail", "review", "pass", "not assessed")
    assert set(VERDICTS) & set(SEVERITIES) == {"fail"}
    assert [rank(s) for s in SEVERITIES] == list(range(len(SEVERITIES)))
    assert [verdict_rank(v) for v in VERDICTS] == list(range(len(VERDICTS)))
    assert rank("urgent") > rank("info") and verdict_rank("high") > verdict_rank(NOT_ASSESSED)
    assert set(LABELS) == set(SEVERITIES) | set(VERDICTS) == set(COLORS)
    assert label("fail", "zh") == "不合格" and label(REVIEW, "zh") == "待复核" and label(PASS) == "pass"
    assert label("urgent", "zh") == "urgent"
    assert all(c.startswith("#") and len(c) == 7 for c in COLORS.values())


def test_worst_and_at_least() -> None:
    assert worst(["low", "high", "info"]) == "high"
    assert worst(["info", "fail", "medium"]) == "fail"
    assert worst(["urgent", "info"]) == "info"  # an unknown value never wins
    with pytest.raises(ValueError):
        worst([])
    assert at_least("high", "medium") and at_least("medium", "medium") and not at_least("low", "medium")
    assert at_least("fail", "info") and not at_least("info", "fail")


def test_findings_fail_the_requirement_and_give_their_worst_severity_beside() -> None:
    findings = [_finding("medium", "TR-02"), _finding("high", "TR-02", rule="R-2"), _finding("fail", "TR-11")]
    verdict, note, rules = _verdict("TR-02", findings, ALL_MEASURED)
    assert (verdict, note, rules) == (FAIL, "2 findings, the worst high", ("R-1",))
    [v] = requirement_verdicts(findings, [_rule("R-1", ("TR-02",))], "watch", ALL_MEASURED, [BY_ID["TR-02"]])
    assert (v.verdict, v.severity, v.findings, v.verdict_zh) == (FAIL, "high", 2, "不合格")
    # findings count even where nothing else could be measured, and name their rules when none judges
    verdict, note, rules = _verdict("TR-02", findings, Measured(assessed=False, declared=False), rules=[])
    assert (verdict, note, rules) == (FAIL, "2 findings, the worst high", ("R-1", "R-2"))


def test_info_findings_alone_ask_for_review() -> None:
    verdict, note, _ = _verdict("TR-04", [_finding("info", "TR-04")], ALL_MEASURED)
    assert (verdict, note) == (REVIEW, "1 finding at info only: a person judges whether it is met")
    assert _verdict("TR-04", [_finding("info", "TR-04"), _finding("low", "TR-04")], ALL_MEASURED)[0] == FAIL


def test_unexplained_encrypted_uploads_in_its_phases_ask_for_review() -> None:
    up = Measured(
        assessed=True,
        declared=True,
        marked_phases=frozenset({"feature_on", "feature_off"}),
        readable_flows=5,
        uploads=(Upload("feature_off", "11", "image"), Upload("feature_off", "12", "bulk"),
                 Upload("feature_on", "13", "video")),
    )  # fmt: skip
    assert _verdict("TR-05", [], up)[:2] == (
        REVIEW,
        "2 encrypted uploads (bulk, image) in feature_off that no finding explains: "
        "its rules could not read what they carry",
    )
    # an upload in a phase the requirement does not cover (the feature in use) is not its business
    only_on = Measured(
        True, True, frozenset({"feature_on", "feature_off"}), 5, 0, (Upload("feature_on", "13", "video"),)
    )
    assert _verdict("TR-05", [], only_on)[0] == PASS
    # nor is it for a requirement judged over the whole capture
    assert _verdict("TR-11", [], up)[0] == PASS
    # an upload a finding names is explained; a finding of severity info names it here
    named = [_finding("info", "TR-05", flows=(11, 12))]
    assert _verdict("TR-05", named, up)[0] == REVIEW  # the info finding itself asks for review
    one = Measured(True, True, frozenset({"feature_off"}), 5, 0, (Upload("feature_off", "11", "image"),))
    assert (
        _verdict("TR-05", [_finding("info", "TR-02", flows=(11,))], one)[0] == REVIEW
    )  # another requirement's


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
        "needs one of these phases marked: idle, mute (the phases file, `replay --phases`), "
        "then assess again",
    )
    # switch-off is marked, withdrawal and deletion are not: TR-15's rules had nothing to look at
    switched_off = Measured(True, True, frozenset({"boot", "feature_off", "reset"}), 5)
    assert _verdict("TR-15", [], switched_off)[0] == NOT_ASSESSED
    assert _verdict("TR-05", [], switched_off)[0] == PASS
    no_phases = Measured(assessed=True, declared=True, readable_flows=5)
    assert _verdict("TR-01", [], no_phases)[:2] == (
        NOT_ASSESSED,
        "needs the test phases marked (the declared consent, given as a phase): "
        "replay with `--phases`, then assess again",
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
    assert by_id["TR-03"].verdict == FAIL and by_id["TR-03"].severity == "low"
    assert by_id["TR-03"].findings == 1 and by_id["TR-11"].findings == 0
    assert all(v.verdict in VERDICTS for v in verdicts)
    assert {v.severity for v in verdicts} == {"low", ""}


def test_every_requirement_declares_what_it_needs() -> None:
    """Each TR names its evidence: a phase-judged one names phases its rules look at, and only
    those whose breach an encrypted upload could hide are reviewed on uploads."""
    for r in REQUIREMENTS:
        assert not (r.uploads and not r.phases), r.id
        assert r.uploads_in == (r.phases if r.uploads else ())
    assert {r.id for r in REQUIREMENTS if r.uploads} == {"TR-05", "TR-06", "TR-15"}
    assert {r.id for r in REQUIREMENTS if r.timeline} == {"TR-01", "TR-14"}
    # the phases a requirement needs are those its rules in the packs look at
    rules = [r for name in pack_names() for r in load_pack(name).rules]
    for req in (r for r in REQUIREMENTS if r.phases):
        looked = set()
        for rule in (r for r in rules if req.id in r.requirements):
            looked |= set(rule.params.get("withdraw_phases") or ()) | (set(rule.phases) - {ALL})
        assert set(req.phases) <= looked, (req.id, sorted(set(req.phases) - looked))
    assert set(BY_ID["TR-15"].phases) == {"withdraw", "consent_withdrawn", "delete", "account_deleted"}


def test_content_is_not_assessed_on_captures_from_zeek_logs() -> None:
    from dataclasses import replace

    from policies.verdicts import PAYLOADLESS

    logs = replace(ALL_MEASURED, payloadless=True)
    assert _verdict("TR-02", [], logs)[:2] == (NOT_ASSESSED, PAYLOADLESS)
    assert _verdict("TR-02", [], ALL_MEASURED)[0] == PASS  # the same with payloads passes
    assert _verdict("TR-11", [], logs)[0] == PASS  # encryption in transit is judged on connections
    assert _verdict("TR-02", [_finding("high", "TR-02")], logs)[0] == FAIL  # a breach the logs show stands
