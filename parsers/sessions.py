"""Per-flow application sessions: what protocol a flow speaks, and the records it carried.

The meter gives each new TCP or UDP flow a session (``new_session``) and hands it
the flow's payload while the session still wants it; a session says when it has
seen enough (a TLS handshake is over, an NTP exchange was read, the bytes are of
no protocol we know) and the meter then stops paying for it. Sessions keep what
the destination enrichment needs (``app``, ``sni``, ``host``, ``security``) after
they stop. Records go to the ``out`` list the meter passes in; malformed input is
counted in ``stats`` per protocol and ends the session's dissection, never the replay.

Bytes of no protocol we know still reach the content detectors: the first ``RAW_LIMIT``
bytes of each direction of such a TCP flow, the first datagram each way of such a UDP
flow (one only when it is RTP media), as ``raw`` records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from parsers.events import AppRecord, DnsRecord, HttpRecord, Record, TlsRecord
from parsers.lan import ip_text
from parsers.protocols import coap, dhcp, dhcpv6, dns, http, mqtt, ntp, quic, rtp, rtsp, ssdp, tls, websocket
from parsers.tcpstream import HalfStream

TLS_LIMIT = 1 << 15  # bytes per direction kept for a handshake (certificate chains included)
READ_LIMIT = 1 << 20  # bytes per direction held unparsed for readable protocols (one message at most)
PARSE_AT = 1 << 12  # held bytes that trigger parsing whole messages out of a readable stream
QUIC_VERSIONS = frozenset(v.to_bytes(4, "big") for v in quic.SALTS)
UDP_MAX_PACKETS = 8  # packets read of a flow whose protocol only needs its first exchange
RAW_LIMIT = 1 << 12  # bytes per direction of a flow no dissector reads, kept for the content detectors
RAW_SEGMENTS = 16  # ... read from at most this many of the direction's segments
RTSP_METHODS = frozenset(
    b"OPTIONS DESCRIBE SETUP PLAY PAUSE TEARDOWN ANNOUNCE RECORD GET_PARAMETER SET_PARAMETER".split()
)
REQUEST_WORDS = http.METHODS | RTSP_METHODS
# Readable means the appliance could read the application data, not just the handshake.
READABLE = frozenset(
    ("http", "mqtt", "rtsp", "dns", "mdns", "llmnr", "coap", "ntp", "dhcp", "dhcpv6", "ssdp")
)

# UDP ports whose protocol is decided by the port; other UDP flows are sniffed (QUIC, DTLS).
UDP_PORTS: dict[int, str] = {
    53: "dns",
    5353: "mdns",
    5355: "llmnr",
    67: "dhcp",
    68: "dhcp",
    546: "dhcpv6",
    547: "dhcpv6",
    1900: "ssdp",
    123: "ntp",
    5683: "coap",
    5684: "coaps",  # CoAP over DTLS: encrypted, named by the port
}
# TCP ports that name the protocol when the first bytes do not (a capture begun mid-connection)
TCP_PORTS: dict[int, str] = {53: "dns", 5353: "dns", 853: "tls", 1883: "mqtt", 554: "rtsp"}


class Session:
    """What the enrichment reads of every session."""

    __slots__ = ("app", "host", "ports", "security", "sni")

    def __init__(self, app: str = "", ports: tuple[int, int] = (0, 0)) -> None:
        self.app = app
        self.ports = ports  # (source, destination) of the flow's first packet
        self.sni = ""  # TLS or QUIC server name
        self.host = ""  # HTTP Host (or RTSP/CoAP URI host)
        self.security = ""  # none, tls1.x, quic, dtls, ssh; empty while unknown

    @property
    def readable(self) -> bool:
        return self.app in READABLE


def tls_record_start(data: bytes | bytearray) -> bool:
    """A TLS record header: ChangeCipherSpec, alert, handshake or data, version 3.x."""
    return len(data) >= 2 and data[0] in (20, 21, 22, 23) and data[1] == 3


def classify_tcp(first: bytes, up: bool, ports: tuple[int, int]) -> str:
    """The protocol of a TCP flow from the first bytes of either direction."""
    if len(first) >= 3 and tls_record_start(first):
        return "tls"
    word = first.split(b" ", 1)[0]
    line = first.split(b"\n", 1)[0]
    if up and word in REQUEST_WORDS:
        if b"RTSP/" in line or (word in RTSP_METHODS and word not in http.METHODS):
            return "rtsp"
        return "http"
    if not up and first.startswith(b"HTTP/1."):
        return "http"
    if not up and first.startswith(b"RTSP/"):
        return "rtsp"
    if first[:1] == b"\x10" and (b"MQTT" in first[:12] or b"MQIsdp" in first[:14]):
        return "mqtt"
    if first.startswith(b"SSH-"):
        return "ssh"
    for port in ports:
        if port in TCP_PORTS:
            return TCP_PORTS[port]
    return ""


class TcpSession(Session):
    """One TCP connection: both directions reassembled until the protocol's records are read."""

    __slots__ = (
        "dn",
        "http_index",
        "interleaved",
        "methods",
        "mqtt_parser",
        "out_tls",
        "parsed_at",
        "raw",
        "stats",
        "tls_pos",
        "tried",
        "up",
        "ws",
        "ws_offer",
    )

    def __init__(self, stats: Counter[str], ports: tuple[int, int] = (0, 0)) -> None:
        super().__init__("", ports)
        self.stats = stats
        self.up: HalfStream | None = None
        self.dn: HalfStream | None = None
        self.methods: list[str] = []
        self.http_index = [0, 0]
        self.mqtt_parser: mqtt.MqttParser | None = None
        self.out_tls = False
        self.tried = 0  # directions whose first bytes were of no known protocol
        self.tls_pos = [0, 0]  # next record header per direction; -1 once past the clear handshake
        self.parsed_at = [0, 0]  # held bytes when a parse found nothing whole: wait for twice that
        self.raw = [0, 0]  # segments read of an unreadable direction; -1 once its raw record is out
        self.interleaved = 0  # RTSP: directions whose first media frame went out (1 down, 2 up)
        self.ws: list[websocket.WsParser | None] = [None, None]  # per direction, after the upgrade
        self.ws_offer: str | None = None  # extensions a WebSocket upgrade request offered

    def feed(
        self, out: list[Record], flow: Any, up: int, ts: int, seq: int, payload: bytes, syn: int
    ) -> bool:
        """Add a segment; False once the session wants no more of this flow."""
        if self.up is None or self.dn is None:
            self.up, self.dn = HalfStream(TLS_LIMIT), HalfStream(TLS_LIMIT)
        half = self.up if up else self.dn
        half.add(seq, payload, bool(syn), ts)
        if not self.app:
            if not half.data:
                return True
            if self.tried >> up & 1:  # this direction already proved unreadable: raw bytes
                return self._raw_step(out, flow, up)
            app = classify_tcp(bytes(half.data[:2048]), bool(up), self.ports)
            if not app and len(half.data) <= 2:
                # a keep-alive probe's garbage byte (or a middlebox's) at the sequence number the
                # real data will reuse: forget it, the next segment starts the stream
                half.data.clear()
                half.base = -1
                return True
            if not app:
                # a capture that starts mid-connection may begin inside a response: the other
                # direction's first bytes (the next request) get their chance too; meanwhile
                # this direction's first bytes are kept for the content detectors
                self.tried |= 1 << up
                if self.tried == 3:
                    self.stats["tcp_unclassified"] += 1
                half.limit = RAW_LIMIT
                del half.data[RAW_LIMIT:]
                return self._raw_step(out, flow, up)
            self.app = app
            if self.tried:  # the other direction's first bytes were no protocol's: raw, and it stays unread
                self._raw_emit(out, flow, 1 - up)
                other = self.dn if up else self.up
                other.data.clear()
                other.pending.clear()
                other.limit = 0
            if self.app == "ssh":
                self.security = "ssh"
                return False
            if self.app in READABLE:
                self.security = "none"
                half.limit = READ_LIMIT
                if not self.tried:
                    (self.dn if up else self.up).limit = READ_LIMIT
        if self.app == "tls":
            return self._tls_step(out, flow)
        if len(half.data) >= PARSE_AT and len(half.data) >= 2 * self.parsed_at[up]:
            return self._read(out, flow, up == 1, final=False)
        return True

    def finish(self, out: list[Record], flow: Any) -> None:
        """The flow ended: dissect what is still held."""
        if self.app == "tls":
            if not self.out_tls:
                self._tls_emit(out, flow)
        elif self.app in READABLE and self.up is not None:
            self._read(out, flow, True, final=True)
            self._read(out, flow, False, final=True)
        elif not self.app and self.up is not None:
            self._raw_emit(out, flow, 1)
            self._raw_emit(out, flow, 0)
        self.up = self.dn = None

    # ---- bytes of no known protocol: the first of each direction, for the content detectors

    def _raw_step(self, out: list[Record], flow: Any, up: int) -> bool:
        """A segment of an unreadable direction: emit once it filled RAW_LIMIT or had its segments."""
        half = self.up if up else self.dn
        assert half is not None
        if self.raw[up] < 0:
            half.consume(len(half.data))  # its record is out: what follows is dropped as it comes
        else:
            self.raw[up] += 1
            if len(half.data) >= RAW_LIMIT or self.raw[up] >= RAW_SEGMENTS:
                self._raw_emit(out, flow, up)
        return self.tried != 3 or self.raw != [-1, -1]

    def _raw_emit(self, out: list[Record], flow: Any, up: int) -> None:
        """An unreadable direction's first bytes as its one raw record; nothing more is kept of it."""
        half = self.up if up else self.dn
        if half is None or self.raw[up] < 0 or not self.tried >> up & 1:
            return
        if half.data:
            payload = bytes(half.data[:RAW_LIMIT])
            out.append(AppRecord(flow, half.ts_at(half.start), up == 1, "raw", "tcp", payload=payload))
            self.stats["raw_tcp"] += 1
        self.raw[up] = -1
        half.consume(len(half.data))

    # ---- TLS: read both directions up to the first encrypted record

    def _tls_step(self, out: list[Record], flow: Any) -> bool:
        """Walk new record headers only; dissect once both directions left the clear handshake."""
        assert self.up is not None and self.dn is not None
        done = True
        for i, half in enumerate((self.up, self.dn)):
            if self.tls_pos[i] < 0:
                continue
            data = half.data
            if half.start == 0 and 0 < len(data) <= 8 and not tls_record_start(data):
                data.clear()  # keep-alive garbage ahead of the handshake (see feed)
                half.base = -1
            pos = self.tls_pos[i]
            while pos + 5 <= len(data):
                ctype = data[pos]
                if ctype not in (21, 22):  # ChangeCipherSpec, application data or not TLS: clear part over
                    pos = -1
                    break
                pos += 5 + ((data[pos + 3] << 8) | data[pos + 4])
            if pos >= 0 and half.full:
                pos = -1
            self.tls_pos[i] = pos
            done = done and pos < 0
        if done:
            self._tls_emit(out, flow)
            self.up = self.dn = None
            return False
        return True

    def _tls_emit(self, out: list[Record], flow: Any) -> None:
        assert self.up is not None and self.dn is not None
        self.out_tls = True
        rec = TlsRecord(flow, self.up.ts_at(0) or self.dn.ts_at(0), "tcp")
        for half in (self.up, self.dn):
            try:
                scan = tls.scan_records(bytes(half.data))
                rec.alerts += scan.alerts
                for mtype, body in scan.handshake:
                    if mtype == 1 and rec.client is None and half is self.up:
                        rec.client = tls.parse_client_hello(body)
                    elif mtype == 2 and rec.server is None and half is self.dn:
                        rec.server = tls.parse_server_hello(body)
                    elif mtype == 11 and half is self.dn and not rec.certs and not _tls13(rec.server):
                        rec.certs = tls.parse_certificates(body)  # sent in clear up to TLS 1.2
            except tls.TlsError:
                self.stats["malformed_tls"] += 1
        if rec.client is None and rec.server is None and not rec.alerts:
            self.security = "tls"
            return
        self.stats["dissected_tls"] += 1
        if rec.client is not None:
            self.sni = rec.client.sni
        version = rec.server.version if rec.server is not None else 0
        self.security = tls.version_name(version) if version in tls.VERSIONS else "tls"
        if self.sni and version == 0 and rec.client is not None and rec.client.version >= 0x0304:
            self.security = "tls"  # offered 1.3 but the answer was not seen
        out.append(rec)

    # ---- readable protocols: parse whole messages, consume them, keep the rest

    def _read(self, out: list[Record], flow: Any, up: bool, final: bool) -> bool:
        half = self.up if up else self.dn
        if half is None or not half.data:
            return True
        data = bytes(half.data)
        try:
            used = self._parse(out, flow, up, half, data, final)
        except StopStream:
            half.data.clear()
            return False
        except ValueError:
            self.stats[f"malformed_{self.app}"] += 1
            half.data.clear()
            return final or False
        if used == 0 and half.full and not final:
            # one message larger than the window: read it as far as held, stop this direction
            self._parse(out, flow, up, half, data, True)
            self.stats[f"{self.app}_window_exceeded"] += 1
            return False
        self.parsed_at[up] = len(data) - used  # parse again once what is held has doubled
        half.consume(used)
        return True

    def _parse(
        self, out: list[Record], flow: Any, up: bool, half: HalfStream, data: bytes, final: bool
    ) -> int:
        """Emit the whole messages at the start of ``data``; the bytes they took."""
        base = half.start
        if self.app == "http":
            if self._in_frames(up, data[:2]):
                return self._frames(out, flow, up, half, data, 0, final)
            if up:
                msgs: list[Any] = http.parse_requests(data)
            else:
                msgs = http.parse_responses(data, self.methods)
            if not final and msgs and msgs[-1].end >= len(data):
                msgs.pop()  # may still grow
            for m in msgs:
                if up:
                    self.methods.append(m.method)
                    if not self.host:
                        self.host = m.host.split(":")[0].lower()
                    # a WebSocket upgrade: the bytes after it are frames if the client's first is one
                    upgrade = "websocket" in m.header("upgrade").lower()
                    self.ws_offer = m.header("sec-websocket-extensions") if upgrade else None
                elif m.status == 101 and "websocket" in m.header("upgrade").lower():
                    ext = m.header("sec-websocket-extensions")
                    self.ws[up] = websocket.WsParser(websocket.deflate_negotiated(ext))
                out.append(HttpRecord(flow, half.ts_at(base + m.start), up, self.http_index[up], m))
                self.http_index[up] += 1
            self.stats["dissected_http"] += len(msgs)
            used = msgs[-1].end if msgs else 0
            if used and self._in_frames(up, data[used : used + 2]):
                return self._frames(out, flow, up, half, data, used, final)  # switched: the rest are frames
            if used and used < len(data) and not _may_start_http(data[used : used + 5], up):
                # after a whole message comes something no request or response starts with: the
                # connection left HTTP (an upgrade, a tunnel) or is not HTTP; nothing more to frame
                self.stats["http_not_continued"] += 1
                raise StopStream
            return used
        if self.app == "mqtt":
            if self.mqtt_parser is None:
                self.mqtt_parser = mqtt.MqttParser()
            mq, used = self.mqtt_parser.parse_prefix(data)
            for m in mq:
                out.append(_mqtt_record(flow, half.ts_at(base + m.offset), up, m))
            self.stats["dissected_mqtt"] += len(mq)
            return used
        if self.app == "dns":
            pos = 0
            while pos + 2 <= len(data):
                n = int.from_bytes(data[pos : pos + 2], "big")
                if pos + 2 + n > len(data):
                    break
                msg = dns.parse(data[pos + 2 : pos + 2 + n])
                out.append(DnsRecord(flow, half.ts_at(base + pos), "dns", "tcp", msg))
                self.stats["dissected_dns"] += 1
                pos += 2 + n
            return pos
        if self.app == "rtsp":
            return self._rtsp(out, flow, up, half, data)
        return len(data)

    def _in_frames(self, up: bool, head: bytes) -> bool:
        """Whether a direction carries WebSocket frames now: the server's after its 101, the client's
        after its upgrade request once its next bytes are a masked frame (no request line is)."""
        if up and self.ws[1] is None and self.ws_offer is not None and _client_frame(head):
            self.ws[1] = websocket.WsParser(websocket.deflate_negotiated(self.ws_offer))
        return self.ws[up] is not None

    def _frames(
        self, out: list[Record], flow: Any, up: bool, half: HalfStream, data: bytes, at: int, final: bool
    ) -> int:
        """WebSocket messages from data[at:]; where in ``data`` the frames read end."""
        ws = self.ws[up]
        assert ws is not None
        msgs, used = ws.feed(data[at:] if at else data, half.start + at)
        last = ws.flush() if final else None
        if last is not None:
            msgs.append(last)
        for m in msgs:
            detail: dict[str, Any] = {"code": m.close_code} if m.kind == "close" else {}
            if m.compressed:
                detail["compressed"] = True
            if m.truncated:
                detail["truncated"] = True
            out.append(AppRecord(flow, half.ts_at(m.offset), up, "websocket", m.kind, "", detail, m.payload))
        self.stats["dissected_websocket"] += len(msgs)
        if ws.error:
            self.stats["malformed_websocket"] += 1
            ws.error = ""
        if ws.errors:  # compressed messages that did not inflate: their payload is left empty
            self.stats["websocket_inflate_errors"] += ws.errors
            ws.errors = 0
        other = self.ws[not up]
        if ws.closed and (other is None or other.closed):
            raise StopStream  # both ends closed (or stopped framing): nothing more to read
        return at + used

    def _rtsp(self, out: list[Record], flow: Any, up: bool, half: HalfStream, data: bytes) -> int:
        st = rtsp.parse_stream(data)
        base = half.start
        for m in st.messages:
            if up and not self.host:
                self.host = _uri_host(m.uri)
            detail = {"cseq": m.cseq, "status": m.status, "version": m.version}
            if m.headers.get("user-agent") or m.headers.get("server"):
                detail["agent"] = m.headers.get("user-agent") or m.headers.get("server", "")
            kind = m.method or str(m.status)
            out.append(AppRecord(flow, half.ts_at(base + m.offset), up, "rtsp", kind, m.uri, detail, m.body))
        self.stats["dissected_rtsp"] += len(st.messages)
        frame = _interleaved(data, st) if st.interleaved and not self.interleaved >> up & 1 else None
        if frame is not None:  # the first media frame each way, for the content detectors (RTP media)
            self.interleaved |= 1 << up
            at, channel, payload = frame
            ts = half.ts_at(base + at)
            out.append(AppRecord(flow, ts, up, "rtsp", "interleaved", "", {"channel": channel}, payload))
        return st.consumed


