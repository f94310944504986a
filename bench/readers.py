"""Capture reading speed: the same packets as pcap and as pcapng, read whole through ``read_batches``.

The packets are the benchmark capture's (``pcaps.synth.benchcap``, written as
microsecond pcap by ``parsers.capture_write``); the pcapng holds the same packets,
written by the same writer the way the live ring writes (one interface,
``if_tsresol`` = 9, an EPB per packet). Both files are kept in ``bench/out``.
Each run reads each file once, whole, counting packets per batch (what the
replay loop receives); runs are interleaved (the order alternates from run to
run) after one warm-up read of each file, so the page cache and the machine's
drift treat both formats alike. Times are CPU seconds of this process
(``time.process_time``: the reader's own work plus the page faults of the
mapped file). ``--baseline REF`` also times the reader of another commit
(``git show REF:parsers/capture.py``, loaded beside the current one) on the same
files in the same runs, so before and after are measured together.

    python bench/readers.py --packets 1000000 --runs 7 --baseline main --write
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from parsers import capture  # noqa: E402 - after the path fix, so the script runs from anywhere
from parsers.capture_write import PcapngWriter  # noqa: E402
from pcaps.synth.benchcap import write_bench_capture  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- readers-bench:begin -->", "<!-- readers-bench:end -->"
FORMATS = ("pcap", "pcapng")


def captures(packets: int, seed: int) -> dict[str, Path]:
    """The pcap (generated once) and the pcapng of the same packets (converted once)."""
    out = ROOT / "bench" / "out" / f"readers-{packets}"
    pcap, pcapng = out / f"lab-{packets}.pcap", out / f"lab-{packets}.pcapng"
    if not pcap.exists():
        write_bench_capture(out, packets, seed)
    if not pcapng.exists():
        tmp = pcapng.with_suffix(".tmp")
        st = capture.ReadStats()
        with open(tmp, "wb") as fh, PcapngWriter(fh, userappl="tapaudit bench") as w:
            ifaces: dict[int, int] = {}
            for batch in capture.read_batches(str(pcap), st):
                for ts, lt, orig, data in batch:
                    ifid = ifaces.get(lt)
                    if ifid is None:
                        ifid = ifaces[lt] = w.add_interface(lt, tsresol=9)
                    w.write(ts, bytes(data), ifid, orig)
        os.replace(tmp, pcapng)
    return {"pcap": pcap, "pcapng": pcapng}


def load_reader(ref: str) -> ModuleType:
    """``parsers/capture.py`` as it is at git ``ref``, as a module of its own."""
    src = subprocess.run(
        ["git", "show", f"{ref}:parsers/capture.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="readers-bench-"))
    path = folder / "capture_baseline.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("capture_baseline", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["capture_baseline"] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


def read_once(reader: ModuleType, path: Path) -> tuple[float, int, int]:
    """CPU seconds to read the whole file; its packets and captured bytes (to check both agree)."""
    st = reader.ReadStats()
    n = 0
    t0 = time.process_time()
    for batch in reader.read_batches(str(path), st):
        n += len(batch)
    cpu = time.process_time() - t0
    assert n == st.packets and not st.truncated, (path, n, st.packets, st.error)
    return cpu, n, st.bytes


def measure(
    readers: dict[str, ModuleType], files: dict[str, Path], runs: int
) -> dict[tuple[str, str], list[float]]:
    """CPU seconds per (reader, format), runs interleaved, after a warm-up read of each pair."""
    pairs = [(r, f) for r in readers for f in FORMATS]
    seen: set[tuple[int, int]] = set()
    for r, f in pairs:
        _cpu, n, nbytes = read_once(readers[r], files[f])
        seen.add((n, nbytes))
    assert len(seen) == 1, f"the files or readers disagree: {seen}"
    times: dict[tuple[str, str], list[float]] = {p: [] for p in pairs}
    for i in range(runs):
        for r, f in pairs if i % 2 == 0 else pairs[::-1]:
            times[(r, f)].append(read_once(readers[r], files[f])[0])
    return times


def table(times: dict[tuple[str, str], list[float]], files: dict[str, Path], packets: int, cmd: str) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    runs = len(next(iter(times.values())))
    sizes = ", ".join(f"{f} {files[f].stat().st_size / 1e6:,.0f} MB" for f in FORMATS)
    lines = [
        f"Run {when} on {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"median of {runs} interleaved runs after a warm-up.",
        f"Packets: {packets:,} ({sizes}).",
        "",
        f"Command: `{cmd}`",
        "",
        "| reader | format | CPU s (median) | CPU s (min-max) | packets/s | pcapng ÷ pcap |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for reader in dict.fromkeys(r for r, _f in times):
        base = statistics.median(times[(reader, "pcap")])
        for f in FORMATS:
            runs_s = times[(reader, f)]
            med = statistics.median(runs_s)
            ratio = f"{med / base:.2f}×" if f == "pcapng" else "-"
            lines.append(
                f"| {reader} | {f} | {med:.3f} | {min(runs_s):.3f}-{max(runs_s):.3f} | "
                f"{packets / med:,.0f} | {ratio} |"
            )
    return "\n".join(lines)


def write(text: str) -> None:
    doc = RESULTS.read_text()
    if BEGIN not in doc:
        doc += f"\n{BEGIN}\n{END}\n"
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    RESULTS.write_text(doc[:start] + "\n" + text + "\n" + doc[end:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--baseline", metavar="REF", help="also time the reader of this git commit (e.g. main)")
    ap.add_argument("--cpu", type=int, help="pin this process to one CPU")
    ap.add_argument("--write", action="store_true", help=f"rewrite the table in {RESULTS.relative_to(ROOT)}")
    args = ap.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    files = captures(args.packets, args.seed)
    readers: dict[str, Any] = {}
    if args.baseline:
        readers[f"{args.baseline} (before)"] = load_reader(args.baseline)
    readers["this tree"] = capture
    times = measure(readers, files, args.runs)
    cmd = "python bench/readers.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = table(times, files, args.packets, cmd.strip())
    print(text)
    if args.write:
        write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
