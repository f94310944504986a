"""The replay pipeline: source -> flow meter -> inventory -> ClickHouse, for one capture.

Rows are written in batches while packets stream through, stamped with this
run's ``ingest_id``; the ``captures`` row, written last, commits the run. A file whose bytes as
read are not those its sha256 named, or that decompresses beyond the limits, stops the run before
its commit, and the rows it wrote are deleted (``appliance.ingest.sources``). A
second replay of the same bytes is a no-op unless forced; a forced or retried
run supersedes the earlier one without deleting anything (see ``appliance.store.schema``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from appliance import __version__
from appliance.ingest import parallel
from appliance.ingest.keyfiles import key_line_rows, key_rows, load_keys
from appliance.ingest.pipeline import RECORD_TABLES, Pipeline, PipelineOptions
from appliance.ingest.sources import PcapSource, Prehash
from appliance.lookups.geoip import GEOIP_DB, geoip_version
from appliance.lookups.psl import snapshot as psl_snapshot
from appliance.store.backends import Store
from appliance.store.schema import CAPTURES, PHASES
from parsers.capture import CaptureError, Limits
from parsers.decrypt.keys import KeyLog
from parsers.lan import LanPrefixes
from parsers.linklayer import linktype_name
from policies.catalog import Catalog

DRAIN_EVERY = 1 << 15  # packets between drains of finished flows and events


@dataclass
class ReplayOptions(PipelineOptions):
    force: bool = False  # ingest again a capture already stored (the new run supersedes the old)
    limits: Limits = field(default_factory=Limits)  # a compressed file's output (--max-decompressed)
    jobs: int = 1  # worker processes (--jobs; 0: as many as CPUs for a large capture, see parallel)
    prehash: Prehash | None = None  # the captures' sha256s begun while the store opened (the CLI)


@dataclass
class ReplayResult:
    path: str
    capture_id: str
    status: str  # ingested, skipped (already stored)
    files: list[str]
    source: str = "capture"  # or zeek-logs (appliance.ingest.zeek_replay)
    packets: int = 0
    bytes: int = 0
    flows: int = 0
    devices: int = 0
    seconds: float = 0.0
    truncated: bool = False
    read_error: str = ""
    skipped_packets: int = 0
    link_types: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    bench_missing: list[str] = field(default_factory=list)
    first_ns: int = 0
    last_ns: int = 0
    tls: dict[str, int] = field(default_factory=dict)  # TLS flows decrypted, with no key, failed
    key_files: list[dict[str, object]] = field(default_factory=list)  # path, sha256, kind, lines
    bad_dsb: int = 0  # Decryption Secrets Blocks cut or malformed (skipped)
    jobs: int = 1  # worker processes that replayed it
    serial_because: list[str] = field(default_factory=list)  # why a parallel run was redone in one


TLS_COUNTERS = {"decrypted": "tls_decrypted", "no_key": "tls_no_key", "failed": "tls_bad_key"}


class Progress(Protocol):
    """Where the pipeline reports how far it got (a progress bar, or nothing)."""

    def start(self, label: str, total_bytes: int | None) -> None: ...

    def update(self, done_bytes: int, packets: int) -> None: ...


@dataclass
class _Run:
    """One capture's replay between its start and its commit."""

    path: str
    opts: ReplayOptions
    src: PcapSource
    pipe: Pipeline
    res: ReplayResult
    ingest: int
    superseding: bool
    t0: float
    store: Store  # for ``name``: where a capture named late is looked up
    named: bool = True

    def name(self) -> bool:
        """Name a capture that is being read while hashed (``_start(..., early=True)``): its sha256
        is waited for, the store asked whether it holds it, the held rows let go; False (nothing
        written, the result says skipped) for a capture stored already and not forced."""
        if self.named:
            return True
        cid = self.src.capture_id
        self.res.capture_id = cid
        self.superseding = self.store.capture_status(cid) == "complete"
        if self.superseding and not self.opts.force:
            self.res.status = "skipped"
            return False
        self.named = True
        self.pipe.name(cid)
        return True


class _Skipped(Exception):
    """The capture named late is stored already: its run stops, having written nothing."""


