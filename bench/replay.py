"""Replay throughput and memory: tapaudit against tshark, scapy, nfstream and pyshark on one file, one run.

Each tool runs as its own child process pinned to one CPU (``taskset``), so its
wall time, CPU time and peak resident memory (``wait4`` rusage) are its own.
The capture comes from the committed generator (``pcaps.synth.generate_lab
--packets N``) unless ``--capture`` names one.

    python bench/replay.py --packets 1000000 --write
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- replay-bench:begin -->", "<!-- replay-bench:end -->"

SCAPY = """
import sys
from scapy.layers.l2 import Ether
from scapy.utils import RawPcapReader
n = 0
for data, _meta in RawPcapReader(sys.argv[1]):
    Ether(data)
    n += 1
print(n)
"""
NFSTREAM = """
import sys
from nfstream import NFStreamer
dpi = int(sys.argv[2])
streamer = NFStreamer(source=sys.argv[1], n_dissections=dpi, statistical_analysis=False, n_meters=0)
flows = sum(1 for _ in streamer)
print(flows)
"""
PYSHARK = """
import sys
import pyshark
cap = pyshark.FileCapture(sys.argv[1], keep_packets=False)
n = 0
for pkt in cap:
    n += 1
    if n >= int(sys.argv[2]):
        break
cap.close()
print(n)
"""
TSHARK_FIELDS = [
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "ip.proto",
    "ipv6.nxt",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
]


@dataclass
class Run:
    tool: str
    what: str
    packets: int
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    note: str = ""
    mb_s: float = 0.0

    @property
    def pps(self) -> float:
        return self.packets / self.wall_s if self.wall_s else 0.0


def pinned(cmd: list[str], cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu), *cmd] if shutil.which("taskset") else cmd


def measure(cmd: list[str], cpu: int, keep_stdout: bool = True) -> tuple[str, float, float, float]:
    """Run a child; return its stdout, wall seconds, CPU seconds and peak RSS in MiB (from wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            pinned(cmd, cpu), stdout=out if keep_stdout else subprocess.DEVNULL, stderr=err, cwd=ROOT
        )
        _pid, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(
                f"{cmd[0]} exited {proc.returncode}: {err.read().decode(errors='replace')[-300:]}"
            )
        out.seek(0)
        return out.read().decode(errors="replace"), wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def run_tool(tool: str, capture: Path, packets: int, cpu: int, pyshark_packets: int) -> Run:
    py = sys.executable
    if tool == "tapaudit":
        with tempfile.TemporaryDirectory(prefix="tapaudit-bench-") as db:
            out, wall, cpu_s, rss = measure(
                [py, "-m", "appliance.cli", "replay", str(capture), "--db", db, "--json", "-q"], cpu
            )
        cap = json.loads(out)["captures"][0]
        return Run(
            tool,
            "replay: decode, flows, every dissector, destinations, inventory, ClickHouse (chDB) inserts",
            cap["packets"],
            wall,
            cpu_s,
            rss,
            f"{cap['flows']:,} flows stored",
        )
    if tool == "tshark":
        cmd = ["tshark", "-n", "-r", str(capture), "-T", "fields"]
        for f in TSHARK_FIELDS:
            cmd += ["-e", f]
        _out, wall, cpu_s, rss = measure(cmd, cpu, keep_stdout=False)
        return Run(tool, "tshark -T fields (5-tuple)", packets, wall, cpu_s, rss)
    if tool == "scapy":
        out, wall, cpu_s, rss = measure([py, "-c", SCAPY, str(capture)], cpu)
        return Run(tool, "RawPcapReader + Ether() decode loop", int(out.split()[-1]), wall, cpu_s, rss)
    if tool in ("nfstream", "nfstream-dpi"):
        dpi = tool == "nfstream-dpi"  # nDPI's default: up to 20 packets per flow dissected
        out, wall, cpu_s, rss = measure([py, "-c", NFSTREAM, str(capture), "20" if dpi else "0"], cpu)
        what = "NFStreamer flows with nDPI (20 packets/flow)" if dpi else "NFStreamer flows, no DPI"
        return Run(tool, what, packets, wall, cpu_s, rss, f"{int(out.split()[-1]):,} flows")
    if tool == "pyshark":
        n = min(packets, pyshark_packets)
        out, wall, cpu_s, rss = measure([py, "-c", PYSHARK, str(capture), str(n)], cpu)
        return Run(
            tool, f"FileCapture iteration (first {n:,} packets only)", int(out.split()[-1]), wall, cpu_s, rss
        )
    raise ValueError(f"unknown tool {tool}")


