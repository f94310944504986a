"""One TCP TLS flow read with its session secrets: records of both directions opened, the
plaintext of each direction handed to the reader clear traffic of its protocol gets (issue 16).

``TlsReader`` (``parsers.streams``) hands a flow here once its clear handshake was dissected and
the meter has a ``KeyLog``. This walks each direction's records from the stream's start (the
hellos give the randoms, suite, version and encrypt-then-MAC), looks the ClientHello random up in
the key log, and opens every protected record: TLS 1.0-1.2 after each direction's
ChangeCipherSpec, TLS 1.3 every outer application_data record, handshake keys first, traffic keys
after that direction's Finished, the next generation after a KeyUpdate (RFC 8446 4.6.3). A
HelloRetryRequest (RFC 8446 4.1.3: a ServerHello whose random is SHA-256("HelloRetryRequest"))
is skipped; the second ClientHello keeps the first's random, which the key log names.

While a followed key log (``KeyLog.growing``, a live capture) may still name a flow's secrets (or the
rest of them), its records are held, at most ``KEY_WAIT_LIMIT`` bytes per direction; past that, or
at the flow's end, the flow counts as ``tls_no_key``. A key log read whole (replay) gives
``tls_no_key`` at once.
A first protected record that does not open counts ``tls_bad_key`` and the flow is left as
without keys; later failures count ``tls_record_failed`` and end that direction's reading.
"""

from __future__ import annotations

from collections import Counter
from contextlib import suppress
from typing import Any

from parsers.decrypt import schedule
from parsers.decrypt.keys import KeyLog, Secrets
from parsers.decrypt.record import BadRecord, RecordCipher
from parsers.decrypt.suites import SUITES, Suite
from parsers.events import Record
from parsers.protocols import tls
from parsers.session_types import TcpSession
from parsers.tcpstream import HalfStream

KEY_WAIT_LIMIT = 1 << 16  # ciphertext bytes held per direction while the secrets are not known
PLAIN_LIMIT = 1 << 20  # plaintext held unparsed per direction (as READ_LIMIT for clear flows)
HRR_RANDOM = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
)  # RFC 8446 4.1.3
SKIP_UNREAD = 8  # EncryptedExtensions, Certificate(s), CertificateVerify, Finished, tickets
EXT_ALPN, EXT_ETM = 16, 22  # RFC 7301, RFC 7366
BY_ALPN = {"h2": "http2", "http/1.1": "http", "http/1.0": "http", "mqtt": "mqtt", "dot": "dns"}
BY_PORT = {8883: "mqtt", 443: "http", 853: "dns"}  # IANA: MQTT over TLS, HTTPS, DNS over TLS


class PlainSession:
    """The session an inner reader sees: its own plaintext half streams, the flow's other fields."""

    __slots__ = ("dn", "outer", "up")

    def __init__(self, outer: TcpSession) -> None:
        self.outer = outer
        self.up: HalfStream | None = HalfStream(PLAIN_LIMIT)
        self.dn: HalfStream | None = HalfStream(PLAIN_LIMIT)

    @property
    def stats(self) -> Counter[str]:
        return self.outer.stats

    @property
    def sni(self) -> str:
        return self.outer.sni

    @sni.setter
    def sni(self, v: str) -> None:
        self.outer.sni = v

    @property
    def host(self) -> str:
        return self.outer.host

    @host.setter
    def host(self, v: str) -> None:
        self.outer.host = v

    @property
    def security(self) -> str:
        return self.outer.security

    @security.setter
    def security(self, v: str) -> None:
        pass  # the flow's security stays its TLS version


