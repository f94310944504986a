"""The lab's personal data inside TLS 1.3 (issue 16): with the key log it is found as the same data
sent in clear is; without it, not at all.

``pcaps/lab/lab-tls.pcapng`` (``pcaps/synth/lab_tls.py``) holds the smartwatch's, the children's
watch's and the speaker's personal data over TLS 1.3 only: HTTP/2, HTTP/1.1 and MQTT inside,
three suites, and ``lab-tls.keys.log`` beside it. Its clear twin (``lab_tls.build(tls=False)``)
sends the very same plaintext at the very same times without TLS. Both go through the replay's
``Pipeline`` (its meter given the key log, as ``replay --keylog`` will) and are scored against
their own ground truth: precision and recall per data type, reporting intervals and location
decimals must be equal.
tshark with the key log is the independent check of what the capture holds.
"""

from __future__ import annotations

import bisect
import itertools
import shutil
import statistics
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from appliance.ingest.pipeline import Pipeline
from appliance.ingest.replay import ReplayOptions
from appliance.ingest.sources import PcapSource
from appliance.lab.bench import load_bench
from appliance.lab.phases import load_phases
from appliance.store.schema import HTTP, OBSERVATIONS
from parsers.capture_write import write_pcapng
from parsers.decrypt.keys import KeyLog
from pcaps.synth import lab_tls, personal
from pcaps.synth.generate_lab import phase_at
from pcaps.synth.hosts import T0
from pcaps.synth.network import CLOUD
from tests.support.h2oracle import h2_streams
from tests.support.paths import ROOT

LAB = ROOT / "pcaps" / "lab"
CAP, KEYS, TRUTH = LAB / "lab-tls.pcapng", LAB / "lab-tls.keys.log", LAB / "lab-tls.truth.yaml"
NS = 1_000_000_000
WINDOW_S = 1.0  # as tests/lab/test_lab_detection.py: same device and type, sent within 1 s
INTERVAL_TOLERANCE = 0.02


@dataclass
class Run:
    """What the pipeline wrote for one capture, and its meter's counters."""

    obs: list[dict[str, Any]] = field(default_factory=list)
    http: list[dict[str, Any]] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)


def run(path: Path, keys: Path | None) -> Run:
    bench = load_bench(str(LAB / "lab-tls.bench.yaml"))
    out = Run()
    names = {"observations": (OBSERVATIONS.names, out.obs), "http": (HTTP.names, out.http)}

    def write(table: str, got: list[tuple[Any, ...]]) -> None:
        if table in names:
            cols, into = names[table]
            into.extend(dict(zip(cols, r, strict=True)) for r in got)

    src = PcapSource(str(path))
    opts = ReplayOptions(lan_prefixes=bench.lan_prefixes, bench=bench)
    opts.phases = load_phases(str(LAB / "lab-tls.phases.csv"))
    pipe = Pipeline.from_options(src.capture_id, 1, write, opts, b"lab-tls-test-key")
    if keys is not None:
        log = KeyLog()
        log.add_file(str(keys))
        pipe.meter.keys = log  # what `replay --keylog` does; the option is not on main yet
    for batch in src.batches():
        pipe.feed_many(batch)
    pipe.finish()
    out.stats = pipe.meter.stats
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The TLS lab with and without its keys, the clear twin, and each one's truth."""
    truth = yaml.safe_load(TRUTH.read_text())
    lab, _sender = lab_tls.build(truth["seed"], tls=False)
    twin = tmp_path_factory.mktemp("lab-tls") / "clear.pcapng"
    frames = sorted(range(len(lab.frames)), key=lambda i: (lab.frames[i][0], i))
    with open(twin, "wb") as fh:
        write_pcapng(
            fh,
            (
                ((T0 * 10**6 + round(lab.frames[i][0] * 10**6)) * 1000, bytes(lab.frames[i][1]))
                for i in frames
            ),
        )
    clear_truth, _series = personal.truth(lab, phase_at)
    yield {
        "truth": truth,
        "tls": run(CAP, KEYS),
        "nokeys": run(CAP, None),
        "clear": run(twin, None),
        "clear_truth": clear_truth,
    }


# observation rows name the remote address; the lab's cloud names each address once
NAMES = {ip: name for name, (ip, _port) in CLOUD.items()}


def domain(o: dict[str, Any]) -> str:
    return NAMES.get(o["remote_ip"], o["remote_ip"])


