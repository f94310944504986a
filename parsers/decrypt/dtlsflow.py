"""One DTLS flow (CoAP over DTLS, RFC 7252 9): hellos read in clear, records opened with the key
log's secrets, the plaintext datagrams handed to the reader clear traffic of their protocol gets
(issue 16: "CoAP-over-DTLS only if keys are available").

DTLS 1.0 and 1.2 (RFC 6347) keep TLS 1.1 and 1.2's key schedule and record protection; what
differs is the record header (RFC 6347 4.1: type, version, epoch, 48-bit sequence number, length:
13 bytes) and the handshake header (4.2.2: message_seq, fragment_offset and fragment_length after
the length: 12 bytes, a message may come in fragments). The MAC and AEAD sequence number is the
record's epoch and sequence number together (4.1.2.1), so each record opens on its own, whatever
was lost or reordered before it. The ClientHello carries a cookie after its session id (4.2.1),
the same random in its first and its cookie-bearing second sending. Epoch 0 is clear; epoch 1
is the session negotiated by the hellos; a later epoch (renegotiation) is counted, not read.
DTLS 1.3 (RFC 9147) encrypts its record numbers and is not read: ``tls_unsupported_suite``.

Without secrets the hellos still give the flow's ``tls`` row (server name, suites, JA4 with
transport ``d``); a key log read whole then counts the flow ``tls_no_key`` at its first protected
record, and a followed one (live capture) has its records held, ``KEY_WAIT_LIMIT`` bytes at most.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from parsers.decrypt import schedule
from parsers.decrypt.keys import KeyLog, Secrets
from parsers.decrypt.record import BadRecord, RecordCipher
from parsers.decrypt.suites import SUITES, Suite
from parsers.decrypt.tlsflow import EXT_ETM, KEY_WAIT_LIMIT
from parsers.events import Record, TlsRecord
from parsers.protocols import tls

HEADER = 13  # RFC 6347 4.1
HS_HEADER = 12  # RFC 6347 4.2.2
HELLO_LIMIT = 1 << 14  # bytes a ClientHello or ServerHello may take, reassembled
# DTLS wire versions and the TLS versions whose PRF and record protection they use (RFC 6347 4.1)
AS_TLS = {0xFEFF: 0x0302, 0xFEFD: 0x0303}
DTLS13 = 0xFEFC
COAPS_PORT = 5684  # RFC 7252 12.8


def dtls_records(payload: bytes) -> tuple[list[tuple[int, bytes, int, int, bytes]], bool]:
    """The records of one datagram as (type, version bytes, epoch, sequence number, fragment), and
    whether it ended in bytes that are no whole record (cut by the snap length, or not DTLS)."""
    out: list[tuple[int, bytes, int, int, bytes]] = []
    pos, n = 0, len(payload)
    while pos + HEADER <= n:
        ctype, v0 = payload[pos], payload[pos + 1]
        if not 20 <= ctype <= 25 or v0 != 0xFE:
            return out, True
        epoch = int.from_bytes(payload[pos + 3 : pos + 5], "big")
        seq = int.from_bytes(payload[pos + 5 : pos + 11], "big")
        size = int.from_bytes(payload[pos + 11 : pos + 13], "big")
        if pos + HEADER + size > n:
            return out, True
        out.append(
            (ctype, payload[pos + 1 : pos + 3], epoch, seq, payload[pos + HEADER : pos + HEADER + size])
        )
        pos += HEADER + size
    return out, pos != n


def client_hello(body: bytes) -> tls.ClientHello:
    """A DTLS ClientHello parsed as TLS lays it out: its cookie (RFC 6347 4.2.1) taken out."""
    sid_end = 35 + body[34]
    cookie_end = sid_end + 1 + body[sid_end]
    if cookie_end > len(body):
        raise tls.TlsError("DTLS ClientHello cut in its cookie")
    return tls.parse_client_hello(body[:sid_end] + body[cookie_end:])


class Reassembly:
    """One handshake message's fragments (RFC 6347 4.2.3), duplicates and retransmissions included."""

    __slots__ = ("body", "have", "length")

    def __init__(self, length: int) -> None:
        self.length = length
        self.body = bytearray(length)
        self.have: list[tuple[int, int]] = []  # byte ranges received, merged

    def add(self, offset: int, frag: bytes) -> bytes | None:
        """The whole message once every byte of it arrived, else None."""
        end = min(offset + len(frag), self.length)
        if offset >= end:
            return None
        self.body[offset:end] = frag[: end - offset]
        spans = sorted([*self.have, (offset, end)])
        merged = [spans[0]]
        for a, b in spans[1:]:
            if a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        self.have = merged
        return bytes(self.body) if merged == [(0, self.length)] else None


