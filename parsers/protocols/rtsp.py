"""RTSP 1.0 and 2.0 (RFC 2326, 7826) requests and responses from one direction of a TCP stream.

IP cameras, baby monitors and doorbells stream video over RTSP: the request URIs name
the camera and its streams (and sometimes carry credentials), User-Agent and Server
name the player and the camera firmware, SETUP's Transport header says where the media
goes. Media may be interleaved in the same connection as ``$`` frames (RFC 2326 10.12):
they are skipped and counted per channel. A message cut at the end of the bytes given
is left for the next call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

REQUEST = re.compile(rb"^([A-Za-z_][A-Za-z0-9_.-]{0,31}) (\S+) RTSP/(\d)\.(\d)$")
STATUS = re.compile(rb"^RTSP/(\d)\.(\d) (\d{3})(?: (.*))?$")
MAX_LINE = 8192  # a start or header line longer than this is not RTSP
MAX_HEAD = 64 * 1024
MAX_HEADERS = 200
MAX_BODY = 16 << 20


class RtspError(ValueError):
    """Not RTSP: a bad start or header line, a bad CSeq or Content-Length, an overlong head."""


@dataclass(slots=True)
class RtspMessage:
    is_request: bool
    version: str  # "1.0", "2.0"
    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lowercased names; repeats joined with ", "
    cseq: int | None = None
    content_length: int = 0
    body: bytes = b""
    offset: int = 0  # where the message starts in the bytes parsed

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")

    @property
    def server(self) -> str:
        return self.headers.get("server", "")

    @property
    def session(self) -> str:
        """The session id, without ";timeout=" and other parameters."""
        return self.headers.get("session", "").split(";")[0].strip()


@dataclass(slots=True)
class RtspStream:
    messages: list[RtspMessage] = field(default_factory=list)
    interleaved: dict[int, int] = field(default_factory=dict)  # channel -> $ frames skipped
    interleaved_bytes: int = 0
    consumed: int = 0  # bytes of whole messages and frames: where the next call should start


def parse_messages(data: bytes) -> list[RtspMessage]:
    """Every whole RTSP message at the start of ``data`` (a direction's bytes)."""
    return parse_stream(data).messages


def parse_stream(data: bytes) -> RtspStream:
    """Messages and interleaved frames at the start of ``data``; raises RtspError when it is not RTSP."""
    out = RtspStream()
    pos = 0
    n = len(data)
    while pos < n:
        if data[pos] in b"\r\n":  # blank lines between messages are tolerated (RFC 7826 20.2.2)
            pos += 1
            out.consumed = pos
            continue
        if data[pos] == 0x24:  # "$", channel, 16-bit length, then that many bytes of RTP/RTCP
            if pos + 4 > n:
                break
            channel, size = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
            if pos + 4 + size > n:
                break
            out.interleaved[channel] = out.interleaved.get(channel, 0) + 1
            out.interleaved_bytes += size
            pos += 4 + size
            out.consumed = pos
            continue
        msg, end = _message(data, pos)
        if msg is None:
            break
        msg.offset = pos
        out.messages.append(msg)
        pos = out.consumed = end
    return out


def _message(data: bytes, pos: int) -> tuple[RtspMessage | None, int]:
    """The message at ``pos`` and where it ends, or (None, pos) when it is not all there yet."""
    eol = data.find(b"\n", pos, pos + MAX_LINE)
    if eol < 0:
        if len(data) - pos >= MAX_LINE:
            raise RtspError("start line longer than 8 kB")
        return None, pos
    msg = _start_line(data[pos:eol].rstrip(b"\r"))
    head_end, sep = data.find(b"\r\n\r\n", pos, pos + MAX_HEAD), 4
    bare = data.find(b"\n\n", pos, pos + MAX_HEAD)
    if bare >= 0 and (head_end < 0 or bare < head_end):
        head_end, sep = bare, 2
    if head_end < 0:
        if len(data) - pos >= MAX_HEAD:
            raise RtspError("message head longer than 64 kB")
        return None, pos
    _headers(msg, data[eol + 1 : head_end + sep].replace(b"\r\n", b"\n").split(b"\n"))
    body_at = head_end + sep
    if body_at + msg.content_length > len(data):
        return None, pos
    msg.body = data[body_at : body_at + msg.content_length]
    return msg, body_at + msg.content_length


def _start_line(line: bytes) -> RtspMessage:
    m = STATUS.match(line)
    if m:
        return RtspMessage(
            False,
            f"{m.group(1).decode()}.{m.group(2).decode()}",
            status=int(m.group(3)),
            reason=(m.group(4) or b"").decode("utf-8", "replace").strip(),
        )
    m = REQUEST.match(line)
    if m:
        return RtspMessage(
            True,
            f"{m.group(3).decode()}.{m.group(4).decode()}",
            method=m.group(1).decode(),
            uri=m.group(2).decode("utf-8", "replace"),
        )
    raise RtspError(f"not an RTSP start line: {line[:60]!r}")


def _headers(msg: RtspMessage, lines: list[bytes]) -> None:
    name = ""
    count = 0
    for raw in lines:
        if not raw.strip():
            continue
        if raw[:1] in (b" ", b"\t"):  # folded continuation of the previous header (RFC 2326 4.2)
            if not name:
                raise RtspError("continuation line before any header")
            msg.headers[name] += " " + raw.strip().decode("utf-8", "replace")
            continue
        key, colon, value = raw.partition(b":")
        name = key.strip().decode("latin-1").lower()
        if not colon or not name or " " in name:
            raise RtspError(f"not a header line: {raw[:60]!r}")
        count += 1
        if count > MAX_HEADERS:
            raise RtspError(f"more than {MAX_HEADERS} headers")
        text = value.strip().decode("utf-8", "replace")
        msg.headers[name] = f"{msg.headers[name]}, {text}" if name in msg.headers else text
    if "cseq" in msg.headers:
        msg.cseq = _number(msg.headers["cseq"], "CSeq")
    if "content-length" in msg.headers:
        msg.content_length = _number(msg.headers["content-length"], "Content-Length")
        if msg.content_length > MAX_BODY:
            raise RtspError(f"Content-Length {msg.content_length} is absurd")


def _number(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        raise RtspError(f"bad {what} {text[:20]!r}")
    return int(text)
