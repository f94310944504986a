"""Per-protocol readers of a TCP connection: one small object per flow, chosen once.

``TcpSession`` (``parsers.sessions``) reassembles both directions into ``HalfStream``s
and, once the flow's protocol is known (by its first bytes, else its port: the
``PROTOCOLS`` registry), hands every later segment to that protocol's reader. A reader
holds only its own protocol's state, so a new protocol is a new class here and one line
in the registry, not another slot on every session.

Two kinds: ``parsers.tls_reader.TlsReader`` walks record headers until both directions left
the clear handshake, then dissects it once (and with a key log reads on inside);
``MessageReader`` subclasses (HTTP with its WebSocket
upgrade, MQTT, RTSP, DNS over TCP) parse whole messages out of what is held, consume
them and keep the rest, so a connection open for hours is read with bounded memory.
"""

from __future__ import annotations

from typing import Any

from parsers import h2stream
from parsers.events import AppRecord, DnsRecord, HttpRecord, Record
from parsers.protocols import dns, http, mqtt, rtsp, websocket
from parsers.session_types import TcpSession
from parsers.tcpstream import HalfStream

PARSE_AT = 1 << 12  # held bytes that trigger parsing whole messages out of a readable stream
RTSP_METHODS = frozenset(
    b"OPTIONS DESCRIBE SETUP PLAY PAUSE TEARDOWN ANNOUNCE RECORD GET_PARAMETER SET_PARAMETER".split()
)
REQUEST_WORDS = http.METHODS | RTSP_METHODS


# ---- sniffing: a flow's protocol from the first bytes of one direction --------------------------


def tls_record_start(data: bytes | bytearray) -> bool:
    """A TLS record header: ChangeCipherSpec, alert, handshake or data, version 3.x."""
    return len(data) >= 2 and data[0] in (20, 21, 22, 23) and data[1] == 3


def sniff_tls(first: bytes, up: bool) -> bool:
    return len(first) >= 3 and tls_record_start(first)


def sniff_rtsp(first: bytes, up: bool) -> bool:
    """An RTSP request (its line names RTSP/, or its method is RTSP's alone) or response."""
    if not up:
        return first.startswith(b"RTSP/")
    word = first.split(b" ", 1)[0]
    if word not in REQUEST_WORDS:
        return False
    return b"RTSP/" in first.split(b"\n", 1)[0] or (word in RTSP_METHODS and word not in http.METHODS)


def sniff_http(first: bytes, up: bool) -> bool:
    """An HTTP/1 request or response (asked after RTSP, whose requests look alike)."""
    if up:
        return first.split(b" ", 1)[0] in REQUEST_WORDS
    return first.startswith(b"HTTP/1.")


def sniff_h2c(first: bytes, up: bool) -> bool:
    """HTTP/2 by prior knowledge: the client's connection preface (RFC 9113 3.4)."""
    return up and h2stream.sniff_preface(first)


def sniff_mqtt(first: bytes, up: bool) -> bool:
    return first[:1] == b"\x10" and (b"MQTT" in first[:12] or b"MQIsdp" in first[:14])


def sniff_ssh(first: bytes, up: bool) -> bool:
    return first.startswith(b"SSH-")


# ---- readers ----------------------------------------------------------------------------------


class StreamReader:
    """What ``TcpSession`` asks of a protocol: ``step`` after each segment, ``finish`` at the end."""

    __slots__ = ()
    name = ""

    # Each call gets the flow's session (its two half streams, stats and enrichment fields)
    # rather than the reader keeping it: a reader -> session -> reader cycle would outlive
    # the flow, as the replay runs with the cyclic garbage collector off.

    def step(self, s: TcpSession, out: list[Record], flow: Any, up: int, half: HalfStream) -> bool:
        """Direction ``up`` (``half``) got bytes; False once the reader wants no more of the flow."""
        raise NotImplementedError

    def finish(self, s: TcpSession, out: list[Record], flow: Any) -> None:
        """The flow ended: dissect what is still held."""


class StopStream(Exception):
    """A readable stream's bytes stopped being the protocol: stop reading the flow."""


class MessageReader(StreamReader):
    """A readable protocol: whole messages parsed out of what is held, consumed, the rest kept."""

    __slots__ = ("parsed_at",)

    def __init__(self) -> None:
        self.parsed_at = [0, 0]  # held bytes when a parse found nothing whole: wait for twice that

    def step(self, s: TcpSession, out: list[Record], flow: Any, up: int, half: HalfStream) -> bool:
        n = len(half.data)
        if n >= PARSE_AT and n >= 2 * self.parsed_at[up]:
            return self.read(s, out, flow, up == 1, final=False)
        return True

    def finish(self, s: TcpSession, out: list[Record], flow: Any) -> None:
        if s.up is not None:
            self.read(s, out, flow, True, final=True)
            self.read(s, out, flow, False, final=True)

    def read(self, s: TcpSession, out: list[Record], flow: Any, up: bool, final: bool) -> bool:
        """Parse what direction ``up`` holds; False once the flow is not worth reading further."""
        half = s.up if up else s.dn
        if half is None or not half.data:
            return True
        data = bytes(half.data)
        try:
            used = self.parse(s, out, flow, up, half, data, final)
        except StopStream:
            half.data.clear()
            return False
        except ValueError:
            s.stats[f"malformed_{self.name}"] += 1
            half.data.clear()
            return final or False
        if used == 0 and half.full and not final:
            # one message larger than the window: read it as far as held, stop this direction
            self.parse(s, out, flow, up, half, data, True)
            s.stats[f"{self.name}_window_exceeded"] += 1
            return False
        self.parsed_at[up] = len(data) - used  # parse again once what is held has doubled
        half.consume(used)
        return True

    def parse(
        self,
        s: TcpSession,
        out: list[Record],
        flow: Any,
        up: bool,
        half: HalfStream,
        data: bytes,
        final: bool,
    ) -> int:
        """Emit the whole messages at the start of ``data``; the bytes they took."""
        raise NotImplementedError


