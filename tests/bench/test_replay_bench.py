"""The replay benchmark (``bench/replay.py``, issue 20 point 5) runs and reports what it says.

Its figures are measured by running it, never asserted here (the machine is shared). These tests
hold its machinery: one round on a small generated lab capture gives one table per capture with
a row per tool, the packets and flows the generator wrote (dpkt counting the packets on its
own), tapaudit ÷ tool per round, and ``--jobs 2`` against ``--jobs 1`` with the same stored
counts; ``{jobs}`` in the tapaudit command becomes ``--jobs N`` only when ``replay --help``
offers it; ``--write`` replaces only its own block of RESULTS.md; the process-tree poller sums
the memory of grandchildren that ``wait4`` never sees; a missing capture is a one-line error.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import proctree  # noqa: E402
import replay_tools  # noqa: E402

PACKETS = 2_000
# A stand-in for `tapaudit` whose `replay --help` offers --jobs (or not): it notes the --jobs it was
# given, then runs the real CLI without it, so the benchmark's handling of the option is tested
# whether or not this tree's replay has it yet.
WRAPPER = """
import json, sys
argv = sys.argv[1:]
if "--help" in argv:
    print({help!r})
    sys.exit(0)
jobs = None
if "--jobs" in argv:
    i = argv.index("--jobs")
    jobs = argv[i + 1]
    del argv[i : i + 2]
with open({log!r}, "a") as f:
    f.write(json.dumps(jobs) + "\\n")
sys.argv = ["tapaudit", *argv]
from appliance.cli.main import main
sys.exit(main())
"""


def wrapper(tmp_path: Path, offers_jobs: bool) -> tuple[str, Path]:
    log = tmp_path / "jobs.log"
    script = tmp_path / ("with-jobs.py" if offers_jobs else "without-jobs.py")
    help_text = "  --jobs N  worker processes" if offers_jobs else "  --quiet"
    script.write_text(WRAPPER.format(help=help_text, log=str(log)))
    return f"{{python}} {script} replay {{capture}} --db {{db}} --json -q {{jobs}}", log


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench-cap")
    cmd = [sys.executable, "-m", "pcaps.synth.generate_lab", "--out-dir", str(out), "--packets", str(PACKETS)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    return out / f"lab-{PACKETS}.pcap"


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / "replay.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def rows(report: str, capture: str) -> list[list[str]]:
    """The cells of the table under the capture's heading."""
    block = report.split(f"**`{capture}`**", 1)[1]
    lines = [line for line in block.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[1:]]


def test_one_round_table(tmp_path: Path, capture: Path) -> None:
    template, log = wrapper(tmp_path, offers_jobs=True)
    results = tmp_path / "RESULTS.md"
    before, after = "# Benchmarks\n\nprose above\n\n", "\n\nprose below\n"
    results.write_text(f"{before}<!-- replay-bench:begin -->\nold figures\n<!-- replay-bench:end -->{after}")
    tools = "tapaudit,tapaudit-j2,dpkt"
    p = bench("--capture", str(capture), "--rounds", "1", "--tools", tools, "--tapaudit", template,
              "--results", str(results), "--write")  # fmt: skip
    assert p.returncode == 0, p.stderr
    two_cpus = (os.cpu_count() or 1) >= 2
    expected = ["tapaudit", "tapaudit-j2", "dpkt"] if two_cpus else ["tapaudit", "dpkt"]
    table = rows(p.stdout, capture.name)
    assert [r[0] for r in table] == expected
    assert f"**`{capture.name}`**: {PACKETS:,} packets" in p.stdout
    for r in table:
        assert len(r) == 9 and r[2] == f"{PACKETS:,}"  # the generator's count, and dpkt's own
        lo, med = (float(x) for x in r[3].split(" / "))
        assert 0 < lo <= med
        assert float(r[5]) > 0
    assert [r[6] for r in table if r[0].startswith("tapaudit")] == ["-"] * len(expected[:-1])
    dpkt = table[-1]
    assert re.fullmatch(r"\d+\.\d\d×", dpkt[6]) and re.fullmatch(r"\d+\.\d\d×", dpkt[7])
    truth = yaml.safe_load(capture.with_suffix(".truth.yaml").read_text())
    assert truth["packets"] == PACKETS
    assert table[0][8] == f"{truth['flows']:,} flows stored"
    assert re.search(r"load average \(1 min\) before and after each run: [\d.]+-[\d.]+", p.stdout)
    given = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(given) == (["1", "2"] if two_cpus else ["1"])
    if two_cpus:
        assert "`--jobs 2` ÷ `--jobs 1`" in p.stdout and "the same in every round" in p.stdout
    text = results.read_text()
    assert text.startswith(before) and text.endswith(after) and "old figures" not in text
    assert f"**`{capture.name}`**" in text and "Command: `python bench/replay.py --capture" in text


