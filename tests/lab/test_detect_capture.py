"""The detector-heavy capture (``pcaps/synth/generate_detect.py``): deterministic, and its personal data
found as the generator recorded it, value by value (precision and recall per data type, and each
location's decimal places), the way the lab's detection is scored (``test_lab_detection``).
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from appliance.ingest.replay import ReplayOptions, replay
from appliance.lab.bench import load_bench
from appliance.store import queries
from appliance.store.backends import open_store
from tests.support.paths import ROOT

PACKETS = 4000
MIN_SCORE = 0.99
# what the generator sends (pcaps/synth/detect_payloads.py): every type must be in a small capture
KINDS = {
    "imei", "phone", "email", "location", "mac", "serial", "android_id", "imsi", "iccid", "cn_id",
    "health:heart_rate", "health:spo2", "health:steps", "health:sleep", "health:blood_pressure",
    "persona:imei", "persona:phone", "persona:email", "persona:serial", "persona:name",
}  # fmt: skip
Key = tuple[int, str, str, str, int]  # ts_ns, device, carrier, data type, decimals (-1: not a location)


def generate(out: Path, packets: int = PACKETS, seed: int = 20) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pcaps.synth.generate_detect", "--packets", str(packets), "--out", str(out)]
    return subprocess.run([*cmd, "--seed", str(seed)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Counter[Key], Counter[Key], dict]:
    """(truth, observed) value counts of one generated capture, and its truth summary."""
    out = tmp_path_factory.mktemp("detect")
    pcap = out / "detect.pcap"
    assert generate(pcap).returncode == 0
    bench = load_bench(str(out / "detect.bench.yaml"))
    store = open_store(str(out / "db"))
    try:
        store.ensure_schema()
        replay(store, str(pcap), ReplayOptions(lan_prefixes=bench.lan_prefixes, bench=bench, force=True))
        obs = queries.observations(store, limit=10**7)
    finally:
        store.close()
    truth: Counter[Key] = Counter()
    with open(out / "detect.truth.tsv") as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            places = int(r["decimals"]) if r["decimals"] else -1
            truth[(int(r["ts_ns"]), r["device_mac"], r["carrier"], r["data_type"], places)] += 1
    got: Counter[Key] = Counter(
        (int(o["ts_ns"]), o["device_mac"], o["carrier"], o["data_type"],
         int(o["decimals"]) if o["data_type"] == "location" else -1)
        for o in obs
    )  # fmt: skip
    summary = yaml.safe_load((out / "detect.truth.yaml").read_text())
    return truth, got, summary


def test_truth_is_summed_and_covers_every_kind(scored: tuple[Counter[Key], Counter[Key], dict]) -> None:
    truth, _got, summary = scored
    assert summary["packets"] == PACKETS
    by_type = Counter()
    for k, n in truth.items():
        by_type[k[3]] += n
    assert dict(by_type) == summary["counts"]
    assert set(by_type) == KINDS
    assert {k[4] for k in truth if k[3] == "location"} == {2, 3, 4, 5, 6, 7}
    assert {k[2] for k in truth} == {"http.body", "http.query", "mqtt.publish"}


def test_precision_and_recall_per_data_type(scored: tuple[Counter[Key], Counter[Key], dict]) -> None:
    truth, got, _summary = scored
    worst = []
    for kind in sorted(KINDS | {k[3] for k in got}):
        t = Counter({k: n for k, n in truth.items() if k[3] == kind})
        g = Counter({k: n for k, n in got.items() if k[3] == kind})
        hit = sum((t & g).values())
        precision = hit / max(1, sum(g.values()))
        recall = hit / max(1, sum(t.values()))
        if min(precision, recall) < MIN_SCORE:
            worst.append((kind, round(precision, 3), round(recall, 3)))
    assert not worst, worst


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.pcap", tmp_path / "b.pcap", tmp_path / "c.pcap"
    assert generate(a, 600).returncode == 0 and generate(b, 600).returncode == 0
    assert generate(c, 600, seed=21).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "a.truth.tsv").read_text() == (tmp_path / "b.truth.tsv").read_text()
    assert a.read_bytes() != c.read_bytes()
    assert len(list(_frames(a))) == 600


def test_exact_packet_count_past_the_dns_id_range(tmp_path: Path) -> None:
    """The last packets (too few for a flow) are DNS queries, numbered by packet past 65535."""
    for n in (65_541, 65_542):
        out = tmp_path / f"{n}.pcap"
        assert generate(out, n).returncode == 0
        assert len(_frames(out)) == n


def test_bad_packet_count_is_one_line(tmp_path: Path) -> None:
    r = generate(tmp_path / "x.pcap", 0)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr


def _frames(path: Path) -> list[bytes]:
    import dpkt

    with open(path, "rb") as fh:
        return [bytes(buf) for _ts, buf in dpkt.pcap.Reader(fh)]
