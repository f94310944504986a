"""A live session fed by a Zeek sensor instead of an interface: ``tapaudit zeek --connect`` (issue 21).

The rows ``tapaudit-publish.zeek`` publishes come in through ``ZeekClient`` (its own thread,
reconnecting), are read as a log replay reads them (``parsers.zeek.live.LiveRows``: conn rows as
flows, dns/ssl/http/dhcp rows as records on them) and go through the replay's ``Pipeline``; every
``flush_s`` the session writes what is complete as one batch through the spool
(``appliance.store.spool.Writer``: to the store, or to the spool folder while the store is away,
each batch written once), with its flow rollup, a ``captures`` row (format ``zeek-ws``, status
``live`` then ``complete``), the devices every minute, and the test-phase marks of the control
socket, exactly as ``tapaudit capture``'s session does (``appliance.live.session``, whose marks
and status requests this session shares). There is no ring: the sensor keeps no packets for
tapaudit, so content is not assessed on such a capture (``policies.verdicts``).
"""

from __future__ import annotations

import hashlib
import queue
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from appliance.ingest.owner import flow_id
from appliance.ingest.pipeline import Pipeline, PipelineOptions, Row
from appliance.ingest.replay import captures_row, new_ingest_id
from appliance.live.control import Control
from appliance.live.session import (
    DEVICES_EVERY_S,
    LiveOptions,
    Session,
    SessionStats,
    _phase_row,
    commit_batch,
)
from appliance.live.zeek_client import ZeekClient
from appliance.store.backends import Store
from appliance.store.schema import FLOWS
from appliance.store.spool import Writer
from parsers.capture import Packet
from parsers.events import Event, Record
from parsers.flow import Flow
from parsers.zeek.live import LiveRows

UID_COL = FLOWS.names.index("zeek_uid")
FLOW_ID_COL = FLOWS.names.index("flow_id")


@dataclass
class ZeekLiveOptions:
    url: str
    spool_dir: str = "./spool"
    control: str = ""
    flush_s: float = 5.0
    duration_s: float = 0.0  # 0: until stopped
    hold_s: float = 300.0  # how long a record waits for its connection's conn row
    pipeline: PipelineOptions = field(default_factory=lambda: PipelineOptions(idle_s=60.0, active_s=300.0))


class LiveLogMeter:
    """The flow meter's place in the pipeline: what ``LiveRows`` has complete at each drain."""

    def __init__(self, rows: LiveRows, uids: dict[int, str], st: SessionStats) -> None:
        self.rows, self.uids, self.st = rows, uids, st
        self.final = False
        self.stats: Counter[str] = Counter()

    def feed_many(self, packets: Iterable[Packet]) -> None:
        raise TypeError("a Zeek feed has no packets")

    def take(self) -> tuple[list[Flow], list[Record], list[Event]]:
        flows, records, events, uids = self.rows.take(self.final)
        st = self.st
        for f in flows:
            uid = uids.get(id(f), "")
            if uid:
                self.uids[flow_id(f)] = uid
            st.packets += f.pk_up + f.pk_dn
            st.bytes += f.by_up + f.by_dn
            st.first_ns = min(st.first_ns, f.first) if st.first_ns else f.first
            st.last_ns = max(st.last_ns, f.last)
        self.stats.update(self.rows.reader.out.stats)
        self.rows.reader.out.stats.clear()
        return flows, records, events

    def flush(self) -> None:
        self.final = True

    def expire_idle(self, now: int) -> None:
        """Zeek ends connections itself: nothing to expire here."""


