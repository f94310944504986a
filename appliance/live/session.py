"""A live capture session: interface -> ring files (the evidence) and the replay's pipeline -> store.

The session is one capture (``capture_id`` from host, interface and start) with one ingestion
run. Every ``flush_s`` it writes what the pipeline finished as one batch (appliance.store.spool:
to the store, or to the spool folder while the store is away), its flow rollup, a ``captures``
row with status ``live`` and the totals so far (readers see the session from its first flush),
and fsyncs the ring file. A crash loses at most the packets since the last flush; the ring
files stay readable. SIGINT/SIGTERM end the session: every flow ends, the last batch and a
``complete`` captures row are written, the ring file is closed.

With ``--keylog`` the session follows the key logs as they grow (``KeyFollower``): the whole lines
written since the last look are taken before each batch of packets is fed and before each flush
drains the pipeline, so a flow whose keys arrive after its handshake is still read while its data
is held (issue 16), and one that ends at once (a reset right after its data: the interceptor's
connections, issue 19) has its keys by then. The key files
(path, sha256 of what was read) are recorded with the final batch, their lines only with
``--raw-evidence``.

The ring keeps the evidence of findings (issue 21): at each flush the session asks the store for
the findings made on its capture so far (``tapaudit assess`` run meanwhile, by the lab or a
timer) and pins the ring files holding their flows' packets (``Ring.pin``), so an early finding's
packets survive the rotation that follows, within ``--evidence-budget``; files the budget cannot
take are counted and named (``evidence_refused``, ``evidence_note``), and the CLI warns.

Test-phase marks arrive on the control socket (appliance.live.control) and take effect at once:
flows and observations after a mark carry its phase, exactly as a replay's phases file does.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from appliance.ingest.keyfiles import KeyFollower, expand_keylogs, key_line_rows, key_rows
from appliance.ingest.pipeline import Pipeline, PipelineOptions
from appliance.ingest.replay import captures_row, new_ingest_id
from appliance.lab.bench import normalize_mac
from appliance.lab.phases import NAME, Mark, Phases
from appliance.live.control import Control, ControlError
from appliance.live.ring import Ring
from appliance.live.source import LiveSource
from appliance.store.backends import Store
from appliance.store.errors import StoreError
from appliance.store.schema import PHASES
from appliance.store.spool import Writer
from parsers.decrypt.keys import INTERCEPT, KeyLog
from parsers.linklayer import linktype_name

DEVICES_EVERY_S = 60.0  # the inventory's rows are rewritten this often (readers take the newest)


@dataclass
class LiveOptions:
    iface: str
    bpf: str = ""
    ring_dir: str = "./ring"
    ring_size_mb: float = 100.0
    ring_files: int = 20
    spool_dir: str = "./spool"
    control: str = ""
    flush_s: float = 5.0
    snaplen: int = 65535
    buffer_mb: int = 256
    duration_s: float = 0.0  # 0: until stopped
    # the lab gateway's interceptor (issue 19): its key log, followed as the others, its keys labelled
    # tls-intercept; and rows it hands over at each flush (``extra``: pipeline, capture, ingest -> rows)
    intercept_keylog: str = ""
    extra: Callable[[Pipeline, str, int], dict[str, list[tuple[object, ...]]]] | None = None
    evidence_mb: float = 1000.0  # disk budget of the ring files pinned as evidence of findings
    evidence_hold_s: float = 300.0  # files of flows that carried personal data wait this long for a finding
    # live flows end sooner than a replay's, so long connections show up while the session runs
    pipeline: PipelineOptions = field(default_factory=lambda: PipelineOptions(idle_s=60.0, active_s=300.0))


@dataclass
class SessionStats:
    capture_id: str = ""
    ingest_id: int = 0
    started_ns: int = 0
    packets: int = 0
    bytes: int = 0
    first_ns: int = 0
    last_ns: int = 0
    dropped: int = 0  # by the kernel (libpcap's ps_drop)
    if_dropped: int = 0  # by the interface or driver
    iface_rx_dropped: int = 0  # the interface's own rx_dropped counter, since the start
    batches: int = 0
    flows: int = 0
    observations: int = 0
    devices: int = 0  # as of the last devices rows written (every DEVICES_EVERY_S, and at the end)
    marks: int = 0
    lag_s: float = 0.0  # wall clock minus the newest packet the store has been given
    flush_s_max: float = 0.0  # the longest flush: the capture loop reads no packet meanwhile
    spool_pending: int = 0
    spooled_total: int = 0
    store_failures: int = 0
    store_error: str = ""
    ring_files: list[str] = field(default_factory=list)
    evidence_files: list[str] = field(default_factory=list)  # ring files pinned as findings' evidence
    evidence_refused: int = 0  # files of findings' flows the evidence budget could not keep
    evidence_note: str = ""  # the last such file, and why
    phase: str = ""
    status: str = "live"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Session:
    def __init__(self, store: Store, opts: LiveOptions, report: Callable[[SessionStats], None] | None = None):
        self.store, self.opts, self.report = store, opts, report
        self.stop = threading.Event()
        self.stats = SessionStats()
        self.phases = Phases()
        self._open_marks: dict[str, Mark] = {}  # scope ('' or a MAC) -> its running mark
        self._phase_rows: list[tuple[object, ...]] = []
        self._flushed_ns = 0
        self._keys: KeyFollower | None = None
        self._evidence_flows: set[int] = set()  # flows of findings whose ring files were pinned
        self._personal_batch = 0  # observations of batches up to this one have had their files held
        self._personal_flows: set[int] = set()  # their flows not written yet (still open)

    # -- control requests -------------------------------------------------------------------

    def _handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        if op == "status":
            return {"session": self.stats.as_dict()}
        if op != "mark":
            raise ControlError(f"unknown request {op!r} (mark or status)")
        phase = str(req.get("phase") or "").strip()
        if not NAME.match(phase):
            raise ControlError(f"phase {phase!r} is not a lower-case name (letters, digits, _)")
        device = str(req.get("device") or "")
        if device:
            try:
                device = normalize_mac(device)
            except ValueError as exc:
                raise ControlError(f"device: {exc}") from None
        ts = time.time_ns()
        mark = Mark(ts, phase, str(req.get("note") or "")[:500], device)
        self.phases.add(mark)
        cid, ing = self.stats.capture_id, self.stats.ingest_id
        prev = self._open_marks.get(device)
        if prev is not None:  # the running phase of this scope ends now: its row, closed
            self._phase_rows.append(_phase_row(cid, ing, prev, ts))
        self._open_marks[device] = mark
        self._phase_rows.append(_phase_row(cid, ing, mark, 0))  # open: end 0
        self.stats.marks += 1
        self.stats.phase = phase if not device else self.stats.phase
        return {"ts_ns": ts, "capture_id": cid, "phase": phase, "device": device}

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> SessionStats:
        opts, st = self.opts, self.stats
        src = LiveSource(opts.iface, opts.bpf, opts.snaplen, opts.buffer_mb)
        try:
            ring = Ring(opts.ring_dir, opts.ring_size_mb, opts.ring_files, src.linktype, opts.snaplen,
                        opts.iface, evidence_mb=opts.evidence_mb)  # fmt: skip
        except BaseException:
            src.close()
            raise
        st.started_ns, st.capture_id = src.started_ns, src.capture_id
        st.ingest_id = new_ingest_id()
        writer = Writer(self.store, opts.spool_dir, st.ingest_id)
        batch = [1]

        def write(table: str, rows: list[tuple[object, ...]]) -> None:
            writer.write(table, rows, batch[0])

        keys = None
        if opts.pipeline.keylogs or opts.intercept_keylog:  # followed as they grow; what is there now
            keys = KeyLog(growing=True)  # is read before any packet
            paths = [os.path.abspath(p) for p in expand_keylogs(opts.pipeline.keylogs)]
            kinds = {}
            if opts.intercept_keylog:
                paths.append(os.path.abspath(opts.intercept_keylog))
                kinds[paths[-1]] = INTERCEPT
            self._keys = KeyFollower(keys, paths, kinds=kinds)
            self._keys.poll()
        pipe = Pipeline.from_options(st.capture_id, st.ingest_id, write, opts.pipeline, self.store.hash_key(),
                                     phases=self.phases, keys=keys)  # fmt: skip
        control = Control(opts.control) if opts.control else None
        link_types = {linktype_name(src.linktype)}
        next_flush = time.monotonic() + opts.flush_s
        next_devices = 0.0
        deadline = time.monotonic() + opts.duration_s if opts.duration_s > 0 else float("inf")
        packets = src.batches(4096)
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                pkts = next(packets)
                if pkts:
                    ring.write(pkts)
                    if self._keys is not None:  # keys written before these packets were read: a flow
                        self._keys.poll()  # that ends in them (a reset) is read with its keys
                    pipe.feed_many(pkts)
                    st.packets += len(pkts)
                    st.bytes += sum(len(p[3]) for p in pkts)
                    if not st.first_ns:
                        st.first_ns = pkts[0][0]
                    st.last_ns = pkts[-1][0]
                if control is not None:
                    control.serve(self._handle)
                now = time.monotonic()
                if now >= next_flush:
                    devices_due = now >= next_devices
                    self._flush(pipe, writer, ring, src, batch, link_types, devices_due, final=False)
                    next_flush = now + opts.flush_s
                    if devices_due:
                        next_devices = now + DEVICES_EVERY_S
        finally:
            if control is not None:
                control.serve(self._handle)
                control.close()
            try:
                if self._keys is not None:
                    self._keys.poll()  # the last keys, before every open flow ends
                self._extra(pipe, writer, batch[0])  # while the flows are still open
                pipe.finish()
                ring.close()
                st.status = "complete"
                self._flush(pipe, writer, ring, src, batch, link_types, True, final=True)
            finally:
                src.close()
        return st

    def _flush(self, pipe: Pipeline, writer: Writer, ring: Ring, src: LiveSource, batch: list[int],
               link_types: set[str], devices_due: bool, final: bool) -> None:  # fmt: skip
        """Write one batch: what the pipeline finished, its rollup, phases, devices, a captures row."""
        st, opts, n = self.stats, self.opts, batch[0]
        began = time.monotonic()
        now_ns = time.time_ns()
        if self._keys is not None:
            self._keys.poll()  # keys written since the last flush, before the drain reads the flows
        if not final:
            self._extra(pipe, writer, n)  # before the flows that ended go
            ring.flush()
            pipe.expire(now_ns)
            pipe.drain(flush=True)
        if final and self._keys is not None:  # the key files as read to the end, once per session
            writer.write("capture_keys", key_rows(st.capture_id, st.ingest_id, self._keys.sources()), n)
            if opts.pipeline.raw_evidence:
                writer.write(
                    "capture_key_lines", key_line_rows(st.capture_id, st.ingest_id, self._keys.keys), n
                )
        if pipe.written["flows"] > st.flows:  # a batch without new flows has nothing to roll up
            writer.rollup(n)
        if final:  # every running phase ends with the session
            for m in self._open_marks.values():
                self._phase_rows.append(_phase_row(st.capture_id, st.ingest_id, m, max(now_ns, m.ts_ns)))
        if self._phase_rows:
            writer.write("phases", self._phase_rows, n)
            self._phase_rows = []
        if devices_due:  # the inventory's rows are built only when they are written
            devices, addresses = pipe.device_rows()
            writer.write("devices", devices, n)
            writer.write("device_addresses", addresses, n)
            st.devices = len(devices)
        cs = src.stats()
        st.dropped, st.if_dropped, st.iface_rx_dropped = cs.dropped, cs.if_dropped, cs.iface_rx_dropped
        st.flows = pipe.written["flows"]
        st.observations = pipe.written["observations"]
        self._pin_evidence(ring)
        if final:  # the session is over: held files that no finding pinned rotate as usual
            ring.release()
        st.ring_files = list(ring.files)
        st.evidence_files = ring.pinned
        # the newest packet's age when what it finished was handed to the store (0 with no new packet)
        st.lag_s = round((now_ns - st.last_ns) / 1e9, 3) if st.last_ns > self._flushed_ns else 0.0
        self._flushed_ns = st.last_ns
        stats = {**pipe.meter.stats, "kernel_dropped": st.dropped, "if_dropped": st.if_dropped}
        files = st.ring_files
        hashes = [_sha256(f) for f in files] if final else ["" for _ in files]
        row = captures_row(st.capture_id, st.ingest_id, opts.pipeline, pipe.lan, pipe.catalog,
                           path=f"live:{opts.iface}", files=files, hashes=hashes, fmt="pcapng",
                           compressed=False, packets=st.packets, nbytes=st.bytes,
                           first_ns=st.first_ns or st.started_ns,
                           last_ns=max(st.last_ns, now_ns if final else st.last_ns),
                           link_types=sorted(link_types), truncated=False, error="",
                           skipped=0, stats=dict(sorted(stats.items())), flows=st.flows,
                           devices=st.devices, status=st.status)  # fmt: skip
        commit_batch(st, writer, row, batch, began, final, self.report)

    def _extra(self, pipe: Pipeline, writer: Writer, n: int) -> None:
        if self.opts.extra is not None:
            for table, rows in self.opts.extra(pipe, self.stats.capture_id, self.stats.ingest_id).items():
                if rows:
                    writer.write(table, rows, n)

    def _pin_evidence(self, ring: Ring) -> None:
        """Pin the ring files holding the packets of the flows that findings of this capture name
        (findings the store holds now; none while it is away)."""
        st = self.stats
        try:
            self._hold_personal(ring)
            rows = self.store.query(
                "SELECT DISTINCT arrayJoin(flow_ids) AS id FROM {db}.findings WHERE capture_id = %(c)s",
                {"c": st.capture_id},
            )
            new = sorted({int(r["id"]) for r in rows} - self._evidence_flows)
            if not new:
                return
            spans = self._spans(new)
        except StoreError:
            return  # the store is away: the next flush asks again
        for r in spans:
            self._evidence_flows.add(int(r["flow_id"]))
            _pinned, refused = ring.pin(int(r["a"]), int(r["b"]))
            if refused:
                st.evidence_refused += len(refused)
                name = os.path.basename(refused[-1])
                st.evidence_note = (
                    f"evidence budget of {self.opts.evidence_mb:g} MB spent: {name}, which holds flow "
                    f"{r['flow_id']} of a finding, is not kept and will rotate away"
                )

    def _spans(self, flow_ids: list[int]) -> list[dict[str, Any]]:
        """First and last packet of each of this session's flows named (``a``, ``b``, ns)."""
        return self.store.query(
            "SELECT flow_id, min(first_ns) AS a, max(last_ns) AS b FROM {db}.flows"
            " WHERE capture_id = %(c)s AND ingest_id = %(i)s AND has(%(ids)s, flow_id) GROUP BY flow_id",
            {"c": self.stats.capture_id, "i": self.stats.ingest_id, "ids": flow_ids},
        )

    def _hold_personal(self, ring: Ring) -> None:
        """Hold, for ``evidence_hold_s``, the ring files of the messages that carried personal data
        written since the last flush, and of their whole flows once those are written (a flow's
        row comes when it ends): the findings they may lead to come later."""
        rows = self.store.query(
            "SELECT flow_id, min(ts_ns) AS a, max(ts_ns) AS b, max(batch) AS n FROM {db}.observations"
            " WHERE capture_id = %(c)s AND ingest_id = %(i)s AND batch > %(b)s GROUP BY flow_id",
            {"c": self.stats.capture_id, "i": self.stats.ingest_id, "b": self._personal_batch},
        )
        until = time.monotonic() + self.opts.evidence_hold_s
        for r in rows:
            ring.hold(int(r["a"]), int(r["b"]), until)
            self._personal_flows.add(int(r["flow_id"]))
        if rows:
            self._personal_batch = max(int(r["n"]) for r in rows)
        if self._personal_flows:
            for r in self._spans(sorted(self._personal_flows)):
                ring.hold(int(r["a"]), int(r["b"]), until)
                self._personal_flows.discard(int(r["flow_id"]))


