"""What decryption costs: ``tapaudit replay`` of TLS 1.3 traffic without keys, with keys, and in clear.

Issue 16 ("Speed"): decryption must not cost more than the dissection it unlocks. The captures
come from ``pcaps.synth.bench_tls`` (the TLS 1.3 lab many times over, and its clear twin with the
very same plaintext exchanges at the very same times), so three replays differ only in what
decryption does:

- (a) ``tls.pcap`` without keys: hellos dissected, the rest opaque;
- (b) ``tls.pcap --keylog``: every record opened, then HTTP/2, HTTP/1.1 and MQTT dissected;
- (c) ``clear.pcap``: the same HTTP/2, HTTP/1.1 and MQTT dissected, nothing to open.

Decryption's own cost is (b) - (c); the dissection it unlocks is (c) - (a); the figure is
(b - c) / (c - a), on CPU seconds, computed within each run (the three replays run back to back,
their order rotating from run to run, each its own process pinned to one CPU, CPU time and peak
RSS from ``wait4``), and its median over the runs quoted, since the machine is shared and noisy.

    python bench/decrypt.py --copies 280 --runs 5 --write
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pcaps.synth import bench_tls  # noqa: E402 - after the path fix, so the script runs from anywhere

_spec = importlib.util.spec_from_file_location("replay_bench", ROOT / "bench" / "replay.py")
assert _spec is not None and _spec.loader is not None
_replay_bench = sys.modules["replay_bench"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_replay_bench)
measure = _replay_bench.measure  # the replay bench's child runner: pinned, wait4's CPU time and peak RSS
# (and its writer of a marked section of RESULTS.md, _replay_bench.write_section)

RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- decrypt-bench:begin -->", "<!-- decrypt-bench:end -->"
MODES = {
    "a": "TLS, no keys (hellos only)",
    "b": "TLS with the key log (decrypt + dissect)",
    "c": "the same exchanges in clear (dissect only)",
}


@dataclass
class Mode:
    key: str
    packets: int = 0
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    summary: str = ""


def replay(capture: Path, keylog: Path | None, cpu: int) -> tuple[dict, float, float, float]:
    """One ``tapaudit replay`` in its own process: (its capture summary, wall s, CPU s, peak RSS MiB)."""
    with tempfile.TemporaryDirectory(prefix="tapaudit-decrypt-bench-") as db:
        cmd = [sys.executable, "-m", "appliance.cli", "replay", str(capture), "--db", db, "--json", "-q"]
        if keylog:
            cmd += ["--keylog", str(keylog)]
        out, wall, cpu_s, rss = measure(cmd, cpu)
    return json.loads(out)["captures"][0], wall, cpu_s, rss


def _summary(cap: dict) -> str:
    tls, st = cap.get("tls", {}), cap["stats"]
    dissected = ", ".join(f"{k} {st.get('dissected_' + k, 0):,}" for k in ("http", "http2", "mqtt"))
    return (
        f"TLS decrypted {tls.get('decrypted', 0):,}, no key {tls.get('no_key', 0):,}, "
        f"failed {tls.get('failed', 0):,}; dissected {dissected}; "
        f"{cap['records'].get('observations', 0):,} observations"
    )


def run(paths: dict[str, Path], runs: int, cpu: int) -> tuple[dict[str, Mode], list[float]]:
    modes = {k: Mode(k) for k in MODES}
    ratios: list[float] = []
    inputs = {"a": (paths["tls"], None), "b": (paths["tls"], paths["keylog"]), "c": (paths["clear"], None)}
    for k in MODES:  # warm-up: page cache, imports, chDB's first start
        replay(*inputs[k], cpu)
    order = list(MODES)
    for i in range(runs):
        this: dict[str, float] = {}
        for k in order[i % 3 :] + order[: i % 3]:
            cap, wall, cpu_s, rss = replay(*inputs[k], cpu)
            m = modes[k]
            m.packets, m.summary = cap["packets"], _summary(cap)
            m.cpu.append(cpu_s)
            m.wall.append(wall)
            m.rss.append(rss)
            this[k] = cpu_s
        unlocked = this["c"] - this["a"]
        ratios.append((this["b"] - this["c"]) / unlocked if unlocked > 0 else float("inf"))
        print(
            f"run {i + 1}: CPU s a {this['a']:.2f} b {this['b']:.2f} c {this['c']:.2f}; "
            f"(b-c)/(c-a) {ratios[-1]:.2f}",
            file=sys.stderr,
        )
    return modes, ratios


def table(modes: dict[str, Mode], ratios: list[float]) -> str:
    med = {k: statistics.median(m.cpu) for k, m in modes.items()}
    lines = [
        "| replay | packets | CPU s (median; min-max) | wall s | packets/s (CPU) | peak RSS MiB "
        "| what it saw |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for k, m in modes.items():
        lines.append(
            f"| ({k}) {MODES[k]} | {m.packets:,} | {med[k]:.2f} ({min(m.cpu):.2f}-{max(m.cpu):.2f}) | "
            f"{statistics.median(m.wall):.2f} | {m.packets / med[k]:,.0f} | {max(m.rss):.0f} | {m.summary} |"
        )
    r = sorted(ratios)
    lines += [
        "",
        f"Decryption's own cost (b) - (c): {med['b'] - med['c']:.2f} CPU s; the dissection it unlocks "
        f"(c) - (a): {med['c'] - med['a']:.2f} CPU s (medians). **(b - c) / (c - a) = "
        f"{statistics.median(r):.2f}** at the median of the runs' own ratios (runs: "
        + ", ".join(f"{x:.2f}" for x in ratios)
        + "); with keys ÷ in clear, CPU: "
        f"{med['b'] / med['c']:.2f}×.",
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=280, help="TLS lab copies (~720 packets, 34 sessions each)")
    ap.add_argument("--runs", type=int, default=5, help="interleaved runs of the 3 replays after a warm-up")
    ap.add_argument("--cpu", type=int, default=0, help="CPU to pin every replay to")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--write", action="store_true", help=f"write the table into {RESULTS.relative_to(ROOT)}")
    args = ap.parse_args()
    if args.copies < 1 or args.runs < 1:
        print("bench: --copies and --runs must be at least 1", file=sys.stderr)
        return 2
    paths = bench_tls.generate(args.out_dir, args.copies)
    sessions = sum(1 for line in paths["keylog"].open() if line.startswith("CLIENT_TRAFFIC_SECRET_0"))
    try:
        modes, ratios = run(paths, args.runs, args.cpu)
    except RuntimeError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    report = (
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs (shared with other work), Python {platform.python_version()}, every replay "
        f"pinned to CPU {args.cpu}, {args.runs} interleaved runs after a warm-up.\n"
        f"Captures: `{paths['tls'].name}` ({paths['tls'].stat().st_size / 1e6:.0f} MB, {sessions:,} TLS 1.3 "
        f"sessions) with `{paths['keylog'].name}`, and `{paths['clear'].name}` "
        f"({paths['clear'].stat().st_size / 1e6:.0f} MB).\n\n"
        f"Command: `python bench/decrypt.py {' '.join(sys.argv[1:])}`\n\n{table(modes, ratios)}\n"
    )
    print(report)
    if args.write:
        _replay_bench.write_section(BEGIN, END, report, "## Decryption: `bench/decrypt.py`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
