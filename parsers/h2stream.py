"""HTTP/2 frames of a TCP connection's held bytes turned into ``HttpRecord``s.

The glue between a session's reassembled half streams and ``parsers.protocols.http2``:
shared by the h2c reader (``parsers.streams.Http2Reader``, prior knowledge), by HTTP/1's
reader once an ``Upgrade: h2c`` is answered by 101 (RFC 9113 3.2), and by whatever feeds
decrypted TLS plaintext with ALPN "h2" through the same readers. A record's ``index`` is
the HTTP/2 stream id: it pairs a request with its response as the http table's ``idx``
pairs HTTP/1 messages by their order.
"""

from __future__ import annotations

from typing import Any

from parsers.events import HttpRecord, Record
from parsers.protocols.http2 import H2Connection, sniff_preface
from parsers.session_types import TcpSession
from parsers.tcpstream import HalfStream

__all__ = ["H2Connection", "h2_records", "sniff_preface"]


def h2_records(
    conn: H2Connection,
    s: TcpSession,
    out: list[Record],
    flow: Any,
    up: bool,
    half: HalfStream,
    data: bytes,
    at: int,
    final: bool,
) -> int:
    """Read the frames in ``data[at:]`` of direction ``up``; where in ``data`` the frames read end.
    Raises ``ValueError`` when the bytes are not HTTP/2 framing (the caller counts it)."""
    msgs, used = conn.feed(up, data[at:] if at else data, half.start + at, final)
    for m in msgs:
        h = s.up if m.up else s.dn  # a reset stream may end the other direction's message
        ts = h.ts_at(m.offset) if h is not None else half.ts_at(half.start)
        if m.up and not s.host:
            s.host = m.msg.header("host").split(":")[0].lower()
        out.append(HttpRecord(flow, ts, m.up, m.stream_id, m.msg))
    for name, n in conn.stats.items():
        s.stats[name] += n
    conn.stats.clear()
    return at + used
