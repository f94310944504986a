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
from appliance.measures.upload_kinds import Burst, classify, classify_burst
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


def _burst(secs: float, sizes: list[int], bytes_in: int = 0, proto: int = 17) -> Burst:
    """A burst of these payload sizes sent over ``secs``, with the figures the meter keeps."""
    return Burst(0, int(secs * NS), sum(sizes), bytes_in, len(sizes), 0, sum(x * x for x in sizes),
                 sum(x >= 1200 for x in sizes), proto)  # fmt: skip


# Synthetic shapes whose truth is the codec or transfer they imitate (not real clips: those are in
# test_upload_classes_real.py). r draws variable frame sizes.
r = random.Random(5)
SHAPES = [
    ("G.711, 20 ms, 6 s", _burst(6.0, [160] * 300), "audio", "high"),  # RFC 3551 PCMU: 64 kbit/s CBR
    ("Opus VBR 24 kbit/s, 60 ms", _burst(10.0, [r.randint(120, 240) for _ in range(167)]), "audio", "high"),
    ("Opus 8 kbit/s, 120 ms packets", _burst(20.0, [120] * 168), "audio", "medium"),  # 8.4/s
    # PCM chunks fill full segments: the shape of a file, not told from one
    ("PCM16 16 kHz over TLS, 50 ms chunks", _burst(4.0, [1605] * 80, 900, 6), "unknown", "low"),
    ("Opus over TLS, 40 ms chunks", _burst(3.0, [r.randint(700, 900) for _ in range(75)], 2_000, 6), "audio",
     "high"),
    ("camera, TLS, 4 x 1448 per frame at 20 fps", _burst(8.0, [1448] * 640, 2_000, 6), "video", "medium"),
    ("camera RTP over UDP, 15 fps", _burst(10.0, [1100, 1100, r.randint(200, 1100)] * 150), "video", "high"),
    ("one photo over TLS", _burst(0.3, [1448] * 41, 100, 6), "unknown", "low"),  # leans image
    ("game datagrams, 55 kbit/s VBR", _burst(6.0, [r.randint(100, 600) for _ in range(130)]), "unknown",
     "low"),
    ("a call's voice, two-way", _burst(10.0, [r.randint(60, 140) for _ in range(500)], 60_000), "audio",
     "high"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "burst", "kind", "conf"), SHAPES, ids=[s[0] for s in SHAPES])
def test_upload_shapes(name: str, burst: Burst, kind: str, conf: str) -> None:
    u = classify_burst(burst)
    assert u is not None and (u.kind, u.confidence) == (kind, conf), u
    assert (u.score >= 0.75) == (conf == "high") and (u.score < 0.5) == (conf == "low")


def test_a_photo_leans_image_and_a_long_file_bulk() -> None:
    photo = classify_burst(_burst(0.3, [1448] * 41, 100, 6))
    big = classify_burst(_burst(30.0, [1448] * 20_000, 1000, 6))  # 29 MB at 1 MB/s: no frame pacing told
    assert photo is not None and photo.leaning == "image" and "any file" in photo.reason
    assert (
        big is not None and big.kind == "video" and big.confidence == "medium"
    )  # a file or a stream: never high


def test_small_or_two_way_bursts_are_not_uploads() -> None:
    assert classify(0, NS, 10_000, 0, 10) is None  # a report
    assert classify(0, 5 * NS, 100_000, 80_000, 100) is None  # exchanged both ways, no media shape
    assert classify(0, 5 * NS, 30_000, 70_000, 100) is None  # a download


def test_without_measured_packet_sizes_nothing_is_called_voice() -> None:
    """Bursts stored before schema 11 have no size spread: a voice shape cannot be told from a game's."""
    u = classify(0, 6 * NS, 48_000, 0, 300, proto=17)
    assert u is not None and u.kind == "unknown" and "replay again" in u.reason


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
        # the generator's snapshot is one 60 kB TLS post: any file that size looks the same, so the
        # class is unknown and only its leaning says image
        got = hits[0]["kind"] if u["kind"] != "image" else hits[0]["leaning"]
        assert got == u["kind"] and abs(int(hits[0]["bytes_out"]) - u["bytes"]) <= 0.05 * u["bytes"], hits[0]
        assert hits[0]["confidence"] in (("high", "medium") if u["kind"] != "image" else ("low",))
        matched += 1
    assert matched == len(found) == len(truth["uploads"])
    print(
        f"\n{matched} uploads: "
        + ", ".join(f"{k} {sum(u['leaning'] == k for u in found)}" for k in ("audio", "image", "video"))
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
    assert "3.121.70.57" in text and "30 s" in text and "9 h" in text
    assert "NTP" not in text and "139.162.192.13" not in text  # clear-text NTP only with --all
    assert "139.162.192.13" in cli("periods", "--all", db=db).stdout
    up = cli("uploads", db=db)
    assert up.returncode == 0 and "No upload bursts" in up.stdout
    bad = cli("periods", "--device", "not-a-mac", db=db)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
