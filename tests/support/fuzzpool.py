"""Run fuzz cases in worker processes, each case under a time limit and a memory limit.

A case that never returns is a hang: its worker is killed when the time limit passes and a new
one takes its place. A worker whose resident memory passes the limit is killed at once (the
machine is shared: a case that would take 5 GiB must not get there) and the case counts as
``memory``. A worker that dies by itself (a crash in native code) counts as ``crash``. Each
worker reports its peak RSS per case: it resets the kernel's high-water mark before the case
(``/proc/self/clear_refs`` value 5, Linux 4.0+) and reads ``VmHWM`` after it, so the peak of a
case is its own, not the largest of the cases before it; ``ru_maxrss`` (the peak over the
worker's life) stands in where the reset is refused. Workers are spawned, not forked: the parent
may hold an embedded ClickHouse and its threads, which a fork would copy half-way.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing as mp
import os
import resource
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import psutil

POLL = 0.05  # seconds between looks at the running cases' time and memory
STARTUP = 300.0  # seconds a new worker may take to import and set up (a loaded machine is slow)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_kb(reset: bool) -> int:
    if reset:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _serve(conn: Connection, target: str, setup: Any) -> None:
    """The worker: import ``module:function`` and run the module's ``prepare(setup)`` if it has one
    (then say it is ready: start-up is not a case's time), then run the function on each case
    received and send back its result and peak."""
    name, fn_name = target.split(":")
    module = importlib.import_module(name)
    fn: Callable[[Any], dict[str, Any]] = getattr(module, fn_name)
    if hasattr(module, "prepare"):
        module.prepare(setup)
    conn.send("ready")
    while True:
        case = conn.recv()
        if case is None:
            return
        reset = _reset_peak()
        t0 = time.perf_counter()
        try:
            out = fn(case)
        except BaseException:  # the target classifies what it expects; anything else is internal
            out = {"status": "internal", "detail": traceback.format_exc()}
        out["seconds"] = time.perf_counter() - t0
        out["rss_kb"] = _peak_kb(reset)
        conn.send(out)


@dataclass
class _Worker:
    proc: Any
    conn: Connection
    ps: psutil.Process
    index: int = -1  # the case it runs, -1 when idle
    started: float = 0.0
    peak_kb: int = 0  # the largest RSS seen polling during the current case


def _spawn(ctx: Any, target: str, setup: Any) -> _Worker:
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, target, setup), daemon=True)
    proc.start()
    child.close()
    return _Worker(proc, parent, psutil.Process(proc.pid))


def _ready(w: _Worker) -> _Worker:
    """Wait for a new worker's start-up (imports, the target's own set-up)."""
    try:
        ok = w.conn.poll(STARTUP) and w.conn.recv() == "ready"
    except (EOFError, OSError):
        ok = False
    if not ok:
        _kill(w)
        raise RuntimeError(
            f"a fuzz worker did not start within {STARTUP:.0f} s (exit code {w.proc.exitcode})"
        )
    return w


def _kill(w: _Worker) -> None:
    w.proc.kill()
    w.proc.join(5)
    w.conn.close()


def run_cases(
    cases: Sequence[Any],
    target: str,
    workers: int = 2,
    timeout: float = 20.0,
    rss_limit_kb: int = 1 << 20,
    setup: Any = None,
) -> list[dict[str, Any]]:
    """Each case's result dict (``status``, ``detail``, ``seconds``, ``rss_kb``, what the target
    adds), in case order. ``hang``, ``memory`` and ``crash`` are decided here. ``setup`` goes to
    the target module's ``prepare`` in each worker."""
    ctx = mp.get_context("spawn")
    todo = deque(range(len(cases)))
    results: list[dict[str, Any] | None] = [None] * len(cases)
    pool = [_ready(w) for w in [_spawn(ctx, target, setup) for _ in range(workers)]]
    try:
        while todo or any(w.index >= 0 for w in pool):
            for w in pool:
                if w.index < 0 and todo:
                    w.index, w.started, w.peak_kb = todo.popleft(), time.monotonic(), 0
                    w.conn.send(cases[w.index])
            ready = wait([w.conn for w in pool if w.index >= 0], POLL)
            for i, w in enumerate(pool):
                if w.index < 0:
                    continue
                verdict: dict[str, Any] | None = None
                if w.conn in ready:
                    try:
                        out = w.conn.recv()
                    except (EOFError, OSError):
                        w.proc.join(5)
                        verdict = {"status": "crash", "detail": f"worker died, exit code {w.proc.exitcode}"}
                    else:
                        out["rss_kb"] = max(out["rss_kb"], w.peak_kb)
                        results[w.index], w.index = out, -1
                        continue
                else:
                    with contextlib.suppress(psutil.Error):
                        w.peak_kb = max(w.peak_kb, w.ps.memory_info().rss // 1024)
                    elapsed = time.monotonic() - w.started
                    if w.peak_kb > rss_limit_kb:
                        verdict = {
                            "status": "memory",
                            "detail": f"RSS {w.peak_kb // 1024} MiB after {elapsed:.1f} s",
                        }
                    elif elapsed > timeout:
                        verdict = {"status": "hang", "detail": f"still running after {timeout:.0f} s"}
                if verdict is not None:
                    _kill(w)
                    verdict.update(seconds=time.monotonic() - w.started, rss_kb=w.peak_kb)
                    results[w.index] = verdict
                    pool[i] = _ready(_spawn(ctx, target, setup))
    finally:
        for w in pool:
            if w.index >= 0:  # still running: the run was interrupted
                _kill(w)
                continue
            with contextlib.suppress(OSError):
                w.conn.send(None)
            w.proc.join(5)
            if w.proc.is_alive():
                _kill(w)
    return [r for r in results if r is not None]


def probe(case: str) -> dict[str, Any]:
    """A target that misbehaves on request, so a test can show the pool tells each failure apart."""
    if case == "sleep":
        time.sleep(3600)
    elif case == "raise":
        raise KeyError("probe")
    elif case == "grow":  # pages written, not only reserved: they count in the RSS
        hold = []
        while True:
            hold.append(b"\x01" * (32 << 20))
            time.sleep(0.01)
    elif case == "exit":
        os._exit(3)
    return {"status": "ok", "detail": ""}