class StopStream(Exception):
    """A readable stream's bytes stopped being the protocol: stop reading the flow."""


def _client_frame(head: bytes) -> bool:
    """A masked WebSocket frame header (a client masks every frame, RFC 6455 5.3): no request line is."""
    return len(head) >= 2 and not head[0] & 0x30 and head[0] & 0x0F in (0, 1, 2, 8, 9, 10) and head[1] >= 0x80


def _may_start_http(head: bytes, up: bool) -> bool:
    if up:
        return bool(head) and 65 <= head[0] <= 90  # a method is upper-case letters
    return b"HTTP/".startswith(head[:5]) or head.startswith(b"HTTP/")


def _interleaved(data: bytes, st: rtsp.RtspStream) -> tuple[int, int, bytes] | None:
    """The first ``$`` frame of an even (RTP) channel after the last whole message: offset, channel, data."""
    pos = 0
    if st.messages:
        m = st.messages[-1]
        crlf, lf = data.find(b"\r\n\r\n", m.offset), data.find(b"\n\n", m.offset)
        if crlf < 0 and lf < 0:
            return None
        head_end = lf + 2 if lf >= 0 and (crlf < 0 or lf < crlf) else crlf + 4  # as rtsp reads a head
        pos = head_end + len(m.body)
    while pos < st.consumed and data[pos] in b"\r\n":
        pos += 1
    while pos + 4 <= st.consumed and data[pos] == 0x24:
        channel, size = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        if channel % 2 == 0:
            return pos, channel, data[pos + 4 : pos + 4 + size]
        pos += 4 + size  # RTCP
    return None


