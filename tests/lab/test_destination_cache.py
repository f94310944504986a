"""A run's destination answers, kept per remote end (issue 20), are the answers worked out afresh.

``Enricher.columns`` keeps what the catalogue, GeoIP and the parties say of a remote end by
(device, address, name, application, DNS-over-TLS port). The check: every flow of real captures
(and of the lab, whose bench names makers, so parties are first or third) gets from the run's
enricher exactly what an enricher without any remembered answer gives it, with the same DNS
names; the captures revisit the same servers, so most answers come from what was kept.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.ingest.enrich import Destination, Enricher
from appliance.ingest.pipeline import Pipeline
from appliance.ingest.replay import ReplayOptions
from appliance.ingest.sources import PcapSource
from appliance.lab.bench import load_bench
from parsers.flow import Flow
from tests.support.paths import LAB, shared_path


class Checked(Enricher):
    """The run's enricher, asking a twin with nothing remembered for every flow."""

    def __init__(self, base: Enricher) -> None:
        super().__init__(base.catalog, tuple(base.home), base.bench)
        self.twin = Enricher(base.catalog, tuple(base.home), base.bench)
        self.twin.dns = self.dns  # the same DNS answers: only what is kept differs
        self.flows = 0
        self.seen_parties: set[str] = set()
        self.mismatches: list[tuple[Destination, Destination]] = []

    def columns(self, f: Flow, device: str, direction: str, remote_ip: str) -> Destination:
        got = super().columns(f, device, direction, remote_ip)
        self.twin.remotes.clear()
        fresh = self.twin.columns(f, device, direction, remote_ip)
        self.flows += 1
        self.seen_parties.add(got.party)
        if got != fresh:
            self.mismatches.append((got, fresh))
        return got


def _run(path: Path, opts: ReplayOptions) -> Checked:
    src = PcapSource(str(path))
    pipe = Pipeline.from_options(src.capture_id, 1, lambda _t, _r: None, opts, b"k" * 32)
    pipe.enricher = checked = Checked(pipe.enricher)
    for batch in src.batches():
        pipe.feed_many(batch)
    pipe.finish()
    return checked


@pytest.mark.parametrize(
    "parts",
    [
        ("SSI_Measurements_2022", "2-smartPowerPlugPassiveMeasurements.pcap"),
        ("JasonHYJ-deviceIdentification", "2019-04-25_idle.pcap"),
        ("Lifecycle-Based-Traffic-Dataset", "result_demo", "traffic_demo", "xiaodu_plug", "xiaodu_plug.pcap"),
    ],
)
def test_kept_answers_are_fresh_answers_on_real_captures(parts: tuple[str, ...]) -> None:
    checked = _run(shared_path(*parts), ReplayOptions())
    assert checked.flows > 50
    assert len(checked.remotes) < checked.flows  # servers were revisited: kept answers were used
    assert not checked.mismatches, checked.mismatches[:3]


def test_kept_answers_are_fresh_answers_with_a_bench() -> None:
    bench = load_bench(str(LAB / "lab.bench.yaml"))
    checked = _run(LAB / "lab.pcapng", ReplayOptions(lan_prefixes=bench.lan_prefixes, bench=bench))
    assert checked.flows > 50 and not checked.mismatches, checked.mismatches[:3]
    assert {"first", "third"} <= checked.seen_parties  # the bench's makers decided parties
