"""Zeek log ingestion rate: log rows per second through ``tapaudit replay`` of Zeek logs (issue 21).

    python bench/zeek_logs.py [--copies N] [--runs R]

The input is the Stratosphere lab's 24-hour ``010-zeek-mixed`` logs (../shared/pcaps, 11 logs,
6,400 rows), replayed as they are with CTU's network as the LAN, and, to measure the steady rate
beyond start-up, a rotated set of N days made from them (each copy a day later, its uids suffixed
with the copy's number, written as ``conn.YYYY-MM-DD-00-00-00.log.gz`` and so on: gzip and rotation
are read too). Each run is a fresh ``tapaudit replay`` process into a fresh chDB store, timed from
outside (wall) and as the replay reports it (``seconds`` of its JSON, after start-up and schema
creation); rows/s is the logs' data rows over the replay's seconds. One JSON line per input.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY = ROOT.parent / "shared" / "pcaps" / "stratosphere-security-datasets-for-testing" / "010-zeek-mixed"
CTU = "147.32.0.0/16"
DAY_S = 86_400


def data_rows(folder: Path) -> int:
    n = 0
    for p in folder.rglob("*"):
        if p.is_file() and p.name != "README.md" and p.name != "labels.config":
            opener = gzip.open if p.name.endswith(".gz") else open
            with opener(p, "rt") as fh:
                n += sum(1 for line in fh if line.strip() and not line.startswith("#"))
    return n


def make_days(out: Path, copies: int) -> None:
    """``copies`` days of the 010 logs as a rotated, gzip-compressed set (times shifted a day each)."""
    for src in sorted((DAY / "data").glob("*.labeled")):
        stream = src.name.split(".")[0]
        lines = src.read_text().splitlines()
        for k in range(copies):
            day = time.strftime("%Y-%m-%d", time.gmtime(1655157610 + k * DAY_S))
            rows = []
            for ln in lines:
                if ln.startswith("#"):
                    rows.append(ln)
                    continue
                parts = ln.split("\t")
                parts[0] = f"{float(parts[0]) + k * DAY_S:.6f}"
                if len(parts) > 1 and parts[1].startswith("C"):
                    parts[1] = f"{parts[1]}{k}"
                rows.append("\t".join(parts))
            with gzip.open(out / f"{stream}.{day}-00-00-00.log.gz", "wt") as fh:
                fh.write("\n".join(rows) + "\n")


def run(path: Path, runs: int) -> dict[str, object]:
    best: dict[str, object] = {}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as db:
            t0 = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-m", "appliance.cli", "--db", os.path.join(db, "db"), "replay", "--json",
                 "--lan", CTU, str(path)],
                capture_output=True, text=True, check=True, cwd=ROOT,
            )  # fmt: skip
            wall = time.perf_counter() - t0
        cap = json.loads(out.stdout)["captures"][0]
        rows = data_rows(path)
        got = {"input": str(path.name), "rows": rows, "flows": cap["flows"], "devices": cap["devices"],
               "replay_s": round(cap["seconds"], 2), "wall_s": round(wall, 2),
               "rows_per_s": round(rows / cap["seconds"])}  # fmt: skip
        if not best or got["replay_s"] < best["replay_s"]:
            best = got
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    print(json.dumps(run(DAY, a.runs)))
    with tempfile.TemporaryDirectory() as tmp:
        days = Path(tmp) / f"010-x{a.copies}"
        days.mkdir()
        make_days(days, a.copies)
        print(json.dumps(run(days, a.runs)))


if __name__ == "__main__":
    main()
