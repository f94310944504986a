"""Application records from the sessions to rows of the dns, tls, http and app_events tables.

Each row carries the id of the flow that carried it and that flow's device. Values
that may identify a person (HTTP query values, MQTT client ids, user names, topics
with ids in them, DHCP host names) are masked unless raw evidence was requested.
"""

from __future__ import annotations

import json
from typing import Any

from appliance.ingest.owner import Attribution, Owner, owner
from appliance.masking import mask, mask_dns_name, mask_path, mask_query
from appliance.store.schema import APP_EVENTS, DNS, HTTP, TLS
from parsers.events import AppRecord, DnsRecord, HttpRecord, TlsRecord
from parsers.events import Record as AnyRecord
from parsers.protocols.dns import TYPES, Record
from parsers.protocols.http import HttpRequest
from parsers.protocols.tls import GREASE, version_name

DNS_WAIT_NS = 30_000_000_000  # a response later than this is logged as a row of its own
# Fields of app records that name a person or a device instance, masked by default; dropped always.
MASKED_FIELDS = frozenset(
    ("client_id", "username", "will_topic", "hostname", "client_mac", "usn", "location")
)
DROPPED_FIELDS = frozenset(("password", "will_message", "message"))
# Fields that are paths or queries (an MQTT topic such as ``loc/<IMEI>``, a CoAP query): masked
# as the record's name is, keeping their shape but not the identifiers in them.
PATH_FIELDS = frozenset(("topic",))
QUERY_FIELDS = frozenset(("query",))


def _mask_txt(text: str) -> str:
    """TXT strings as the record printed them (space-separated): each ``key=value``'s value masked,
    a string without ``=`` masked whole."""
    out = []
    for part in text.split(" "):
        key, eq, value = part.partition("=")
        out.append(f"{key}={mask(value)}" if eq else mask(part))
    return " ".join(out)


JA4_TRANSPORT = {"quic": "q", "dtls": "d"}  # JA4's first character (FoxIO's spec); TLS over TCP "t"


def _version(v: int) -> str:
    """A hello's version in the flows' spelling (``tls1.3``); empty when the hello carried none."""
    return version_name(v) if v else ""


