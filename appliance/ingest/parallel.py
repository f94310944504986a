"""``tapaudit replay --jobs N``: one capture replayed by N worker processes (issue 20).

Each worker reads the whole capture (the reader is the cheap part) and keeps its share of it: the
flows of the address pairs ``parsers.partition`` gives it, plus the context every worker reads (ARP,
NDP, DHCP, mDNS, SSDP, DNS), so that each worker names destinations and devices from the same
evidence as one process would. A worker builds the rows of its own flows and sends them to this
process, which alone holds the store and inserts them; at the end each worker sends its counters
and its inventory, which are added up into the devices, addresses and the ``captures`` row.

Results are identical to ``--jobs 1``, table by table and row by row. Where they could not be,
this is known at the end, and the capture is replayed again in one process (the parallel run's
rows, never committed, are deleted): when the LAN was learnt from traffic rather than given or
announced (``LanPrefixes.learns_from_traffic``), when devices were found by address because the
frames carry no MACs (``Inventory.device_at``), when inventory evidence or DNS answers came inside
tunnels or fragments, or when the flow table overflowed. The summary says so (``jobs``, ``serial_because``).

Workers are forked (``fork``): they share the parent's loaded modules, catalogue and lookups
without a start-up of their own, and never touch the store (the parent's embedded ClickHouse is
not used in a child; a child ends with ``os._exit``).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing as mp
import os
import traceback
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any, cast

from appliance.ingest.pipeline import Pipeline
from appliance.ingest.sources import PcapSource
from parsers.capture import CaptureError, ReadStats
from parsers.capture_inputs import expand_inputs
from parsers.decrypt.keys import KeyLog
from parsers.meter import MAX_FLOWS
from parsers.partition import Partition

if TYPE_CHECKING:
    from appliance.ingest.inventory import Inventory
    from appliance.ingest.replay import Progress
    from appliance.store.backends import Store

AUTO_MIN_BYTES = 32 << 20  # below this, forking costs more than it saves: one process
PROGRESS_EVERY = 16  # batches between a worker's progress reports


def capture_size(path: str) -> int:
    """The bytes of a capture's files (a file, folder or glob), as ``replay`` would read them."""
    return sum(os.path.getsize(f) for f in expand_inputs(path))


def auto_jobs(size: int) -> int:
    """Workers for ``--jobs 0``: the CPUs this process may use, one for a small capture."""
    if size < AUTO_MIN_BYTES:
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class WorkerDone:
    """What a worker sends when its share is done."""

    k: int
    main_stats: dict[str, int]
    ctx_stats: dict[str, int]
    inventory: Inventory
    unsafe: set[str]
    peak_flows: int
    read: ReadStats | None = None  # worker 0's: every worker read the same bytes
    formats: set[str] = field(default_factory=set)
    keys: KeyLog | None = None


class WorkerFailed(Exception):
    """A worker ended with an error other than the capture's (a bug): its traceback's last line."""


class Unwanted(Exception):
    """The capture, named while its workers ran, is stored already: they were stopped."""


NAME_POLL_S = 0.05  # while the capture is not named, how often the parent looks at its hash


def run(
    store: Store,
    pipe: Pipeline,
    src: PcapSource,
    jobs: int,
    progress: Progress | None,
    drain_every: int,
    namer: Callable[[], bool] | None = None,
) -> tuple[list[WorkerDone], dict[str, int]]:
    """Fork ``jobs`` workers over ``src``, insert their rows as they come (encoded by the workers:
    ``Store.encode``), and return what each sent at its end, and the rows written per table.

    ``src`` may not be named yet (its sha256 still running in this process's hashing thread): the
    workers start anyway and hold their rows; once the hash is done, ``namer()`` names the run here
    (False: stored already, so the workers are stopped and ``Unwanted`` raised) and each worker is
    sent the files' hashes and identities, to name its rows and check what it read."""
    starts = [(k, jobs, pipe, src) for k in range(jobs)]
    done: dict[int, WorkerDone] = {}
    written: Counter[str] = Counter()
    # closed on the way out, whatever ends it (the workers stopped then, not when collected)
    with contextlib.closing(
        _serve(store, starts, jobs, drain_every, lambda k: f"replay worker {k}", namer)
    ) as events:
        for event in events:
            if event[0] == "progress":
                if progress is not None:
                    progress.update(event[2], event[3])
            else:
                done[event[1]] = event[2]
                written.update(event[3])
    return [done[k] for k in range(jobs)], dict(written)


