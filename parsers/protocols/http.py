"""HTTP/1.x requests and responses from the reassembled bytes of one TCP connection.

Plain HTTP is where a device's personal data can be read: the request line, Host and
User-Agent name the service and the client, the bodies (chunked, gzip or deflate)
carry the values. Bodies are kept up to ``body_limit`` bytes after decoding.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

METHODS = frozenset(
    b"GET POST PUT DELETE HEAD OPTIONS PATCH CONNECT TRACE PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK "
    b"SEARCH REPORT MKCALENDAR SUBSCRIBE UNSUBSCRIBE NOTIFY M-SEARCH".split()
)
START = re.compile(rb"^([A-Z][A-Z-]{1,15}) (\S+) HTTP/(\d\.\d)$")
STATUS = re.compile(rb"^HTTP/(\d\.\d) (\d{3})(?: (.*))?$")
MAX_HEADERS = 200
BODY_LIMIT = 1 << 20


class HttpError(ValueError):
    """Not HTTP, or a message whose framing cannot be trusted (bad chunk sizes...)."""


@dataclass
class HttpMessage:
    version: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    body_len: int = 0  # entity length after transfer decoding (chunked), before content decoding
    truncated: bool = False
    start: int = 0  # where the message starts in the bytes parsed
    end: int = 0  # where the next one starts
    # the headers by lower-cased name, the first of each (built on the first ``header`` call: a message's
    # headers are read nine times or more, by its framing, its rows and the detectors)
    _by_name: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)
    _indexed: int = field(default=-1, init=False, repr=False, compare=False)

    def header(self, name: str) -> str:
        """The first header of that name, any case ('' when none)."""
        if self._indexed != len(self.headers):  # first call, or headers added since
            by_name: dict[str, str] = {}
            for k, v in self.headers:
                by_name.setdefault(k.lower(), v)
            self._by_name, self._indexed = by_name, len(self.headers)
        return self._by_name.get(name.lower(), "")  # type: ignore[union-attr]


@dataclass
class HttpRequest(HttpMessage):
    method: str = ""
    uri: str = ""

    @property
    def host(self) -> str:
        return self.header("host")

    @property
    def user_agent(self) -> str:
        return self.header("user-agent")

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path

    @property
    def query(self) -> str:
        return urlsplit(self.uri).query


@dataclass
class HttpResponse(HttpMessage):
    status: int = 0
    reason: str = ""


@dataclass
class _Head:
    start: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


def parse_requests(data: bytes, body_limit: int = BODY_LIMIT) -> list[HttpRequest]:
    """Every whole request at the start of a client's stream."""
    out: list[HttpRequest] = []
    pos = 0
    while pos < len(data):
        if out and not 65 <= data[pos] <= 90:
            break  # no method starts here: not another request (and no need to search for a head)
        head, pos_body = _head(data, pos)
        if head is None:
            break
        m = START.match(head.start)
        if m is None or m.group(1) not in METHODS:
            if out:
                break  # something after the last request we cannot frame: stop there
            raise HttpError(f"not an HTTP request line: {head.start[:40]!r}")
        req = HttpRequest(
            m.group(3).decode(), head.headers, method=m.group(1).decode(), uri=m.group(2).decode("latin-1")
        )
        req.start = pos
        pos = req.end = _body(req, data, pos_body, body_limit, until_close=False)
        out.append(req)
    return out


def parse_responses(
    data: bytes, methods: list[str] | None = None, body_limit: int = BODY_LIMIT
) -> list[HttpResponse]:
    """Every whole response at the start of a server's stream.

    ``methods`` are the requests' methods in order: a response to HEAD has no body.
    """
    out: list[HttpResponse] = []
    pos = 0
    final = 0
    while pos < len(data):
        if out and not data.startswith(b"HTTP/", pos):
            break  # not another response
        head, pos_body = _head(data, pos)
        if head is None:
            break
        m = STATUS.match(head.start)
        if m is None:
            if out:
                break
            raise HttpError(f"not an HTTP status line: {head.start[:40]!r}")
        resp = HttpResponse(
            m.group(1).decode(),
            head.headers,
            status=int(m.group(2)),
            reason=(m.group(3) or b"").decode("latin-1"),
        )
        method = methods[final] if methods and final < len(methods) else ""
        resp.start = pos
        if 100 <= resp.status < 200 or resp.status in (204, 304) or method == "HEAD":
            pos = pos_body
        else:
            pos = _body(resp, data, pos_body, body_limit, until_close=True)
        resp.end = pos
        if resp.status >= 200:
            final += 1
        out.append(resp)
    return out


def _head(data: bytes, pos: int) -> tuple[_Head | None, int]:
    end = data.find(b"\r\n\r\n", pos)
    sep = 4
    if end < 0:
        end, sep = data.find(b"\n\n", pos), 2
        if end < 0:
            return None, pos
    # decoded once: latin-1 maps byte to character one for one, so the text splits and strips as the
    # bytes would (``_WS`` is what bytes.strip() takes away)
    lines = data[pos:end].decode("latin-1").replace("\r\n", "\n").split("\n")
    head = _Head(lines[0].strip(_WS).encode("latin-1"))
    for line in lines[1 : MAX_HEADERS + 1]:
        name, colon, value = line.partition(":")
        if colon:
            head.headers.append((name.strip(_WS), value.strip(_WS)))
    return head, end + sep


_WS = " \t\n\r\x0b\x0c"  # ASCII whitespace, as bytes.strip() has it (str.strip() would take more)


def _body(msg: HttpMessage, data: bytes, pos: int, limit: int, until_close: bool) -> int:
    """Read the body after the head at ``pos``; returns where the next message starts."""
    length = msg.header("content-length")
    if "chunked" in msg.header("transfer-encoding").lower():
        raw, pos = _dechunk(data, pos)
    elif length:
        try:
            n = int(length)
        except ValueError:
            raise HttpError(f"bad Content-Length {length!r}") from None
        if n < 0:
            raise HttpError(f"negative Content-Length {n}")
        raw = data[pos : pos + n]
        msg.truncated = len(raw) < n
        pos += n
    elif until_close:
        raw, pos = data[pos:], len(data)
    else:
        raw = b""
    msg.body_len = len(raw)
    msg.body, cut = decode_body(raw, msg.header("content-encoding").lower(), limit)
    msg.truncated = msg.truncated or cut
    return pos


def _dechunk(data: bytes, pos: int) -> tuple[bytes, int]:
    parts: list[bytes] = []
    while True:
        eol = data.find(b"\n", pos)
        if eol < 0:
            return b"".join(parts), len(data)
        size_text = data[pos:eol].split(b";")[0].strip()
        if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):  # int() would take "-6" or "0x6"
            raise HttpError(f"bad chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        pos = eol + 1
        if size == 0:
            end = data.find(b"\r\n\r\n", pos - 2)  # trailers end with an empty line
            return b"".join(parts), (end + 4 if end >= 0 else len(data))
        parts.append(data[pos : pos + size])
        pos += size + 2


def decode_body(raw: bytes, encoding: str, limit: int) -> tuple[bytes, bool]:
    """Content-decode gzip/deflate up to ``limit`` bytes (a zip bomb stops there); whether it was cut.
    HTTP/2 bodies (``parsers.protocols.http2``) are decoded the same way."""
    if encoding in ("gzip", "x-gzip", "deflate"):
        for wbits in (31,) if "gzip" in encoding else (15, -15):
            try:
                d = zlib.decompressobj(wbits)
                out = d.decompress(raw, limit)
                return out, bool(d.unconsumed_tail)
            except zlib.error:
                continue
    return raw[:limit], len(raw) > limit
