"""Live capture soak: `tapaudit capture` on a lab link under fixed-rate traffic (needs root).

    python bench/soak.py --search [--step-seconds 20]            # the highest zero-drop rate
    python bench/soak.py --rate 20000 --seconds 600              # the 10-minute soak at one rate
    python bench/soak.py --search --rate 20000 --seconds 600 --write
    python bench/soak.py --search --senders 2                     # more offered load than 1 generator

Builds the lab network of ``tests/support/netlab.py`` (namespaces dev / tap (a bridge) / cloud), starts
``tapaudit capture -i <tap port> --json --quiet`` in ns tap with a fresh embedded store, ring, spool
and control socket, waits until it answers ``status``, then sends UDP frames from ns dev with
``bench/traffic.py`` (``--size`` bytes, ``--flows`` distinct 5-tuples, unicast to the cloud's MAC so
the bridge forwards them across the tap port) at a fixed rate for S seconds. It then waits until the
capture has read everything the port saw (its packet count stops growing), stops it with SIGTERM and
reads its final JSON.

Per run: sent (the generator), crossed (the tap port's rx+tx counters, delta), captured (the
capture's ``packets``), kernel and interface drops (``dropped``, ``if_dropped``), lost = sent -
captured (whatever the capture missed, counted or not), the capture process's CPU (% of one core,
mean and max over the traffic, sampled every second with psutil) and RSS (max), flows written,
batches, ring files' total size. A run is clean when nothing was lost or dropped.

``--search`` ramps: doubling from ``--start`` until a run is not clean, then bisecting between the
last clean and the first unclean rate until they are within ``--tolerance`` (10%). A run whose
generator could not reach its rate (``achieved_pps`` under 98% of it) counts at the rate it
reached; a clean one that brings no progress is run again, then ends the search (the machine cannot
offer more load: ``--senders N`` runs N generators, each with its share of rate and flows).
``--write`` puts the tables between the soak markers in bench/RESULTS.md (a run with only one of
search/soak keeps the other's table already there).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from appliance.live.control import ControlError, request  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- soak-bench:begin -->", "<!-- soak-bench:end -->"
SEARCH_BEGIN, SEARCH_END = "<!-- soak-bench:search:begin -->", "<!-- soak-bench:search:end -->"
SOAK_BEGIN, SOAK_END = "<!-- soak-bench:soak:begin -->", "<!-- soak-bench:soak:end -->"
HEADING = "## Live capture soak: `bench/soak.py`"
TAPAUDIT = str(Path(sys.executable).with_name("tapaudit"))
TRAFFIC = ROOT / "bench" / "traffic.py"
GEN_OK = 0.98  # a run whose generator reached less of its rate is generator-limited


@dataclass
class RunResult:
    rate: float
    seconds: float
    sent: int = 0
    achieved_pps: float = 0.0
    gen_errors: int = 0
    crossed: int = 0  # the tap port's rx+tx packets during the run
    port_rx_dropped: int = 0
    captured: int = 0
    kernel_dropped: int = 0
    if_dropped: int = 0
    lost: int = 0  # sent - captured
    drain_s: float = 0.0  # after the traffic, until the capture had read everything
    cpu_mean: float = 0.0  # % of one core, over the traffic
    cpu_max: float = 0.0
    rss_max_mb: float = 0.0
    flows: int = 0
    batches: int = 0
    flush_s_max: float = 0.0  # the capture's longest flush (no packet read meanwhile)
    observations: int = 0
    ring_files: int = 0
    ring_bytes: int = 0
    spool_pending: int = 0
    status: str = ""
    returncode: int = 0
    stderr_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def drops(self) -> int:
        return self.kernel_dropped + self.if_dropped

    @property
    def gen_limited(self) -> bool:
        return self.rate > 0 and self.sent < GEN_OK * self.rate * self.seconds

    @property
    def clean(self) -> bool:
        return self.returncode == 0 and self.lost == 0 and self.drops == 0 and self.sent > 0

    def line(self) -> str:
        flag = "clean" if self.clean else "DROPS"
        if self.gen_limited:
            flag += f", generator-limited ({self.achieved_pps:,.0f} pps)"
        return (
            f"rate {self.rate:,.0f} pps x {self.seconds:g} s: sent {self.sent:,}, crossed {self.crossed:,}, "
            f"captured {self.captured:,}, drops {self.kernel_dropped:,} kernel + {self.if_dropped:,} iface, "
            f"lost {self.lost:,}, drain {self.drain_s:.1f} s, cpu {self.cpu_mean:.0f}% mean / "
            f"{self.cpu_max:.0f}% max, rss {self.rss_max_mb:.0f} MB max, flows {self.flows:,}, "
            f"batches {self.batches}, ring {self.ring_bytes / 1e6:.1f} MB in {self.ring_files} files [{flag}]"
        )


class Sampler(threading.Thread):
    """Every ``period`` s: the process's (and its children's) CPU % of one core and RSS."""

    def __init__(self, pid: int, period: float = 1.0):
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.period = period
        self.done = threading.Event()
        self.traffic = threading.Event()  # CPU samples count while this is set
        self.cpu: list[float] = []
        self.rss: list[int] = []
        self._last: dict[int, psutil.Process] = {}
        self.window: list[tuple[float, float]] = []  # (monotonic, CPU seconds) at the traffic's start/end

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self._procs():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def mark(self) -> None:
        """Call at the traffic's start and end: the exact mean CPU over it is the difference."""
        self.window.append((time.monotonic(), self.cpu_seconds()))

    def _procs(self) -> list[psutil.Process]:
        procs = [self.proc]
        with contextlib.suppress(psutil.Error):
            procs += self.proc.children(recursive=True)
        out = []
        for p in procs:  # keep the same Process objects: cpu_percent() measures since the last call
            out.append(self._last.setdefault(p.pid, p))
        return out

    def _sample(self, keep_cpu: bool) -> None:
        cpu = 0.0
        rss = 0
        for p in self._procs():
            with contextlib.suppress(psutil.Error):
                cpu += p.cpu_percent(None)
                rss += p.memory_info().rss
        if rss:
            self.rss.append(rss)
        if keep_cpu:
            self.cpu.append(cpu)

    def run(self) -> None:
        self._sample(False)  # primes cpu_percent
        while not self.done.wait(self.period):
            self._sample(self.traffic.is_set())


