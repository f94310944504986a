"""Replay throughput and memory in one run: tapaudit against tshark, scapy, dpkt and nfstream.

Issue 20, point 5. Every tool (``bench/replay_tools.py``: ``tapaudit replay`` with ``--jobs 1``
and ``--jobs 2``, tshark, scapy, dpkt, nfstream without and with nDPI; pyshark with
``--pyshark``) reads the same captures in interleaved rounds: round r runs every tool once on
every capture, in an order shuffled by ``--seed`` and r, so a drift of this shared machine's
load falls on every tool alike; tapaudit ÷ tool is taken within each round, on CPU time and
on wall time, and reported as its median and range over the rounds. Each tool runs as its own
process pinned with ``taskset`` to one CPU (``--jobs 2`` to two); CPU time is ``wait4``'s
(user + system of the child and every child it reaped); peak memory is the process tree's,
polled from /proc (``bench/proctree.py``). The 1-minute load average is read before and after
each run. Captures (``--capture``, repeatable) default to the generator's lab capture of
``--packets`` packets, the detector-heavy capture of ``pcaps.synth.generate_detect`` (when that
module exists) and a lab capture of ``--small-packets`` packets, where fixed cost dominates.
Each is read once first (its packets counted by tapaudit's reader), so the page cache is warm
for every tool.

    python bench/replay.py --rounds 3 --write           # ~15 min at 1M packets on 2 cores
    python bench/replay.py --memory-packets 10000000 --write

``--memory-packets N`` is a separate mode: ``tapaudit replay`` alone, ``--jobs 1`` and
``--jobs 2``, on a lab capture of N packets (made once in ``--out-dir``), reporting the peak
memory of the whole process tree (sampled every 20 ms) besides ``wait4``'s largest process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _p in (str(ROOT), str(BENCH)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from proctree import TreePeak, TreePoller  # noqa: E402 - after the path fix, so the script runs from anywhere
from replay_report import Run, capture_table, jobs_line, loads_line, memory_table  # noqa: E402
from replay_tools import (  # noqa: E402
    ALL_TOOLS,
    DEFAULT_TOOLS,
    TAPAUDIT,
    WHAT,
    invocation,
    jobs_supported,
    parse_output,
)

RESULTS = BENCH / "RESULTS.md"
BEGIN, END = "<!-- replay-bench:begin -->", "<!-- replay-bench:end -->"
MEM_BEGIN, MEM_END = "<!-- replay-memory:begin -->", "<!-- replay-memory:end -->"


def pinned(cmd: list[str], cpu: int | str) -> list[str]:
    return ["taskset", "-c", str(cpu), *cmd] if shutil.which("taskset") else cmd


def measure_tree(
    cmd: list[str], cpus: str, keep_stdout: bool = True, interval: float = 0.1, pss: bool = False
) -> tuple[str, float, float, int, TreePeak]:
    """Run a child pinned to ``cpus``; its stdout, wall s, CPU s, wait4's peak RSS (KiB) and
    what the poller saw of its process tree."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            pinned(cmd, cpus), stdout=out if keep_stdout else subprocess.DEVNULL, stderr=err, cwd=ROOT
        )
        poller = TreePoller(proc.pid, interval=interval, pss=pss).start()
        _pid, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        tree = poller.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise RuntimeError(f"{Path(cmd[0]).name} exited {proc.returncode}: {tail[0][-300:]}")
        out.seek(0)
        return out.read().decode(errors="replace"), wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, tree


def measure(cmd: list[str], cpu: int, keep_stdout: bool = True) -> tuple[str, float, float, float]:
    """Run a child pinned to one CPU; its stdout, wall s, CPU s and peak RSS in MiB (wait4's).
    (bench/decrypt.py's runner.)"""
    out, wall, cpu_s, maxrss, _tree = measure_tree(cmd, str(cpu), keep_stdout)
    return out, wall, cpu_s, maxrss / 1024


def run_once(args: argparse.Namespace, tool: str, capture: Path, packets: int, rnd: int, jobs: bool) -> Run:
    with tempfile.TemporaryDirectory(prefix="tapaudit-bench-") as db:
        inv = invocation(tool, capture, db, args.tapaudit, jobs, args.pyshark_packets)
        cpus = args.cpus2 if inv.cpus == 2 else str(args.cpu)
        load0 = os.getloadavg()[0]
        out, wall, cpu_s, maxrss, tree = measure_tree(
            inv.cmd, cpus, inv.keep_stdout, args.poll, pss=bool(args.memory_packets)
        )
        load1 = os.getloadavg()[0]
    said, note, facts = parse_output(tool, out)
    n = said or (min(packets, inv.packets_limit) if inv.packets_limit else packets)
    return Run(
        tool, capture.name, rnd, n, wall, cpu_s, maxrss, tree.peak_rss, tree.peak_anon, tree.hwm_sum,
        max(1, tree.processes), load0, load1, note, facts, tree.peak_pss,
    )  # fmt: skip