def side_by_side(
    store: Store, items: list[tuple[Pipeline, PcapSource]], slots: int, drain_every: int
) -> Iterator[tuple[Any, ...]]:
    """Several small captures at once, each in one worker process, ``slots`` at a time, their rows
    inserted as they come. Yields ``("progress", i, bytes, packets)`` and, once capture ``i``'s worker
    has sent everything, ``("done", i, WorkerDone, rows written per table)``, for the caller to
    commit it while the others go on. A worker's capture error stops them all."""
    starts = [(0, 1, pipe, src) for pipe, src in items]
    return _serve(store, starts, slots, drain_every, lambda i: f"the replay worker of {items[i][1].path}")


def _serve(
    store: Store,
    starts: list[tuple[int, int, Pipeline, PcapSource]],
    slots: int,
    drain_every: int,
    name: Callable[[int], str],
    namer: Callable[[], bool] | None = None,
) -> Generator[tuple[Any, ...], None, None]:
    """The workers ``starts`` asks for (worker k of n over a pipeline and its capture), ``slots`` at
    a time, forked in order; their rows inserted as they come. Yields ``("progress", i, bytes,
    packets)`` (a worker's first of each) and, once worker ``i`` has sent everything and ended,
    ``("done", i, WorkerDone, rows written per table)``. A worker's capture error (CaptureError) or
    failure (WorkerFailed, ``name(i)`` saying whose) ends it all: every worker still running is
    stopped, not waited for (one blocked writing its rows to us would never end)."""
    ctx = mp.get_context("fork")
    readers: dict[Connection, int] = {}
    procs: dict[int, Any] = {}
    names: dict[int, Connection] = {}  # to each worker forked before the capture was named
    written: list[Counter[str]] = [Counter() for _ in starts]
    got: dict[int, WorkerDone] = {}
    nxt = 0
    try:
        while nxt < len(starts) or readers:
            while nxt < len(starts) and len(readers) < slots:
                k, n, pipe, src = starts[nxt]
                r, w = ctx.Pipe(duplex=False)
                nr, nw = ctx.Pipe(duplex=False) if namer is not None else (None, None)
                p = ctx.Process(
                    target=_worker, args=(k, n, w, store, pipe, src, drain_every, nr), daemon=True
                )
                p.start()
                w.close()
                if nr is not None and nw is not None:
                    nr.close()
                    names[nxt] = nw
                readers[r], procs[nxt] = nxt, p
                nxt += 1
            named = starts[0][3]  # the one capture of ``run``'s workers
            if namer is not None and named.named():
                if not namer():
                    raise Unwanted
                for conn in names.values():
                    with contextlib.suppress(OSError):  # a worker gone: its end is reported below
                        conn.send(("name", named.hashes, named.identities))
                    conn.close()
                names.clear()
                namer = None
            for ready in wait(list(readers), NAME_POLL_S if namer is not None else None):
                conn = cast(Connection, ready)
                i = readers[conn]
                try:
                    msg: tuple[Any, ...] = conn.recv()
                except EOFError:
                    del readers[conn]
                    procs[i].join()
                    if i not in got:
                        raise WorkerFailed(f"{name(i)} ended without a result") from None
                    yield ("done", i, got[i], dict(written[i]))
                    continue
                if msg[0] == "rows":
                    store.insert_encoded(msg[1], msg[3])
                    written[i][msg[1]] += msg[2]
                elif msg[0] == "progress":
                    yield ("progress", i, msg[1], msg[2])
                elif msg[0] == "done":
                    got[i] = msg[1]
                elif msg[0] == "capture-error":
                    raise CaptureError(msg[1])
                elif msg[0] == "failed":
                    raise WorkerFailed(msg[1])
    finally:
        for conn in names.values():
            conn.close()
        for p in procs.values():
            if p.is_alive():
                p.kill()
            p.join()


