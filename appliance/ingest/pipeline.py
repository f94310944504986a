"""One ingestion run from packets to rows, shared by a replay and a live capture session.

Packets go through the flow meter; finished flows, protocol records, observations and
bursts come out as rows of the schema's tables, handed to ``write(table, rows)`` in
batches. A replay writes a batch when it is large (``BATCH_ROWS``); a live session
writes whatever is pending at every flush, so the store lags the wire by one flush.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from appliance.ingest.enrich import DEFAULT_HOME, Enricher
from appliance.ingest.flow_rows import burst_rows, flow_row
from appliance.ingest.inventory import Inventory
from appliance.ingest.observe import Observer
from appliance.ingest.owner import owner
from appliance.ingest.record_rows import RecordRows
from appliance.lab.phases import Phases
from parsers.capture import Packet
from parsers.decrypt.keys import KeyLog
from parsers.events import DnsRecord
from parsers.flow import Flow, covering
from parsers.lan import DEFAULT_LAN, LanPrefixes
from parsers.meter import FlowMeter
from parsers.partition import TICK_STAT, Partition
from policies.catalog import Catalog, load_catalog

BATCH_ROWS = 20_000  # rows per insert: large enough for ClickHouse, small enough to bound memory
# a replay worker's (``appliance.ingest.parallel``): several processes each hold their pending rows,
# and the parent inserts a worker's batch while the worker goes on
WORKER_BATCH_ROWS = 8_192
RECORD_TABLES = ("dns", "tls", "http", "app_events", "observations", "bursts")

Row = tuple[Any, ...]
Write = Callable[[str, list[Row]], None]


@dataclass
class PipelineOptions:
    """What shapes one ingestion run, replayed or live: flow timeouts, what counts as the LAN, the
    bench file (devices, personas), the home jurisdiction, whether values are stored raw, the
    catalogue and the test phases. ``ReplayOptions`` adds what only a replay has (``force``); a
    live session keeps these beside its interface options (``LiveOptions.pipeline``)."""

    idle_s: float = 120.0
    active_s: float = 1800.0
    lan_prefixes: list[str] = field(default_factory=lambda: list(DEFAULT_LAN))
    bench: Any = None  # appliance.lab.bench.Bench, when a bench file was given
    home: list[str] = field(default_factory=lambda: list(DEFAULT_HOME))
    raw_evidence: bool = False  # store personal values unmasked (the user asked for it)
    catalog: Catalog | None = None  # default: policies/catalog
    phases: Phases | None = None  # the test phases file, if given
    keylogs: list[str] = field(default_factory=list)  # TLS key log files or folders (--keylog)


def _learn(lan: LanPrefixes, f: Flow) -> None:
    """A flow as LAN evidence: the initiator's and the responder's sources, and the next hop
    between a private address and a global one, which is a router."""
    lan.used(f.smac, f.a)
    if f.rmac:
        lan.used(f.rmac, f.b)
    a_given, b_given = lan.given(f.a), lan.given(f.b)
    if a_given and not b_given and not lan.is_link_scope(f.b):
        lan.router(f.rmac or f.dmac, f.ipv)
    elif b_given and not a_given:
        lan.router(f.smac, f.ipv)


class Pipeline:
    """Meter, inventory, enrichment and detectors of one run (capture ``cid``, run ``ingest``)."""

    def __init__(
        self,
        cid: str,
        ingest: int,
        write: Write,
        *,
        lan: LanPrefixes,
        idle_s: float,
        active_s: float,
        bench: Any,
        home: Iterable[str],
        hash_key: bytes,
        raw_evidence: bool,
        phases: Phases,
        catalog: Catalog | None = None,
        keys: KeyLog | None = None,
    ) -> None:
        self.cid, self.ingest, self.write, self.lan, self.phases = cid, ingest, write, lan, phases
        # The run's TLS secrets (key logs and the capture's DSBs; one object that grows while the
        # source reads): the meter decrypts with them, the one place they go in.
        self.keys = keys
        self.meter = FlowMeter(lan.is_local, idle_s, active_s, keys=keys)
        self.timeouts = (idle_s, active_s)
        # a replay worker's share of the capture (``appliance.ingest.parallel``): the context every
        # worker reads has a meter of its own, and what could make a worker's rows differ from one
        # process's is noted in ``unsafe`` (the replay then runs again in one process)
        self.part: Partition | None = None
        self.ctx: FlowMeter | None = None
        self.unsafe: set[str] = set()
        self.inventory = inv = Inventory(lan, bench, raw_evidence)
        self.catalog = catalog or load_catalog()
        self.enricher = Enricher(self.catalog, tuple(home), bench)
        self.rows = RecordRows(cid, ingest, inv, raw_evidence, inv.people)
        personas = {m: d.persona for m, d in bench.devices.items() if d.persona} if bench else {}
        self.observer = Observer(cid, ingest, inv, hash_key, personas, raw_evidence, phases)
        self.pending: dict[str, list[Row]] = {"flows": [], **{t: [] for t in RECORD_TABLES}}
        self.written = dict.fromkeys(self.pending, 0)
        self.feed_many: Callable[[Iterable[Packet]], None] = self.meter.feed_many
        self.batch_rows = BATCH_ROWS
        self._out: Write | None = None  # the writer while rows are held (``hold``)
        self._held: list[tuple[str, list[Row]]] = []

    def hold(self) -> None:
        """Keep the rows built from now on until ``name``: the capture is read while its sha256,
        which names it (column 0 of every row), is still being computed (issue 20, point 3: on a
        10M-packet capture the hash took the first 5 s of a replay, with nothing else running)."""
        if self._out is None:
            self._out, self.write = self.write, self._hold

    def send_to(self, write: Write) -> None:
        """Rows go to ``write`` from now on (once named, if they are held)."""
        if self._out is None:
            self.write = write
        else:
            self._out = write

    def _hold(self, table: str, rows: list[Row]) -> None:
        self._held.append((table, rows))

    def name(self, cid: str) -> None:
        """The capture's name: rows built from now on carry it; those built before (held, or
        pending a full batch) get it, and the held ones go."""
        self.cid = self.rows.cid = self.observer.cid = cid
        for rows in self.pending.values():
            rows[:] = [(cid, *row[1:]) for row in rows]
        if self._out is not None:
            self.write, self._out = self._out, None
            held, self._held = self._held, []
            for table, rows in held:
                self.write(table, [(cid, *row[1:]) for row in rows])

    @classmethod
    def from_options(
        cls,
        cid: str,
        ingest: int,
        write: Write,
        opts: PipelineOptions,
        hash_key: bytes,
        phases: Phases | None = None,
        keys: KeyLog | None = None,
    ) -> Pipeline:
        """The run's pipeline as a replay and a live session both build it (``phases``: a live
        session's own marks, which arrive while it runs, instead of the options' file; ``keys``: the
        run's key log, built by the caller from ``opts.keylogs`` and the source's DSBs)."""
        learn = list(opts.lan_prefixes) == list(DEFAULT_LAN)  # the user named no LAN: learn it too
        return cls(cid, ingest, write, lan=LanPrefixes(opts.lan_prefixes, learn), idle_s=opts.idle_s,
                   active_s=opts.active_s, bench=opts.bench, home=opts.home, hash_key=hash_key,
                   raw_evidence=opts.raw_evidence, phases=phases or opts.phases or Phases(),
                   catalog=opts.catalog, keys=keys)  # fmt: skip

    def partition(self, part: Partition) -> None:
        """Make this pipeline worker ``part.k`` of a parallel replay: its meter reads its share of the
        capture, a second meter the context (``parsers.partition``), rows only of its own flows."""
        self.part = part
        self.ctx = FlowMeter(self.lan.is_local, *self.timeouts, keys=self.keys)
        self.batch_rows = WORKER_BATCH_ROWS

    def _with_context(
        self, done: list[Flow], records: list[Any], events: list[Any]
    ) -> tuple[list[Flow], list[Any], list[Any], list[DnsRecord]]:
        """A worker's drain: its own flows and records from both meters, every worker's context
        events, and the DNS answers of other workers' flows (they name this worker's destinations)."""
        assert self.ctx is not None and self.part is not None
        owns = self.part.owns
        c_done, c_records, c_events = self.ctx.take()
        if events:
            self.unsafe.add("inventory evidence outside the context ports (tunnels, fragments)")
        if any(isinstance(r, DnsRecord) and r.msg.is_response for r in records):
            self.unsafe.add("DNS answers outside the context ports (tunnels, fragments)")
        foreign: list[DnsRecord] = []
        for rec in c_records:
            if owns(rec.flow.a, rec.flow.b):
                records.append(rec)
            elif isinstance(rec, DnsRecord) and rec.msg.is_response:
                foreign.append(rec)
        done += [f for f in c_done if owns(f.a, f.b)]
        return done, records, c_events + events, foreign

    def drain(self, final: bool = False, flush: bool = False) -> None:
        """Turn what the meter finished into rows; write full batches (every pending row when
        ``final`` or ``flush``)."""
        inv, pending, lan = self.inventory, self.pending, self.lan
        done, records, events = self.meter.take()
        foreign: list[DnsRecord] = []
        if self.ctx is not None:
            done, records, events, foreign = self._with_context(done, records, events)
        for rec in records:
            if rec.ts < rec.flow.first:  # read late, after an active timeout: named by its own record
                rec.flow = covering(rec.flow, rec.ts)
        if events:
            inv.add_events(events)
        if lan.learn:  # what the flows' sources say of the LAN, before any of them is oriented
            for f in done:
                _learn(lan, f)
            for rec in records:
                if rec.flow.owner is None:
                    _learn(lan, rec.flow)
        # records before the flows: a flow's name may come from a DNS answer in this batch
        for rec in records:
            for table, row in self.rows.rows(rec):
                pending[table].append(row)
            pending["observations"] += self.observer.observe(rec)
            if isinstance(rec, DnsRecord) and rec.msg.is_response:
                self.enricher.dns.add(owner(rec.flow, inv).device, rec.ts, rec.msg)
        for rec in foreign:  # another worker writes their rows; their answers name flows here too
            if rec.ts < rec.flow.first:
                rec.flow = covering(rec.flow, rec.ts)
            self.enricher.dns.add(owner(rec.flow, inv).device, rec.ts, rec.msg)
        for table, row in self.rows.flush_dns(final):
            pending[table].append(row)
        phase_at = self.phases.at
        for f in done:
            inv.add_flow(f)
            pending["flows"].append(flow_row(f, self.cid, self.ingest, inv, self.enricher, phase_at))
            pending["bursts"] += burst_rows(f, self.cid, self.ingest, inv, phase_at)
        for table, batch in pending.items():  # flows first: the dict keeps that order
            if batch and (final or flush or len(batch) >= self.batch_rows):
                self.write(table, batch)
                self.written[table] += len(batch)
                pending[table] = []

    def expire(self, now_ns: int) -> None:
        """End flows idle at ``now_ns`` (a live session's clock: no packets, no sweep otherwise)."""
        self.meter.expire_idle(now_ns)

    def finish(self) -> None:
        """End of input: every open flow ends, every pending row is written."""
        self.meter.flush()
        if self.ctx is not None:
            self.ctx.flush()
        self.drain(final=True)

    def worker_stats(self) -> tuple[dict[str, int], dict[str, int]]:
        """A worker's counters: its main meter's, and its context meter's (the same in every worker,
        counted once when merged), sweep ticks taken out."""
        main, ctx = dict(self.meter.stats), dict(self.ctx.stats) if self.ctx is not None else {}
        main.pop(TICK_STAT, None)
        ctx.pop(TICK_STAT, None)
        return main, ctx

    def device_rows(self) -> tuple[list[Row], list[Row]]:
        """Rows of ``devices`` and ``device_addresses`` as the inventory knows them now."""
        return self.inventory.device_rows(self.cid, self.ingest), self.inventory.address_rows(
            self.cid, self.ingest
        )