def _tls13(server: tls.ServerHello | None) -> bool:
    return server is not None and server.version >= 0x0304


def _uri_host(uri: str) -> str:
    rest = uri.split("://", 1)[-1] if "://" in uri else ""
    return rest.split("/", 1)[0].split("@")[-1].split(":")[0].lower()


def _mqtt_record(flow: Any, ts: int, up: bool, m: mqtt.MqttMessage) -> AppRecord:
    f = m.fields
    payload = f.get("message", b"") if m.kind == "publish" else b""
    if m.kind == "publish":
        name = str(f.get("topic", ""))
    elif m.kind == "connect":
        name = str(f.get("client_id", ""))
    elif m.kind in ("subscribe", "unsubscribe"):
        name = ",".join(
            str(t.get("topic", t)) if isinstance(t, dict) else str(t) for t in f.get("topics", [])
        )
    else:
        name = ""
    detail = {k: v for k, v in f.items() if not isinstance(v, bytes | bytearray)}
    return AppRecord(flow, ts, up, "mqtt", m.kind, name, detail, bytes(payload) if payload else b"")


# ---- UDP -------------------------------------------------------------------------------


class UdpSession(Session):
    """One UDP flow: every datagram of chatty name protocols, the first few of the rest."""

    __slots__ = ("crypto", "packets", "raw", "stats")

    def __init__(self, app: str, stats: Counter[str], ports: tuple[int, int] = (0, 0)) -> None:
        super().__init__(app, ports)
        self.stats = stats
        self.packets = 0
        self.raw = 0  # directions whose first datagram went out as a raw record (1 down, 2 up)
        self.crypto: quic.InitialCrypto | None = None
        if app in READABLE:
            self.security = "none"
        elif app == "coaps":
            self.security = "dtls"

    def feed(
        self, out: list[Record], flow: Any, up: int, ts: int, seq: int, payload: bytes, syn: int
    ) -> bool:
        """Read a datagram (``seq`` and ``syn`` are TCP's and unused); False once done."""
        self.packets += 1
        if not self.app:
            if self.packets == 1:
                self.app = sniff_udp(payload)
            if not self.app:
                return self._raw(out, flow, up == 1, ts, payload)
            self.security = "quic" if self.app == "quic" else "dtls"
            if self.app == "dtls":
                return False
        handler = UDP_HANDLERS.get(self.app)
        if handler is None:
            return False
        try:
            more = handler(self, out, flow, up == 1, ts, payload)
        except (ValueError, IndexError, UnicodeError):
            self.stats[f"malformed_{self.app}"] += 1
            return self.app in READABLE  # one bad datagram does not end a flow of readable ones
        self.stats[f"dissected_{self.app}"] += 1
        return more

    def finish(self, out: list[Record], flow: Any) -> None:
        self.crypto = None

    def _raw(self, out: list[Record], flow: Any, up: bool, ts: int, payload: bytes) -> bool:
        """The first datagram each way of a flow no dissector reads; of an RTP stream, the first only."""
        bit = 2 if up else 1
        if not self.raw & bit:
            self.raw |= bit
            out.append(AppRecord(flow, ts, up, "raw", "udp", payload=payload[:RAW_LIMIT]))
            self.stats["raw_udp"] += 1
            if self.packets == 1 and rtp.find(payload) is not None:
                return False  # media: its datagrams are more of the same, one tells what it is
        return self.raw != 3 and self.packets < UDP_MAX_PACKETS


