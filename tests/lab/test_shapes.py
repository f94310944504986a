"""Encrypted traffic judged by its shape: reporting periods and uploads, on the lab and real idle captures."""

from __future__ import annotations

import itertools
import json
import random
import statistics
import subprocess
from pathlib import Path

import pytest
import yaml

from appliance.ingest.replay import ReplayOptions, replay
from appliance.measures import shapes
from appliance.measures.periodicity import periodicity
from appliance.measures.upload_kinds import classify
from appliance.store.backends import Store
from tests.support.paths import ROOT, shared_path
from tests.support.run import cli, lab_options

NS = 1_000_000_000
LAB = ROOT / "pcaps" / "lab"


def _beats(period: float, n: int, jitter: float = 0.3, seed: int = 1) -> list[int]:
    r = random.Random(seed)
    return [int((i * period + r.gauss(0, jitter)) * NS) for i in range(n)]


def test_period_of_a_clean_series() -> None:
    p = periodicity(_beats(30, 500))
    assert p is not None and abs(p.period_s - 30) < 0.05 and p.score == 1.0 and p.missing == 0
    assert 0.25 < p.jitter_s < 0.35 and abs(p.longest_run_s - 499 * 30) < 2


def test_missing_extra_and_shifted_beats() -> None:
    r = random.Random(2)
    base = _beats(60, 400)
    kept = [t for t in base if r.random() > 0.3]  # 30 % of the beats never came
    extras = [int(r.uniform(0, 24_000) * NS) for _ in range(40)] + [t + int(1.2 * NS) for t in kept[::10]]
    p = periodicity(kept + extras)
    assert p is not None and abs(p.period_s - 60) < 0.3
    assert 0.5 < p.score < 0.8 and p.missing > 80 and p.extra >= 40
    shifted = base[:200] + [t + 17 * NS for t in base[200:]]  # a reconnect moved the grid
    q = periodicity(shifted)
    assert q is not None and abs(q.period_s - 60) < 0.1 and q.score > 0.99
    assert abs(q.longest_run_s - 199 * 60) < 2  # the run restarts on the new grid


def test_random_traffic_is_not_periodic() -> None:
    r = random.Random(3)
    t, beats = 0.0, []
    for _ in range(500):
        t += r.expovariate(1 / 30)
        beats.append(int(t * NS))
    p = periodicity(beats)
    assert p is not None and p.score < shapes.PERIODIC_SCORE
    assert periodicity(beats[:3]) is None


@pytest.mark.parametrize(
    ("secs", "nbytes", "bytes_in", "pkts", "kind", "conf"),
    [
        (6.0, 48_000, 0, 300, "audio", "high"),  # G.711 frames, 50/s
        (10.0, 30_000, 500, 150, "audio", "medium"),  # 15 frames/s
        (8.0, 640_000, 2_000, 480, "video", "high"),
        (0.3, 60_000, 100, 44, "image", "medium"),
        (1.0, 20_000, 100, 15, "image", "low"),
        (60.0, 120_000_000, 0, 90_000, "video", "high"),
        (20.0, 200_000, 0, 150, "bulk", "low"),  # 10 kB/s in big packets: neither voice nor video
    ],
)
def test_upload_shapes(secs: float, nbytes: int, bytes_in: int, pkts: int, kind: str, conf: str) -> None:
    u = classify(0, int(secs * NS), nbytes, bytes_in, pkts)
    assert u is not None and (u.kind, u.confidence) == (kind, conf), u


def test_small_or_two_way_bursts_are_not_uploads() -> None:
    assert classify(0, NS, 10_000, 0, 10) is None  # a report
    assert classify(0, 5 * NS, 100_000, 80_000, 100) is None  # a download as much as an upload


def _lab(store: Store) -> dict:
    replay(store, str(LAB / "lab.pcapng"), lab_options())
    return yaml.safe_load((LAB / "lab.truth.yaml").read_text())


def test_lab_periods_match_the_generator(store: Store) -> None:
    truth = _lab(store)
    rows = {(r["device_mac"], r["destination"]): r for r in shapes.periods(store)}
    print(f"\n{'device':17} {'destination':34} {'truth':>8} {'found':>9} {'err %':>6} {'score':>5} "
          f"{'run truth':>9} {'run':>9}")  # fmt: skip
    for s in truth["periodic"]:
        r = rows.get((s["device"], s["destination"]))
        assert r is not None, s
        err = abs(r["period_s"] - s["period_s"]) / s["period_s"]
        run, found = s["longest_run_s"], r["longest_run_s"]
        print(f"{s['device']:17} {s['destination']:34} {s['period_s']:>8} {r['period_s']:>9} "
              f"{100 * err:>6.2f} {r['score']:>5} {run:>9} {found:>9}")  # fmt: skip
        assert r["periodic"] and err <= 0.02, (s, r)
        assert abs(r["longest_run_s"] - s["longest_run_s"]) <= 0.02 * s["longest_run_s"] + 1, (s, r)
    # nothing else the lab sends encrypted is called periodic
    expected = {(s["device"], s["destination"]) for s in truth["periodic"]}
    assert {k for k, r in rows.items() if r["periodic"]} == expected