# Each table's row by column name, compiled once (``Table.builder``: a tuple literal in insert order,
# not ~25 keywords bound per record). ``rr`` is the RecordRows, ``o`` the record's flow's owner.
_HEAD = {"capture_id": "rr.cid", "ingest_id": "rr.ingest", "flow_id": "o.flow_id", "device_mac": "o.device"}
_DNS = DNS.builder(
    "rr, o, first, m, q, a, local, questions, qname, qtype, ans, authority, additional",
    {
        **_HEAD,
        "ts_ns": "first.ts",
        "protocol": "first.protocol",
        "transport": "first.transport",
        "txid": "m.txid",
        "opcode": "m.opcode",
        "rcode": "a.msg.rcode if a is not None else 0",
        "qname": "rr._dns_name(qname, local)",
        "qtype": "(TYPES.get(qtype, str(qtype)) if qname or qtype else '')",
        "query_seen": "1 if q is not None else 0",
        "answered": "1 if a is not None else 0",
        "rtt_ns": "max(a.ts - q.ts, 0) if a is not None and q is not None else 0",
        "answer_names": "rr._names([x.name for x in ans], local)",
        "answer_types": "[x.type_name for x in ans]",
        "answer_data": "[rr._rdata(x, local) for x in ans]",
        "answer_ttls": "[max(0, min(x.ttl, 0xFFFFFFFF)) for x in ans]",
        "qnames": "rr._names([n for n, _t in questions], local)",
        "qtypes": "[TYPES.get(t, str(t)) for _n, t in questions]",
        "authority_names": "rr._names([x.name for x in authority], local)",
        "authority_types": "[x.type_name for x in authority]",
        "authority_data": "[rr._rdata(x, local) for x in authority]",
        "additional_names": "rr._names([x.name for x in additional], local)",
        "additional_types": "[x.type_name for x in additional]",
        "additional_data": "[rr._rdata(x, local) for x in additional]",
    },
    {"TYPES": TYPES},
)
_TLS = TLS.builder(
    "rr, o, r, c, s, leaf, tls_hello",
    {
        **_HEAD,
        "ts_ns": "r.ts",
        "transport": "r.transport",
        "sni": "c.sni if c else ''",
        "alpn": "c.alpn if c else []",
        "client_version": "_version(c.version) if c else ''",
        "client_versions": "[version_name(v) for v in c.versions if v not in GREASE] if c else []",
        "ciphers": "c.ciphers if c else []",
        "extensions": "c.extensions if c else []",
        "ja3": "c.ja3 if c and tls_hello else ''",
        "ja4": "c.ja4(JA4_TRANSPORT.get(r.transport, 't')) if c and tls_hello else ''",
        "server_version": "_version(s.version) if s else ''",
        "cipher": "s.cipher if s else 0",
        "ja3s": "s.ja3s if s else ''",
        "cert_count": "len(r.certs)",
        "cert_subject": "leaf.subject if leaf else ''",
        "cert_issuer": "leaf.issuer if leaf else ''",
        "cert_sans": "leaf.sans if leaf else []",
        "cert_not_before": "leaf.not_before if leaf else ''",
        "cert_not_after": "leaf.not_after if leaf else ''",
        "cert_sha256": "leaf.sha256 if leaf else ''",
        "alerts": "r.alerts",
        "client_random": "c.random.hex() if c else ''",
    },
    {"_version": _version, "version_name": version_name, "GREASE": GREASE, "JA4_TRANSPORT": JA4_TRANSPORT},
)
_HTTP = HTTP.builder(
    "rr, o, r, msg, req, query, clen",
    {
        **_HEAD,
        "ts_ns": "r.ts",
        "is_response": "0 if req else 1",
        "idx": "r.index",
        "method": "req.method if req else ''",
        "host": "req.host if req else ''",
        "path": "(req.path if rr.raw else mask_path(req.path)) if req else ''",
        "query": "query if rr.raw or not query else mask_query(query)",
        "user_agent": "req.user_agent if req else msg.header('server')",
        "content_type": "msg.header('content-type')",
        "content_length": "int(clen) if clen.isdigit() else msg.body_len",
        "body_bytes": "len(msg.body)",
        "status": "0 if req else getattr(msg, 'status', 0)",
        "truncated": "1 if msg.truncated else 0",
        "plaintext": "r.plain_source",
    },
    {"mask_path": mask_path, "mask_query": mask_query},
)
_APP = APP_EVENTS.builder(
    "rr, o, r, name, detail",
    {
        **_HEAD,
        "ts_ns": "r.ts",
        "protocol": "r.protocol",
        "kind": "r.kind",
        "up": "1 if r.up else 0",
        "name": "name",
        "detail": "json.dumps(detail, sort_keys=True, default=str, ensure_ascii=False)",
        "payload_bytes": "len(r.payload)",
        "plaintext": "r.plain_source",
    },
    {"json": json},
)


