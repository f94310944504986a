"""Application records from the sessions to rows of the dns, tls, http and app_events tables.

Each row carries the id of the flow that carried it and that flow's device. Values
that may identify a person (HTTP query values, MQTT client ids, user names, topics
with ids in them, DHCP host names) are masked unless raw evidence was requested.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from appliance.ingest.flow_rows import flow_id, orient
from appliance.ingest.inventory import usable_mac
from appliance.masking import mask, mask_path, mask_query
from parsers.events import AppRecord, DnsRecord, HttpRecord, Record, TlsRecord
from parsers.lan import LanPrefixes, mac_text
from parsers.meter import Flow
from parsers.protocols.dns import TYPES
from parsers.protocols.http import HttpRequest
from parsers.protocols.tls import GREASE, version_name

TABLE_OF = {DnsRecord: "dns", TlsRecord: "tls", HttpRecord: "http", AppRecord: "app_events"}
DNS_WAIT_NS = 30_000_000_000  # a response later than this is logged as a row of its own
# Fields of app records that name a person or a device instance, masked by default; dropped always.
MASKED_FIELDS = frozenset(
    ("client_id", "username", "will_topic", "hostname", "client_mac", "usn", "location")
)
DROPPED_FIELDS = frozenset(("password", "will_message", "message"))


def _version(v: int) -> str:
    """A hello's version in the flows' spelling (``tls1.3``); empty when the hello carried none."""
    return version_name(v) if v else ""


class RecordRows:
    def __init__(self, capture_id: str, ingest_id: int, lan: LanPrefixes, raw: bool = False) -> None:
        self.head = (capture_id, ingest_id)
        self.lan = lan
        self.raw = raw
        self.pending: dict[tuple[int, int], DnsRecord] = {}  # queries waiting for their response
        self.clock = 0
        self.builders: dict[type, Callable[[Any, tuple[Any, ...]], tuple[Any, ...]]] = {
            TlsRecord: self._tls,
            HttpRecord: self._http,
            AppRecord: self._app,
        }

    def m(self, value: str) -> str:
        return value if self.raw else mask(value)

    def device(self, f: Flow) -> tuple[int, str]:
        """(flow id, device MAC) of a flow, remembered on the flow for its next records."""
        if f.dev is None:
            dev, _direction, _first = orient(f, self.lan)
            f.dev = mac_text(dev) if usable_mac(dev) else ""
        return flow_id(f), f.dev

    def rows(self, rec: Record) -> list[tuple[str, tuple[Any, ...]]]:
        """Rows for one record: none yet for a DNS query (it waits for its response)."""
        if isinstance(rec, DnsRecord):
            return self._dns(rec)
        fid, dev = self.device(rec.flow)
        head = (*self.head, fid, rec.ts, dev)
        return [(TABLE_OF[type(rec)], self.builders[type(rec)](rec, head))]

    def _dns(self, r: DnsRecord) -> list[tuple[str, tuple[Any, ...]]]:
        key = (id(r.flow), r.msg.txid)
        self.clock = max(self.clock, r.ts)
        if not r.msg.is_response:
            old = self.pending.get(key)  # a retransmission: the earlier query stays unanswered
            self.pending[key] = r
            return [self._dns_row(old, None)] if old is not None else []
        query = self.pending.pop(key, None)
        return [self._dns_row(query, r)]

    def flush_dns(self, final: bool = False) -> list[tuple[str, tuple[Any, ...]]]:
        """Queries whose response did not come within DNS_WAIT_NS (all of them at the end)."""
        late = [k for k, q in self.pending.items() if final or self.clock - q.ts > DNS_WAIT_NS]
        return [self._dns_row(self.pending.pop(k), None) for k in late]

    def _dns_row(self, q: DnsRecord | None, a: DnsRecord | None) -> tuple[str, tuple[Any, ...]]:
        first = q if q is not None else a
        assert first is not None
        fid, dev = self.device(first.flow)
        m = (q or a).msg  # type: ignore[union-attr]
        qname, qtype = m.questions[0] if m.questions else ("", 0)
        if not m.questions and a is not None and a.msg.questions:
            qname, qtype = a.msg.questions[0]
        ans = a.msg.answers if a is not None else []
        return "dns", (
            *self.head,
            fid,
            first.ts,
            dev,
            first.protocol,
            first.transport,
            m.txid,
            m.opcode,
            a.msg.rcode if a is not None else 0,
            qname,
            TYPES.get(qtype, str(qtype)) if qname or qtype else "",
            1 if q is not None else 0,
            1 if a is not None else 0,
            max(a.ts - q.ts, 0) if a is not None and q is not None else 0,
            [x.name for x in ans],
            [x.type_name for x in ans],
            [x.data for x in ans],
            [max(0, min(x.ttl, 0xFFFFFFFF)) for x in ans],
        )

    def _tls(self, r: TlsRecord, head: tuple[Any, ...]) -> tuple[Any, ...]:
        c, s = r.client, r.server
        leaf = r.certs[0] if r.certs else None
        return (
            *head,
            r.transport,
            c.sni if c else "",
            c.alpn if c else [],
            _version(c.version) if c else "",
            [version_name(v) for v in c.versions if v not in GREASE] if c else [],
            c.ciphers if c else [],
            c.extensions if c else [],
            c.ja3 if c else "",
            c.ja4("q" if r.transport == "quic" else "t") if c else "",
            _version(s.version) if s else "",
            s.cipher if s else 0,
            s.ja3s if s else "",
            len(r.certs),
            leaf.subject if leaf else "",
            leaf.issuer if leaf else "",
            leaf.sans if leaf else [],
            leaf.not_before if leaf else "",
            leaf.not_after if leaf else "",
            leaf.sha256 if leaf else "",
            r.alerts,
        )

    def _http(self, r: HttpRecord, head: tuple[Any, ...]) -> tuple[Any, ...]:
        msg = r.msg
        req = msg if isinstance(msg, HttpRequest) else None
        query = req.query if req else ""
        clen = msg.header("content-length")
        return (
            *head,
            0 if req else 1,
            r.index,
            req.method if req else "",
            req.host if req else "",
            (req.path if self.raw else mask_path(req.path)) if req else "",
            query if self.raw or not query else mask_query(query),
            req.user_agent if req else msg.header("server"),
            msg.header("content-type"),
            int(clen) if clen.isdigit() else msg.body_len,
            len(msg.body),
            0 if req else getattr(msg, "status", 0),
            1 if msg.truncated else 0,
        )

    def _app(self, r: AppRecord, head: tuple[Any, ...]) -> tuple[Any, ...]:
        detail: dict[str, Any] = {}
        for k, v in r.detail.items():
            if k in DROPPED_FIELDS or isinstance(v, bytes | bytearray):
                continue
            detail[k] = self.m(v) if k in MASKED_FIELDS and isinstance(v, str) else v
        if (r.protocol == "mqtt" and r.kind == "connect") or r.protocol == "dhcp":
            name = self.m(r.name)
        else:
            name = r.name if self.raw else mask_path(r.name)
        return (
            *head,
            r.protocol,
            r.kind,
            1 if r.up else 0,
            name,
            json.dumps(detail, sort_keys=True, default=str, ensure_ascii=False),
            len(r.payload),
        )