def test_lab_uploads_match_the_generator(store: Store) -> None:
    truth = _lab(store)
    found = shapes.uploads(store)
    matched = 0
    for u in truth["uploads"]:
        hits = [
            r
            for r in found
            if r["device_mac"] == u["device"] and abs(int(r["start_ns"]) / NS - u["start"]) <= 1.0
        ]
        assert len(hits) == 1, u
        assert (
            hits[0]["kind"] == u["kind"] and abs(int(hits[0]["bytes_out"]) - u["bytes"]) <= 0.05 * u["bytes"]
        )
        matched += 1
    assert matched == len(found) == len(truth["uploads"])
    print(
        f"\n{matched} uploads: "
        + ", ".join(f"{k} {sum(u['kind'] == k for u in found)}" for k in ("audio", "image", "video"))
    )


def _tshark_bursts(path: Path, device: str, where: str) -> float:
    """The median gap between the device's payload bursts (packets < 1 s apart), by tshark: the oracle."""
    out = subprocess.run(
        ["tshark", "-r", str(path), "-Y", f"ip.src=={device} && {where}",
         "-T", "fields", "-e", "frame.time_epoch"],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout.split()  # fmt: skip
    starts, last = [], -10.0
    for t in map(float, out):
        if t - last > 1.0:
            starts.append(t)
        last = t
    return statistics.median(b - a for a, b in itertools.pairwise(starts))


@pytest.mark.parametrize(
    ("capture", "device", "destination", "oracle"),
    [
        ("JasonHYJ-deviceIdentification/2019-04-25_idle.pcap", "192.168.20.105", "3.121.70.57",
         "ip.dst==3.121.70.57 && tcp.len>0"),
        ("SSI_Measurements_2022/2-smartPowerPlugPassiveMeasurements.pcap", "192.168.8.190", "3.121.131.36",
         "ip.dst==3.121.131.36 && tcp.len>0"),
        ("SSI_Measurements_2022/2-smartPowerPlugPassiveMeasurements.pcap", "192.168.8.190", "35.156.42.116",
         "ip.dst==35.156.42.116 && tcp.len>0"),
        ("SSI_Measurements_2022/2-smartPowerPlugPassiveMeasurements.pcap", "192.168.8.190", "255.255.255.255",
         "udp.dstport==6667"),
    ],
)  # fmt: skip
def test_idle_captures_report_periods(
    store: Store, capture: str, device: str, destination: str, oracle: str
) -> None:
    path = shared_path(*capture.split("/"))
    replay(store, str(path), ReplayOptions(force=True))
    rows = [r for r in shapes.periods(store) if r["destination"] == destination]
    assert len(rows) == 1
    r = rows[0]
    median = _tshark_bursts(path, device, oracle)
    print(f"\n{capture}: {destination} period {r['period_s']} s (tshark median gap {median:.3f} s),"
          f" jitter {r['jitter_s']} s, score {r['score']}, {r['beats']} beats, {r['missing']} missing,"
          f" {r['extra']} extra, longest run {r['longest_run_s'] / 3600:.2f} h")  # fmt: skip
    assert r["periodic"] and abs(r["period_s"] - median) <= 0.02 * median


def test_periods_and_uploads_commands(tmp_path: Path) -> None:
    db = tmp_path / "db"
    blink = ROOT / "pcaps" / "real" / "monitr-blink-hub-idle-9h.pcap"
    assert cli("replay", str(blink), "-q", db=db).returncode == 0
    p = cli("periods", "--device", "00:03:7F:96:D8:EC", "--json", db=db)
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [(r["destination"], r["period_s"], r["periodic"]) for r in rows] == [("3.121.70.57", 30.0, True)]
    assert rows[0]["flows"] == 18 and rows[0]["security"] == ["tls"]
    text = cli("periods", db=db).stdout
    assert "3.121.70.57" in text and "30 s" in text and "9.0 h" in text
    assert "NTP" not in text and "139.162.192.13" not in text  # clear-text NTP only with --all
    assert "139.162.192.13" in cli("periods", "--all", db=db).stdout
    up = cli("uploads", db=db)
    assert up.returncode == 0 and "No upload bursts" in up.stdout
    bad = cli("periods", "--device", "not-a-mac", db=db)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
