"""The lab judged against its declarations: every expected finding raised, nothing else above info.

The expected findings are the generator's (``pcaps/synth/scenario.py``): each deliberate
gap between what a product declares and what the generator makes it send, with the
rule and severity that gap must raise. The test prints the confusion table.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import yaml

from appliance.store import queries
from appliance.store.backends import open_store
from tests.support.paths import LAB
from tests.support.run import assessed_lab

Judged = tuple[list[dict[str, Any]], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> Judged:
    path = str(tmp_path_factory.mktemp("findings") / "db")
    assessed_lab(path)
    store = open_store(path)
    try:
        found = queries.findings(store)
    finally:
        store.close()
    truth = yaml.safe_load((LAB / "lab.truth.yaml").read_text())
    return truth["findings"], found


def test_expected_findings_and_nothing_else(
    judged: Judged,
) -> None:
    expected, found = judged
    want = Counter((e["device"], e["rule"], e["severity"]) for e in expected)
    raised = Counter((str(f["device_mac"]), str(f["rule_id"]), str(f["severity"])) for f in found
                     if f["severity"] != "info")  # fmt: skip
    rules = sorted({k[1] for k in want} | {k[1] for k in raised})
    print(f"\n{'rule':16} {'expected':>8} {'raised':>6} {'matched':>7} {'missed':>6} {'extra':>5}")
    for rule in rules:
        w = {k for k in want if k[1] == rule}
        r = {k for k in raised if k[1] == rule}
        print(f"{rule:16} {len(w):>8} {len(r):>6} {len(w & r):>7} {len(w - r):>6} {len(r - w):>5}")
    missed = sorted(set(want) - set(raised))
    extra = sorted(set(raised) - set(want))
    print(f"{'all':16} {len(want):>8} {len(raised):>6} {len(set(want) & set(raised)):>7} "
          f"{len(missed):>6} {len(extra):>5}")  # fmt: skip
    reasons = {(e["device"], e["rule"], e["severity"]): e["reason"] for e in expected}
    assert not missed, [(m, reasons[m]) for m in missed]
    assert not extra, [
        (x, [f["statement"] for f in found if (f["device_mac"], f["rule_id"], f["severity"]) == x])
        for x in extra
    ]


def test_findings_carry_figures_and_evidence(
    judged: Judged,
) -> None:
    _expected, found = judged
    assert found
    for f in found:
        assert f["statement"] and f["statement_zh"] and f["rules_sha256"] and f["pack_version"]
        assert f["flows"] and f["first_ns"] <= f["last_ns"], f
        assert any(ch.isdigit() for ch in str(f["statement"])), f["statement"]  # the measured figures


def test_statements_count_messages_not_values(judged: Judged) -> None:
    """A request carrying several values is sent once: "N times" counts the messages (the truth's
    distinct send times), and the values are a figure of their own."""
    _expected, found = judged
    truth = yaml.safe_load((LAB / "lab.truth.yaml").read_text())
    watch = "80:41:4e:7c:22:31"  # imoo Kids Watch Z7: cell towers in lists, identifiers at boot

    def sent(types: set[str], phases: set[str], dest: str | None = None) -> int:
        return len({(o["ts"], o["destination"]) for o in truth["observations"]
                    if o["device"] == watch and o["data_type"] in types and o["phase"] in phases
                    and dest in (None, o["destination"])})  # fmt: skip

    def finding(rule: str, subject: str) -> dict[str, Any]:
        [f] = [f for f in found if f["device_mac"] == watch and f["rule_id"] == rule
               and json.loads(str(f["figures"]))["subject"] == subject]  # fmt: skip
        return f

    towers = finding("ETSI-6-5", "cell_tower")
    figs = json.loads(str(towers["figures"]))
    n = sent({"cell_tower"}, {"idle", "background"})
    assert figs["messages"] == n and figs["values"] > n  # several towers per request
    assert f" {n} times (idle, background)" in str(towers["statement"])
    assert f"发送了 {n} 次基站信息" in str(towers["statement_zh"])
    early = finding("CN25-11", "before consent:api.watch.imoo.com")
    ids = {"iccid", "imei", "imsi", "meid"}
    n = sent(ids, {"boot"}, "api.watch.imoo.com")
    assert json.loads(str(early["figures"]))["messages"] == n
    assert f"sent to api.watch.imoo.com {n} times before consent" in str(early["statement"])
