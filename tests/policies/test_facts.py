"""Findings grouped by fact (issue 18, point 1): rules of different packs running the same check on
the same subject of one device are one problem, stored with each finding (``findings.fact``) and
read grouped (``queries.problems``). Checked on the assessed lab against its ground truth
(pcaps/lab/lab.truth.yaml) and against the findings table read with SQL of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from appliance.store import queries
from appliance.store.backends import Store, open_store
from appliance.store.queries.scope import CURRENT_FINDINGS
from policies.engine import load_pack
from policies.pack_files import pack_names
from policies.verdicts import SEVERITIES
from tests.support.paths import LAB
from tests.support.run import assessed_lab

TRUTH: dict[str, Any] = yaml.safe_load((LAB / "lab.truth.yaml").read_text())
CHILD_WATCH = "80:41:4e:7c:22:31"
CHECK_OF = {r.id: r.check for name in pack_names() for r in load_pack(name).rules}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = str(tmp_path_factory.mktemp("facts") / "db")
    assessed_lab(path)
    store = open_store(path)
    try:
        yield store
    finally:
        store.close()


def _stored(store: Store) -> list[dict[str, Any]]:
    """The current findings as the table holds them (not through the read API)."""
    return store.query(
        f"""SELECT device_mac, fact, rule_id, severity, finding_id, flow_ids FROM {{db}}.findings
        WHERE assess_id IN ({CURRENT_FINDINGS}) AND rule_id != ''"""
    )


def test_every_finding_has_the_fact_of_its_check(lab: Store) -> None:
    rows = _stored(lab)
    assert rows and all(r["fact"] for r in rows)
    for r in rows:  # the fact names the check its rule runs (the pack files say which)
        assert r["fact"].split(":")[0] == CHECK_OF[r["rule_id"]], r


def test_problems_are_the_distinct_device_and_fact_pairs(lab: Store) -> None:
    rows = _stored(lab)
    pairs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        pairs.setdefault((r["device_mac"], r["fact"]), []).append(r)
    got = queries.problems(lab)
    assert len(got) == len(pairs) < len(rows)  # the lab: 148 findings, far fewer problems
    for p in got:
        members = pairs[(p["device_mac"], p["fact"])]
        assert set(p["rule_ids"]) == {m["rule_id"] for m in members}
        assert {f["finding_id"] for f in p["findings"]} == {m["finding_id"] for m in members}
        assert p["severity"] == min((m["severity"] for m in members), key=SEVERITIES.index)
        assert set(p["flows"]) == {str(f) for m in members for f in m["flow_ids"]}
    ranks = [SEVERITIES.index(p["severity"]) for p in got]
    assert ranks == sorted(ranks)  # worst first
    assert len(queries.problems(lab, device=CHILD_WATCH)) == len({f for d, f in pairs if d == CHILD_WATCH})


def test_the_truths_clauses_of_one_check_are_one_problem(lab: Store) -> None:
    """Each reason of the truth whose rules run one check (clear text: GB/T 35273, ETSI 5.8-2 and
    EN 18031's secure communication) is one problem of the device listing all those rules."""
    reasons: dict[tuple[str, str], set[str]] = {}
    for f in TRUTH["findings"]:
        reasons.setdefault((f["device"], f["reason"]), set()).add(f["rule"])
    got = queries.problems(lab)
    merged = 0
    for (mac, reason), rules in reasons.items():
        checks = {CHECK_OF[r] for r in rules}
        if len(checks) != 1 or len(rules) < 2:
            continue
        mine = [p for p in got if p["device_mac"] == mac and p["check"] in checks]
        assert any(rules <= set(p["rule_ids"]) for p in mine), (mac, reason, rules)
        merged += 1
    assert merged >= 5
    sensitive = [p for p in got if p["device_mac"] == CHILD_WATCH and p["check"] == "cleartext"]
    assert sensitive and all({"GBT-04", "ETSI-5.8-2", "EN18031-SCM"} <= set(p["rule_ids"]) for p in sensitive)
