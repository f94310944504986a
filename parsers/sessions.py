"""Per-flow application sessions: what protocol a flow speaks, and the records it carried.

The meter gives each new TCP or UDP flow a session (``new_session``) and hands it
the flow's payload while the session still wants it; a session says when it has
seen enough (a TLS handshake is over, an NTP exchange was read, the bytes are of
no protocol we know) and the meter then stops paying for it. Sessions keep what
the destination enrichment needs (``app``, ``sni``, ``host``, ``security``) after
they stop. Records go to the ``out`` list the meter passes in; malformed input is
counted in ``stats`` per protocol and ends the session's dissection, never the replay.

The protocol is chosen once per flow from the ``PROTOCOLS`` registry; a TCP session
only reassembles and hands the bytes to that protocol's reader (``parsers.streams``),
a UDP session reads each datagram with the protocol's ``Datagram`` (``parsers.datagrams``).

Bytes of no protocol we know still reach the content detectors: the first ``RAW_LIMIT``
bytes of each direction of such a TCP flow, the first datagram each way of such a UDP
flow (one only when it is RTP media), as ``raw`` records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from parsers.datagrams import UDP_MAX_PACKETS
from parsers.decrypt.dtlsflow import COAPS_PORT, DtlsFlow
from parsers.decrypt.keys import KeyLog
from parsers.events import AppRecord, Event, Record
from parsers.protocols import quic, rtp, tls
from parsers.registry import READABLE, TCP_PORTS, TCP_SNIFFED, UDP_PORTS, UDP_SNIFFED, Protocol
from parsers.streams import StreamReader
from parsers.tcpstream import HalfStream

TLS_LIMIT = 1 << 15  # bytes per direction kept for a handshake (certificate chains included)
READ_LIMIT = 1 << 20  # bytes per direction held unparsed for readable protocols (one message at most)
RAW_LIMIT = 1 << 12  # bytes per direction of a flow no dissector reads, kept for the content detectors
RAW_SEGMENTS = 16  # ... read from at most this many of the direction's segments
COAP_PORT = 5683  # RFC 7252 12.6: the clear protocol CoAP over DTLS carries
MALFORMED = (ValueError, IndexError, UnicodeError)  # what a dissector raises on bytes it cannot read


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
        """Whether the application data was read: a clear protocol's, or TLS decrypted with keys."""
        return self.app in READABLE or bool(self.plaintext)

    @property
    def plaintext(self) -> str:
        """Where the flow's encrypted content was read from ('tls-keylog', 'tls-dsb'), '' when it
        was not decrypted (clear, or no key): the flows row's ``decrypted`` (issue 16)."""
        return ""


def classify_tcp(first: bytes, up: bool, ports: tuple[int, int]) -> Protocol | None:
    """The protocol of a TCP flow from the first bytes of either direction, else its ports."""
    for p in TCP_SNIFFED:
        if p.sniff is not None and p.sniff(first, up):
            return p
    for port in ports:
        if port in TCP_PORTS:
            return TCP_PORTS[port]
    return None