def sniff_udp(payload: bytes) -> str:
    """QUIC (long header of v1/v2) or DTLS (record with version 0xfe..), from a flow's first datagram."""
    if len(payload) >= 7 and payload[0] & 0xC0 == 0xC0 and payload[1:5] in QUIC_VERSIONS:
        return "quic"
    if len(payload) >= 13 and 20 <= payload[0] <= 25 and payload[1] == 0xFE:
        return "dtls"
    return ""


UdpHandler = Callable[[UdpSession, list[Record], Any, bool, int, bytes], bool]


def _dns(s: UdpSession, out: list[Record], flow: Any, up: bool, ts: int, payload: bytes) -> bool:
    out.append(DnsRecord(flow, ts, s.app, "udp", dns.parse(payload)))
    return True


def _dhcp(s: UdpSession, out: list[Record], flow: Any, up: bool, ts: int, payload: bytes) -> bool:
    m = dhcp.parse(payload)
    detail = {
        "xid": m.xid,
        "op": "request" if m.op == 1 else "reply",
        "ciaddr": ip_text(m.ciaddr),
        "client_mac": m.client_mac.hex(":"),
        "vendor_class": m.vendor_class,
        "prl": m.prl,
        "requested": ".".join(str(b) for b in m.requested_ip),  # option 50 as sent, whatever its length
        "yiaddr": ip_text(m.yiaddr),
    }
    out.append(AppRecord(flow, ts, up, "dhcp", m.msg_type, m.hostname, detail))
    return True