def test_tapaudit_command(tmp_path: Path) -> None:
    without, _ = wrapper(tmp_path, offers_jobs=False)
    with_jobs, _ = wrapper(tmp_path, offers_jobs=True)
    assert not replay_tools.jobs_supported(without)
    assert replay_tools.jobs_supported(with_jobs)
    cmd = replay_tools.tapaudit_command(with_jobs, Path("/x.pcap"), "/db", None)
    assert "--jobs" not in cmd and cmd[-5:] == ["/x.pcap", "--db", "/db", "--json", "-q"]
    assert replay_tools.tapaudit_command(with_jobs, Path("/x.pcap"), "/db", 2)[-2:] == ["--jobs", "2"]
    # the detector-heavy generator writes the personas' bench file beside its capture: tapaudit gets it
    (tmp_path / "detect-9.pcap").touch()
    (tmp_path / "detect-9.bench.yaml").touch()
    cmd = replay_tools.tapaudit_command(with_jobs, tmp_path / "detect-9.pcap", "/db", 1)
    assert cmd[-4:] == ["--jobs", "1", "--bench", str(tmp_path / "detect-9.bench.yaml")]


CHILDREN = """
import subprocess, sys, time
code = "import time; b = bytearray(100 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.5)"
kids = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
for k in kids:
    k.wait()
"""


# Measured from a fresh interpreter: Linux keeps a process's peak RSS across exec, and a child
# spawned by a large pytest worker (one that has loaded chDB) would start with that worker's peak.
MEASURE = """
import json, os, subprocess, sys
sys.path.insert(0, sys.argv[1])
import proctree
proc = subprocess.Popen([sys.executable, "-c", sys.argv[2]])
poller = proctree.TreePoller(proc.pid, interval=0.02, pss=True).start()
_pid, _status, ru = os.wait4(proc.pid, 0)
peak = poller.stop()
print(json.dumps({"maxrss": ru.ru_maxrss, "processes": peak.processes, "anon": peak.peak_anon,
                  "rss": peak.peak_rss, "pss": peak.peak_pss, "hwm_sum": peak.hwm_sum}))
"""


def test_tree_poller_sums_grandchildren() -> None:
    """Two grandchildren of 100 MiB each: wait4 gives the largest one, the poller their sum."""
    bench = str(Path(proctree.__file__).parent)
    out = subprocess.run([sys.executable, "-c", MEASURE, bench, CHILDREN], capture_output=True, text=True,
                         check=True, timeout=120)  # fmt: skip
    peak = json.loads(out.stdout)
    assert peak["maxrss"] < 150 * 1024  # KiB: the largest one process (a grandchild), not their sum
    assert peak["processes"] == 3
    assert peak["anon"] >= 200 * 1024 and peak["rss"] >= peak["anon"]
    assert peak["pss"] >= 200 * 1024  # the grandchildren share none of their 100 MiB
    assert peak["hwm_sum"] >= 200 * 1024


def test_missing_capture_is_one_line(tmp_path: Path) -> None:
    p = bench("--capture", str(tmp_path / "nope.pcap"), "--rounds", "1", "--tools", "dpkt")
    assert p.returncode != 0
    assert p.stderr.strip() == f"bench: {tmp_path / 'nope.pcap'}: no such file"