def _start(
    store: Store, path: str, opts: ReplayOptions, progress: Progress | None, early: bool = False
) -> _Run | ReplayResult:
    """Name the capture (its sha256) and make its pipeline; the result alone for a capture stored
    already (skipped unless forced). ``early``, with the CLI's hashing thread (``opts.prehash``):
    the pipeline is made before the hash is done, its rows held; the caller names the run
    (``_Run.name``) as soon as the hash is there, and reads meanwhile."""
    t0 = time.perf_counter()
    keys = load_keys(opts.keylogs) if opts.keylogs else None  # an unreadable key log: nothing stored
    early = early and opts.prehash is not None
    src = PcapSource(path, limits=opts.limits, prehash=opts.prehash, deferred=early)
    if keys is None and "pcapng" in src.formats_sniffed():
        keys = KeyLog()  # the capture may bring its own keys (DSBs)
    src.keys = keys
    early = early and not src.named()
    cid = "" if early else src.capture_id
    res = ReplayResult(path=path, capture_id=cid, status="ingested", files=src.files)
    superseding = not early and store.capture_status(cid) == "complete"
    if superseding and not opts.force:
        res.status = "skipped"
        return res
    ingest = new_ingest_id()

    if progress is not None:
        compressed = any(f.endswith((".gz", ".xz", ".bz2")) for f in src.files)
        progress.start(path, None if compressed else src.size)

    def write(table: str, rows: list[tuple[object, ...]]) -> None:
        store.insert(table, rows)

    pipe = Pipeline.from_options(cid, ingest, write, opts, store.hash_key(), keys=keys)
    if early:
        pipe.hold()
    return _Run(path, opts, src, pipe, res, ingest, superseding, t0, store, named=not early)


def replay(store: Store, path: str, opts: ReplayOptions, progress: Progress | None = None) -> ReplayResult:
    """Ingest one capture (file, directory or glob) into the store. The capture is read while the
    CLI's thread still hashes it (issue 20, point 3: ``--jobs 2`` on a 10M-packet capture waited
    5 s for its sha256 with one core busy), and named as soon as the hash is done."""
    run = _start(store, path, opts, progress, early=True)
    if isinstance(run, ReplayResult):
        return run
    try:
        return _replay(store, path, opts, progress, run)
    except (_Skipped, parallel.Unwanted):  # named late, stored already: nothing was written
        return run.res


def _replay(
    store: Store, path: str, opts: ReplayOptions, progress: Progress | None, run: _Run
) -> ReplayResult:
    src, pipe, res = run.src, run.pipe, run.res
    jobs = opts.jobs if opts.jobs > 0 else parallel.auto_jobs(src.size)
    # The loop allocates millions of short-lived, acyclic objects while holding a large
    # flow table: CPython's cyclic GC would rescan that table again and again (a third
    # of the replay's time). Reference counting frees everything here (a test checks that
    # no cycles are left); the collector is back on once the loop is done.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if jobs > 1:
            results, written = parallel.run(
                store, pipe, src, jobs, progress, DRAIN_EVERY, None if run.named else run.name
            )
            res.jobs = jobs
            res.serial_because = parallel.merge(pipe, src, results, written)
        else:
            _feed(src, pipe, progress, run)
    except CaptureError:
        _abandon(store, run)
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    if res.serial_because:  # the rows might differ from one process's: they go, one process redoes them
        store.drop_ingest(run.ingest)
        again = replay(store, path, dataclasses.replace(opts, jobs=1), progress)
        again.serial_because = res.serial_because
        return again
    if progress is not None:
        progress.update(src.stats.read_bytes, src.stats.packets)
    return _commit(store, src, pipe, opts, res, run.ingest, run.superseding, run.t0)


def _abandon(store: Store, run: _Run) -> None:
    """A run that cannot commit (its capture changed while read, or over the decompression limits):
    nothing of it may stay. A run superseding a stored one leaves its rows uncommitted (invisible)
    rather than risk the old. A run not yet named wrote nothing."""
    if run.named and not run.superseding:
        store.drop_runs(run.res.capture_id, keep=0)


def replay_all(
    store: Store, paths: list[str], opts: ReplayOptions, progress: Progress | None = None
) -> Iterator[ReplayResult]:
    """Several captures, their results in the order given: a large one with every worker
    (``replay``), the small ones first and side by side, one worker process each, as many at once
    as ``--jobs`` (issue 20: "several files in parallel too"). With one job, one after the other."""
    jobs = opts.jobs if opts.jobs > 0 else parallel.auto_jobs(1 << 62)
    sizes = [parallel.capture_size(p) for p in paths]
    small = [i for i, n in enumerate(sizes) if n < parallel.AUTO_MIN_BYTES]
    little = sum(sizes[i] for i in small) < parallel.AUTO_MIN_BYTES
    if jobs < 2 or len(small) < 2 or (opts.jobs == 0 and little):
        small = []  # too little to gain from more processes than one (unless --jobs asked for them)
    ready: dict[int, ReplayResult] = {}
    if small:
        for i, res in _side_by_side(store, [paths[i] for i in small], opts, jobs, progress):
            ready[small[i]] = res
    for i, path in enumerate(paths):
        yield ready.pop(i) if i in ready else replay(store, path, opts, progress)