class TcpSession(Session):
    """One TCP connection: both directions reassembled and handed to the protocol's reader."""

    __slots__ = ("dn", "keys", "raw", "reader", "stats", "tried", "up")

    def __init__(
        self, stats: Counter[str], ports: tuple[int, int] = (0, 0), keys: KeyLog | None = None
    ) -> None:
        super().__init__("", ports)
        self.stats = stats
        self.keys = keys  # session secrets: a TLS flow's records are opened and read on
        self.up: HalfStream | None = None
        self.dn: HalfStream | None = None
        self.reader: StreamReader | None = None  # chosen once the protocol is known
        self.tried = 0  # directions whose first bytes were of no known protocol
        self.raw = [0, 0]  # segments read of an unreadable direction; -1 once its raw record is out

    @property
    def plaintext(self) -> str:
        """The key source of a TLS flow whose records opened with its secrets, else ''."""
        dec = getattr(self.reader, "dec", None)  # parsers.tls_reader.TlsReader's decryption state
        if dec is None or not dec.ok or dec.secrets is None:
            return ""
        return str(dec.secrets.source)

    def feed(
        self, out: list[Record], flow: Any, up: int, ts: int, seq: int, payload: bytes, syn: int
    ) -> bool:
        """Add a segment; False once the session wants no more of this flow."""
        if self.up is None or self.dn is None:
            self.up, self.dn = HalfStream(TLS_LIMIT), HalfStream(TLS_LIMIT)
        half = self.up if up else self.dn
        half.add(seq, payload, bool(syn), ts)
        reader = self.reader
        if reader is not None:
            return reader.step(self, out, flow, up, half)
        if not half.data:
            return True
        if self.tried >> up & 1:  # this direction already proved unreadable: raw bytes
            return self._raw_step(out, flow, up)
        proto = classify_tcp(bytes(half.data[:2048]), bool(up), self.ports)
        if proto is None and len(half.data) <= 2:
            # a keep-alive probe's garbage byte (or a middlebox's) at the sequence number the
            # real data will reuse: forget it, the next segment starts the stream
            half.data.clear()
            half.base = -1
            return True
        if proto is None:
            # a capture that starts mid-connection may begin inside a response: the other
            # direction's first bytes (the next request) get their chance too; meanwhile
            # this direction's first bytes are kept for the content detectors
            self.tried |= 1 << up
            if self.tried == 3:
                self.stats["tcp_unclassified"] += 1
            half.limit = RAW_LIMIT
            del half.data[RAW_LIMIT:]
            return self._raw_step(out, flow, up)
        return self._start(proto, out, flow, up, half)

    def _start(self, proto: Protocol, out: list[Record], flow: Any, up: int, half: HalfStream) -> bool:
        """The flow's protocol is known: give its reader the bytes held so far."""
        self.app = proto.name
        other = self.dn if up else self.up
        assert other is not None
        if self.tried:  # the other direction's first bytes were no protocol's: raw, and it stays unread
            self._raw_emit(out, flow, 1 - up)
            other.data.clear()
            other.pending.clear()
            other.limit = 0
        self.security = proto.security
        if proto.stream is None:  # known (SSH) but nothing in it to read
            return False
        if proto.readable:
            half.limit = READ_LIMIT
            if not self.tried:
                other.limit = READ_LIMIT
        reader = self.reader = proto.stream()
        return reader.step(self, out, flow, up, half)

    def finish(self, out: list[Record], flow: Any) -> None:
        """The flow ended: dissect what is still held."""
        if self.reader is not None:
            self.reader.finish(self, out, flow)
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


# ---- UDP -------------------------------------------------------------------------------