def _quic(s: UdpSession, out: list[Record], flow: Any, up: bool, ts: int, payload: bytes) -> bool:
    if not up:
        return s.packets < UDP_MAX_PACKETS
    if s.crypto is None:
        s.crypto = quic.InitialCrypto()
    for pkt in quic.client_initials(payload):
        hello = s.crypto.add(pkt)
        if hello is not None:
            s.sni = hello.sni
            out.append(TlsRecord(flow, ts, "quic", client=hello))
            s.crypto = None
            return False
    return s.packets < UDP_MAX_PACKETS


def _ssdp(s: UdpSession, out: list[Record], flow: Any, up: bool, ts: int, payload: bytes) -> bool:
    m = ssdp.parse(payload)
    if m is None:
        return True
    name = m.headers.get("nt") or m.headers.get("st") or ""
    if not s.host:
        s.host = m.headers.get("host", "")
    out.append(AppRecord(flow, ts, up, "ssdp", m.start_line.split(" ", 1)[0], name, dict(m.headers)))
    return True


def _ntp(s: UdpSession, out: list[Record], flow: Any, up: bool, ts: int, payload: bytes) -> bool:
    m = ntp.parse(payload)
    detail = {"version": m.version, "stratum": m.stratum, "ref_id": m.ref_id.rstrip("\x00")}
    out.append(AppRecord(flow, ts, up, "ntp", m.mode_name, "", detail))
    return s.packets < UDP_MAX_PACKETS  # the first exchanges say what the device synchronises with


