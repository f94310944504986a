"""The lab's requirement verdicts with and without the evidence they need (TR-05, TR-15, TR-01).

The lab is replayed three ways: with its phases file; with none, so the phase-dependent
requirements cannot be assessed; and with a background phase put around one of the camera's
encrypted snapshot uploads (its time from the generator's truth file), which no rule reads: the
switch-off requirement then needs review. The verdicts are the report's (``gather``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from appliance.report.data import gather
from appliance.store.backends import open_store
from policies.verdicts import FAIL, NOT_ASSESSED, PASS, REVIEW
from tests.support.paths import LAB
from tests.support.run import assessed_lab

CHILD_WATCH = "80:41:4e:7c:22:31"  # imoo Kids Watch Z7 (pcaps/lab/lab.bench.yaml)
CAMERA = "64:f2:fb:66:55:61"  # EZVIZ C6 camera
pytestmark = pytest.mark.xdist_group("lab-verdicts")  # one worker: the replays are shared by the module


def _verdicts(tmp: Path, phases: bool | Path, mac: str) -> dict[str, dict[str, Any]]:
    path = str(tmp / "db")
    assessed_lab(path, phases)
    store = open_store(path)
    try:
        return {q["id"]: q for q in gather(store, mac).requirements}
    finally:
        store.close()


@pytest.fixture(scope="module")
def with_phases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return _verdicts(tmp_path_factory.mktemp("phases"), True, CHILD_WATCH)


@pytest.fixture(scope="module")
def without_phases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return _verdicts(tmp_path_factory.mktemp("nophases"), False, CHILD_WATCH)


def test_without_the_phases_file_the_phase_dependent_requirements_are_not_assessed(
    without_phases: dict[str, dict[str, Any]], with_phases: dict[str, dict[str, Any]]
) -> None:
    # with the lab's phases (boot, idle, feature_on, feature_off, background) they are judged:
    # switch-off passes, the boot-time sending before the consent (declared as the idle phase) fails
    assert with_phases["TR-05"]["verdict"] == PASS
    assert with_phases["TR-01"]["verdict"] == FAIL and with_phases["TR-01"]["severity"] == "high"
    assert with_phases["TR-03"]["verdict"] == FAIL
    # without them, the consent cannot be placed and switch-off was never seen
    tr01, tr05 = without_phases["TR-01"], without_phases["TR-05"]
    assert tr01["verdict"] == NOT_ASSESSED and "needs the test phases marked" in tr01["note"]
    assert "`--phases`" in tr01["note"]
    assert tr05["verdict"] == NOT_ASSESSED and "feature_off, background, privacy_mode" in tr05["note"]
    # findings still fail their requirement where no phase was needed to raise them
    assert without_phases["TR-11"]["verdict"] == FAIL and without_phases["TR-11"]["severity"] == "fail"


def test_withdrawal_is_not_assessed_when_only_switch_off_was_marked(
    with_phases: dict[str, dict[str, Any]],
) -> None:
    """The lab marks feature_off but no withdrawal or deletion: TR-15's rules had nothing to judge."""
    tr15 = with_phases["TR-15"]
    assert tr15["verdict"] == NOT_ASSESSED and tr15["rules"] and tr15["findings"] == 0
    assert "withdraw, consent_withdrawn, delete, account_deleted" in tr15["note"]


def test_an_unexplained_encrypted_upload_in_a_covered_phase_needs_review(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    truth = yaml.safe_load((LAB / "lab.truth.yaml").read_text())
    [snap, *_] = [u for u in truth["uploads"] if u["device"] == CAMERA and u["kind"] == "image"]
    start = float(snap["start"])
    lab_marks = (LAB / "lab.phases.csv").read_text().rstrip("\n")
    # background from 100 s before the snapshot (past the rules' 60 s grace) to 100 s after it,
    # between two of the camera's video uploads (truth: every 600 s, 8 s long)
    tmp = tmp_path_factory.mktemp("review")
    phases = tmp / "review.phases.csv"
    phases.write_text(
        f"{lab_marks}\n{start - 100:.1f},background,snapshot\n{start + 100:.1f},feature_on,back\n"
    )
    verdicts = _verdicts(tmp, phases, CAMERA)
    tr05 = verdicts["TR-05"]
    assert tr05["verdict"] == REVIEW and tr05["findings"] == 0, tr05
    assert tr05["note"].startswith(
        "1 encrypted upload (unknown, like image) in background that no finding explains"
    )
    # the same capture with the lab's own phases: the snapshot falls in feature_on, TR-05 passes
    assert _verdicts(tmp_path_factory.mktemp("camera"), True, CAMERA)["TR-05"]["verdict"] == PASS