class UdpSession(Session):
    """One UDP flow: every datagram of chatty name protocols, the first few of the rest."""

    __slots__ = ("crypto", "dtls", "inner", "keys", "packets", "proto", "raw", "stats")

    def __init__(
        self, proto: Protocol | None, stats: Counter[str], ports: tuple[int, int] = (0, 0),
        keys: KeyLog | None = None,
    ) -> None:  # fmt: skip
        super().__init__(proto.name if proto is not None else "", ports)
        self.proto = proto  # None until sniffed (QUIC, DTLS) or for good (raw)
        self.stats = stats
        self.packets = 0
        self.raw = 0  # directions whose first datagram went out as a raw record (1 down, 2 up)
        self.crypto: quic.InitialCrypto | None = None  # QUIC: the Initial's decryption, once begun
        self.security = proto.security if proto is not None else ""
        self.keys = keys  # session secrets: a DTLS flow's records are opened and read on
        self.dtls: DtlsFlow | None = None  # a DTLS flow's reading, once its first datagram came
        self.inner: Protocol | None = None  # the protocol of a DTLS flow's plaintext, once chosen

    @property
    def plaintext(self) -> str:
        """The key source of a DTLS flow whose records opened with its secrets, else ''."""
        return self.dtls.source if self.dtls is not None else ""

    def feed(
        self, out: list[Record], flow: Any, up: int, ts: int, seq: int, payload: bytes, syn: int
    ) -> bool:
        """Read a datagram; False once done. Where TCP's sequence number goes, the meter passes the
        datagram's payload length as sent (``syn`` is TCP's and unused): ``payload`` is shorter
        when the capture's snap length cut it."""
        self.packets += 1
        proto = self.proto
        if proto is None:
            proto = self._sniff(payload, up == 1) if self.packets == 1 else None
            if proto is None:
                return self._raw(out, flow, up == 1, ts, payload)
        if proto.datagram is None:  # DTLS: CoAP over DTLS by its port, or found by its first datagram
            return self._dtls(out, flow, up == 1, ts, payload)
        return self._read(proto, out, flow, up == 1, ts, payload, seq > len(payload))

    def feed_seen(
        self, out: list[Record], events: list[Event], flow: Any, up: bool, ts: int, payload: bytes,
        smac: bytes, src: bytes, wire: int = 0,
    ) -> bool:  # fmt: skip
        """A datagram of the session's protocol that also carries inventory evidence (DHCP, mDNS,
        SSDP): parsed once, for its records and for the events of ``smac``/``src`` it sent
        (``wire``: its payload length as sent, more than ``payload`` holds when cut)."""
        self.packets += 1
        proto = self.proto
        assert proto is not None and proto.datagram is not None and proto.inventory is not None
        extract = proto.inventory

        def seen(msg: Any) -> None:
            with suppress(*MALFORMED):  # the record may still be read: the two never depended on each other
                events.extend(extract(ts, smac, src, msg))

        return self._read(proto, out, flow, up, ts, payload, wire > len(payload), seen)

    def _read(
        self, proto: Protocol, out: list[Record], flow: Any, up: bool, ts: int, payload: bytes,
        cut: bool = False, seen: Callable[[Any], None] | None = None,
    ) -> bool:  # fmt: skip
        """Parse a datagram once, hand the message to ``seen`` (inventory evidence) if given, then
        read it into records; False once the flow needs no more datagrams. A datagram the snap
        length ``cut`` is read as far as it goes and counted ``truncated_``, never ``malformed_``."""
        dgram = proto.datagram
        assert dgram is not None
        parse = dgram.partial if cut and dgram.partial is not None else dgram.parse
        try:
            msg = parse(payload)
            if seen is not None:
                seen(msg)
            more = dgram.read(self, out, flow, up, ts, msg)
        except MALFORMED:
            self.stats[f"{'truncated' if cut else 'malformed'}_{proto.name}"] += 1
            return proto.readable  # one bad datagram does not end a flow of readable ones
        self.stats[f"{'truncated' if cut else 'dissected'}_{proto.name}"] += 1
        return more

    def _dtls(self, out: list[Record], flow: Any, up: bool, ts: int, payload: bytes) -> bool:
        """A DTLS datagram: its hellos read, its records opened when the key log has the flow's
        secrets, each decrypted datagram read as a clear one of its protocol (``DtlsFlow``)."""
        dec = self.dtls
        if dec is None:
            dec = self.dtls = DtlsFlow(self.keys, self.ports)
        more = dec.datagram(self.stats, out, flow, up, ts, payload)
        if not self.sni and dec.client is not None:
            self.sni = dec.client.sni
        if dec.server is not None and dec.server.version in tls.VERSIONS:
            self.security = tls.version_name(dec.server.version)  # dtls1.2, as TLS flows name theirs
        self._read_plain(out, flow)
        return more

    def _read_plain(self, out: list[Record], flow: Any) -> None:
        dec = self.dtls
        if dec is None or not dec.plain:
            return
        if self.inner is None:
            self.inner = dtls_inner(self.ports, dec.plain[0][2])
            if self.inner is None:
                self.stats["tls_plain_unclassified"] += 1
        n = len(out)
        if self.inner is not None:
            for up, ts, plain in dec.plain:
                self._read(self.inner, out, flow, up, ts, plain)
        dec.plain.clear()
        for r in out[n:]:
            if hasattr(r, "plain_source"):
                r.plain_source = dec.source

    def finish(self, out: list[Record], flow: Any) -> None:
        self.crypto = None
        if self.dtls is not None:
            self.dtls.finish(self.stats, out, flow)

    def _sniff(self, payload: bytes, up: bool) -> Protocol | None:
        """The protocol of a flow its ports did not name, from its first datagram (QUIC, DTLS)."""
        for p in UDP_SNIFFED:
            if p.sniff is not None and p.sniff(payload, up):
                self.proto, self.app, self.security = p, p.name, p.security
                return p
        return None

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


def dtls_inner(ports: tuple[int, int], first: bytes) -> Protocol | None:
    """The protocol of a DTLS flow's plaintext: CoAP on its DTLS port (RFC 7252 12.8), or when its
    first decrypted datagram parses as a CoAP message (a flow found by sniffing DTLS)."""
    proto = UDP_PORTS.get(COAP_PORT)
    if proto is None or proto.datagram is None:
        return None
    if COAPS_PORT in ports:
        return proto
    try:
        proto.datagram.parse(first)
    except MALFORMED:
        return None
    return proto


def new_session(
    proto: int, sport: int, dport: int, stats: Counter[str], keys: KeyLog | None = None
) -> TcpSession | UdpSession | None:
    """The session a new flow starts with (None for protocols without payload dissection);
    ``keys``: the capture's TLS session secrets, for TLS and DTLS flows to decrypt (issue 16)."""
    if proto == 6:
        return TcpSession(stats, (sport, dport), keys)
    if proto == 17:
        return UdpSession(UDP_PORTS.get(dport) or UDP_PORTS.get(sport), stats, (sport, dport), keys)
    return None