class ZeekSession(Session):
    def __init__(
        self,
        store: Store,
        opts: ZeekLiveOptions,
        report: Callable[[SessionStats], None] | None = None,
        client: ZeekClient | None = None,
    ) -> None:
        live = LiveOptions(iface="zeek", spool_dir=opts.spool_dir, control=opts.control, flush_s=opts.flush_s,
                           duration_s=opts.duration_s, pipeline=opts.pipeline)  # fmt: skip
        super().__init__(store, live, report)
        self.zopts = opts
        self.client = client or ZeekClient(opts.url)
        self.feed = LiveRows(int(opts.hold_s * 1e9))

    def _pull(self, timeout: float) -> None:
        """Rows the client received, into the feed (waits up to ``timeout`` for the first)."""
        q = self.client.rows
        try:
            stream, row = q.get(timeout=timeout) if timeout > 0 else q.get_nowait()
        except queue.Empty:
            return
        self.feed.add(stream, row)
        while True:
            try:
                stream, row = q.get_nowait()
            except queue.Empty:
                return
            self.feed.add(stream, row)

    def run(self) -> SessionStats:
        opts, st = self.zopts, self.stats
        st.started_ns = time.time_ns()
        name = f"zeek\n{socket.gethostname()}\n{self.client.url}\n{st.started_ns}"
        st.capture_id = hashlib.sha256(name.encode()).hexdigest()
        st.ingest_id = new_ingest_id()
        writer = Writer(self.store, opts.spool_dir, st.ingest_id)
        batch = [1]
        uids: dict[int, str] = {}

        def write(table: str, rows: list[Row]) -> None:
            if table == "flows":
                rows = [(*r[:UID_COL], uids.pop(r[FLOW_ID_COL], ""), *r[UID_COL + 1 :]) for r in rows]
            writer.write(table, rows, batch[0])

        pipe = Pipeline.from_options(st.capture_id, st.ingest_id, write, opts.pipeline, self.store.hash_key(),
                                     phases=self.phases)  # fmt: skip
        meter = LiveLogMeter(self.feed, uids, st)
        pipe.meter = meter  # type: ignore[assignment]  # the feed's flows in the meter's place
        control = Control(opts.control) if opts.control else None
        next_flush = time.monotonic() + opts.flush_s
        next_devices = 0.0
        deadline = time.monotonic() + opts.duration_s if opts.duration_s > 0 else float("inf")
        self.client.start()
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                self._pull(0.1)
                if control is not None:
                    control.serve(self._handle)
                now = time.monotonic()
                if now >= next_flush:
                    devices_due = now >= next_devices
                    self._flush_feed(pipe, writer, batch, devices_due, final=False)
                    next_flush = now + opts.flush_s
                    if devices_due:
                        next_devices = now + DEVICES_EVERY_S
        finally:
            self.client.close()
            if control is not None:
                control.serve(self._handle)
                control.close()
            self._pull(0)  # what arrived before the client stopped
            pipe.finish()  # every record still waiting for its conn row goes, with its flow
            st.status = "complete"
            self._flush_feed(pipe, writer, batch, True, final=True)
        return st

    def _flush_feed(self, pipe: Pipeline, writer: Writer, batch: list[int], devices_due: bool,
                    final: bool) -> None:  # fmt: skip
        """One batch: what the feed completed, its rollup, phases, devices, a captures row."""
        st, n = self.stats, batch[0]
        began = time.monotonic()
        now_ns = time.time_ns()
        if not final:
            pipe.drain(flush=True)
        if pipe.written["flows"] > st.flows:
            writer.rollup(n)
        if final:
            for m in self._open_marks.values():
                self._phase_rows.append(_phase_row(st.capture_id, st.ingest_id, m, max(now_ns, m.ts_ns)))
        if self._phase_rows:
            writer.write("phases", self._phase_rows, n)
            self._phase_rows = []
        if devices_due:
            devices, addresses = pipe.device_rows()
            writer.write("devices", devices, n)
            writer.write("device_addresses", addresses, n)
            st.devices = len(devices)
        st.flows = pipe.written["flows"]
        st.observations = pipe.written["observations"]
        c = self.client.stats
        stats = {**pipe.meter.stats, "ws_connects": c.connects, "ws_drops": c.drops, "ws_rows": c.rows,
                 "ws_bad_messages": c.bad_messages, "ws_wrong_version": c.wrong_version,
                 "rows_duplicate": self.feed.duplicates,
                 "rows_unknown_stream": self.feed.unknown}  # fmt: skip
        row = captures_row(st.capture_id, st.ingest_id, self.zopts.pipeline, pipe.lan, pipe.catalog,
                           path=f"zeek:{self.client.url}", files=[], hashes=[], fmt="zeek-ws",
                           compressed=False,
                           packets=st.packets, nbytes=st.bytes, first_ns=st.first_ns or st.started_ns,
                           last_ns=max(st.last_ns, now_ns if final else st.last_ns), link_types=[],
                           truncated=False, error="", skipped=0, stats=dict(sorted(stats.items())),
                           flows=st.flows, devices=st.devices, status=st.status)  # fmt: skip
        commit_batch(st, writer, row, batch, began, final, self.report)