def generated(out_dir: Path, packets: int) -> Path:
    """The generator's lab capture of ``packets`` packets, made once and kept in ``out_dir``."""
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


def detect_capture(out_dir: Path, packets: int) -> Path | None:
    """The detector-heavy capture (issue 20, point 2) of ``pcaps.synth.generate_detect``, made once
    (with its bench file beside it, which tapaudit is given); None (and a line on stderr) when the
    module is missing or fails."""
    if importlib.util.find_spec("pcaps.synth.generate_detect") is None:
        print(
            "bench: no pcaps.synth.generate_detect in this tree: no detector-heavy capture", file=sys.stderr
        )
        return None
    capture = out_dir / f"detect-{packets}.pcap"
    if not capture.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        print(f"generating {capture} ...", file=sys.stderr)
        cmd = [
            sys.executable,
            "-m",
            "pcaps.synth.generate_detect",
            "--packets",
            str(packets),
            "--out",
            str(capture),
        ]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0 or not capture.exists():
            tail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}, no capture"])[-1]
            print(f"bench: generate_detect: {tail}: no detector-heavy capture", file=sys.stderr)
            return None
    return capture


def count_packets(capture: Path) -> int:
    """Packets in the capture, by tapaudit's own reader (this also warms the page cache)."""
    from parsers.capture import ReadStats, read_batches

    st = ReadStats()
    return sum(len(batch) for batch in read_batches(str(capture), st))


def captures(args: argparse.Namespace) -> list[Path]:
    if args.capture:
        missing = [c for c in args.capture if not c.is_file()]
        if missing:
            raise SystemExit(f"bench: {missing[0]}: no such file")
        return list(args.capture)
    out = [generated(args.out_dir, args.packets)]
    det = detect_capture(args.out_dir, args.packets)
    if det:
        out.append(det)
    if args.small_packets:
        out.append(generated(args.out_dir, args.small_packets))
    return out


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model
            )
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model}, {os.cpu_count()} CPUs, {mem:.0f} GiB RAM, Python {platform.python_version()}"


def write_section(begin: str, end: str, report: str, heading: str = "", results: Path = RESULTS) -> None:
    """Replace the text between a bench's two markers in RESULTS.md (added at the end, under
    ``heading``, when the markers are not there yet)."""
    text = results.read_text() if results.exists() else "# Benchmarks\n"
    if begin not in text:
        text += f"\n{heading}\n\n{begin}\n{end}\n" if heading else f"\n{begin}\n{end}\n"
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    results.write_text(f"{head}{begin}\n{report}{end}{tail}")


def rounds(args: argparse.Namespace, caps: list[tuple[Path, int]], tools: list[str], jobs: bool) -> list[Run]:
    """``args.rounds`` rounds; each runs every tool once on every capture, in a seeded shuffle."""
    runs: list[Run] = []
    failed: set[str] = set()
    pairs = [(tool, cap, n) for cap, n in caps for tool in tools]
    for rnd in range(args.rounds):
        order = pairs[:]
        random.Random(args.seed * 1000 + rnd).shuffle(order)
        for tool, cap, n in order:
            if tool in failed:
                continue
            print(f"round {rnd + 1}/{args.rounds}: {tool} on {cap.name} ...", file=sys.stderr)
            try:
                run = run_once(args, tool, cap, n, rnd, jobs)
            except (RuntimeError, OSError, ValueError) as exc:
                print(f"  {tool} left out: {exc}", file=sys.stderr)
                failed.add(tool)
                continue
            runs.append(run)
            print(
                f"  CPU {run.cpu_s:.2f} s, wall {run.wall_s:.2f} s, {run.peak_mib:.0f} MiB", file=sys.stderr
            )
    return [r for r in runs if r.tool not in failed]


def header(args: argparse.Namespace, runs: list[Run], jobs: bool, what: str) -> str:
    jobs_note = (
        "`tapaudit replay` takes `--jobs`: tapaudit runs with `--jobs 1` and `--jobs 2`"
        if jobs
        else "`tapaudit replay` has no `--jobs` in this tree yet: tapaudit runs without it (one worker) "
        "and `--jobs 2` is not run"
    )
    return (
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {machine()}; {what}; "
        f"{loads_line(runs)}.\n{jobs_note}; tapaudit command: `{args.tapaudit}`.\n\n"
        f"Command: `python bench/replay.py {shlex.join(sys.argv[1:])}`\n"
    )


