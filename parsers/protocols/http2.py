"""HTTP/2 requests and responses from the two byte streams of one connection (RFC 9113).

HTTP/2 carries the same requests as HTTP/1 (method, authority, path, headers, body), so a
device's personal data inside it must reach the same content detectors: each request and
each response becomes an ``HttpRequest``/``HttpResponse`` as HTTP/1's parser makes them,
with ``version`` "2" and ``:authority`` as its Host. Frames are read with ``hyperframe``
and header blocks decoded with ``hpack``, one decoder per direction, as each direction
keeps its own dynamic table (RFC 7541 2.2). Bodies are the DATA frames' data with the
padding removed (RFC 9113 6.1), bounded and content-decoded as HTTP/1 bodies are.

The bytes may come from cleartext h2c (prior knowledge: the client preface, RFC 9113 3.3;
or an HTTP/1.1 ``Upgrade: h2c`` answered by 101, 3.2) or from decrypted TLS with ALPN
"h2": ``H2Connection`` only sees bytes per direction. A connection seen from its middle
has no preface and lost the HPACK state built before. Entries are indexed newest first
(RFC 7541 2.3.3), so the entries the capture did show keep their indices and a block that
uses only them decodes right; a block that names an entry from before the capture fails,
and from then on that direction's table is out of step, so its later header blocks are
not decoded either (``http2_hpack_lost``, one per block); their bodies are still read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hpack import Decoder
from hpack.exceptions import HPACKError
from hyperframe.exceptions import HyperframeError
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
)

from parsers.protocols.http import BODY_LIMIT, HttpRequest, HttpResponse, decode_body

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 3.4
HEADER = 9  # frame header bytes (RFC 9113 4.1)
TABLE_SIZE = 4096  # SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 6.5.2)
FRAME_SIZE = 1 << 14  # SETTINGS_MAX_FRAME_SIZE's initial value (RFC 9113 6.5.2)
MAX_FRAME = (1 << 24) - 1  # the largest frame the length field can say
MAX_TABLE = 1 << 20  # table size allowed when the SETTINGS that set it were not seen
MAX_OPEN = 256  # messages held open per direction; RFC 9113 6.5.2 suggests >= 100 concurrent streams
MAX_HEADER_BLOCK = 1 << 20  # a header block (HEADERS + CONTINUATIONs) held while it is cut
MAX_HEADER_LIST = 1 << 20  # decoded header list bytes (hpack's default, 64 KiB, is below some cookies)


def sniff_preface(first: bytes) -> bool:
    """A client's first bytes are the HTTP/2 preface (prior knowledge, RFC 9113 3.3)."""
    return len(first) >= 4 and (first.startswith(PREFACE) or PREFACE.startswith(first))


@dataclass
class H2Message:
    """One request (``up``) or response read from a stream, and where its HEADERS frame began."""

    up: bool
    stream_id: int
    offset: int
    msg: HttpRequest | HttpResponse


@dataclass
class _Open:
    """A message whose headers were read and whose END_STREAM was not yet seen."""

    offset: int
    headers: list[tuple[str, str]] | None  # None: the header block could not be decoded
    body: bytearray = field(default_factory=bytearray)
    body_len: int = 0


class _Direction:
    """One direction's framing state: its HPACK decoder, a cut header block, its open messages."""

    __slots__ = ("block", "decoder", "lost", "max_frame", "open", "preface")

    def __init__(self, preface: bool, start: bool) -> None:
        self.decoder = Decoder(max_header_list_size=MAX_HEADER_LIST)
        self.preface = preface  # a client preface is still expected at the start
        self.lost = False  # HPACK state out of step: later header blocks are not decoded
        self.block: tuple[int, int, bool, bool, bytearray] | None = None  # sid, offset, end, push, data
        self.open: dict[int, _Open] = {}
        # the largest frame the receiver allows (SETTINGS_MAX_FRAME_SIZE, RFC 9113 6.5.2): its
        # initial value, or any frame size when the capture began after the SETTINGS
        self.max_frame = FRAME_SIZE
        if not start:
            self.unknown_start()

    def unknown_start(self) -> None:
        """The capture began after the SETTINGS: any frame and table size the peer may have allowed."""
        self.max_frame = MAX_FRAME
        self.decoder.max_allowed_table_size = max(self.decoder.max_allowed_table_size, MAX_TABLE)