class DtlsFlow:
    """The reading state of one DTLS flow (both directions); index 1 is the client's direction."""

    __slots__ = (
        "cipher", "client", "client_random", "etm", "failed", "held", "held_bytes", "hello_ts", "hs", "keys",
        "ok", "plain", "ports", "secrets", "server", "server_random", "suite", "version",
    )  # fmt: skip

    def __init__(self, keys: KeyLog | None, ports: tuple[int, int]) -> None:
        self.keys = keys
        self.ports = ports
        self.secrets: Secrets | None = None
        self.client: tls.ClientHello | None = None
        self.server: tls.ServerHello | None = None
        self.client_random = self.server_random = b""
        self.hello_ts = 0
        self.suite: Suite | None = None
        self.version = 0  # the TLS version the DTLS one maps to (AS_TLS)
        self.etm = [False, False]  # encrypt_then_mac accepted by the server, offered by the client
        self.cipher: list[RecordCipher | None] = [None, None]  # [server, client]
        self.hs: dict[tuple[int, int], Reassembly] = {}  # (direction, message type) -> fragments
        self.held: list[tuple[int, int, int, bytes, int, bytes]] = []  # records waiting for secrets
        self.held_bytes = 0
        self.ok = False  # a protected record opened: the keys are right
        self.failed = False  # left as without keys (no key, bad key, a suite not read)
        self.plain: list[tuple[bool, int, bytes]] = []  # (client's, time, datagram) opened, not yet read

    @property
    def source(self) -> str:
        """Where the flow's plaintext came from, '' when nothing was decrypted (``Session.plaintext``)."""
        return self.secrets.source if self.ok and self.secrets is not None else ""

    def datagram(
        self, stats: Counter[str], out: list[Record], flow: Any, up: bool, ts: int, payload: bytes
    ) -> bool:
        """Read one datagram's records (the hellos' ``tls`` record into ``out``, the application
        data opened into ``plain``); False once nothing more of the flow will be read."""
        records, cut = dtls_records(payload)
        if cut:
            stats["truncated_dtls"] += 1  # its whole records are read, the rest is counted
        d = int(up)
        for ctype, hv, epoch, seq, frag in records:
            if epoch == 0:
                if ctype == 22:
                    self._clear_handshake(stats, out, flow, d, ts, frag)
                continue
            if self.failed:
                break
            if self.keys is None:
                return False  # no key log at all: the hellos were all there was to read
            if epoch != 1:
                stats["tls_record_failed"] += 1  # a renegotiated epoch: its keys are not logged
                continue
            if not self._keys(stats):
                if self.failed:
                    break
                self._hold(stats, d, ts, ctype, hv, epoch << 48 | seq, frag)
                continue
            self._open(stats, out, flow, d, ts, ctype, hv, epoch << 48 | seq, frag)
        if self.keys is None:
            return self.server is None  # hellos still to come
        return not self.failed

    def finish(self, stats: Counter[str], out: list[Record], flow: Any) -> None:
        if self.held and not self.failed:
            stats["tls_no_key"] += 1  # the flow ended before its secrets came
        self.held.clear()
        if self.client is not None and self.server is None:  # the server never answered
            out.append(TlsRecord(flow, self.hello_ts, "dtls", client=self.client))

    # ---- secrets and records --------------------------------------------------------------------

    def _keys(self, stats: Counter[str]) -> bool:
        """Both directions' ciphers, once the hellos and the secrets are known; False while not."""
        if self.cipher[0] is not None:
            return True
        if self.suite is None or not self.server_random or self.keys is None:
            if not self.keys_growing:
                self._fail(stats, "tls_no_key")  # no hellos seen (or a suite not read): nothing to look up
            return False
        secrets = self.keys.lookup(self.client_random)
        if secrets is None or not secrets.master_secret:
            if not self.keys_growing:
                self._fail(stats, "tls_no_key")
            return False
        self.secrets = secrets
        client, server = schedule.key_block(
            self.suite, self.version, secrets.master_secret, self.client_random, self.server_random
        )
        etm = self.etm[0] and self.etm[1] and not self.suite.aead
        for d, (mac, key, iv) in ((1, client), (0, server)):
            self.cipher[d] = RecordCipher(self.suite, self.version, key, iv, mac, etm)
        return True

    @property
    def keys_growing(self) -> bool:
        return self.keys is not None and self.keys.growing

    def _hold(
        self, stats: Counter[str], d: int, ts: int, ctype: int, hv: bytes, seq: int, frag: bytes
    ) -> None:
        """Keep a protected record for secrets a followed key log may still bring."""
        if self.held_bytes + len(frag) > KEY_WAIT_LIMIT:
            self._fail(stats, "tls_no_key")
            return
        self.held.append((d, ts, ctype, hv, seq, frag))
        self.held_bytes += len(frag)

    def _open(
        self, stats: Counter[str], out: list[Record], flow: Any, d: int, ts: int, ctype: int, hv: bytes,
        seq: int, frag: bytes,
    ) -> None:  # fmt: skip
        if self.held:
            held, self.held, self.held_bytes = self.held, [], 0
            for rec in held:
                self._open(stats, out, flow, *rec)
        cipher = self.cipher[d]
        if cipher is None or self.failed:
            return
        cipher.seq = seq  # epoch and sequence number, as the MAC and nonce take them (RFC 6347 4.1.2.1)
        try:
            itype, plain = cipher.open(ctype, hv, frag)
        except BadRecord:
            if self.ok:
                stats["tls_record_failed"] += 1  # one datagram corrupt: the next ones still open
            else:
                self._fail(stats, "tls_bad_key")
            return
        if not self.ok:
            self.ok = True
            stats["tls_decrypted"] += 1
        if itype == 23 and plain:
            self.plain.append((bool(d), ts, plain))

    def _fail(self, stats: Counter[str], why: str) -> None:
        stats[why] += 1
        self.failed = True
        self.held.clear()

    # ---- handshake in clear ---------------------------------------------------------------------

    def _clear_handshake(
        self, stats: Counter[str], out: list[Record], flow: Any, d: int, ts: int, frag: bytes
    ) -> None:
        """The hellos, reassembled from their fragments; the ClientHello and ServerHello go out as
        the flow's ``tls`` record once both were read (or the client's alone, if the server's never comes)."""
        pos = 0
        while pos + HS_HEADER <= len(frag):
            mtype = frag[pos]
            length = int.from_bytes(frag[pos + 1 : pos + 4], "big")
            offset = int.from_bytes(frag[pos + 6 : pos + 9], "big")
            flen = int.from_bytes(frag[pos + 9 : pos + 12], "big")
            piece = frag[pos + HS_HEADER : pos + HS_HEADER + flen]
            pos += HS_HEADER + flen
            if mtype not in (1, 2) or length > HELLO_LIMIT or (mtype == 1) != bool(d):
                continue
            if (mtype == 1 and self.client is not None) or (mtype == 2 and self.server is not None):
                continue  # a retransmission, or the cookie-bearing resend with the same random
            body = self.hs.setdefault((d, mtype), Reassembly(length)).add(offset, piece)
            if body is None:
                continue
            del self.hs[(d, mtype)]
            try:
                if mtype == 1:
                    self._client_hello(body)
                    self.hello_ts = ts
                else:
                    self._server_hello(stats, body)
            except (tls.TlsError, IndexError):
                stats["malformed_dtls"] += 1
                continue
            if mtype == 2:
                out.append(TlsRecord(flow, ts, "dtls", client=self.client, server=self.server))

    def _client_hello(self, body: bytes) -> None:
        if len(body) < 35:
            raise tls.TlsError("DTLS ClientHello too short")
        self.client = client_hello(body)
        self.client_random = body[2:34]
        self.etm[1] = EXT_ETM in self.client.extensions

    def _server_hello(self, stats: Counter[str], body: bytes) -> None:
        sh = tls.parse_server_hello(body)
        self.server, self.server_random = sh, body[2:34]
        self.etm[0] = EXT_ETM in sh.extensions
        self.version = AS_TLS.get(sh.version, 0)
        suite = SUITES.get(sh.cipher)
        if self.keys is not None and (not self.version or suite is None or suite.tls13):
            self._fail(stats, "tls_unsupported_suite")  # DTLS 1.3, or a suite we do not open
            return
        self.suite = suite