def _capture_pid(popen_pid: int) -> int:
    """The tapaudit process: `ip netns exec` execs it, so normally the Popen's own pid."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(popen_pid)
            for q in [p, *p.children(recursive=True)]:
                cmd = q.cmdline()
                if any(Path(c).name == "tapaudit" for c in cmd) and "capture" in cmd:
                    return q.pid
        time.sleep(0.05)
    raise RuntimeError(f"no tapaudit capture process under pid {popen_pid}")


def _status(control: str) -> dict[str, Any]:
    return dict(request(control, {"op": "status"}, timeout=5)["session"])


def _wait_ready(control: str, proc: subprocess.Popen[Any], errlog: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"capture exited with {proc.returncode}:\n{errlog.read_text()[-2000:]}")
        try:
            _status(control)
            return
        except ControlError:
            time.sleep(0.2)
    raise RuntimeError("the capture session never answered")


def _wait_drained(control: str, target: int, stable_s: float = 2.0, timeout: float = 120.0) -> float:
    """Wait until the capture's packet count reaches ``target`` or stops growing; the seconds waited."""
    t0 = time.monotonic()
    last, since = -1, t0
    while time.monotonic() - t0 < timeout:
        try:
            n = int(_status(control)["packets"])
        except ControlError:
            break
        now = time.monotonic()
        if n >= target:
            return now - t0
        if n != last:
            last, since = n, now
        elif now - since >= stable_s:
            return since - t0
        time.sleep(0.2)
    return time.monotonic() - t0


