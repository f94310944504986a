"""What ``tapaudit assess --confirm`` adds on the demo lab (issue 22): Wireshark's check of every finding.

The lab is replayed into a fresh data folder as ``make demo`` does (``tests.support.run.assessed_lab``);
then ``tapaudit assess --declaration pcaps/lab/declarations`` runs ``--runs`` times without and with
``--confirm``, each as a user runs it, in a process of its own. Wall seconds from the clock; CPU
seconds (user + system) of the command and every process it started (the workers and their tshark)
from ``getrusage(RUSAGE_CHILDREN)``. The medians are printed as a Markdown table for bench/RESULTS.md.

    TAPAUDIT_MASKING_KEY_FILE=/tmp/bench.key .venv/bin/python bench/confirm.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(args: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the process tree) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from tests.support.run import assessed_lab

    with tempfile.TemporaryDirectory(prefix="bench-confirm-") as tmp:
        db = str(Path(tmp) / "db")
        assessed_lab(db)
        base = [sys.executable, "-m", "appliance.cli", "assess", "--declaration", "pcaps/lab/declarations"]
        base += ["--db", db]
        plain = [timed(base) for _ in range(args.runs)]
        confirm = [timed([*base, "--confirm"]) for _ in range(args.runs)]
        doc = json.loads(
            subprocess.run(
                [sys.executable, "-m", "appliance.cli", "findings", "--json", "--db", db],
                cwd=ROOT, check=True, capture_output=True, text=True,
            ).stdout
        )  # fmt: skip
    outcomes = Counter((f["wireshark"] or {}).get("outcome", "unchecked") for f in doc)
    pw, pc = (statistics.median(x) for x in zip(*plain, strict=True))
    cw, cc = (statistics.median(x) for x in zip(*confirm, strict=True))
    print(f"{len(doc)} findings, {os.cpu_count()} cores, {args.runs} runs each; outcomes {dict(outcomes)}")
    print("| command | wall s | CPU s |")
    print("|---|---:|---:|")
    print(f"| assess | {pw:.1f} | {pc:.1f} |")
    print(f"| assess --confirm | {cw:.1f} | {cc:.1f} |")
    print(f"| ratio | {cw / pw:.1f}x | {cc / pc:.1f}x |")
    print(
        f"| per finding (--confirm minus assess) | {(cw - pw) / len(doc):.2f} | {(cc - pc) / len(doc):.2f} |"
    )


if __name__ == "__main__":
    main()
