"""CLI start-up: how long `tapaudit` takes before it does anything (issue 18, point 6: under 0.5 s).

Runs each command ``--runs`` times (default 5) as a fresh process, as a person would, and reports
the median wall time and the median CPU time (user + system of the child, from ``getrusage``).
The machine is shared, so the load average is printed with the figures.

    python bench/startup.py --db data           # the demo folder for `devices`
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

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


def one(args: list[str]) -> tuple[float, float, int]:
    """Wall and CPU seconds of one run, and its exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([str(TAPAUDIT), *args], cwd=ROOT, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True, help="a data folder with captures (make demo's)")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print("| command | exit | wall median (s) | CPU median (s) |")
    print("|---|---|---|---|")
    for name, args in commands(a.db).items():
        runs = [one(args) for _ in range(a.runs)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"| `{name}` | {runs[-1][2]} | {wall:.2f} | {cpu:.2f} |", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