class TlsFlow:
    """The decryption state of one flow (both directions); index 1 is the client's direction."""

    __slots__ = (
        "alpn", "app", "cipher", "client_random", "etm", "failed", "hs", "inner", "keys", "ok", "opened",
        "plain", "plain_at", "ports", "rec", "secrets", "server_random", "skipped", "stopped", "suite",
        "version",
    )  # fmt: skip

    def __init__(self, keys: KeyLog, ports: tuple[int, int], rec: Any = None) -> None:
        self.keys = keys
        self.ports = ports
        self.rec = rec  # a TLS 1.3 handshake record held until its encrypted certificates are read
        self.secrets: Secrets | None = None
        self.client_random = self.server_random = b""
        self.suite: Suite | None = None
        self.version = 0
        self.etm = [False, False]  # encrypt_then_mac offered by the client, accepted by the server
        self.alpn = ""
        self.cipher: list[RecordCipher | None] = [None, None]  # [server, client] reading now
        self.app: list[tuple[bytes, RecordCipher] | None] = [
            None,
            None,
        ]  # TLS 1.2 after CCS; 1.3 after Finished
        self.hs = [bytearray(), bytearray()]  # handshake bytes not yet whole messages
        self.stopped = [False, False]
        self.skipped = [0, 0]  # TLS 1.3 handshake records passed over unread (no handshake secrets)
        self.opened = [False, False]  # a record of this direction opened
        self.ok = False  # a record opened: the keys are right
        self.failed = False  # the flow is left as without keys (no key, bad key, not readable)
        self.inner: Any = None  # the plaintext's reader, once chosen; False: none
        self.plain: PlainSession | None = None
        self.plain_at = [0, 0]

    # ---- driving ------------------------------------------------------------------------------

    def step(self, s: TcpSession, out: list[Record], flow: Any) -> bool:
        """Open every whole record held; False once nothing more of the flow will be read."""
        for up in (0, 1):  # the server's first: its hello keys both directions
            if not self.failed and not self.stopped[up]:
                self._pump(s, out, flow, up)
        if self.failed or self.stopped == [True, True]:
            return False
        if self.rec is not None and self.secrets is None and self.keys.lookup(self.client_random) is None:
            self._release_rec(out)  # no secrets yet: the handshake record goes out as without keys
        if self.secrets is None and self._waiting(s):
            if not self.keys.growing and self.client_random and self.keys.lookup(self.client_random) is None:
                self._fail(s, "tls_no_key")  # a key log read whole (replay): its keys are all there now
                return False
            for h in (s.up, s.dn):
                if h is not None and len(h.data) > KEY_WAIT_LIMIT:
                    self._fail(s, "tls_no_key")  # held enough: the keys are not coming in time
                    return False
        return True

    def finish(self, s: TcpSession, out: list[Record], flow: Any) -> None:
        if not self.failed:
            self.step(s, out, flow)
        if self.secrets is None and not self.failed and self._waiting(s):
            self._fail(s, "tls_no_key")
        self._release_rec(out)
        if self.inner and self.plain is not None:
            n = len(out)
            self.inner.finish(self.plain, out, flow)
            self._mark(out, n)

    def _waiting(self, s: TcpSession) -> bool:
        """Records are held for want of secrets."""
        return self.suite is not None and any(h is not None and len(h.data) >= 5 for h in (s.up, s.dn))

    def _fail(self, s: TcpSession, why: str) -> None:
        s.stats[why] += 1
        self.failed = True
        for h in (s.up, s.dn):
            if h is not None:
                h.data.clear()

    def _pump(self, s: TcpSession, out: list[Record], flow: Any, up: int) -> None:
        half = s.up if up else s.dn
        if half is None:
            return
        data, pos = half.data, 0
        while pos + 5 <= len(data) and not self.failed and not self.stopped[up]:
            ctype, n = data[pos], (data[pos + 3] << 8) | data[pos + 4]
            if tls.record_header_error(ctype, data[pos + 1], data[pos + 2], n):
                s.stats["tls_record_failed"] += 1
                self.stopped[up] = True
                break
            if pos + 5 + n > len(data):
                break
            at = half.start + pos
            frag = bytes(data[pos + 5 : pos + 5 + n])
            if not self._record(
                s, out, flow, up, half.ts_at(at), ctype, bytes(data[pos + 1 : pos + 3]), frag
            ):
                break  # wait for the secrets (or the other direction's hello)
            pos += 5 + n
        if self.stopped[up] or self.failed:
            pos = len(data)
        half.consume(pos)

    # ---- one record ---------------------------------------------------------------------------

    def _record(
        self,
        s: TcpSession,
        out: list[Record],
        flow: Any,
        up: int,
        ts: int,
        ctype: int,
        hv: bytes,
        frag: bytes,
    ) -> bool:
        """Read one whole record; False to hold it (and what follows) for now."""
        tls13 = self.version >= 0x0304
        protected = ctype == 23 if tls13 else self.cipher[up] is not None
        if not protected:
            if ctype == 22:
                self._clear_handshake(s, up, frag)
            elif ctype in (20, 23) and not self.version:
                return up == 0  # the client's CCS or flight before the server's hello was walked: hold
            elif ctype == 20 and not tls13:  # TLS <= 1.2: what follows is protected
                if not self._keys(s):
                    return False
                app = self.app[up]
                self.cipher[up] = app[1] if app is not None and not self.failed else None
            return True
        if self.cipher[up] is None and not self._keys(s):
            return False
        cipher = self.cipher[up]
        if cipher is None or self.failed:
            return True
        try:
            itype, plain = cipher.open(ctype, hv, frag)
        except BadRecord:
            self._bad(s, up)
            return True
        self.opened[up] = True
        if not self.ok:
            self.ok = True
            s.stats["tls_decrypted"] += 1
        if itype == 23:
            self._plain(s, out, flow, up, ts, plain)
        elif itype == 22 and tls13:
            self._handshake13(up, plain, out)
        return True

    def _bad(self, s: TcpSession, up: int) -> None:
        """A protected record did not open. Without TLS 1.3 handshake secrets the encrypted
        handshake cannot open: up to ``SKIP_UNREAD`` records each way are passed over."""
        no_hs = self.secrets is not None and self.version >= 0x0304 and not self.secrets.client_handshake
        if no_hs and not self.opened[up] and self.skipped[up] < SKIP_UNREAD:
            self.skipped[up] += 1
            return
        if not self.ok:
            self._fail(s, "tls_bad_key")
        else:
            s.stats["tls_record_failed"] += 1
            self.stopped[up] = True

    def _keys(self, s: TcpSession) -> bool:
        """Set up both directions' ciphers once the secrets are known; False while they are not."""
        if self.secrets is not None:
            return True
        if self.suite is None or not self.client_random:
            return False
        secrets = self.keys.lookup(self.client_random)
        if secrets is None:
            return False
        suite, v = self.suite, self.version
        if self.keys.growing and not (secrets.tls13 if v >= 0x0304 else secrets.master_secret):
            # a followed log may still be writing this session's lines: a server's log (the lab
            # interceptor's, issue 19) names the client's secrets only once the client's Finished is in
            return False
        self.secrets = secrets
        if v >= 0x0304:
            if not secrets.tls13:
                self._fail(s, "tls_no_key")
                return True
            for up, hs, app in ((1, secrets.client_handshake, secrets.client_traffic_0),
                                (0, secrets.server_handshake, secrets.server_traffic_0)):  # fmt: skip
                self.app[up] = (app, RecordCipher(suite, v, *schedule.traffic_keys(suite, app)))
                self.cipher[up] = (
                    RecordCipher(suite, v, *schedule.traffic_keys(suite, hs)) if hs else self.app[up][1]  # type: ignore[index]
                )
            return True
        if not secrets.master_secret or not self.server_random:
            self._fail(s, "tls_no_key")
            return True
        client, server = schedule.key_block(
            suite, v, secrets.master_secret, self.client_random, self.server_random
        )
        etm = self.etm[0] and self.etm[1] and not suite.aead
        for up, (mac, key, iv) in ((1, client), (0, server)):
            self.app[up] = (b"", RecordCipher(suite, v, key, iv, mac, etm))
        return True

    # ---- handshake messages -------------------------------------------------------------------

    def _messages(self, up: int, frag: bytes) -> list[tuple[int, bytes]]:
        buf = self.hs[up]
        buf += frag
        msgs, i = [], 0
        while i + 4 <= len(buf):
            n = int.from_bytes(buf[i + 1 : i + 4], "big")
            if i + 4 + n > len(buf):
                break
            msgs.append((buf[i], bytes(buf[i + 4 : i + 4 + n])))
            i += 4 + n
        del buf[:i]
        return msgs

    def _clear_handshake(self, s: TcpSession, up: int, frag: bytes) -> None:
        """Hellos in clear: the randoms, the suite, the version, encrypt-then-MAC, ALPN."""
        for mtype, body in self._messages(up, frag):
            try:
                if mtype == 1 and up and not self.client_random and len(body) >= 34:
                    self.client_random = body[2:34]
                    self.etm[1] = EXT_ETM in tls.parse_client_hello(body).extensions
                elif mtype == 2 and not up and len(body) >= 34 and body[2:34] != HRR_RANDOM:
                    sh = tls.parse_server_hello(body)
                    self.server_random, self.version = body[2:34], sh.version
                    self.suite = SUITES.get(sh.cipher)
                    self.etm[0] = EXT_ETM in sh.extensions
                    self.alpn = self.alpn or _alpn(body, hello=True)
                    if self.suite is None or self.suite.tls13 != (self.version >= 0x0304):
                        self._fail(s, "tls_unsupported_suite")  # a suite we do not open: left as today
            except (tls.TlsError, IndexError):
                continue

    def _handshake13(self, up: int, plain: bytes, out: list[Record]) -> None:
        """TLS 1.3 protected handshake: ALPN, certificates, Finished (to traffic keys), KeyUpdate."""
        suite = self.suite
        assert suite is not None
        for mtype, body in self._messages(up, plain):
            if mtype == 8 and not up:
                self.alpn = self.alpn or _alpn(body, hello=False)
            elif mtype == 11 and not up and self.rec is not None and not self.rec.certs:
                with suppress(tls.TlsError, IndexError, ValueError):
                    self.rec.certs = tls.parse_certificates(_tls13_chain(body))
                self._release_rec(out)
            elif mtype == 20:  # Finished: this direction's next records use the traffic keys
                app = self.app[up]
                if app is not None:
                    self.cipher[up] = app[1]
            elif mtype == 24:  # KeyUpdate: the sender's next generation (RFC 8446 4.6.3, 7.2)
                app = self.app[up]
                cipher = self.cipher[up]
                if app is not None and cipher is app[1]:
                    nxt = schedule.next_secret(suite, app[0])
                    cipher.update(*schedule.traffic_keys(suite, nxt))
                    self.app[up] = (nxt, cipher)

    def _release_rec(self, out: list[Record]) -> None:
        if self.rec is not None:
            out.append(self.rec)
            self.rec = None

    # ---- plaintext ----------------------------------------------------------------------------

    def _plain(self, s: TcpSession, out: list[Record], flow: Any, up: int, ts: int, plain: bytes) -> None:
        self._release_rec(out)  # application data began: the handshake is as read as it gets
        if not plain or self.inner is False:
            return
        if self.plain is None:
            self.plain = PlainSession(s)
        if self.inner is None:
            self.inner = _reader(self.alpn, plain, bool(up), self.ports)
            if self.inner is None:
                s.stats["tls_plain_unclassified"] += 1
                self.inner = False
                return
        half = self.plain.up if up else self.plain.dn
        assert half is not None
        half.add(self.plain_at[up] % (1 << 32), plain, False, ts)
        self.plain_at[up] += len(plain)
        n = len(out)
        more = self.inner.step(self.plain, out, flow, up, half)
        self._mark(out, n)
        if not more:
            self.inner.finish(self.plain, out, flow)
            self._mark(out, n)
            self.inner = False

    def _mark(self, out: list[Record], n: int) -> None:
        source = self.secrets.source if self.secrets is not None else ""
        for r in out[n:]:
            if hasattr(r, "plain_source"):
                r.plain_source = source


