"""The lab generator: deterministic, committed outputs in step with it, and a sound benchmark mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dpkt
import netaddr
import pytest
import yaml

from appliance.ingest.replay import ReplayOptions, replay
from appliance.lab.bench import load_bench
from appliance.store.backends import open_store
from tests.support.paths import ROOT

LAB = ROOT / "pcaps" / "lab"
FILES = ("lab.pcapng", "lab.truth.yaml", "lab.flows.csv", "lab.bench.yaml", "lab.phases.csv",
         "lab-tls.pcapng", "lab-tls.keys.log", "lab-tls.truth.yaml", "lab-tls.bench.yaml",
         "lab-tls.phases.csv")  # fmt: skip


def generate(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pcaps.synth.generate_lab", "--out-dir", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lab")
    assert generate(out).returncode == 0
    return out


def test_committed_lab_equals_a_fresh_generation(fresh: Path) -> None:
    declarations = sorted(p.name for p in (LAB / "declarations").glob("*.yaml"))
    assert declarations == sorted(p.name for p in (fresh / "declarations").glob("*.yaml")) != []
    for name in (*FILES, *(f"declarations/{d}" for d in declarations)):
        assert (fresh / name).read_bytes() == (LAB / name).read_bytes(), (
            f"pcaps/lab/{name} differs from the generator's output: run `make lab` and commit"
        )


def test_another_seed_gives_another_capture(tmp_path: Path, fresh: Path) -> None:
    assert generate(tmp_path, "--seed", "8").returncode == 0
    assert (tmp_path / "lab.pcapng").read_bytes() != (fresh / "lab.pcapng").read_bytes()


def test_capture_read_independently_matches_truth(fresh: Path) -> None:
    truth = yaml.safe_load((fresh / "lab.truth.yaml").read_text())
    with open(fresh / "lab.pcapng", "rb") as fh:
        stamps, macs = [], set()
        for ts, buf in dpkt.pcapng.Reader(fh):
            stamps.append(ts)
            macs.add(dpkt.ethernet.Ethernet(buf).src.hex(":"))
    assert len(stamps) == truth["packets"]
    assert stamps == sorted(stamps)
    assert set(truth["devices"]) <= macs
    for mac, d in truth["devices"].items():
        assert str(netaddr.EUI(mac).oui.registration().org) == d["vendor"]


def test_bench_file_is_valid_and_personas_fake(fresh: Path) -> None:
    bench = load_bench(str(fresh / "lab.bench.yaml"))
    cats = sorted(d.category for d in bench.devices.values())
    assert cats == sorted(["watch", "child_watch", "speaker", "door_lock", "camera", "learning_tablet"])
    for d in bench.devices.values():
        imei = d.persona["imei"]
        digits = [int(c) for c in imei]
        total = sum(
            x if i % 2 == 0 else (2 * x - 9 if 2 * x > 9 else 2 * x) for i, x in enumerate(reversed(digits))
        )
        assert len(imei) == 15 and total % 10 == 0, imei
        assert d.persona["email"].split("@")[1] in ("example.com", "example.cn")


def test_benchmark_mode(tmp_path: Path) -> None:
    p = generate(tmp_path, "--packets", "20000")
    assert p.returncode == 0, p.stderr
    truth = yaml.safe_load((tmp_path / "lab-20000.truth.yaml").read_text())
    with open(tmp_path / "lab-20000.pcap", "rb") as fh:
        assert sum(1 for _ in dpkt.pcap.Reader(fh)) == 20000 == truth["packets"]
    store = open_store(str(tmp_path / "db"))
    store.ensure_schema()
    res = replay(store, str(tmp_path / "lab-20000.pcap"), ReplayOptions())
    store.close()
    assert res.packets == 20000 and res.flows == truth["flows"]


def test_bad_arguments_give_one_line() -> None:
    p = generate(Path("/tmp"), "--packets", "0")
    assert p.returncode == 1 and p.stderr.strip().count("\n") == 0 and "error" in p.stderr