def commit_batch(st: SessionStats, writer: Writer, row: tuple[object, ...], batch: list[int], began: float,
                 final: bool, report: Callable[[SessionStats], None] | None) -> None:  # fmt: skip
    """End a live batch (a capture's or a Zeek sensor's session): its captures row last, so the
    batch shows only once its rows are in; the spool's and the store's state into the stats; the
    next batch number; the final flush waits out the spool."""
    n = batch[0]
    writer.write("captures", [row], n)
    writer.drain()
    st.batches = n
    st.spool_pending, st.spooled_total = writer.pending, writer.spooled_total
    st.store_failures, st.store_error = writer.failures, writer.last_error
    batch[0] = n + 1
    st.flush_s_max = round(max(st.flush_s_max, time.monotonic() - began), 3)
    if report is not None:
        report(st)
    if final and writer.pending:
        writer.drain(force=True)
        st.spool_pending = writer.pending


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return ""
    return h.hexdigest()


def install_signal_handlers(session: Session) -> None:
    """SIGINT and SIGTERM end the session cleanly (the loop notices within one read timeout)."""

    def stop(_sig: int, _frame: object) -> None:
        session.stop.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def _phase_row(cid: str, ingest: int, m: Mark, end_ns: int) -> tuple[object, ...]:
    """The ``phases`` row of a live mark, ending at ``end_ns`` (0 while it runs)."""
    return PHASES.row(capture_id=cid, ingest_id=ingest, phase=m.phase, start_ns=m.ts_ns, end_ns=end_ns,
                      note=m.note, device_mac=m.device)  # fmt: skip