def _side_by_side(
    store: Store, paths: list[str], opts: ReplayOptions, jobs: int, progress: Progress | None
) -> Iterator[tuple[int, ReplayResult]]:
    """Small captures replayed at once, one worker process each: (index, result) as each commits."""
    runs: dict[int, _Run] = {}
    for i, path in enumerate(paths):
        run = _start(store, path, opts, None)
        if isinstance(run, ReplayResult):
            yield i, run
        else:
            runs[i] = run
    if not runs:
        return
    order = list(runs)
    if progress is not None:
        progress.start(f"{len(runs)} captures", sum(r.src.size for r in runs.values()))
    done = {i: (0, 0) for i in order}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        items = [(runs[i].pipe, runs[i].src) for i in order]
        for event in parallel.side_by_side(store, items, jobs, DRAIN_EVERY):
            i = order[event[1]]
            if event[0] == "progress":
                done[i] = (event[2], event[3])
                if progress is not None:
                    progress.update(sum(d[0] for d in done.values()), sum(d[1] for d in done.values()))
                continue
            run = runs.pop(i)
            parallel.merge(run.pipe, run.src, [event[2]], event[3])  # one worker: nothing could differ
            yield i, _commit(store, run.src, run.pipe, run.opts, run.res, run.ingest, run.superseding, run.t0)
    except CaptureError:
        for run in runs.values():
            _abandon(store, run)
        raise
    finally:
        if gc_was_enabled:
            gc.enable()


def _feed(src: PcapSource, pipe: Pipeline, progress: Progress | None, run: _Run | None = None) -> None:
    """The capture's packets through the pipeline, draining every DRAIN_EVERY packets. The
    progress is told after every batch (at most ``parsers.capture.BATCH_BYTES``, 256 KiB, of the
    file), so the bar moves while the file is read, not only at each drain (issue 18). A ``run``
    read before it is named is named at the first batch after its hash is done (``_Skipped``
    when it is stored already), and at the latest before the pipeline's last rows."""
    feed_many = pipe.feed_many
    st = src.stats
    n = since = 0
    for batch in src.batches():  # the reader's batches go straight to the meter's loop
        feed_many(batch)
        n += len(batch)
        since += len(batch)
        if since >= DRAIN_EVERY:
            since = 0
            pipe.drain()
            if run is not None and not run.named and src.named() and not run.name():
                raise _Skipped
        if progress is not None:
            progress.update(st.read_bytes - st.unparsed, n)
    if run is not None and not run.name():
        raise _Skipped
    pipe.finish()


