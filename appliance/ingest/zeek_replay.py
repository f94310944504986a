"""Zeek logs as a source: ``tapaudit replay`` of a folder of logs fills the tables a capture's
replay fills (issue 21, point 1).

The logs are read into flows and records (``parsers.zeek``) and handed to the same ``Pipeline`` a
capture goes through, in place of its flow meter (``LogMeter``): the inventory, the enrichment
(destinations, parties, countries), the DNS names of flows, the personal-data observer on what the
logs show (DNS names, HTTP URIs) and the masking are those of a packet replay. A flow keeps Zeek's
``uid`` (``flows.zeek_uid``). The ``captures`` row says the capture came from logs (``format``
``zeek-tsv`` or ``zeek-json``) and lists the log files with their sha256, the evidence of what was
read; the capture is named by those hashes, so the same logs replayed again are a no-op. Logs carry
no payload: no bursts, no packets to export, and the requirements judged on content are not
assessed on such a capture (``policies.verdicts``).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterable

from appliance.ingest.owner import flow_id
from appliance.ingest.pipeline import RECORD_TABLES, Pipeline, Row
from appliance.ingest.replay import ReplayOptions, ReplayResult, captures_row, new_ingest_id
from appliance.ingest.sources import sha256_file, verify_read
from appliance.store.backends import Store
from appliance.store.schema import FLOWS
from parsers.capture import Packet
from parsers.events import Event, Record
from parsers.flow import Flow
from parsers.zeek.inputs import LogFile, find_logs
from parsers.zeek.records import ZeekRead
from parsers.zeek.streams import read_logs

CHUNK_FLOWS = 20_000  # flows handed to the pipeline per drain (its BATCH_ROWS)
ZEEK_FORMATS = ("zeek-tsv", "zeek-json", "zeek-cut")
UID_COL = FLOWS.names.index("zeek_uid")
FLOW_ID_COL = FLOWS.names.index("flow_id")


class LogMeter:
    """The flow meter's place in the pipeline for logs: the flows and records already read, handed
    out in time-ordered chunks. A chunk holds the records up to its last flow's start, so a DNS
    answer that names a flow is in the pipeline before that flow's row is made."""

    def __init__(self, read: ZeekRead, chunk: int = CHUNK_FLOWS) -> None:
        self.read, self.chunk = read, chunk
        self.stats: Counter[str] = Counter(read.stats)
        self.flow_pos = self.rec_pos = self.ev_pos = 0
        self.done: list[Flow] = []

    def feed_many(self, packets: Iterable[Packet]) -> None:
        raise TypeError("a Zeek log replay has no packets")

    def take(self) -> tuple[list[Flow], list[Record], list[Event]]:
        r = self.read
        end = min(self.flow_pos + self.chunk, len(r.flows))
        last = end >= len(r.flows)
        until = r.flows[end].first if not last else None
        flows = r.flows[self.flow_pos : end]
        self.flow_pos = end
        recs, evs = r.records, r.events
        i = self.rec_pos
        while i < len(recs) and (until is None or recs[i].ts < until):
            i += 1
        j = self.ev_pos
        while j < len(evs) and (until is None or evs[j].ts < until):
            j += 1
        out = flows, recs[self.rec_pos : i], evs[self.ev_pos : j]
        self.rec_pos, self.ev_pos = i, j
        return out

    def pending(self) -> bool:
        r = self.read
        return self.flow_pos < len(r.flows) or self.rec_pos < len(r.records) or self.ev_pos < len(r.events)

    def flush(self) -> None:
        """End of input: nothing is held back (take hands out the rest)."""

    def expire_idle(self, now: int) -> None:
        """Logs have no idle flows: Zeek ended each connection before it logged it."""


def log_format(logs: list[LogFile]) -> str:
    return "+".join(sorted({log.header.fmt for log in logs}))


def replay_logs(store: Store, path: str, opts: ReplayOptions) -> ReplayResult:
    """Ingest the Zeek logs of one PATH (a file, a folder of sensors, a glob) into the store."""
    t0 = time.perf_counter()
    logs = find_logs(path)
    files = [log.path for log in logs]
    hashes = [sha256_file(f) for f in files]
    cid = hashlib.sha256(("zeek\n" + "\n".join(hashes)).encode()).hexdigest()
    res = ReplayResult(path=path, capture_id=cid, status="ingested", files=files, source="zeek-logs")
    superseding = store.capture_status(cid) == "complete"
    if superseding and not opts.force:
        res.status = "skipped"
        return res
    ingest = new_ingest_id()
    read = read_logs(logs)
    for f, want in zip(files, hashes, strict=True):  # the logs read are the logs named
        verify_read(f, want, sha256_file(f))
    uids = {flow_id(f): uid for f in read.flows if (uid := read.uids.get(id(f)))}

    def write(table: str, rows: list[Row]) -> None:
        if table == "flows" and uids:
            rows = [(*r[:UID_COL], uids.get(r[FLOW_ID_COL], ""), *r[UID_COL + 1 :]) for r in rows]
        store.insert(table, rows)

    pipe = Pipeline.from_options(cid, ingest, write, opts, store.hash_key())
    meter = LogMeter(read)
    pipe.meter = meter  # type: ignore[assignment]  # the logs' flows in the meter's place
    while meter.pending():
        pipe.drain()
    pipe.drain(final=True)
    return _commit(store, pipe, opts, res, ingest, superseding, read, logs, hashes, t0)


def _commit(
    store: Store,
    pipe: Pipeline,
    opts: ReplayOptions,
    res: ReplayResult,
    ingest: int,
    superseding: bool,
    read: ZeekRead,
    logs: list[LogFile],
    hashes: list[str],
    t0: float,
) -> ReplayResult:
    """Devices, the flows rollup, then the captures row that commits the run."""
    cid = res.capture_id
    devices, addresses = pipe.device_rows()
    store.insert("devices", devices)
    store.insert("device_addresses", addresses)
    nflows = pipe.written["flows"]
    stats = dict(sorted({**read.stats, **{f"rows_{k}": v for k, v in read.streams.items()},
                         "bad_lines": read.bad_lines}.items()))  # fmt: skip
    res.flows, res.devices = nflows, len(devices)
    res.packets = sum(f.pk_up + f.pk_dn for f in read.flows)
    res.bytes = sum(f.by_up + f.by_dn for f in read.flows)
    res.records = {t: pipe.written[t] for t in RECORD_TABLES}
    res.stats, res.skipped_packets = stats, read.bad_lines
    res.first_ns, res.last_ns = read.first_ns, read.last_ns
    res.bench_missing = pipe.inventory.bench_missing()
    store.rollup_flows("ingest_id = %(i)s", {"i": ingest})
    row = captures_row(
        cid,
        ingest,
        opts,
        pipe.lan,
        pipe.catalog,
        path=res.path,
        files=res.files,
        hashes=hashes,
        fmt=log_format(logs),
        compressed=any(_gz(f) for f in res.files),
        packets=res.packets,
        nbytes=res.bytes,
        first_ns=read.first_ns,
        last_ns=read.last_ns,
        link_types=[],
        truncated=False,
        error="",
        skipped=read.bad_lines,
        stats=stats,
        flows=nflows,
        devices=len(devices),
        status="complete",
    )
    store.insert("captures", [row])
    if superseding:
        store.drop_runs(cid, ingest)
    res.seconds = time.perf_counter() - t0
    return res


def _gz(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"
