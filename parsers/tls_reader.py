"""The TLS reader of a TCP connection: the clear handshake dissected once, and with the session
secrets of a key log or DSB (``TcpSession.keys``) every later record opened and its plaintext read
by the reader clear traffic of that protocol gets (``parsers.decrypt.tlsflow``, issue 16)."""

from __future__ import annotations

from typing import Any

from parsers.decrypt.tlsflow import KEY_WAIT_LIMIT, TlsFlow
from parsers.events import Record, TlsRecord
from parsers.protocols import tls
from parsers.session_types import TcpSession
from parsers.streams import StreamReader, tls_record_start
from parsers.tcpstream import HalfStream


class TlsReader(StreamReader):
    """Both directions up to the first encrypted record; the handshake dissected once. With a
    key log (``s.keys``), the flow's records are then opened and read on (``TlsFlow``)."""

    __slots__ = ("both", "dec", "done", "pos")
    name = "tls"

    def __init__(self) -> None:
        self.pos = [0, 0]  # next record header per direction; -1 once past the clear handshake
        self.done = False  # the record went out
        self.dec: TlsFlow | None = None  # decrypting, once the handshake was dissected with a key log
        self.both = True  # the first step walks both directions, later ones the one that got bytes

    def step(self, s: TcpSession, out: list[Record], flow: Any, up: int, half: HalfStream) -> bool:
        """Walk new record headers only; dissect once both directions left the clear handshake.

        The first step walks both directions (either may hold bytes from before the protocol was
        known); after that only the direction that got bytes can have changed (the session steps
        after every segment it adds), so only it is walked again."""
        if self.dec is not None:
            return self.dec.step(s, out, flow)
        assert s.up is not None and s.dn is not None
        pos = self.pos
        if self.both:
            self.both = False
            _walk(pos, 0, s.up)
            _walk(pos, 1, s.dn)
        else:  # pos[0] is the initiator's direction (``s.up``), pos[1] the responder's
            _walk(pos, 0 if up else 1, half)
        if pos[0] < 0 and pos[1] < 0:
            n = len(out)
            self._emit(s, out, flow)
            if s.keys is not None and len(out) > n:
                return self._decrypt(s, out, flow, n)
            s.up = s.dn = None
            return False
        return True

    def _decrypt(self, s: TcpSession, out: list[Record], flow: Any, n: int) -> bool:
        """Read on with the key log, from the stream's start (a TLS 1.3 handshake record waits
        for its encrypted certificates)."""
        assert s.keys is not None and s.up is not None and s.dn is not None
        rec = out[n]
        hold = rec if isinstance(rec, TlsRecord) and _tls13(rec.server) else None
        del out[n : n + (hold is not None)]
        self.dec = TlsFlow(s.keys, s.ports, hold)
        s.up.limit = s.dn.limit = KEY_WAIT_LIMIT + 2 * tls.MAX_RECORD
        return self.dec.step(s, out, flow)

    def finish(self, s: TcpSession, out: list[Record], flow: Any) -> None:
        if self.dec is not None:
            self.dec.finish(s, out, flow)
        elif not self.done:
            self._emit(s, out, flow)

    def _emit(self, s: TcpSession, out: list[Record], flow: Any) -> None:
        """Dissect both directions' clear part once. The flow counts as ``malformed_tls`` when a
        direction's records or hellos are not TLS (its hellos read before that are kept), else as
        ``truncated_tls`` when a direction stops inside a record for want of bytes (the capture
        or the flow ended there; a direction that filled its window is neither), else as
        ``dissected_tls``."""
        assert s.up is not None and s.dn is not None
        self.done = True
        rec = TlsRecord(flow, s.up.ts_at(0) or s.dn.ts_at(0), "tcp")
        malformed = truncated = False
        for half in (s.up, s.dn):
            try:
                scan = tls.scan_records(bytes(half.data))
                malformed = malformed or bool(scan.malformed)
                truncated = truncated or (scan.truncated and not half.full)
                rec.alerts += scan.alerts
                for mtype, body in scan.handshake:
                    if mtype == 1 and rec.client is None and half is s.up:
                        rec.client = tls.parse_client_hello(body)
                    elif mtype == 2 and rec.server is None and half is s.dn:
                        rec.server = tls.parse_server_hello(body)
                    elif mtype == 11 and half is s.dn and not rec.certs and not _tls13(rec.server):
                        rec.certs = tls.parse_certificates(body)  # sent in clear up to TLS 1.2
            except tls.TlsError:
                malformed = True
        read = rec.client is not None or rec.server is not None or bool(rec.alerts)
        if malformed or truncated or read:
            s.stats["malformed_tls" if malformed else "truncated_tls" if truncated else "dissected_tls"] += 1
        if not read:
            s.security = "tls"
            return
        if rec.client is not None:
            s.sni = rec.client.sni
        version = rec.server.version if rec.server is not None else 0
        s.security = tls.version_name(version) if version in tls.VERSIONS else "tls"
        if s.sni and version == 0 and rec.client is not None and rec.client.version >= 0x0304:
            s.security = "tls"  # offered 1.3 but the answer was not seen
        out.append(rec)


def _tls13(server: tls.ServerHello | None) -> bool:
    return server is not None and server.version >= 0x0304


def _walk(pos: list[int], i: int, h: HalfStream) -> None:
    """Walk direction ``i``'s new record headers from ``pos[i]``; -1 once its clear handshake is
    over (a record neither alert nor handshake, or the window full)."""
    at = pos[i]
    if at < 0:
        return
    data = h.data
    if h.start == 0 and 0 < len(data) <= 8 and not tls_record_start(data):
        data.clear()  # keep-alive garbage ahead of the handshake (see TcpSession.feed)
        h.base = -1
    while at + 5 <= len(data):
        if data[at] not in (21, 22):  # CCS, application data or not TLS: the clear part is over
            at = -1
            break
        at += 5 + ((data[at + 3] << 8) | data[at + 4])
    if at >= 0 and h.full:
        at = -1
    pos[i] = at