def _commit(
    store: Store,
    src: PcapSource,
    pipe: Pipeline,
    opts: ReplayOptions,
    res: ReplayResult,
    ingest: int,
    superseding: bool,
    t0: float,
) -> ReplayResult:
    """Everything after the packets: phases, devices, keys, the flows rollup, then the commit."""
    cid, st, keys = res.capture_id, src.stats, src.keys
    lan, catalog, meter = pipe.lan, pipe.catalog, pipe.meter

    if opts.phases:
        spans = opts.phases.spans(st.last_ns)
        phase_rows = [
            PHASES.row(capture_id=cid, ingest_id=ingest, phase=p, start_ns=s, end_ns=e, note=n, device_mac=d)
            for p, s, e, n, d in spans
        ]
        store.insert("phases", phase_rows)
    devices, addresses = pipe.device_rows()
    store.insert("devices", devices)
    store.insert("device_addresses", addresses)
    nflows = pipe.written["flows"]
    counts = {t: pipe.written[t] for t in RECORD_TABLES}
    inv = pipe.inventory
    skipped = sum(v for k, v in meter.stats.items() if k.startswith(("linktype_unsupported", "l2_malformed")))
    skipped += sum(v for k, v in meter.stats.items() if k.endswith("_malformed") and k.startswith("ip"))
    res.packets, res.bytes, res.flows, res.devices = st.packets, st.bytes, nflows, len(devices)
    res.truncated, res.read_error, res.skipped_packets = st.truncated, st.error, skipped
    res.link_types = sorted(linktype_name(lt) for lt in st.link_types)
    res.stats = dict(sorted({**meter.stats, **st.decode_counts()}.items()))
    res.records = dict(counts)
    res.bench_missing = inv.bench_missing()
    res.first_ns, res.last_ns = st.first_ns, st.last_ns
    res.tls = {name: meter.stats.get(counter, 0) for name, counter in TLS_COUNTERS.items()}
    res.bad_dsb = st.bad_dsb
    if keys is not None:
        res.key_files = [dict(path=k.path, sha256=k.sha256, kind=k.kind, lines=k.lines, bad_lines=k.bad_lines)
                         for k in keys.sources]  # fmt: skip
        store.insert("capture_keys", key_rows(cid, ingest, keys.sources))
        if opts.raw_evidence:  # the lab asked to keep the secrets (evidence after the file is gone)
            seen = store.query(
                "SELECT DISTINCT client_random FROM {db}.tls WHERE ingest_id = %(i)s AND client_random != ''",
                {"i": ingest},
            )  # only the keys of this capture's own handshakes
            randoms = [bytes.fromhex(str(r["client_random"])) for r in seen]
            store.insert("capture_key_lines", key_line_rows(cid, ingest, keys, randoms))
    store.rollup_flows("ingest_id = %(i)s", {"i": ingest})
    store.insert(
        "captures",
        [
            captures_row(
                cid,
                ingest,
                opts,
                lan,
                catalog,
                path=res.path,
                files=src.files,
                hashes=src.hashes,
                fmt="+".join(sorted(src.formats)),
                compressed=st.compressed,
                packets=st.packets,
                nbytes=st.bytes,
                first_ns=st.first_ns,
                last_ns=st.last_ns,
                link_types=res.link_types,
                truncated=st.truncated,
                error=st.error,
                skipped=skipped,
                stats=res.stats,
                flows=nflows,
                devices=len(devices),
                status="complete",
            )
        ],
    )
    if superseding:  # only after this run committed: a crash before here keeps the old run
        store.drop_runs(cid, ingest)
    res.seconds = time.perf_counter() - t0
    return res


def captures_row(
    cid: str,
    ingest: int,
    opts: PipelineOptions,
    lan: LanPrefixes,
    catalog: Catalog,
    *,
    path: str,
    files: list[str],
    hashes: list[str],
    fmt: str,
    compressed: bool,
    packets: int,
    nbytes: int,
    first_ns: int,
    last_ns: int,
    link_types: list[str],
    truncated: bool,
    error: str,
    skipped: int,
    stats: dict[str, int],
    flows: int,
    devices: int,
    status: str,
) -> tuple[object, ...]:
    """A ``captures`` row: what was read, with what settings and databases (a replay's commit
    marker; a live session's progress and, at its end, its summary)."""
    return CAPTURES.row(
        capture_id=cid,
        ingest_id=ingest,
        path=path,
        files=files,
        file_sha256=hashes,
        format=fmt,
        compressed=1 if compressed else 0,
        packets=packets,
        bytes=nbytes,
        first_ns=first_ns,
        last_ns=last_ns,
        link_types=link_types,
        truncated=1 if truncated else 0,
        read_error=error,
        skipped_packets=skipped,
        decode_stats=json.dumps(stats, sort_keys=True),
        flows=flows,
        devices=devices,
        idle_timeout_s=float(opts.idle_s),
        active_timeout_s=float(opts.active_s),
        lan_prefixes=lan.text,
        bench_sha256=opts.bench.sha256 if opts.bench else "",
        home=[c.upper() for c in opts.home],
        geoip_db=GEOIP_DB,
        geoip_version=geoip_version(),
        catalog_version=catalog.version,
        psl_version=psl_snapshot().version,
        raw_evidence=1 if opts.raw_evidence else 0,
        phases_sha256=opts.phases.sha256 if opts.phases else "",
        tool_version=__version__,
        ingested_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        status=status,
    )


_last_ingest = 0


def new_ingest_id() -> int:
    """A unique, increasing run id: wall-clock ns, bumped past the previous one."""
    global _last_ingest
    _last_ingest = max(time.time_ns(), _last_ingest + 1)
    return _last_ingest