def compare(args: argparse.Namespace) -> str:
    jobs = jobs_supported(args.tapaudit)
    tools = [t for t in args.tools.split(",") if t]
    if args.pyshark and "pyshark" not in tools:
        tools.append("pyshark")
    unknown = [t for t in tools if t not in ALL_TOOLS]
    if unknown:
        raise SystemExit(f"bench: unknown tool {unknown[0]} (known: {', '.join(ALL_TOOLS)})")
    if "tapaudit-j2" in tools and (not jobs or (os.cpu_count() or 1) < 2):
        print("bench: `tapaudit replay --jobs` not available here: --jobs 2 not run", file=sys.stderr)
        tools.remove("tapaudit-j2")
    caps = []
    for cap in captures(args):
        print(f"reading {cap.name} once (packet count, page cache) ...", file=sys.stderr)
        caps.append((cap, count_packets(cap)))
    runs = rounds(args, caps, tools, jobs)
    what = (
        f"{args.rounds} interleaved round{'s' if args.rounds > 1 else ''} (seed {args.seed}), "
        f"one-core tools pinned to CPU {args.cpu}"
        + (f", `--jobs 2` to CPUs {args.cpus2}" if "tapaudit-j2" in tools else "")
    )
    parts = [header(args, runs, jobs, what)]
    for cap, n in caps:
        parts.append(f"\n**`{cap.name}`**: {n:,} packets, {cap.stat().st_size / 1e6:.0f} MB.\n\n")
        parts.append(capture_table(runs, cap.name, tools, WHAT) + "\n")
        line = jobs_line(runs, cap.name)
        if line:
            parts.append(f"\n{line}\n")
    return "".join(parts)


def memory(args: argparse.Namespace) -> str:
    jobs = jobs_supported(args.tapaudit)
    big = generated(args.out_dir, args.memory_packets)
    n = count_packets(big)
    tools = ["tapaudit", "tapaudit-j2"] if jobs and (os.cpu_count() or 1) >= 2 else ["tapaudit"]
    runs = []
    args.poll = 0.02
    for tool in tools:
        print(f"memory: {tool} on {big.name} ...", file=sys.stderr)
        runs.append(run_once(args, tool, big, n, 0, jobs))
    what = (
        f"`tapaudit replay` alone on `{big.name}` ({n:,} packets, {big.stat().st_size / 1e6:,.0f} MB), "
        "its process tree's memory read from /proc every 20 ms; PSS counts a page that forked "
        "workers share with their parent once, RSS once per process"
    )
    return header(args, runs, jobs, what) + "\n" + memory_table(runs) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument(
        "--capture",
        type=Path,
        action="append",
        help="a capture to use (repeatable) instead of generated ones",
    )
    ap.add_argument(
        "--packets", type=int, default=1_000_000, help="packets of the generated lab and detector captures"
    )
    ap.add_argument(
        "--small-packets", type=int, default=10_000, help="packets of the small lab capture (0: none)"
    )
    ap.add_argument(
        "--tools", default=",".join(DEFAULT_TOOLS), help=f"comma-separated, of {', '.join(ALL_TOOLS)}"
    )
    ap.add_argument("--pyshark", action="store_true", help="also time pyshark (on a prefix)")
    ap.add_argument(
        "--pyshark-packets", type=int, default=20_000, help="pyshark is ~500 pkt/s: the prefix it reads"
    )
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    ap.add_argument("--seed", type=int, default=20, help="the rounds' shuffle")
    ap.add_argument("--cpu", type=int, default=0, help="the CPU one-core tools are pinned to")
    ap.add_argument("--cpus2", default="0,1", help="the CPUs `--jobs 2` is pinned to")
    ap.add_argument("--tapaudit", default=TAPAUDIT, help="tapaudit's command line; {jobs} becomes --jobs N")
    ap.add_argument("--poll", type=float, default=0.1, help="seconds between polls of a run's process tree")
    ap.add_argument("--out-dir", type=Path, default=BENCH / "out", help="where generated captures are kept")
    ap.add_argument(
        "--memory-packets",
        type=int,
        default=0,
        help="memory mode: tapaudit alone on a lab capture this large",
    )
    ap.add_argument("--write", action="store_true", help=f"write the result into {RESULTS.relative_to(ROOT)}")
    ap.add_argument("--results", type=Path, default=RESULTS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    # tapaudit's modules compiled first, as an installed package's are (bench/startup.py): with
    # PYTHONDONTWRITEBYTECODE set and no bytecode, every replay would compile them again (about
    # 0.1 CPU-s), which no user pays
    compiled = [sys.executable, "-m", "compileall", "-q", "appliance", "parsers", "policies"]
    subprocess.run(compiled, cwd=ROOT, check=True, capture_output=True)
    try:
        report = memory(args) if args.memory_packets else compare(args)
    except (RuntimeError, OSError, ValueError, subprocess.CalledProcessError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    print(report)
    if args.write:
        if args.memory_packets:
            write_section(MEM_BEGIN, MEM_END, report, "### Peak memory at scale", args.results)
        else:
            write_section(BEGIN, END, report, results=args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