class HttpReader(MessageReader):
    """HTTP/1 requests and responses; after a WebSocket upgrade, that direction's frames; after
    an ``Upgrade: h2c`` answered by 101 (RFC 9113 3.2), HTTP/2 frames both ways."""

    __slots__ = ("h2", "h2c", "index", "methods", "ws")
    name = "http"

    def __init__(self) -> None:
        super().__init__()
        self.methods: list[str] = []  # request methods in order: a HEAD's response has no body
        self.index = [0, 0]  # messages read per direction
        self.ws: WebSocketReader | None = None  # once an upgrade was asked for
        self.h2c = False  # the client asked for an h2c upgrade
        self.h2: h2stream.H2Connection | None = None  # once it was asked and the client sent the preface

    def parse(
        self,
        s: TcpSession,
        out: list[Record],
        flow: Any,
        up: bool,
        half: HalfStream,
        data: bytes,
        final: bool,
    ) -> int:
        ws = self.ws
        if ws is not None and ws.framing(up, data[:2]):
            return ws.parse(s, out, flow, up, half, data, 0, final)
        h2 = self._h2(up, data, 0)
        if h2 is not None:
            return h2stream.h2_records(h2, s, out, flow, up, half, data, 0, final)
        if up:
            msgs: list[Any] = http.parse_requests(data)
        else:
            msgs = http.parse_responses(data, self.methods)
        if not final and msgs and msgs[-1].end >= len(data):
            msgs.pop()  # may still grow
        base = half.start
        for m in msgs:
            if up:
                self.methods.append(m.method)
                if not s.host:
                    s.host = m.host.split(":")[0].lower()
                # a WebSocket upgrade: the bytes after it are frames if the client's first is one
                if "websocket" in m.header("upgrade").lower():
                    ws = self.ws = ws or WebSocketReader()
                    ws.offer = m.header("sec-websocket-extensions")
                elif ws is not None:
                    ws.offer = None
                self.h2c = self.h2c or "h2c" in m.header("upgrade").lower()
            elif m.status == 101 and "h2c" in m.header("upgrade").lower():  # its request may be read later
                self.h2 = self.h2 or h2stream.H2Connection.upgraded()
                self.h2.switched(False)
            elif m.status == 101 and "websocket" in m.header("upgrade").lower():
                ws = self.ws = ws or WebSocketReader()
                ws.accepted(m.header("sec-websocket-extensions"))
            out.append(HttpRecord(flow, half.ts_at(base + m.start), up, self.index[up], m))
            self.index[up] += 1
        s.stats["dissected_http"] += len(msgs)
        used = msgs[-1].end if msgs else 0
        if used and ws is not None and ws.framing(up, data[used : used + 2]):
            return ws.parse(s, out, flow, up, half, data, used, final)  # switched: the rest are frames
        h2 = self._h2(up, data, used) if used else None
        if h2 is not None:
            return h2stream.h2_records(h2, s, out, flow, up, half, data, used, final)  # switched to HTTP/2
        if used and used < len(data) and not _may_start_http(data[used : used + 5], up):
            # after a whole message comes something no request or response starts with: the
            # connection left HTTP (an upgrade, a tunnel) or is not HTTP; nothing more to frame
            s.stats["http_not_continued"] += 1
            raise StopStream
        return used

    def _h2(self, up: bool, data: bytes, at: int) -> h2stream.H2Connection | None:
        """The HTTP/2 connection if a direction carries its frames from ``at`` on: the client's once
        it asked for h2c and sends the preface, the server's after its 101."""
        h2 = self.h2
        if up and self.h2c and (h2 is None or not h2.on[1]) and h2stream.sniff_preface(data[at : at + 24]):
            h2 = self.h2 = h2 or h2stream.H2Connection.upgraded()
            h2.switched(True)
        return h2 if h2 is not None and h2.on[up] else None


class Http2Reader(MessageReader):
    """HTTP/2 by prior knowledge (h2c) or over decrypted TLS: frames both ways from the start."""

    __slots__ = ("conn",)
    name = "http2"

    def __init__(self, client_preface: bool = True) -> None:
        super().__init__()
        self.conn = h2stream.H2Connection(client_preface)

    def parse(
        self,
        s: TcpSession,
        out: list[Record],
        flow: Any,
        up: bool,
        half: HalfStream,
        data: bytes,
        final: bool,
    ) -> int:
        return h2stream.h2_records(self.conn, s, out, flow, up, half, data, 0, final)