class H2Connection:
    """Both directions of one HTTP/2 connection, fed in order, whole frames consumed."""

    __slots__ = ("dirs", "on", "stats")

    def __init__(self, client_preface: bool = True) -> None:
        """``client_preface``: the client's bytes start with the preface (False: they start
        with frames, as after an upgrade's bytes were consumed with it, or mid-connection)."""
        self.dirs = (
            _Direction(False, client_preface),
            _Direction(client_preface, client_preface),
        )  # index: up
        self.stats: dict[str, int] = {}
        self.on = [True, True]  # per direction (index: up): its bytes are HTTP/2 frames now

    @classmethod
    def upgraded(cls) -> H2Connection:
        """After HTTP/1.1 ``Upgrade: h2c``: neither direction is HTTP/2 until ``switched``."""
        conn = cls(client_preface=True)
        conn.on = [False, False]
        return conn

    def switched(self, up: bool) -> None:
        """Direction ``up`` left HTTP/1: the client after its preface shows, the server after its 101."""
        self.on[up] = True

    def _count(self, name: str, n: int = 1) -> None:
        self.stats[name] = self.stats.get(name, 0) + n

    def feed(self, up: bool, data: bytes, base: int = 0, final: bool = False) -> tuple[list[H2Message], int]:
        """The messages completed by the whole frames at the start of ``data`` (which sits at
        ``base`` in its direction's stream: offsets are given in the stream), and the bytes
        they took; ``final``: no more bytes will come, so what is open is emitted as cut."""
        d = self.dirs[up]
        out: list[H2Message] = []
        pos = 0
        if d.preface:
            if len(data) < len(PREFACE) and PREFACE.startswith(data) and not final:
                return out, 0
            if data.startswith(PREFACE):
                pos = len(PREFACE)
            else:
                self._count("http2_no_preface")  # a connection seen from its middle: its settings unknown
                for x in self.dirs:
                    x.unknown_start()
            d.preface = False
        while pos + HEADER <= len(data):
            try:
                frame, length = Frame.parse_frame_header(memoryview(data[pos : pos + HEADER]))
            except HyperframeError:
                raise ValueError("not an HTTP/2 frame header") from None  # the caller counts it
            if length > d.max_frame:
                raise ValueError(f"HTTP/2 frame of {length} bytes, above the peer's limit")  # RFC 9113 4.2
            if pos + HEADER + length > len(data):
                break
            try:
                frame.parse_body(memoryview(data[pos + HEADER : pos + HEADER + length]))
            except HyperframeError:
                self._count("malformed_http2")  # a bad frame whose length still frames the next
            else:
                self._frame(d, up, frame, base + pos, out)
            pos += HEADER + length
        if final:
            if pos < len(data):
                self._count("truncated_http2")  # a frame cut by the end of the capture
                self._cut_data(d, data[pos:])
                pos = len(data)
            out += self._close_all(d, up)
        return out, pos

    def _cut_data(self, d: _Direction, rest: bytes) -> None:
        """What a DATA frame cut by the end of the capture holds goes to its message's body."""
        if len(rest) <= HEADER or rest[3] != 0:  # not a DATA frame (type 0) with some data
            return
        length, flags, sid = (
            int.from_bytes(rest[:3], "big"),
            rest[4],
            int.from_bytes(rest[5:9], "big") & 0x7FFFFFFF,
        )
        m = d.open.get(sid)
        if m is None:
            return
        data = rest[HEADER:]
        if flags & 0x8:  # PADDED: a pad length byte first, the padding last (RFC 9113 6.1)
            data = data[1 : max(length - 1 - data[0], 0) + 1]
        m.body_len += len(data)
        m.body += data[: max(BODY_LIMIT - len(m.body), 0)]

    def _frame(self, d: _Direction, up: bool, f: Frame, at: int, out: list[H2Message]) -> None:
        self._count("http2_frames")
        if d.block is not None and not isinstance(f, ContinuationFrame):
            self._count("malformed_http2")  # a header block must go on in CONTINUATION (RFC 9113 6.10)
            d.block = None
        if isinstance(f, HeadersFrame | PushPromiseFrame):
            push = isinstance(f, PushPromiseFrame)
            d.block = (f.stream_id, at, "END_STREAM" in f.flags, push, bytearray(f.data))
            if "END_HEADERS" in f.flags:
                self._block(d, up, out)
        elif isinstance(f, ContinuationFrame):
            if d.block is None or d.block[0] != f.stream_id:
                self._count("malformed_http2")
                return
            d.block[4].extend(f.data)
            if len(d.block[4]) > MAX_HEADER_BLOCK:
                self._count("malformed_http2")
                d.block, d.lost = None, True
            elif "END_HEADERS" in f.flags:
                self._block(d, up, out)
        elif isinstance(f, DataFrame):
            m = d.open.get(f.stream_id)
            if m is None:
                self._count("http2_data_without_headers")
            else:
                m.body_len += len(f.data)
                room = BODY_LIMIT - len(m.body)
                if room > 0:
                    m.body += f.data[:room]
            if "END_STREAM" in f.flags and m is not None:
                out.append(self._message(up, f.stream_id, d.open.pop(f.stream_id)))
        elif isinstance(f, RstStreamFrame):
            self._count("http2_rst_stream")
            for sid_dir in self.dirs:  # a reset stream ends both directions' messages on it
                m = sid_dir.open.pop(f.stream_id, None)
                if m is not None:
                    out.append(self._message(sid_dir is self.dirs[1], f.stream_id, m, cut=True))
        elif isinstance(f, GoAwayFrame):
            self._count("http2_goaway")
        elif isinstance(f, SettingsFrame):
            # a direction's settings bind what the other direction sends: its HPACK table size
            # (RFC 7541 4.2) and its frame size; taken at once, not at the ACK, as a reader may lag
            other = self.dirs[not up]
            size = f.settings.get(SettingsFrame.HEADER_TABLE_SIZE)
            if size is not None:
                other.decoder.max_allowed_table_size = max(other.decoder.max_allowed_table_size, size)
            other.max_frame = max(other.max_frame, f.settings.get(SettingsFrame.MAX_FRAME_SIZE, 0))

    def _block(self, d: _Direction, up: bool, out: list[H2Message]) -> None:
        """A whole header block: decoded (always, to keep the table in step), then a message
        opened, or ended when the block ends the stream or is an interim (1xx) response."""
        assert d.block is not None
        sid, at, end, push, data = d.block
        d.block = None
        headers: list[tuple[str, str]] | None = None
        if not d.lost:
            try:
                raw = d.decoder.decode(bytes(data), raw=True)
                headers = [(bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in raw]
            except HPACKError:
                d.lost = True
        if headers is None:
            self._count("http2_hpack_lost")
        if push:
            self._count("http2_push_promises")  # decoded for the table; the pushed response is read
            return
        m = d.open.get(sid)
        if m is not None:  # trailers (RFC 9113 8.1): the message's last header block
            if headers and m.headers is not None:
                m.headers += headers
            if end:
                out.append(self._message(up, sid, d.open.pop(sid)))
            return
        m = _Open(at, headers)
        status = _pseudo(headers or [], ":status")
        if end or (status[:1] == "1" and len(status) == 3):
            out.append(self._message(up, sid, m))
        elif len(d.open) >= MAX_OPEN:
            self._count("http2_streams_dropped")
        else:
            d.open[sid] = m

    def _close_all(self, d: _Direction, up: bool) -> list[H2Message]:
        """The end of the bytes: every open message goes out marked cut."""
        out = [self._message(up, sid, m, cut=True) for sid, m in d.open.items()]
        d.open.clear()
        if d.block is not None:
            self._count("truncated_http2")
            d.block = None
        return out

    def _message(self, up: bool, sid: int, m: _Open, cut: bool = False) -> H2Message:
        self._count("dissected_http2")
        headers = m.headers or []
        plain = [(k, v) for k, v in headers if not k.startswith(":")]
        body, over = decode_body(bytes(m.body), _header(plain, "content-encoding").lower(), BODY_LIMIT)
        msg: HttpRequest | HttpResponse
        if up:
            authority = _pseudo(headers, ":authority")
            if authority and not _header(plain, "host"):
                plain.insert(0, ("host", authority))  # :authority stands for Host (RFC 9113 8.3.1)
            msg = HttpRequest("2", plain, method=_pseudo(headers, ":method"), uri=_pseudo(headers, ":path"))
        else:
            status = _pseudo(headers, ":status")
            msg = HttpResponse("2", plain, status=int(status) if status.isdigit() else 0)
        msg.body, msg.body_len, msg.start = body, m.body_len, m.offset
        msg.truncated = cut or over or m.body_len > len(m.body)
        return H2Message(up, sid, m.offset, msg)


def _pseudo(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k == name), "")


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k.lower() == name), "")
