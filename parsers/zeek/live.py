"""Zeek's rows as they arrive from a live sensor, handed out as flows and records when complete.

A live feed (``tapaudit zeek``) sends each row when Zeek logs it: a connection's dns, http and ssl
rows when each transaction ends, its conn row when the connection ends. A record whose connection
has not been logged yet waits, with a flow made from its ``id`` fields, until the conn row comes
(the flow then takes that row's times and counters, in place, ``LogReader.conn``) or until it has
waited ``hold_ns`` of the feed's own time (a connection longer than that is then stored twice: the
records' flow without packets, the conn row's flow with them, both with its uid), or the feed ends.

A row received twice (a sensor re-sending after the client reconnected) is taken once: rows are
known by a digest of their stream and content.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

from parsers.events import Event, Record
from parsers.flow import Flow
from parsers.zeek.logfile import parse_time
from parsers.zeek.records import LogReader
from parsers.zeek.streams import STREAM_READERS

HOLD_NS = 300_000_000_000  # a live session's active timeout (LiveOptions): records wait this long
SEEN_MAX = 1 << 20  # digests of rows taken, newest kept


class LiveRows:
    def __init__(self, hold_ns: int = HOLD_NS) -> None:
        self.reader = LogReader([])
        self.hold_ns = hold_ns
        self.seen: OrderedDict[bytes, None] = OrderedDict()
        self.flows: list[Flow] = []  # not handed out yet
        self.records: list[Record] = []
        self.events: list[Event] = []
        self.clock = 0  # the newest time a row carried
        self.rows = self.duplicates = self.unknown = 0

    def add(self, stream: str, row: dict[str, Any]) -> bool:
        """Take one row of ``stream`` (conn, dns, ssl, http, dhcp...); False when it was a duplicate
        or of a stream no reader knows."""
        digest = hashlib.blake2b(
            (stream + "\0" + json.dumps(row, sort_keys=True, default=str)).encode(), digest_size=16
        ).digest()
        if digest in self.seen:
            self.duplicates += 1
            return False
        self.seen[digest] = None
        if len(self.seen) > SEEN_MAX:
            self.seen.popitem(last=False)
        r = self.reader
        if stream == "conn":
            r.conn(row)
        elif stream == "x509":
            r.x509(row)
        elif stream in STREAM_READERS:
            STREAM_READERS[stream](r, row)
        else:
            self.unknown += 1
            return False
        self.rows += 1
        self.clock = max(self.clock, parse_time(row.get("ts")) or 0)
        out = r.out  # moved here: the reader keeps nothing but its uid maps
        self.flows += out.flows
        self.records += out.records
        self.events += out.events
        out.flows.clear()
        out.records.clear()
        out.events.clear()
        return True

    def take(self, final: bool = False) -> tuple[list[Flow], list[Record], list[Event], dict[int, str]]:
        """What is complete: flows whose conn row came, records on them, the events, and the uid of
        each flow handed out (by ``id``); with ``final``, or past ``hold_ns``, records waiting for
        their conn row too, with their flow."""
        waiting = {
            id(f) for f in self.reader.orphans.values() if not final and self.clock - f.first < self.hold_ns
        }
        if not final:
            for uid, f in list(self.reader.orphans.items()):
                if id(f) not in waiting:
                    del self.reader.orphans[uid]  # released: a late conn row makes a flow of its own
        else:
            self.reader.orphans.clear()
        flows = [f for f in self.flows if id(f) not in waiting]
        self.flows = [f for f in self.flows if id(f) in waiting]
        records = [r for r in self.records if id(r.flow) not in waiting]
        self.records = [r for r in self.records if id(r.flow) in waiting]
        events, self.events = self.events, []
        uids = self.reader.out.uids
        taken = {id(f): uids.pop(id(f), "") for f in flows}
        for uid in taken.values():
            self.reader.by_uid.pop(uid, None)  # the connection is done: its flow is not kept
        flows.sort(key=lambda f: f.first)
        records.sort(key=lambda r: r.ts)
        events.sort(key=lambda e: e.ts)
        return flows, records, events, taken