def _reader(alpn: str, first: bytes, up: bool, ports: tuple[int, int]) -> Any:
    """The reader of a decrypted stream: by ALPN, else the first bytes, else the port. ALPN "h2"
    (or the HTTP/2 preface) picks the registry's ``http2`` reader when there is one."""
    from parsers.registry import PROTOCOLS, TCP_SNIFFED  # here: the registry imports the readers

    by_name = {p.name: p for p in PROTOCOLS if p.transport == "tcp" and p.stream is not None}
    name = BY_ALPN.get(alpn, "")
    if first.startswith(b"PRI * HTTP/2.0"):
        name = "http2"
    if not name:
        for p in TCP_SNIFFED:
            if p.name != "tls" and p.sniff is not None and p.sniff(first, up):
                name = p.name
                break
    if not name:
        name = next((BY_PORT[p] for p in ports if p in BY_PORT), "")
    proto = by_name.get(name)
    return proto.stream() if proto is not None and proto.stream is not None else None


def _alpn(body: bytes, hello: bool) -> str:
    """The protocol a ServerHello (TLS 1.2) or EncryptedExtensions (TLS 1.3) selected (RFC 7301 3.1)."""
    try:
        pos = 0
        if hello:
            pos = 35 + body[34] + 3  # version, random, session id, suite, compression
        end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= min(end, len(body)):
            etype, n = (
                int.from_bytes(body[pos : pos + 2], "big"),
                int.from_bytes(body[pos + 2 : pos + 4], "big"),
            )
            if etype == EXT_ALPN and n >= 3:
                return body[pos + 7 : pos + 7 + body[pos + 6]].decode("latin-1")
            pos += 4 + n
    except IndexError:
        pass
    return ""


def _tls13_chain(body: bytes) -> bytes:
    """A TLS 1.3 Certificate message as TLS 1.2 lays it out: its request context and each entry's
    extensions dropped (RFC 8446 4.4.2), the DER certificates behind 24-bit lengths kept."""
    ctx = body[0]
    pos = 1 + ctx
    end = pos + 3 + int.from_bytes(body[pos : pos + 3], "big")
    pos += 3
    out = bytearray()
    while pos + 3 <= min(end, len(body)):
        n = int.from_bytes(body[pos : pos + 3], "big")
        out += body[pos : pos + 3 + n]
        pos += 3 + n
        pos += 2 + int.from_bytes(body[pos : pos + 2], "big")  # the entry's extensions
    return len(out).to_bytes(3, "big") + bytes(out)