def table(runs: list[Run]) -> str:
    base = next((r for r in runs if r.tool == "tapaudit"), None)
    lines = [
        "| tool | what it does | packets | wall s | CPU s | packets/s | MB/s | peak RSS MiB "
        "| tapaudit ÷ tool | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        ratio = f"{base.pps / r.pps:.1f}×" if base and r.pps and "," not in r.tool else "-"
        lines.append(
            f"| {r.tool} | {r.what} | {r.packets:,} | {r.wall_s:.1f} | {r.cpu_s:.1f} | {r.pps:,.0f} | "
            f"{r.mb_s:.1f} | {r.peak_rss_mib:.0f} | {ratio} | {r.note} |"
        )
    return "\n".join(lines)


def generated(out_dir: Path, packets: int) -> Path:
    """The generator's benchmark capture of ``packets`` packets, made once and kept in bench/out."""
    out_dir.mkdir(parents=True, exist_ok=True)
    capture = out_dir / f"lab-{packets}.pcap"
    if not capture.exists():
        print(f"generating {capture} ...", file=sys.stderr)
        cmd = [
            sys.executable,
            "-m",
            "pcaps.synth.generate_lab",
            "--out-dir",
            str(out_dir),
            "--packets",
            str(packets),
        ]
        subprocess.run(cmd, cwd=ROOT, check=True)
    return capture


def write_section(begin: str, end: str, report: str, heading: str = "") -> None:
    """Replace the text between a bench's two markers in RESULTS.md (added at the end, under
    ``heading``, when the markers are not there yet)."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    if begin not in text:
        text += f"\n{heading}\n\n{begin}\n{end}\n" if heading else f"\n{begin}\n{end}\n"
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    RESULTS.write_text(f"{head}{begin}\n{report}{end}{tail}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000, help="packets in the generated capture")
    ap.add_argument("--capture", type=Path, help="use this capture instead of generating one")
    ap.add_argument("--tools", default="tapaudit,tshark,scapy,nfstream,nfstream-dpi,pyshark")
    ap.add_argument("--pyshark-packets", type=int, default=20_000, help="pyshark is ~1k pkt/s: time a prefix")
    ap.add_argument("--cpu", type=int, default=0, help="CPU to pin every tool to")
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs per tool; the median by wall time is reported"
    )
    ap.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument(
        "--memory-packets",
        type=int,
        default=0,
        help="also replay a capture this large with tapaudit alone, to show memory stays flat",
    )
    ap.add_argument("--write", action="store_true", help=f"write the table into {RESULTS.relative_to(ROOT)}")
    args = ap.parse_args()

    capture = args.capture or generated(args.out_dir, args.packets)
    if not capture.exists():
        print(f"bench: {capture}: no such file", file=sys.stderr)
        return 1
    size = capture.stat().st_size
    runs: list[Run] = []
    for tool in args.tools.split(","):
        print(f"running {tool} ...", file=sys.stderr)
        try:  # the median run by wall time: shared machines are noisy
            tries = [
                run_tool(tool, capture, args.packets, args.cpu, args.pyshark_packets)
                for _ in range(args.repeat)
            ]
        except (RuntimeError, FileNotFoundError) as exc:
            print(f"  {tool} skipped: {exc}", file=sys.stderr)
            continue
        r = sorted(tries, key=lambda x: x.wall_s)[len(tries) // 2]
        if args.repeat > 1:
            r.note = (
                (r.note + "; " if r.note else "")
                + "walls "
                + "/".join(f"{x.wall_s:.1f}" for x in tries)
                + " s"
            )
        r.mb_s = size / 1e6 * (r.packets / args.packets) / r.wall_s if r.wall_s else 0.0
        runs.append(r)
        print(f"  {r.pps:,.0f} packets/s, peak {r.peak_rss_mib:.0f} MiB", file=sys.stderr)
    if args.memory_packets:
        big = generated(args.out_dir, args.memory_packets)
        print(f"running tapaudit on {big.name} ...", file=sys.stderr)
        r = run_tool("tapaudit", big, args.memory_packets, args.cpu, 0)
        r.tool = f"tapaudit, {args.memory_packets / 1e6:g}M packets"
        r.mb_s = big.stat().st_size / 1e6 / r.wall_s
        runs.append(r)
    report = (
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, every tool pinned to CPU {args.cpu}, "
        f"median of {args.repeat} runs.\n"
        f"Capture: `{capture.name}`, {args.packets:,} packets, {size / 1e6:.0f} MB.\n\n"
        f"Command: `python bench/replay.py {' '.join(sys.argv[1:])}`\n\n{table(runs)}\n"
    )
    print(report)
    if args.write:
        write_section(BEGIN, END, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
