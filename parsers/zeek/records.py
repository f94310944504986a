"""Zeek log rows to the records a packet replay makes: flows and DNS, TLS, HTTP and other records.

Each ``conn.log`` row is one ``parsers.flow.Flow`` (Zeek's connection is tapaudit's flow: the
initiator is ``orig``, the responder ``resp``); packets and bytes are Zeek's ``orig_pkts`` and
``orig_ip_bytes`` (IP bytes, as ``flows.bytes_up`` counts) and ``orig_bytes`` (the transport
payload, ``flows.payload_up``); TCP flags come from ``history`` (Zeek's ``Conn::Info`` docs:
upper case is the originator, ``S`` SYN, ``H`` SYN-ACK, ``F`` FIN, ``R`` RST). The MACs are
``orig_l2_addr``/``resp_l2_addr`` when ``policy/protocols/conn/mac-logging`` logged them, the VLAN
``vlan`` when ``policy/protocols/conn/vlan-logging`` did. Every other log's row names its
connection by ``uid`` and becomes a record on that flow; a row whose connection is not in any
``conn.log`` (logs given without theirs) gets a flow of its own from its ``id.*`` fields, with no
packets (counted as ``flows_from_records``).

What logs carry and packets do not: nothing; what packets carry and logs do not: payloads (no
content detector runs on them beyond HTTP URIs, DNS names and the logged fields), TLS hello
fields other than the server name, ALPN and version (JA3/JA4 only when Zeek's ja3/ja4 packages
logged them), per-burst timing (no ``bursts`` rows).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from parsers.decrypt.suites import SUITES
from parsers.events import AddressSeen, AppRecord, DhcpSeen, DnsRecord, Event, HttpRecord, Record, TlsRecord
from parsers.flow import Flow
from parsers.protocols.dhcp import DhcpMessage
from parsers.protocols.dns import TYPES, DnsMessage
from parsers.protocols.dns import Record as DnsRR
from parsers.protocols.http import HttpRequest, HttpResponse
from parsers.protocols.tls import Certificate, ClientHello, ServerHello
from parsers.sessions import Session
from parsers.zeek.inputs import LogFile
from parsers.zeek.logfile import LogStats, as_bool, as_int, as_list, parse_time, read_rows

PROTO = {"tcp": 6, "udp": 17, "icmp": 1}
# Zeek's service names (its analyzers') to tapaudit's flows.app names (parsers/registry.py)
APP = {"ssl": "tls", "dtls": "dtls", "quic": "quic", "http": "http", "dns": "dns", "dhcp": "dhcp",
       "ntp": "ntp", "ssh": "ssh", "mqtt": "mqtt", "ssdp": "ssdp", "rtsp": "rtsp", "mdns": "dns",
       "websocket": "websocket"}  # fmt: skip
CLEAR = frozenset(("http", "dns", "dhcp", "ntp", "mqtt", "ssdp", "rtsp", "websocket"))
# ssl.log's version strings (Zeek's SSL::version_strings, base/protocols/ssl/consts.zeek)
TLS_VERSIONS = {"SSLv2": 0x0002, "SSLv3": 0x0300, "TLSv10": 0x0301, "TLSv11": 0x0302, "TLSv12": 0x0303,
                "TLSv13": 0x0304, "DTLSv10": 0xFEFF, "DTLSv12": 0xFEFD, "DTLSv13": 0xFEFC}  # fmt: skip
CIPHERS = {("TLS_" + s.name if not s.name.startswith("TLS_") else s.name): code for code, s in SUITES.items()}
DNS_TYPE = {name: num for num, name in TYPES.items()}
MASKED_TS_STEP = 1_000  # ns between rows of a log whose times are masked (Zeek's btest baselines)
# Zeek's conn.log history letters (Conn::Info$history): originator upper case, responder lower case
SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04
HISTORY_FLAGS = {"s": SYN, "h": SYN | ACK, "a": ACK, "f": FIN, "r": RST}


class ZeekHello(ClientHello):
    """A ClientHello as ssl.log tells it: the server name, ALPN and version only. Its JA3/JA4 are
    what Zeek logged (the ja3/ja4 packages' fields) or empty, never a hash of fields it did not log."""

    logged_ja3: str = ""
    logged_ja4: str = ""

    @property
    def ja3(self) -> str:
        return self.logged_ja3

    def ja4(self, transport: str = "t") -> str:
        return self.logged_ja4


@dataclass
class ZeekRead:
    """What a set of logs held, as records (``flows`` in start order, ``records`` and ``events``
    in time order) and what was counted while reading them."""

    flows: list[Flow] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    uids: dict[int, str] = field(default_factory=dict)  # id(flow) -> Zeek uid
    stats: dict[str, int] = field(default_factory=dict)
    streams: dict[str, int] = field(default_factory=dict)  # rows read per stream (conn, dns, ...)
    bad_lines: int = 0
    first_ns: int = 0
    last_ns: int = 0


def as_ns(value: Any) -> int:
    """A Zeek ``interval`` (seconds, text or number) in ns; 0 when unset or not a number."""
    try:
        ns = int(float(value) * 1e9)
    except (TypeError, ValueError, OverflowError):
        return 0
    return ns if 0 <= ns < 1 << 62 else 0


def _ip(text: Any) -> bytes:
    try:
        return ipaddress.ip_address(str(text).split("%")[0]).packed
    except ValueError:
        return b""


def _mac(text: Any) -> bytes:
    try:
        return bytes.fromhex(str(text).replace(":", "").replace("-", "")) if text else b""
    except ValueError:
        return b""


def _port(value: Any) -> int:
    return as_int(value) & 0xFFFF


def _id(row: dict[str, Any]) -> tuple[bytes, int, bytes, int]:
    """The connection's ``id`` record, TSV's flat ``id.orig_h`` or JSON's nested ``id``."""
    ident = row.get("id")
    if isinstance(ident, dict):
        row = {f"id.{k}": v for k, v in ident.items()}
    return (_ip(row.get("id.orig_h")), _port(row.get("id.orig_p")), _ip(row.get("id.resp_h")),
            _port(row.get("id.resp_p")))  # fmt: skip


def _history(f: Flow, hist: str) -> None:
    up = dn = 0
    for ch in hist:
        bit = HISTORY_FLAGS.get(ch.lower(), 0)
        if ch.isupper():
            up |= bit
        else:
            dn |= bit
    f.fl_up, f.fl_dn = up, dn
    f.synack = bool(dn & SYN and dn & ACK)
    f.fin_up, f.fin_dn, f.rst = bool(up & FIN), bool(dn & FIN), bool((up | dn) & RST)


class LogReader:
    """Reads a set of logs into one ``ZeekRead`` (conn logs first, so records find their flows)."""

    def __init__(self, logs: Iterable[LogFile]) -> None:
        self.logs = list(logs)
        self.out = ZeekRead()
        self.by_uid: dict[str, Flow] = {}
        self.certs: dict[str, Certificate] = {}  # x509.log by file id and by fingerprint
        self.clock = 0  # placeholder time for masked timestamps
        # connections with a TLS record already, by uid (ssl.log is read before quic.log)
        self.tls_uids: dict[str, TlsRecord] = {}
        # flows made from a record's id fields, by uid, until their conn row comes (a live feed sends
        # a connection's dns/http/ssl rows before its conn row, which Zeek writes at its end)
        self.orphans: dict[str, Flow] = {}

    def _count(self, key: str, n: int = 1) -> None:
        self.out.stats[key] = self.out.stats.get(key, 0) + n

    def _ts(self, row: dict[str, Any]) -> int:
        ts = parse_time(row.get("ts"))
        if ts is None:
            self.clock += MASKED_TS_STEP
            self._count("masked_timestamps")
            return self.clock
        return ts

    def _rows(self, stream: str) -> Iterator[dict[str, Any]]:
        for log in self.logs:
            if log.stream == stream:
                st = LogStats()
                yield from read_rows(log.path, log.header, st)
                self.out.streams[stream] = self.out.streams.get(stream, 0) + st.rows
                self.out.bad_lines += st.bad_lines

    def rows(self, stream: str) -> Iterator[dict[str, Any]]:
        """The rows of every log of one stream, in the logs' order (rotated sets in time order)."""
        return self._rows(stream)

    def finish(self) -> ZeekRead:
        """Everything read, in time order."""
        out = self.out
        out.flows.sort(key=lambda f: f.first)
        out.records.sort(key=lambda r: r.ts)
        out.events.sort(key=lambda e: e.ts)
        times = [f.first for f in out.flows] + [f.last for f in out.flows]
        out.first_ns, out.last_ns = (min(times), max(times)) if times else (0, 0)
        return out

    def streams(self) -> list[str]:
        return sorted({log.stream for log in self.logs})

    # ---- conn.log and the flows of other logs

    def conn(self, row: dict[str, Any]) -> None:
        """A conn.log row as a flow."""
        a, ap, b, bp = _id(row)
        if not a or not b:
            self.out.bad_lines += 1
            return
        ts = self._ts(row)
        proto = PROTO.get(str(row.get("proto") or ""), as_int(row.get("ip_proto")))
        smac, rmac = _mac(row.get("orig_l2_addr")), _mac(row.get("resp_l2_addr"))
        f = Flow(proto, a, ap, b, bp, ts, smac, rmac, as_int(row.get("vlan")))
        f.rmac = rmac
        dur = row.get("duration")
        f.last = ts + as_ns(dur)
        f.pk_up, f.pk_dn = as_int(row.get("orig_pkts")), as_int(row.get("resp_pkts"))
        f.by_up, f.by_dn = as_int(row.get("orig_ip_bytes")), as_int(row.get("resp_ip_bytes"))
        f.pl_up, f.pl_dn = as_int(row.get("orig_bytes")), as_int(row.get("resp_bytes"))
        if proto == 6:
            _history(f, str(row.get("history") or ""))
        f.end = f"zeek:{row.get('conn_state') or ''}"
        services = [s.strip().lower() for s in str(row.get("service") or "").split(",") if s.strip()]
        uid = str(row.get("uid") or "")
        early = self.orphans.pop(uid, None) if uid else None
        if early is not None:  # its records came first: that flow becomes this one, in place
            for slot in Flow.__slots__:
                if slot not in ("l7", "owner"):
                    setattr(early, slot, getattr(f, slot))
            self._session(early, services)
            return
        self._session(f, services)
        self._add_flow(f, uid)

    def _session(self, f: Flow, services: list[str]) -> Session:
        cur = f.l7
        s = cur if isinstance(cur, Session) else Session("", (f.ap, f.bp))
        if cur is not s:
            f.l7 = s  # type: ignore[assignment]  # a Session's enrichment fields, no payload reader
        for svc in services:  # "quic,ssl": QUIC is the flow's protocol, TLS its handshake
            app = APP.get(svc, "")
            if app and (not s.app or (s.app == "tls" and app == "quic")):
                s.app = app
        if s.app in CLEAR:
            s.security = "none"
        elif s.app in ("quic", "ssh", "dtls") and not s.security:
            s.security = s.app
        return s

    def _add_flow(self, f: Flow, uid: str) -> None:
        self.out.flows.append(f)
        if uid:
            self.by_uid[uid] = f
            self.out.uids[id(f)] = uid

    def flow_of(self, row: dict[str, Any], proto: str = "") -> Flow | None:
        """The flow a row's ``uid`` names, else a flow made from its ``id`` fields."""
        uid = str(row.get("uid") or "")
        f = self.by_uid.get(uid) if uid else None
        if f is not None:
            return f
        a, ap, b, bp = _id(row)
        if not a or not b:
            return None
        ts = self._ts(row)
        p = PROTO.get(proto or str(row.get("proto") or ""), 17 if bp in (53, 67, 123, 443, 5353) else 6)
        f = Flow(p, a, ap, b, bp, ts, b"", b"", 0)
        self._count("flows_from_records")
        self._add_flow(f, uid)
        if uid:
            self.orphans[uid] = f
        return f

    def rec_ts(self, row: dict[str, Any], f: Flow | None = None) -> int:
        """A record's time; a masked one takes its flow's start (the only order left)."""
        ts = parse_time(row.get("ts"))
        if ts is None:
            return f.first if f is not None else self._ts(row)
        return ts

    def add(self, rec: Record) -> None:
        self.out.records.append(rec)

    def event(self, ev: Event) -> None:
        self.out.events.append(ev)

    # ---- x509.log, then ssl.log looks its chain up

    def x509(self, row: dict[str, Any]) -> None:
        """An x509.log row, kept for the ssl.log rows whose chain names it."""

        def g(key: str) -> Any:
            cert = row.get("certificate")
            if isinstance(cert, dict) and key.startswith("certificate."):
                return cert.get(key.split(".", 1)[1])
            san = row.get("san")
            if isinstance(san, dict) and key.startswith("san."):
                return san.get(key.split(".", 1)[1])
            return row.get(key)

        c = Certificate(
            subject=str(g("certificate.subject") or ""),
            issuer=str(g("certificate.issuer") or ""),
            sans=as_list(g("san.dns")),
            not_before=_iso(g("certificate.not_valid_before")),
            not_after=_iso(g("certificate.not_valid_after")),
            serial=str(g("certificate.serial") or ""),
            sha256="",  # x509.log's fingerprint is SHA-1 unless X509::hash_function says otherwise
        )
        for key in ("id", "fuid", "fingerprint"):
            if row.get(key):
                self.certs[str(row[key])] = c


def _iso(value: Any) -> str:
    ns = parse_time(value)
    if ns is None:
        return ""
    import datetime as dt

    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tls_record(reader: LogReader, row: dict[str, Any], transport: str) -> TlsRecord | None:
    """An ssl.log row as the TLS record of its flow (and the flow's server name and version)."""
    f = reader.flow_of(row, "udp" if transport == "quic" else "tcp")
    if f is None:
        return None
    ts = reader.rec_ts(row, f)
    version = TLS_VERSIONS.get(str(row.get("version") or ""), 0)
    sni = str(row.get("server_name") or "")
    alpn = str(row.get("next_protocol") or "")
    hello = ZeekHello(legacy_version=0, ciphers=[], extensions=[], sni=sni, alpn=[alpn] if alpn else [])
    hello.logged_ja3, hello.logged_ja4 = str(row.get("ja3") or ""), str(row.get("ja4") or "")
    server = None
    if version or row.get("cipher"):
        server = ServerHello(legacy_version=version, cipher=CIPHERS.get(str(row.get("cipher") or ""), 0),
                             extensions=[])  # fmt: skip
    chain = as_list(row.get("cert_chain_fps")) or as_list(row.get("cert_chain_fuids"))
    certs = [reader.certs[c] for c in chain if c in reader.certs]
    if not certs and row.get("subject"):  # Zeek before 2.6 logged the leaf's names in ssl.log
        certs = [Certificate(str(row.get("subject")), str(row.get("issuer") or ""), [], "", "", "", "")]
    s = reader._session(f, ["ssl"] if transport == "tcp" else ["quic"])
    if sni and not s.sni:
        s.sni = sni
    if version and transport == "tcp":
        from parsers.protocols.tls import version_name

        s.security = version_name(version)
    elif transport == "tcp" and not s.security:
        s.security = "tls"
    alerts = [str(row["last_alert"])] if row.get("last_alert") else []
    return TlsRecord(f, ts, transport, client=hello, server=server, certs=certs, alerts=alerts)


def dns_records(reader: LogReader, row: dict[str, Any]) -> list[DnsRecord]:
    """A dns.log row (one transaction) as its query and, when answered, its response."""
    f = reader.flow_of(row)
    if f is None:
        return []
    ts = reader.rec_ts(row, f)
    qname = str(row.get("query") or "")
    qtype = as_int(row.get("qtype")) or DNS_TYPE.get(str(row.get("qtype_name") or ""), 0)
    port = f.bp
    protocol = "mdns" if port == 5353 else "llmnr" if port == 5355 else "dns"
    transport = "tcp" if f.proto == 6 else "udp"
    txid = as_int(row.get("trans_id"))
    answers, ttls = as_list(row.get("answers")), as_list(row.get("TTLs"))
    rr = [_answer(qname, qtype, a, ttls[i] if i < len(ttls) else "0") for i, a in enumerate(answers)]
    # Zeek leaves qtype and qclass unset when it saw no query for the response it logs (a second
    # response, a reply whose query came before the capture): no query record then, and the
    # question's type is that of the answers at the end of their CNAME chain (addresses or TXT)
    query_seen = row.get("qtype") is not None or row.get("qclass") is not None
    final = rr[-1].rtype if rr else 0
    if not query_seen and final in (1, 28, 16) and all(x.rtype in (5, final) for x in rr):
        qtype = final  # the end of a CNAME chain (RFC 1034 3.6.2) is what was asked
    questions = [(qname, qtype)] if qname or qtype else []
    out = []
    if query_seen:
        out.append(DnsRecord(f, ts, protocol, transport, DnsMessage(txid, False, 0, 0, questions)))
    rcode = row.get("rcode")
    if rcode is not None or answers:
        rtt = row.get("rtt")
        at = ts + as_ns(rtt)
        out.append(
            DnsRecord(f, at, protocol, transport, DnsMessage(txid, True, 0, as_int(rcode), questions, rr))
        )
    return out


def _answer(qname: str, qtype: int, data: str, ttl: str) -> DnsRR:
    """An answer string as Zeek logs it; its type is not logged, so it is read from its shape (an
    address, ``TXT n text``), else the question's type (PTR, CNAME at the start of a chain)."""
    rtype = 5
    try:
        rtype = 1 if ipaddress.ip_address(data).version == 4 else 28
    except ValueError:
        if data.startswith("TXT "):
            rtype, data = 16, data.split(" ", 2)[-1]
        elif qtype in (12, 16, 33):
            rtype = qtype
    t = as_ns(ttl) // 1_000_000_000
    return DnsRR(qname, rtype, 1, t, data)


def http_records(reader: LogReader, row: dict[str, Any]) -> list[HttpRecord]:
    """An http.log row (one request and its reply) as the request and, when seen, the response."""
    f = reader.flow_of(row, "tcp")
    if f is None:
        return []
    ts = reader.rec_ts(row, f)
    depth = as_int(row.get("trans_depth"))
    version = str(row.get("version") or "1.1")
    named = (("host", "host"), ("user-agent", "user_agent"), ("referer", "referrer"))
    headers = [(k, str(row[z])) for k, z in named if row.get(z)]
    out: list[HttpRecord] = []
    s = reader._session(f, ["http"])
    host = str(row.get("host") or "")
    if host and not s.host:
        s.host = host.split(":")[0].lower()
    if row.get("method"):
        req = HttpRequest(version, headers, body_len=as_int(row.get("request_body_len")),
                          method=str(row["method"]), uri=str(row.get("uri") or ""))  # fmt: skip
        out.append(HttpRecord(f, ts, True, depth, req))
    if row.get("status_code") is not None:
        resp = HttpResponse(
            version,
            [],
            body_len=as_int(row.get("response_body_len")),
            status=as_int(row["status_code"]),
            reason=str(row.get("status_msg") or ""),
        )
        out.append(HttpRecord(f, ts, False, depth, resp))
    return out


def dhcp_records(reader: LogReader, row: dict[str, Any]) -> tuple[list[Event], list[AppRecord]]:
    """A dhcp.log row (one exchange, Zeek 2.6+) as what the inventory learns: the client's MAC had
    the assigned address, its host name and vendor class; and the exchange as an app record."""
    ts = parse_time(row.get("ts"))
    uids = as_list(row.get("uids")) or ([str(row["uid"])] if row.get("uid") else [])
    f = next((reader.by_uid[u] for u in uids if u in reader.by_uid), None)
    if ts is None:
        ts = f.first if f is not None else reader._ts(row)
    mac = _mac(row.get("mac"))
    events: list[Event] = []
    assigned = _ip(row.get("assigned_addr"))
    msg_types = as_list(row.get("msg_types"))
    if mac:
        msg = DhcpMessage(
            op=2 if assigned else 1,
            msg_type=(msg_types[-1] if msg_types else "").lower(),
            xid=0,
            client_mac=mac,
            ciaddr=_ip(row.get("client_addr")) or bytes(4),
            yiaddr=assigned or bytes(4),
            hostname=str(row.get("host_name") or ""),
            fqdn=str(row.get("client_fqdn") or ""),
            requested_ip=_ip(row.get("requested_addr")),
        )
        events.append(DhcpSeen(ts, mac, msg))
        if assigned:
            events.append(AddressSeen(ts, mac, assigned, "dhcp"))
    apps: list[AppRecord] = []
    if f is not None:
        detail = {"msg_types": msg_types, "hostname": str(row.get("host_name") or ""),
                  "client_mac": str(row.get("mac") or ""), "assigned": str(row.get("assigned_addr") or ""),
                  "domain": str(row.get("domain") or "")}  # fmt: skip
        name = str(row.get("host_name") or "")
        apps.append(
            AppRecord(f, ts, True, "dhcp", (msg_types[-1] if msg_types else "dhcp").lower(), name, detail)
        )
    return events, apps


def app_record(reader: LogReader, row: dict[str, Any], protocol: str, kind: str, name_key: str,
               fields: tuple[str, ...], proto: str = "tcp") -> AppRecord | None:  # fmt: skip
    """A row of a log that has no table of its own (mqtt, files, software...) as an app record."""
    f = reader.flow_of(row, proto)
    if f is None:
        return None
    ts = reader.rec_ts(row, f)
    detail = {k: row[k] for k in fields if row.get(k) not in (None, "", [])}
    return AppRecord(f, ts, True, protocol, kind, str(row.get(name_key) or ""), detail)


def bool_field(row: dict[str, Any], key: str) -> bool:
    return bool(as_bool(row.get(key)))