class WebSocketReader:
    """WebSocket frames (RFC 6455) of an upgraded HTTP connection, one parser per direction."""

    __slots__ = ("offer", "ws")

    def __init__(self) -> None:
        self.ws: list[websocket.WsParser | None] = [None, None]  # per direction, after the upgrade
        self.offer: str | None = None  # extensions the last upgrade request offered

    def accepted(self, extensions: str) -> None:
        """The server's 101: what it sends next are frames."""
        self.ws[0] = websocket.WsParser(websocket.deflate_negotiated(extensions))

    def framing(self, up: bool, head: bytes) -> bool:
        """Whether a direction carries frames now: the server's after its 101, the client's after
        its upgrade request once its next bytes are a masked frame (no request line is)."""
        if up and self.ws[1] is None and self.offer is not None and _client_frame(head):
            self.ws[1] = websocket.WsParser(websocket.deflate_negotiated(self.offer))
        return self.ws[up] is not None

    def parse(
        self,
        s: TcpSession,
        out: list[Record],
        flow: Any,
        up: bool,
        half: HalfStream,
        data: bytes,
        at: int,
        final: bool,
    ) -> int:
        """WebSocket messages from data[at:]; where in ``data`` the frames read end."""
        ws = self.ws[up]
        assert ws is not None
        stats = s.stats
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
        stats["dissected_websocket"] += len(msgs)
        if ws.error:
            stats["malformed_websocket"] += 1
            ws.error = ""
        if ws.errors:  # compressed messages that did not inflate: their payload is left empty
            stats["websocket_inflate_errors"] += ws.errors
            ws.errors = 0
        other = self.ws[not up]
        if ws.closed and (other is None or other.closed):
            raise StopStream  # both ends closed (or stopped framing): nothing more to read
        return at + used


class MqttReader(MessageReader):
    """MQTT control packets (3.1, 3.1.1, 5); the parser remembers the version CONNECT chose."""

    __slots__ = ("parser",)
    name = "mqtt"

    def __init__(self) -> None:
        super().__init__()
        self.parser = mqtt.MqttParser()

    def parse(
        self,
        s: TcpSession,
        out: list[Record],
        flow: Any,
        up: bool,
        half: HalfStream,
        data: bytes,
        final: bool,
    ) -> int:
        mq, used = self.parser.parse_prefix(data)
        base = half.start
        for m in mq:
            out.append(_mqtt_record(flow, half.ts_at(base + m.offset), up, m))
        s.stats["dissected_mqtt"] += len(mq)
        return used


class DnsReader(MessageReader):
    """DNS over TCP: messages behind a two-byte length (RFC 1035 4.2.2)."""

    __slots__ = ()
    name = "dns"

    def parse(
        self,
        s: TcpSession,
        out: list[Record],
        flow: Any,
        up: bool,
        half: HalfStream,
        data: bytes,
        final: bool,
    ) -> int:
        pos, base, stats = 0, half.start, s.stats
        while pos + 2 <= len(data):
            n = int.from_bytes(data[pos : pos + 2], "big")
            if pos + 2 + n > len(data):
                break
            msg = dns.parse(data[pos + 2 : pos + 2 + n])
            out.append(DnsRecord(flow, half.ts_at(base + pos), "dns", "tcp", msg))
            stats["dissected_dns"] += 1
            pos += 2 + n
        return pos


class RtspReader(MessageReader):
    """RTSP messages, and the first interleaved media frame each way for the content detectors."""

    __slots__ = ("interleaved",)
    name = "rtsp"

    def __init__(self) -> None:
        super().__init__()
        self.interleaved = 0  # directions whose first media frame went out (1 down, 2 up)

    def parse(
        self,
        s: TcpSession,
        out: list[Record],
        flow: Any,
        up: bool,
        half: HalfStream,
        data: bytes,
        final: bool,
    ) -> int:
        st = rtsp.parse_stream(data)
        base = half.start
        for m in st.messages:
            if up and not s.host:
                s.host = _uri_host(m.uri)
            detail = {"cseq": m.cseq, "status": m.status, "version": m.version}
            if m.headers.get("user-agent") or m.headers.get("server"):
                detail["agent"] = m.headers.get("user-agent") or m.headers.get("server", "")
            kind = m.method or str(m.status)
            out.append(AppRecord(flow, half.ts_at(base + m.offset), up, "rtsp", kind, m.uri, detail, m.body))
        s.stats["dissected_rtsp"] += len(st.messages)
        frame = _interleaved(data, st) if st.interleaved and not self.interleaved >> up & 1 else None
        if frame is not None:  # the first media frame each way, for the content detectors (RTP media)
            self.interleaved |= 1 << up
            at, channel, payload = frame
            ts = half.ts_at(base + at)
            out.append(AppRecord(flow, ts, up, "rtsp", "interleaved", "", {"channel": channel}, payload))
        return st.consumed


# ---- helpers ----------------------------------------------------------------------------------


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