def _traffic(lab: Any, args: argparse.Namespace, rate: float, seconds: float) -> list[dict[str, Any]]:
    """``--senders`` bench/traffic.py processes in ns dev at once, each with its share of the rate and
    of the flows (its own source address, so the 5-tuples stay distinct); their JSON results."""
    n = args.senders
    procs = []
    for i in range(n):
        flows = args.flows // n + (1 if i < args.flows % n else 0)
        argv = [sys.executable, str(TRAFFIC), "--netns", lab.ns_dev, "--iface", lab.dev_iface,
                "--pps", str(rate / n), "--seconds", str(seconds), "--size", str(args.size),
                "--flows", str(max(flows, 1)), "--dst-mac", lab.cloud_mac,
                "--src-ip", f"10.77.0.{200 + i}"]  # fmt: skip
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=seconds + 120)
        if p.returncode != 0:
            raise RuntimeError(f"traffic.py failed ({p.returncode}): {stderr[-2000:]}")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def one_run(lab: Any, args: argparse.Namespace, rate: float, seconds: float) -> RunResult:
    res = RunResult(rate=rate, seconds=seconds)
    tmp = Path(tempfile.mkdtemp(prefix="soak-", dir=args.tmp))
    control = str(tmp / "control.sock")
    errlog = tmp / "capture.stderr"
    argv = [TAPAUDIT, "capture", "-i", lab.tap_iface, "--db", str(tmp / "db"), "--ring", str(tmp / "ring"),
            "--ring-size", str(args.ring_size), "--ring-files", str(args.ring_files),
            "--spool", str(tmp / "spool"), "--control", control, "--flush", str(args.flush),
            "--json", "--quiet"]  # fmt: skip
    try:
        with open(errlog, "wb") as err:
            proc = lab.popen(lab.ns_tap, argv, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            _wait_ready(control, proc, errlog)
            sampler = Sampler(_capture_pid(proc.pid))
            sampler.start()
            before = lab.counters()
            sampler.mark()
            sampler.traffic.set()
            gens = _traffic(lab, args, rate, seconds)
            sampler.traffic.clear()
            sampler.mark()
            res.sent = sum(int(g["sent"]) for g in gens)
            res.gen_errors = sum(int(g["errors"]) for g in gens)
            took = max(float(g["seconds"]) for g in gens)
            res.achieved_pps = round(res.sent / took, 1) if took > 0 else 0.0
            time.sleep(0.5)  # the last frames cross the bridge
            after = lab.counters()
            delta = after - before
            res.crossed, res.port_rx_dropped = delta.packets, delta.rx_dropped
            res.drain_s = round(_wait_drained(control, delta.packets), 2)
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=600)
            sampler.done.set()
            sampler.join(5)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        res.returncode = proc.returncode
        res.stderr_tail = errlog.read_text()[-2000:].strip()
        if proc.returncode != 0 or not out.strip():
            res.status = f"exit {proc.returncode}"
            return res
        st = json.loads(out)
        res.captured = int(st["packets"])
        res.kernel_dropped, res.if_dropped = int(st["dropped"]), int(st["if_dropped"])
        res.lost = res.sent - res.captured
        res.flows, res.batches, res.observations = (
            int(st["flows"]),
            int(st["batches"]),
            int(st["observations"]),
        )
        res.spool_pending, res.status = int(st["spool_pending"]), str(st["status"])
        res.flush_s_max = float(st.get("flush_s_max", 0.0))
        files = [Path(f) for f in st.get("ring_files") or []]
        res.ring_files = len(files)
        res.ring_bytes = sum(f.stat().st_size for f in files if f.exists())
        res.extra = {"iface_rx_dropped": st.get("iface_rx_dropped"), "lag_s": st.get("lag_s")}
        if len(sampler.window) == 2:  # the mean from the process's CPU time over the traffic
            (t0, c0), (t1, c1) = sampler.window
            res.cpu_mean = round(100 * (c1 - c0) / max(t1 - t0, 1e-9), 1)
        if sampler.cpu:
            res.cpu_max = round(max(sampler.cpu), 1)
        if sampler.rss:
            res.rss_max_mb = round(max(sampler.rss) / 2**20, 1)
        return res
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"  kept {tmp}", file=sys.stderr)


def search(lab: Any, args: argparse.Namespace) -> tuple[list[RunResult], str]:
    """Doubling, then bisection. A step's rate is what its generator achieved when that fell short
    (a generator-limited step says nothing about its target rate); a clean generator-limited step that
    brings no progress is run once more, then the search stops: the machine offers no more load."""
    steps: list[RunResult] = []

    def run(rate: float) -> RunResult:
        r = one_run(lab, args, rate, args.step_seconds)
        steps.append(r)
        print(f"step {len(steps)}: {r.line()}", file=sys.stderr, flush=True)
        return r

    def eff(r: RunResult) -> float:
        return min(r.rate, r.achieved_pps) if r.gen_limited else r.rate

    good: float | None = None
    bad: float | None = None
    rate = float(args.start)
    retried = False
    while len(steps) < args.max_steps:
        r = run(rate)
        if r.clean:
            if r.gen_limited and (bad is None or (good is not None and eff(r) <= good)):
                if not retried:
                    retried = True
                    continue
                top = max(good or 0.0, eff(r))
                where = f"; {bad:,.0f} pps was not" if bad is not None else ""
                return steps, f"at least {top:,.0f} pps (the generator's ceiling{where})"
            good = max(good or 0.0, eff(r))
        else:
            bad = eff(r) if bad is None else min(bad, eff(r))
        retried = False
        if bad is None:  # doubling
            if rate * 2 > args.max_rate:
                return steps, f"at least {good or 0:,.0f} pps (--max-rate reached)"
            rate *= 2
        elif good is None:  # even the start was not clean: halve
            rate = round(bad / 2)
            if rate < 100:
                return steps, f"below {bad:,.0f} pps (no clean run at all)"
        else:
            if bad <= good:  # noisy: a clean run above an unclean one
                return steps, f"about {bad:,.0f} pps (clean at {good:,.0f} pps once, not at {bad:,.0f})"
            if (bad - good) / good <= args.tolerance:
                return steps, f"{good:,.0f} pps (clean; {bad:,.0f} pps was not)"
            rate = float(round((good + bad) / 2, -2))
            if rate <= good or rate >= bad:
                rate = (good + bad) / 2
    return steps, f"{good or 0:,.0f} pps clean, {bad or 0:,.0f} pps not (--max-steps reached)"