def match(truth: list[dict[str, Any]], obs: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """One-to-one (truth, observation) pairs: same device and type within 1 s, nearest first,
    preferring the same carrier and destination (the rule of tests/lab/test_lab_detection.py)."""
    by_key: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
    for i, e in enumerate(truth):
        by_key[(e["device"], e["data_type"])].append((e["ts"], i))
    for v in by_key.values():
        v.sort()
    pairs = []
    for j, o in enumerate(obs):
        cands = by_key.get((o["device_mac"], o["data_type"]), [])
        ts = int(o["ts_ns"]) / NS
        lo = bisect.bisect_left(cands, (ts - WINDOW_S, -1))
        hi = bisect.bisect_right(cands, (ts + WINDOW_S, len(truth)))
        for t, i in cands[lo:hi]:
            e = truth[i]
            pairs.append(((e["carrier"] != o["carrier"], e["destination"] != domain(o), abs(t - ts)), i, j))
    pairs.sort()
    used_t, used_o, out = set(), set(), []
    for _c, i, j in pairs:
        if i not in used_t and j not in used_o:
            used_t.add(i)
            used_o.add(j)
            out.append((i, j))
    return out


def scores(truth: list[dict[str, Any]], obs: list[dict[str, Any]]) -> dict[str, tuple[int, int, int]]:
    """data type -> (sent, observed, matched)."""
    pairs = match(truth, obs)
    sent = Counter(e["data_type"] for e in truth)
    seen = Counter(o["data_type"] for o in obs)
    tp = Counter(truth[i]["data_type"] for i, _j in pairs)
    return {k: (sent[k], seen[k], tp[k]) for k in sorted(set(sent) | set(seen))}


def test_capture_holds_personal_data_only_inside_tls(runs: dict[str, Any]) -> None:
    truth = runs["truth"]
    assert truth["tls_sessions"] == {
        "TLS_AES_256_GCM_SHA384 mqtt": 1,
        "TLS_AES_128_GCM_SHA256 h2": 4,
        "TLS_CHACHA20_POLY1305_SHA256 http/1.1": 19,
        "TLS_AES_256_GCM_SHA384 h2": 10,
    }
    assert {r["transport"] for r in truth["requests"]} == {"h2", "http/1.1", "mqtt"}
    kinds = {e["data_type"] for e in truth["observations"]}
    assert kinds >= {"location", "imei", "persona:imei", "phone", "imsi", "iccid", "meid", "wifi_scan",
                     "cell_tower", "health:heart_rate", "health:spo2", "health:steps", "health:sleep",
                     "health:blood_pressure", "health:temperature", "audio"}  # fmt: skip
    assert {e["decimals"] for e in truth["observations"] if e["data_type"] == "location"} == {2, 5, 6}
    stats = runs["tls"].stats
    assert stats["tls_decrypted"] == sum(truth["tls_sessions"].values())
    assert not stats["tls_bad_key"] and not stats["tls_no_key"] and not stats["tls_record_failed"]


def test_precision_and_recall_inside_tls_equal_clear(runs: dict[str, Any]) -> None:
    tls = scores(runs["truth"]["observations"], runs["tls"].obs)
    clear = scores(runs["clear_truth"], runs["clear"].obs)
    print(f"\n{'data type':22} {'sent':>5} {'clear P':>8} {'clear R':>8} {'TLS P':>6} {'TLS R':>6}")
    for k in sorted(set(tls) | set(clear)):
        rows = []
        for sent, seen, tp in (clear.get(k, (0, 0, 0)), tls.get(k, (0, 0, 0))):
            rows += [tp / seen if seen else 1.0, tp / sent if sent else 1.0]
        print(f"{k:22} {tls.get(k, (0,))[0]:>5} " + " ".join(f"{x:>7.3f}" for x in rows))
    assert tls == clear
    assert all(tp == sent == seen for sent, seen, tp in tls.values()), tls


def test_observations_carry_the_same_values_and_decimals(runs: dict[str, Any]) -> None:
    """Value for value: same type, carrier, keyed hash, decimals and coordinate system in both."""

    def seen(obs: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
        return Counter(
            (
                o["device_mac"],
                o["data_type"],
                o["carrier"],
                domain(o),
                o["value_hash"],
                o["decimals"],
                o["coord_system"],
                o["phase"],
            )
            for o in obs
        )

    assert seen(runs["tls"].obs) == seen(runs["clear"].obs)
    # each row says where its content was read (issue 16): decrypted with the key log, or in clear
    assert {o["plaintext"] for o in runs["tls"].obs} == {"tls-keylog"}
    assert {o["plaintext"] for o in runs["clear"].obs} == {"clear"}
    assert {h["plaintext"] for h in runs["tls"].http} == {"tls-keylog"}
    truth = runs["truth"]["observations"]
    pairs = match(truth, runs["tls"].obs)
    wrong = [
        (truth[i], runs["tls"].obs[j]["decimals"])
        for i, j in pairs
        if truth[i]["data_type"] == "location" and truth[i]["decimals"] != runs["tls"].obs[j]["decimals"]
    ]
    assert not wrong, wrong[:3]


def intervals(times: dict[tuple[str, ...], list[float]]) -> dict[tuple[str, ...], float]:
    out = {}
    for k, ts in times.items():
        ts = sorted(set(ts))
        if len(ts) >= 3:
            out[k] = statistics.median(b - a for a, b in itertools.pairwise(ts))
    return out


def test_intervals_inside_tls_equal_truth_and_clear(runs: dict[str, Any]) -> None:
    """Median reporting interval per device, type, destination and phase: within 2 % of the
    generator's series, and of the clear twin's."""

    def observed(obs: list[dict[str, Any]]) -> dict[tuple[str, ...], float]:
        times: dict[tuple[str, ...], list[float]] = defaultdict(list)
        for o in obs:
            times[(o["device_mac"], o["data_type"], domain(o), o["phase"])].append(
                round(int(o["ts_ns"]) / NS, 3)
            )
        return intervals(times)

    tls, clear = observed(runs["tls"].obs), observed(runs["clear"].obs)
    series = {
        (s["device"], s["data_type"], s["destination"], s["phase"]): s["interval"]
        for s in runs["truth"]["series"]
        if s["reports"] >= 3
    }
    assert set(tls) == set(clear) == set(series)
    print(f"\n{'data type':22} {'destination':40} {'phase':11} {'truth':>7} {'clear':>7} {'TLS':>7}")
    for k in sorted(series):
        print(f"{k[1]:22} {k[2]:40} {k[3]:11} {series[k]:>7.1f} {clear[k]:>7.1f} {tls[k]:>7.1f}")
        assert abs(tls[k] - series[k]) <= INTERVAL_TOLERANCE * series[k], (k, tls[k], series[k])
        assert abs(tls[k] - clear[k]) <= INTERVAL_TOLERANCE * clear[k], (k, tls[k], clear[k])


def test_without_keys_nothing_is_observed(runs: dict[str, Any]) -> None:
    nokeys = runs["nokeys"]
    assert nokeys.obs == [] and nokeys.http == []
    assert nokeys.stats["tls_decrypted"] == 0
    assert runs["tls"].obs and runs["clear"].obs  # the same capture with its keys is not empty


def test_wrong_keys_are_counted_and_read_nothing(runs: dict[str, Any], tmp_path: Path) -> None:
    """A key log whose secrets are all wrong (last byte flipped): every session counts as a bad key,
    nothing is observed, nothing raised."""
    bad = tmp_path / "bad.keys.log"
    lines = [ln for ln in KEYS.read_text().splitlines() if ln and not ln.startswith("#")]
    flipped = [ln[:-2] + f"{int(ln[-2:], 16) ^ 1:02x}" for ln in lines]
    bad.write_text("\n".join(flipped) + "\n")
    got = run(CAP, bad)
    assert got.stats["tls_bad_key"] == sum(runs["truth"]["tls_sessions"].values())
    assert got.stats["tls_decrypted"] == 0 and got.obs == []


def _tshark(*args: str) -> list[list[str]]:
    cmd = [
        "tshark",
        "-r",
        str(CAP),
        "-o",
        f"tls.keylog_file:{KEYS}",
        *args,
        "-T",
        "fields",
        "-E",
        "occurrence=a",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    return [line.split("\t") for line in out.splitlines()]


@pytest.mark.tshark
def test_tshark_with_the_key_log_sees_the_truths_requests(runs: dict[str, Any]) -> None:
    """tshark 4.0 with the key log: HTTP/2 streams, HTTP/1.1 requests and MQTT publishes inside TLS
    are the truth's requests (method, host, path, body length)."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    want = Counter(
        (r["transport"], r["method"], r["host"] if r["transport"] != "mqtt" else "", r["path"], r["body"])
        for r in runs["truth"]["requests"]
        if r["method"] != "CONNECT"
    )
    got: Counter[tuple[Any, ...]] = Counter()
    for (_conn, _sid, client), side in h2_streams(CAP, ("-o", f"tls.keylog_file:{KEYS}")).items():
        if client:
            got[("h2", side.method, side.authority, side.path, side.data)] += 1
    for method, host, uri, length in _tshark(
        "-Y", "http.request", "-e", "http.request.method", "-e", "http.host", "-e", "http.request.uri",
        "-e", "http.content_length",
    ):  # fmt: skip
        got[("http/1.1", method, host, uri, int(length or 0))] += 1
    for topics, lens in _tshark(
        "-d", "tls.port==8883,mqtt", "-Y", "mqtt.msgtype==3", "-e", "mqtt.topic", "-e", "mqtt.len"
    ):
        for topic, n in zip(topics.split(","), lens.split(","), strict=True):
            got[("mqtt", "PUBLISH", "", topic, int(n) - 2 - len(topic.encode()))] += 1
    assert sum(want.values()) == len(runs["truth"]["requests"]) - 1  # the one CONNECT
    assert got == want
    # the pipeline's decrypted HTTP requests are the same ones (its rows mask the query)
    mine = Counter((r["method"], r["host"], r["path"]) for r in runs["tls"].http if not r["is_response"])
    assert mine == Counter((k[1], k[2], k[3].split("?")[0]) for k in want.elements() if k[0] != "mqtt")
