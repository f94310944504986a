"""Issue 18: a bench file of one capture must not hide the devices of the others. The lab (with its
bench file, phases and declarations) and a real capture (IoT Sentinel's Fitbit Aria scale set-up,
no bench file) in one store, as `make demo` builds it: every device with findings has its card on
the Overview, is offered on the Device page, and the counts add up to the distinct (device, fact)
pairs read from the findings table with SQL of the test's own.

The replays and the assessment run in processes of their own (chDB opens one data folder per
process); the app then runs in this one through ``streamlit.testing.v1.AppTest``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.paths import LAB, ROOT
from tests.support.run import cli

pytestmark = pytest.mark.xdist_group("dashboard")

APP = str(ROOT / "dashboards" / "app.py")
ARIA = ROOT / "pcaps" / "real" / "iot-sentinel-aria-setup-a-1.pcap"
TIMEOUT = 120


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("devices") / "db"
    for args in (
        ("replay", str(ARIA), "--quiet"),
        ("replay", str(LAB / "lab.pcapng"), "--bench", str(LAB / "lab.bench.yaml"), "--phases",
         str(LAB / "lab.phases.csv"), "--quiet"),
        ("assess", "--declaration", str(LAB / "declarations")),
    ):  # fmt: skip
        p = cli(*args, db=db)
        assert p.returncode == 0, p.stderr
    old = os.environ.get("TAPAUDIT_DB")
    os.environ["TAPAUDIT_DB"] = str(db)
    yield str(db)
    from dashboards import data

    data.close()
    if old is None:
        os.environ.pop("TAPAUDIT_DB", None)
    else:
        os.environ["TAPAUDIT_DB"] = old


def _app(page: str) -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["page"] = page
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _pairs(path: str) -> set[tuple[str, str]]:
    from appliance.store.queries.scope import CURRENT_FINDINGS
    from dashboards import data

    sql = (
        "SELECT device_mac, fact FROM {db}.findings"
        f" WHERE assess_id IN ({CURRENT_FINDINGS}) AND rule_id != ''"
    )
    return {(r["device_mac"], r["fact"]) for r in data._run(path, lambda s: s.query(sql))}


def _bench_and_capture_devices(path: str) -> tuple[set[str], set[str]]:
    """The devices on the lab's bench, and those of the real capture (read with SQL)."""
    from dashboards import data

    rows = data._run(path, lambda s: s.query(
        "SELECT DISTINCT d.mac AS mac, d.on_bench AS bench, c.path AS path FROM {db}.devices AS d"
        " INNER JOIN {db}.captures AS c ON d.capture_id = c.capture_id"))  # fmt: skip
    bench = {r["mac"] for r in rows if int(r["bench"])}
    real = {r["mac"] for r in rows if str(r["path"]).endswith(ARIA.name)}
    return bench, real


def test_every_device_with_findings_has_its_card(demo: str) -> None:
    pairs = _pairs(demo)
    with_findings = {d for d, _ in pairs}
    bench, real = _bench_and_capture_devices(demo)
    assert with_findings - bench and with_findings - bench <= real  # the scale's findings, off the bench
    at = _app("overview")
    cards = {
        m.group(1): int(m.group(2))
        for h in at.get("html")
        if (m := re.search(r"data-mac='([^']+)'.*?</span> <b>(\d+)</b> problems", str(h.proto.body)))
    }
    assert with_findings <= set(cards)
    assert sum(cards.values()) == len(pairs)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Problems"] == str(len(pairs))
    assert {m.label: m.value for m in _app("findings").metric}["Problems"] == str(len(pairs))
    # the scale's card opens its device page, whose verdict counts its problems
    (scale,) = with_findings - bench
    at.button(key=f"open_{scale}").click().run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="device_pick").value == scale
    heads = [str(h.proto.body) for h in at.get("html") if "device-verdict-head" in str(h.proto.body)]
    assert heads and f"<b>{len({f for d, f in pairs if d == scale})} problems</b>" in heads[0]