# -------------------------------------------------------------------------------- markdown


def machine_line() -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    model = ""
    with contextlib.suppress(OSError):
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                model = " (" + ln.split(":", 1)[1].strip() + ")"
                break
    mem = psutil.virtual_memory().total / 2**30
    return (
        f"Run {now} on {platform.machine()}, {os.cpu_count()} CPUs{model}, {mem:.0f} GiB RAM, "
        f"Python {platform.python_version()}, Linux {platform.release()}."
    )


def _setup_line(args: argparse.Namespace) -> str:
    return (
        f"Traffic: UDP frames of {args.size} bytes, {args.flows:,} flows, bench/traffic.py "
        f"({args.senders} process{'es' if args.senders > 1 else ''}) in ns dev → "
        f"bridge port in ns tap (veth) → cloud; capture `--ring-size {args.ring_size:g} --ring-files "
        f"{args.ring_files} --flush {args.flush:g}`, embedded store (chDB). CPU: % of one core of the "
        "capture process, its CPU time over the traffic (mean) and sampled each second (max); "
        "lost = sent − captured."
    )


HEAD = (
    "| rate pps | seconds | sent | crossed port | captured | kernel drops | iface drops | lost | "
    "CPU mean % | CPU max % | RSS max MB | result |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def _row(r: RunResult) -> str:
    res = "clean" if r.clean else "**drops**"
    if r.gen_limited:
        res += f" (generator: {r.achieved_pps:,.0f} pps)"
    return (
        f"| {r.rate:,.0f} | {r.seconds:g} | {r.sent:,} | {r.crossed:,} | {r.captured:,} | "
        f"{r.kernel_dropped:,} | {r.if_dropped:,} | {r.lost:,} | {r.cpu_mean:.0f} | {r.cpu_max:.0f} | "
        f"{r.rss_max_mb:.0f} | {res} |"
    )


def search_md(steps: list[RunResult], verdict: str, args: argparse.Namespace, cmd: str) -> str:
    lines = [
        "### Zero-drop search",
        "",
        machine_line(),
        _setup_line(args),
        "",
        f"Command: `{cmd}`",
        "",
        f"Doubling from {args.start:,} pps, then bisection to within {args.tolerance:.0%}, "
        f"{args.step_seconds:g} s per step. **Highest zero-drop rate: {verdict}.**",
        "",
        HEAD,
        *[_row(r) for r in steps],
    ]
    return "\n".join(lines)


def soak_md(r: RunResult, args: argparse.Namespace, cmd: str) -> str:
    lines = [
        "### Soak run",
        "",
        machine_line(),
        _setup_line(args),
        "",
        f"Command: `{cmd}`",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| rate (target / achieved) pps | {r.rate:,.0f} / {r.achieved_pps:,.0f} |",
        f"| seconds | {r.seconds:g} |",
        f"| sent | {r.sent:,} |",
        f"| crossed the tap port (rx+tx) | {r.crossed:,} |",
        f"| captured | {r.captured:,} |",
        f"| kernel drops | {r.kernel_dropped:,} |",
        f"| interface drops | {r.if_dropped:,} |",
        f"| lost (sent − captured) | {r.lost:,} |",
        f"| drain after the traffic s | {r.drain_s:.1f} |",
        f"| CPU mean / max, % of one core | {r.cpu_mean:.0f} / {r.cpu_max:.0f} |",
        f"| RSS max MB | {r.rss_max_mb:.0f} |",
        f"| flows written | {r.flows:,} |",
        f"| batches (longest flush, s) | {r.batches:,} ({r.flush_s_max:.3f}) |",
        f"| ring files, total size | {r.ring_files}, {r.ring_bytes / 1e6:,.1f} MB |",
        f"| result | {'clean' if r.clean else '**drops**'} |",
    ]
    return "\n".join(lines)


def _between(doc: str, begin: str, end: str) -> str | None:
    if begin in doc and end in doc:
        return doc[doc.index(begin) + len(begin) : doc.index(end)].strip("\n")
    return None


def write(search_text: str | None, soak_text: str | None) -> None:
    doc = RESULTS.read_text()
    if BEGIN not in doc or END not in doc:
        doc = doc.rstrip("\n") + f"\n\n{HEADING}\n\n{BEGIN}\n{END}\n"
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    old = doc[start:end]
    parts = []
    for text, b, e in ((search_text, SEARCH_BEGIN, SEARCH_END), (soak_text, SOAK_BEGIN, SOAK_END)):
        body = text if text is not None else _between(old, b, e)
        if body:
            parts.append(f"{b}\n{body}\n{e}")
    RESULTS.write_text(doc[:start] + "\n" + "\n\n".join(parts) + "\n" + doc[end:])


# -------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--search", action="store_true", help="ramp to the highest rate with zero drops")
    ap.add_argument("--rate", type=float, help="one run at this rate (pps): the soak")
    ap.add_argument("--seconds", type=float, default=600.0, help="the soak run's length")
    ap.add_argument("--step-seconds", type=float, default=20.0, help="each search step's length")
    ap.add_argument("--start", type=int, default=5000, help="the search's first rate (pps)")
    ap.add_argument("--max-rate", type=float, default=2_000_000, help="the search doubles no further")
    ap.add_argument("--max-steps", type=int, default=20, help="the search runs at most this many steps")
    ap.add_argument("--tolerance", type=float, default=0.10, help="bisect until the bracket is this close")
    ap.add_argument("--size", type=int, default=128, help="frame size, bytes")
    ap.add_argument("--flows", type=int, default=1000, help="distinct 5-tuples")
    ap.add_argument("--senders", type=int, default=1, help="traffic.py processes sharing the rate and flows")
    ap.add_argument("--ring-size", type=float, default=100.0, help="MB per ring file")
    ap.add_argument("--ring-files", type=int, default=5)
    ap.add_argument("--flush", type=float, default=5.0, help="the capture's --flush (s)")
    ap.add_argument("--tmp", help="parent folder of each run's store/ring/spool (default: the system's)")
    ap.add_argument("--keep", action="store_true", help="keep each run's folder")
    ap.add_argument("--json", dest="as_json", action="store_true", help="also print the results as JSON")
    ap.add_argument(
        "--write", action="store_true", help=f"write the tables between the soak markers in {RESULTS}"
    )
    args = ap.parse_args(argv)
    if not 1 <= args.senders <= 50:
        ap.error("--senders: 1..50")
    if not args.search and args.rate is None:
        ap.error("--search and/or --rate R")
    if os.geteuid() != 0:
        ap.error("needs root (network namespaces, raw sockets)")
    from tests.support import netlab

    cmd = ("python bench/soak.py " + shlex.join(argv if argv is not None else sys.argv[1:])).strip()
    steps: list[RunResult] = []
    verdict = ""
    soak: RunResult | None = None
    with netlab.lab_network("sk") as lab:
        if args.search:
            steps, verdict = search(lab, args)
            print(f"highest zero-drop rate: {verdict}", file=sys.stderr)
        if args.rate is not None:
            soak = one_run(lab, args, args.rate, args.seconds)
            print(f"soak: {soak.line()}", file=sys.stderr)
            if soak.stderr_tail and not soak.clean:
                print(f"capture stderr (tail):\n{soak.stderr_tail}", file=sys.stderr)
    search_text = search_md(steps, verdict, args, cmd) if args.search else None
    soak_text = soak_md(soak, args, cmd) if soak is not None else None
    print("\n\n".join(t for t in (search_text, soak_text) if t))
    if args.as_json:
        out = {
            "search": [asdict(r) | {"clean": r.clean} for r in steps],
            "verdict": verdict,
            "soak": asdict(soak) | {"clean": soak.clean} if soak else None,
        }
        print(json.dumps(out, indent=1))
    if args.write:
        write(search_text, soak_text)
    return 0 if soak is None or soak.clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