def _worker(
    k: int,
    n: int,
    out: Connection,
    store: Store,
    pipe: Pipeline,
    src: PcapSource,
    drain_every: int,
    names: Connection | None = None,
) -> None:
    """One worker: its share of the capture through its own pipeline; rows and the end to ``out``.
    Forked before the capture was named, it holds its rows until ``names`` brings the files'
    hashes and identities (``run``)."""
    gc.disable()  # as the one-process replay does (appliance.ingest.replay)
    code = 0
    try:

        def send_rows(table: str, rows: list[tuple[object, ...]]) -> None:
            out.send(("rows", table, len(rows), store.encode(table, rows)))

        def await_names() -> None:
            assert names is not None
            try:
                _tag, hashes, identities = names.recv()
            except EOFError:  # the parent stopped without naming the capture: so does this worker
                os._exit(1)
            src.resolver = None
            src.set_names(hashes, identities)
            pipe.name(src.capture_id)

        pipe.send_to(send_rows)
        if names is not None and not src.hashes:
            src.resolver = await_names
        part = Partition(k, n)
        pipe.partition(part)
        meter, cmeter = pipe.meter, pipe.ctx
        assert cmeter is not None
        st = src.stats
        since = peak = seen = 0
        # a classic pcap's records are walked by ``part`` itself: its batches come empty, ``split``
        # hands out what it kept, and ``part.seen`` counts the records read either way
        for batches, batch in enumerate(src.batches(part.walker), 1):
            main, context = part.split(batch)
            if main:
                meter.feed_many(main)
            if context:
                cmeter.feed_many(context)
            since += part.seen - seen
            seen = part.seen
            if since >= drain_every:
                since = 0
                peak = max(peak, (len(meter.table) + len(cmeter.table)) // 2)
                pipe.drain()
                if not src.hashes and names is not None and names.poll():
                    src.names()  # the parent's message is there: named without waiting
            if k == 0 and batches % PROGRESS_EVERY == 0:
                out.send(("progress", st.read_bytes - st.unparsed, part.seen))
        peak = max(peak, (len(meter.table) + len(cmeter.table)) // 2)
        pipe.finish()  # named by now: the source waited for the names to check each file it read
        main_stats, ctx_stats = pipe.worker_stats()
        unsafe = set(pipe.unsafe)
        if pipe.inventory.by_address:
            unsafe.add("devices found by address (frames without MACs)")
        if any(s.startswith("tunnel_") or s == "flow_table_full_sweeps" for s in (*main_stats, *ctx_stats)):
            unsafe.add("tunnels or a full flow table")
        out.send(
            (
                "done",
                WorkerDone(
                    k=k,
                    main_stats=main_stats,
                    ctx_stats=ctx_stats if k == 0 else {},
                    inventory=pipe.inventory,
                    unsafe=unsafe,
                    peak_flows=peak,
                    read=st if k == 0 else None,
                    formats=set(src.formats),
                    keys=src.keys if k == 0 else None,
                ),
            )
        )
    except CaptureError as exc:
        out.send(("capture-error", str(exc)))
        code = 1
    except BaseException as exc:  # a worker reports everything; the parent decides
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        with contextlib.suppress(OSError):
            out.send(("failed", f"replay worker {k}: {last}"))
        traceback.print_exc()
        code = 1
    finally:
        try:
            out.close()
        finally:
            os._exit(code)  # never the parent's exit handlers (its store is not ours)


def merge(pipe: Pipeline, src: PcapSource, results: list[WorkerDone], written: dict[str, int]) -> list[str]:
    """Put the workers' ends into ``pipe`` and ``src`` as one process would have left them (counters,
    inventory, reading stats, formats, keys); the reasons the rows could differ from one process's
    (empty: identical)."""
    first = results[0]
    inv = first.inventory
    stats: Counter[str] = Counter(first.ctx_stats)
    reasons: set[str] = set()
    for r in results:
        stats.update(r.main_stats)
        reasons |= r.unsafe
        if r is not first:
            inv.absorb(r.inventory)
    if inv.lan.learn and inv.lan.learns_from_traffic():
        reasons.add("the LAN learnt from traffic")
    if inv.forwarded_ambiguous():
        reasons.add("a gateway's forwarded sources")
    if sum(r.peak_flows for r in results) >= MAX_FLOWS:
        reasons.add("more open flows than one process's table")
    pipe.inventory = inv
    pipe.lan = inv.lan
    pipe.meter.stats = stats
    pipe.written = {t: written.get(t, 0) for t in pipe.written}
    assert first.read is not None
    src.stats = first.read
    src.formats = first.formats
    src.keys = first.keys
    return sorted(reasons)