class RecordRows:
    def __init__(
        self,
        capture_id: str,
        ingest_id: int,
        who: Attribution,
        raw: bool = False,
        people: tuple[str, ...] = (),
    ) -> None:
        self.cid, self.ingest = capture_id, ingest_id  # every row's first columns
        self.who = who  # names each record's device (owner)
        self.raw = raw
        self.people = people  # the bench personas' names, masked wherever they stand in mDNS/LLMNR names
        self.pending: dict[tuple[int, int], DnsRecord] = {}  # queries waiting for their response
        self.clock = 0

    def m(self, value: str) -> str:
        return value if self.raw else mask(value)

    def rows(self, rec: AnyRecord) -> list[tuple[str, tuple[Any, ...]]]:
        """Rows for one record: none yet for a DNS query (it waits for its response)."""
        if isinstance(rec, DnsRecord):
            return self._dns(rec)
        o = owner(rec.flow, self.who)
        if isinstance(rec, TlsRecord):
            return [("tls", self._tls(rec, o))]
        if isinstance(rec, HttpRecord):
            return [("http", self._http(rec, o))]
        if isinstance(rec, AppRecord):
            return [("app_events", self._app(rec, o))]
        raise TypeError(f"no table for {type(rec).__name__}")

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
        o = owner(first.flow, self.who)
        m = first.msg
        questions = m.questions or (a.msg.questions if a is not None else [])
        qname, qtype = questions[0] if questions else ("", 0)
        ans = a.msg.answers if a is not None else []
        sections = (a or q).msg  # type: ignore[union-attr]  # the response's, else the query's (mDNS probes)
        local = first.protocol != "dns"  # mDNS and LLMNR names are the devices' own, often their owner's
        additional = [x for x in sections.additional if x.rtype != 41]
        auth = sections.authority
        return "dns", _DNS(self, o, first, m, q, a, local, questions, qname, qtype, ans, auth, additional)

    def _dns_name(self, name: str, local: bool) -> str:
        """A name in the dns table: an mDNS/LLMNR name with a person's name in it (``John's iMac``,
        a bench persona's) masked as the devices table masks it, unless --raw-evidence."""
        return name if self.raw or not local else mask_dns_name(name, self.people)

    def _names(self, names: list[str], local: bool) -> list[str]:
        """Owner names of a section (or the questions' names) as ``_dns_name`` has each of them."""
        if self.raw or not local:
            return names
        return [mask_dns_name(n, self.people) for n in names]

    def _rdata(self, x: Record, local: bool) -> str:
        if self.raw:
            return x.data
        if x.rtype == 16:
            return _mask_txt(x.data)
        if x.rtype in (5, 12):
            return self._dns_name(x.data, local)
        if x.rtype == 33:  # "priority weight port target"
            head, _sp, target = x.data.rpartition(" ")
            return f"{head} {self._dns_name(target, local)}"
        return x.data

    def _tls(self, r: TlsRecord, o: Owner) -> tuple[Any, ...]:
        c = r.client
        tls_hello = c is not None and not c.gquic  # a gQUIC CHLO has a server name but no TLS fields
        return _TLS(self, o, r, c, r.server, r.certs[0] if r.certs else None, tls_hello)

    def _http(self, r: HttpRecord, o: Owner) -> tuple[Any, ...]:
        msg = r.msg
        req = msg if isinstance(msg, HttpRequest) else None
        return _HTTP(self, o, r, msg, req, req.query if req else "", msg.header("content-length"))

    def _field(self, key: str, value: Any) -> Any:
        """A detail field as stored: masked when it can carry a person's identifiers (fail closed)."""
        if self.raw:
            return value
        if isinstance(value, str):
            if key in MASKED_FIELDS:
                return mask(value)
            if key in PATH_FIELDS:
                return mask_path(value)
            if key in QUERY_FIELDS:
                return mask_query(value)
            return value
        if key == "topics" and isinstance(value, list):  # MQTT subscribe: each topic a path
            return [
                {**x, "topic": mask_path(str(x.get("topic", "")))}
                if isinstance(x, dict)
                else mask_path(str(x))
                for x in value
            ]
        return value

    def _app(self, r: AppRecord, o: Owner) -> tuple[Any, ...]:
        detail: dict[str, Any] = {}
        for k, v in r.detail.items():
            if k in DROPPED_FIELDS or isinstance(v, bytes | bytearray):
                continue
            detail[k] = self._field(k, v)
        if (r.protocol == "mqtt" and r.kind == "connect") or r.protocol == "dhcp":
            name = self.m(r.name)
        else:
            name = r.name if self.raw else mask_path(r.name)
        return _APP(self, o, r, name, detail)
