"""The replay benchmark's tables: per capture and tool, CPU and wall time (min and median), peak
memory, and tapaudit ÷ tool taken within each round (issue 20, point 5).

The machine is shared, so absolute times drift with its load; the figure that counts is the
ratio of two runs of the same round (run minutes apart at most, under about the same load).
"tapaudit ÷ tool" is tapaudit's packets per second over the tool's, on CPU time and on wall
time: above 1 tapaudit is faster. Packets per second rather than seconds, so a tool timed on a
prefix (pyshark) is compared fairly.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

MIB = 1024  # /proc and wait4 report KiB


@dataclass
class Run:
    """One tool on one capture in one round."""

    tool: str
    capture: str
    round: int
    packets: int
    wall_s: float
    cpu_s: float
    maxrss_kib: int  # wait4: the largest single process
    tree_rss_kib: int = 0  # polled: the tree's largest simultaneous VmRSS sum
    tree_anon_kib: int = 0
    hwm_sum_kib: int = 0  # polled: the sum of every process's own VmHWM
    processes: int = 1
    load_before: float = 0.0
    load_after: float = 0.0
    note: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    tree_pss_kib: int = 0  # polled (memory mode): the tree's largest simultaneous Pss sum

    @property
    def peak_mib(self) -> float:
        """The tree's peak: the polled sum, or wait4's own figure when polling missed it."""
        return max(self.tree_rss_kib, self.maxrss_kib) / MIB

    def pps(self, on: str) -> float:
        t = self.cpu_s if on == "cpu" else self.wall_s
        return self.packets / t if t else 0.0


def spread(xs: list[float], unit: str = "×") -> str:
    """``median× (min-max)``, or the one value."""
    if not xs:
        return "-"
    med = f"{statistics.median(xs):.2f}{unit}"
    return med if len(xs) == 1 else f"{med} ({min(xs):.2f}-{max(xs):.2f})"


def ratios(runs: list[Run], tool: str, capture: str, on: str, base: str = "tapaudit") -> list[float]:
    """Per round: the base's packets/s over ``tool``'s (both runs of that round)."""
    out = []
    by_round = {(r.tool, r.round): r for r in runs if r.capture == capture}
    for (t, rnd), run in sorted(by_round.items(), key=lambda kv: kv[0][1]):
        b = by_round.get((base, rnd))
        if t == tool and b and run.pps(on) and b.pps(on):
            out.append(b.pps(on) / run.pps(on))
    return out


def capture_table(runs: list[Run], capture: str, tools: list[str], what: dict[str, str]) -> str:
    lines = [
        "| tool | what it does | packets | CPU s min / median | wall s min / median "
        "| peak RSS MiB | tapaudit ÷ tool, CPU: median (range) | tapaudit ÷ tool, wall: median (range) "
        "| note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for tool in tools:
        mine = [r for r in runs if r.capture == capture and r.tool == tool]
        if not mine:
            continue
        cpu, wall = [r.cpu_s for r in mine], [r.wall_s for r in mine]
        peak = max(r.peak_mib for r in mine)
        procs = max(r.processes for r in mine)
        note = mine[-1].note + (f"; {procs} processes" if procs > 1 else "")
        by_cpu, by_wall = ratios(runs, tool, capture, "cpu"), ratios(runs, tool, capture, "wall")
        if tool.startswith("tapaudit"):  # --jobs 2 against --jobs 1: jobs_line, under the table
            by_cpu = by_wall = []
        lines.append(
            f"| {tool} | {what.get(tool, tool)} | {mine[0].packets:,} "
            f"| {min(cpu):.2f} / {statistics.median(cpu):.2f} "
            f"| {min(wall):.2f} / {statistics.median(wall):.2f} "
            f"| {peak:.0f} | {spread(by_cpu)} | {spread(by_wall)} | {note.strip('; ')} |"
        )
    return "\n".join(lines)


def jobs_line(runs: list[Run], capture: str) -> str:
    """``--jobs 2`` against ``--jobs 1`` in the same rounds: wall speed-up, CPU cost, same results."""
    two = [r for r in runs if r.capture == capture and r.tool == "tapaudit-j2"]
    if not two:
        return ""
    speed = ratios(runs, "tapaudit-j2", capture, "wall")
    cpu = ratios(runs, "tapaudit-j2", capture, "cpu")  # j1's packets/s over j2's: j2's CPU s over j1's
    one = {r.round: r.facts for r in runs if r.capture == capture and r.tool == "tapaudit"}
    same = all(one.get(r.round) == r.facts for r in two)
    return (
        f"`--jobs 2` ÷ `--jobs 1`, same rounds: wall speed-up {spread([1 / x for x in speed])}, "
        f"CPU time {spread(cpu)}; packets, flows and records per table "
        f"{'the same in every round' if same else '**differ**'}."
    )


def loads_line(runs: list[Run]) -> str:
    loads = [x for r in runs for x in (r.load_before, r.load_after)]
    if not loads:
        return ""
    return (
        f"load average (1 min) before and after each run: {min(loads):.1f}-{max(loads):.1f} "
        f"(median {statistics.median(loads):.1f})"
    )


def memory_table(runs: list[Run]) -> str:
    lines = [
        "| replay | packets | wall s | CPU s | tree peak PSS MiB (sampled sum) | tree peak RSS MiB "
        "| of it anonymous MiB | sum of each process's peak RSS MiB | largest process MiB (wait4) "
        "| processes | load before / after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.tool} | {r.packets:,} | {r.wall_s:.1f} | {r.cpu_s:.1f} | {r.tree_pss_kib / MIB:.0f} "
            f"| {r.tree_rss_kib / MIB:.0f} "
            f"| {r.tree_anon_kib / MIB:.0f} | {r.hwm_sum_kib / MIB:.0f} | {r.maxrss_kib / MIB:.0f} "
            f"| {r.processes} | {r.load_before:.1f} / {r.load_after:.1f} |"
        )
    return "\n".join(lines)