def _coap(s: UdpSession, out: list[Record], flow: Any, up: bool, ts: int, payload: bytes) -> bool:
    m = coap.parse(payload)
    if up and not s.host and m.uri_host:
        s.host = m.uri_host.lower()
    detail: dict[str, Any] = {"type": m.type, "code": m.code, "mid": m.message_id}
    if m.content_format is not None:
        detail["content_format"] = m.content_format
    if m.uri_query:
        detail["query"] = "&".join(m.uri_query)
    out.append(AppRecord(flow, ts, up, "coap", m.code_name or m.code, m.uri_path, detail, m.payload))
    return True


def _dhcpv6(s: UdpSession, out: list[Record], flow: Any, up: bool, ts: int, payload: bytes) -> bool:
    m = dhcpv6.parse(payload).innermost
    detail = {
        "xid": m.transaction_id,
        "client_mac": m.client_mac,
        "vendor_class": ",".join(m.vendor_class),
        "vendor_enterprise": m.vendor_enterprise,
        "oro": m.oro,
        "requested": ",".join(m.ia_addresses),
    }
    out.append(AppRecord(flow, ts, up, "dhcpv6", m.type_name.lower(), m.fqdn, detail))
    return True


UDP_HANDLERS: dict[str, UdpHandler] = {
    "dns": _dns,
    "mdns": _dns,
    "llmnr": _dns,
    "dhcp": _dhcp,
    "quic": _quic,
    "ssdp": _ssdp,
    "ntp": _ntp,
    "coap": _coap,
    "dhcpv6": _dhcpv6,
}


def new_session(proto: int, sport: int, dport: int, stats: Counter[str]) -> TcpSession | UdpSession | None:
    """The session a new flow starts with (None for protocols without payload dissection)."""
    if proto == 6:
        return TcpSession(stats, (sport, dport))
    if proto == 17:
        app = UDP_PORTS.get(dport) or UDP_PORTS.get(sport) or ""
        return UdpSession(app, stats, (sport, dport))
    return None
