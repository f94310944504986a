"""CLI start-up: how long `tapaudit` takes before it does anything (issue 18, point 6: under 0.5 s),
and a replay's fixed cost (issue 20, point 3: under 0.5 CPU-s).

Runs each command ``--runs`` times (default 5) as a fresh process, as a person would, and reports
the median wall time and the median CPU time (user + system of the child, from ``getrusage``).
The machine is shared, so the load average is printed with the figures.

With ``--replay``: `tapaudit replay -q` of the generator's benchmark capture of 10,000 packets
into a fresh store and into an existing one (a copy, made before each run, of a store holding
another 10,000-packet capture of the generator, seed 8), of a pcap with no packet into the
existing store, and of the 110,000-packet capture into the existing store. The fixed cost is the
10k replay's CPU minus 10,000 times the cost per packet, which is the difference of the 110k and
10k replays over 100,000 packets (flat from there: bench/RESULTS.md, issue 20).

tapaudit's modules are compiled first (``compileall``, into the tree's ``__pycache__``) as an
installed package's are: with PYTHONDONTWRITEBYTECODE set and no bytecode, every run would compile
them again (0.12 CPU-s of a replay on this machine), which no user pays.

    python bench/startup.py --db data           # the demo folder for `devices`
    python bench/startup.py --replay            # the replay's fixed cost only
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from parsers.capture_write import pcap_header

ROOT = Path(__file__).resolve().parent.parent
TAPAUDIT = Path(sys.executable).with_name("tapaudit")


def commands(db: str) -> dict[str, list[str]]:
    """The commands timed: help, a group's help, an error exit, and a short read of a store."""
    return {
        "tapaudit --help": ["--help"],
        "tapaudit findings --help": ["findings", "--help"],
        "tapaudit replay /nonexistent (error)": ["replay", "/nonexistent"],
        "tapaudit devices --db DEMO": ["devices", "--db", db],
    }


def one(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Wall and CPU seconds of one run, and its exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([str(TAPAUDIT), *args], cwd=ROOT, capture_output=True, check=False, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.returncode


def generated(out: Path, packets: int, seed: int) -> Path:
    """The generator's benchmark capture (``pcaps.synth.generate_lab --packets``), made once."""
    capture = out / f"lab-{packets}.pcap"
    if not capture.exists():
        cmd = [sys.executable, "-m", "pcaps.synth.generate_lab", "--out-dir", str(out),
               "--packets", str(packets), "--seed", str(seed)]  # fmt: skip
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    return capture


def replay_cases(runs: int) -> None:
    """The replay's fixed cost: each case ``runs`` times, the cases alternated within a round."""
    out = ROOT / "bench" / "out"
    small, large = generated(out, 10_000, 7), generated(out, 110_000, 7)
    other = generated(out / "seed-8", 10_000, 8)
    with tempfile.TemporaryDirectory(prefix="startup-replay-") as tmp:
        env = dict(os.environ, TAPAUDIT_MASKING_KEY_FILE=str(Path(tmp, "masking.key")))
        env.pop("TAPAUDIT_DB", None)
        empty = Path(tmp, "empty.pcap")
        empty.write_bytes(pcap_header())
        template, db = Path(tmp, "template"), Path(tmp, "db")
        made = one(["--db", str(template), "replay", "-q", str(other)], env)
        if made[2] != 0:
            raise SystemExit(f"could not make the existing store (exit {made[2]})")
        cases = {
            "replay 10k, fresh store": (None, small),
            "replay 10k, existing store": (template, small),
            "replay 0 packets, existing store": (template, empty),
            "replay 110k, existing store": (template, large),
        }
        got: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cases}
        for _ in range(runs):
            for name, (base, capture) in cases.items():
                shutil.rmtree(db, ignore_errors=True)
                if base is not None:
                    shutil.copytree(base, db, symlinks=True)  # chDB's table links are relative
                # one process: the 110k capture is over --jobs 0's 32 MiB, and a second worker
                # would add its own walk of the capture to the cost per packet
                got[name].append(one(["--db", str(db), "replay", "-q", "--jobs", "1", str(capture)], env))
    cpu = {name: statistics.median(r[1] for r in rs) for name, rs in got.items()}
    for name, rs in got.items():
        wall = statistics.median(r[0] for r in rs)
        print(f"| `tapaudit {name}` | {rs[-1][2]} | {wall:.2f} | {cpu[name]:.2f} |", flush=True)
    per_packet = (cpu["replay 110k, existing store"] - cpu["replay 10k, existing store"]) / 100_000
    print(f"\nper packet {per_packet * 1e6:.1f} µs; fixed cost (10k replay minus 10,000 packets): "
          f"existing store {cpu['replay 10k, existing store'] - 10_000 * per_packet:.2f} CPU-s, "
          f"fresh store {cpu['replay 10k, fresh store'] - 10_000 * per_packet:.2f} CPU-s")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="a data folder with captures (make demo's); without it, no start-up cases")
    ap.add_argument("--replay", action="store_true", help="time a replay's fixed cost too")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    compiled = [sys.executable, "-m", "compileall", "-q", "appliance", "parsers", "policies"]
    subprocess.run(compiled, cwd=ROOT, check=True, capture_output=True)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print("| command | exit | wall median (s) | CPU median (s) |")
    print("|---|---|---|---|")
    for name, args in commands(a.db).items() if a.db else ():
        runs = [one(args) for _ in range(a.runs)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"| `{name}` | {runs[-1][2]} | {wall:.2f} | {cpu:.2f} |", flush=True)
    if a.replay:
        replay_cases(a.runs)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
