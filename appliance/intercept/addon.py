"""The interceptor's mitmproxy addon: which test each connection gets, and what the device did.

``Planner`` is the decision, kept apart from mitmproxy so it can be read (and tested) alone. Per
(device, server name), with ``--tls-tests once`` (the default) the first connections get the tests
of ``certs.TESTS`` in turn; once every test has its outcome, a destination that accepted one of the
forged certificates goes on being intercepted with it (that is what the device allows: its traffic
is decrypted), and one that refused all of them is passed through untouched, so the device keeps
working (issue 19; Blocking-without-Breaking, Mandalari et al., PETS 2021: never break the device
under test). A connection that arrives while outcomes are still awaited is passed through too.
``every-connection`` repeats the tests for ever (and breaks a device that refuses them);
``off`` runs no test: connections are answered with the interceptor's CA, as a proxy does for a
test phone that installed it, and a destination that refuses it once is passed through after.

``Interceptor`` is the addon: ``tls_clienthello`` asks the planner (passthrough is mitmproxy's
``ignore_connection``), ``tls_start_client`` serves the test's certificate from a pyOpenSSL context
of its own (TLS 1.0-1.1 only for ``legacy-tls``), and the outcome is told by what follows: the
first application data from the device (an HTTP request, a TCP message) is ``accepted``; a failed
handshake (alert, reset) or a connection closed without data is ``refused``. Outcomes are queued
for the capture session, which writes them with the flows they belong to.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import Any

from appliance.intercept.certs import CERT_TESTS, TESTS, Forger

MODES = ("off", "once", "every-connection")
PREFERRED = ("untrusted-ca", "self-signed", "expired", "leaf-as-ca", "wrong-host")  # to go on decrypting
INTERCEPT = "intercept"  # not a test: the certificate the device accepted, to read its traffic
ARP_TABLE = "/proc/net/arp"


@dataclass(frozen=True)
class Outcome:
    device_mac: str
    server_name: str
    test: str
    outcome: str  # accepted | refused
    reason: str
    tls_version: str
    ts_ns: int
    client: tuple[str, int]
    server: tuple[str, int]


@dataclass
class _Dest:
    given: int = 0  # tests handed out
    outcomes: dict[str, str] = field(default_factory=dict)  # test -> accepted | refused
    passthrough: bool = False


class Planner:
    """What each new connection of a (device, server name) gets: ('test', name), ('intercept', the
    accepted test whose certificate is served), or ('pass', '')."""

    def __init__(self, mode: str = "once") -> None:
        if mode not in MODES:
            raise ValueError(f"--tls-tests: {mode!r} is not one of {', '.join(MODES)}")
        self.mode = mode
        self.dests: dict[tuple[str, str], _Dest] = {}

    def next(self, mac: str, name: str) -> tuple[str, str]:
        d = self.dests.setdefault((mac, name), _Dest())
        if self.mode == "off":
            return ("pass", "") if d.passthrough else (INTERCEPT, "untrusted-ca")
        if self.mode == "every-connection" or d.given < len(TESTS):
            test = TESTS[d.given % len(TESTS)]
            d.given += 1
            return "test", test
        if len(d.outcomes) < len(TESTS):  # outcomes still awaited: never break the device meanwhile
            return "pass", ""
        for t in PREFERRED:
            if d.outcomes.get(t) == "accepted" and not d.passthrough:
                return INTERCEPT, t
        return "pass", ""

    def told(self, mac: str, name: str, test: str, outcome: str) -> None:
        d = self.dests.setdefault((mac, name), _Dest())
        if test == INTERCEPT or self.mode == "off":
            if outcome == "refused":  # it stopped accepting (or never did): leave it alone from now
                d.passthrough = True
            return
        d.outcomes[test] = outcome


def arp_lookup(ip: str, table: str = ARP_TABLE) -> str:
    """The MAC address the gateway has for ``ip`` (its neighbour table), '' when unknown."""
    try:
        with open(table) as fh:
            next(fh)
            for line in fh:
                cols = line.split()
                if len(cols) >= 4 and cols[0] == ip and cols[3] != "00:00:00:00:00:00":
                    return cols[3].lower()
    except (OSError, StopIteration):
        pass
    return ""


@dataclass
class _Conn:
    mac: str
    name: str
    test: str  # a test, or INTERCEPT (not recorded)
    served: str  # whose certificate is served
    ts_ns: int
    client: tuple[str, int]
    server: tuple[str, int]
    tls_version: str = ""
    done: bool = False


class Interceptor:
    """The mitmproxy addon (hooks named as mitmproxy's event hooks)."""

    def __init__(self, planner: Planner, forger: Forger, devices: set[str]) -> None:
        self.planner, self.forger, self.devices = planner, forger, devices
        self.outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self.conns: dict[str, _Conn] = {}
        self.counts = {"connections": 0, "tested": 0, "intercepted": 0, "passed": 0}
        self._contexts: dict[tuple[str, str], Any] = {}

    # -- hooks ---------------------------------------------------------------------------------

    def tls_clienthello(self, data: Any) -> None:
        client, server = data.context.client, data.context.server
        cip, cport = client.peername[0], client.peername[1]
        sip, sport = server.address if server.address else (client.sockname[0], client.sockname[1])
        name = data.client_hello.sni or sip
        mac = arp_lookup(cip)
        self.counts["connections"] += 1
        if mac not in self.devices:  # not a bench device (the rules should not have sent it here)
            data.ignore_connection = True
            self.counts["passed"] += 1
            return
        action, test = self.planner.next(mac, name)
        if action == "pass":
            data.ignore_connection = True
            self.counts["passed"] += 1
            return
        self.counts["tested" if action == "test" else "intercepted"] += 1
        ts = int(client.timestamp_start * 1e9) if client.timestamp_start else time.time_ns()
        self.conns[client.id] = _Conn(mac, name, test if action == "test" else INTERCEPT, test, ts,
                                      (cip, int(cport)), (sip, int(sport)))  # fmt: skip

    def tls_start_client(self, data: Any) -> None:
        c = self.conns.get(data.context.client.id)
        if c is None:
            return
        data.ssl_conn = self._connection(c.served, c.name, data.ssl_conn)

    def tls_established_client(self, data: Any) -> None:
        c = self.conns.get(data.context.client.id)
        if c is not None:
            c.tls_version = str(data.conn.tls_version or "")

    def tls_failed_client(self, data: Any) -> None:
        c = self.conns.get(data.context.client.id)
        if c is not None:
            self._conclude(c, "refused", str(data.conn.error or "handshake failed"))

    def requestheaders(self, flow: Any) -> None:
        c = self.conns.get(flow.client_conn.id)
        if c is not None:
            self._conclude(c, "accepted", "")

    def tcp_message(self, flow: Any) -> None:
        c = self.conns.get(flow.client_conn.id)
        if c is not None and flow.messages and flow.messages[-1].from_client:
            self._conclude(c, "accepted", "")

    def client_disconnected(self, client: Any) -> None:
        c = self.conns.pop(client.id, None)
        if c is not None and not c.done:
            self._conclude(c, "refused", "no data" if c.tls_version else "closed during the handshake")

    # -- the rest ------------------------------------------------------------------------------

    def _conclude(self, c: _Conn, outcome: str, reason: str) -> None:
        if c.done:
            return
        c.done = True
        self.planner.told(c.mac, c.name, c.test, outcome)
        if c.test != INTERCEPT:
            self.outcomes.put(Outcome(c.mac, c.name, c.test, outcome, reason, c.tls_version, c.ts_ns,
                                      c.client, c.server))  # fmt: skip

    def _connection(self, test: str, name: str, given: Any) -> Any:
        """A server-side pyOpenSSL connection serving ``test``'s certificate for ``name``."""
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        from mitmproxy import certs
        from mitmproxy.addons.tlsconfig import AppData, alpn_select_callback
        from mitmproxy.net import tls as net_tls
        from OpenSSL import SSL, crypto

        pem = self.forger.cert(test, name)
        legacy = test == "legacy-tls"
        ctx = self._contexts.get((test, name))
        if ctx is None:
            chain = tuple(certs.Cert.from_pem(p) for p in pem.chain[1:])
            ctx = net_tls.create_client_proxy_context(
                method=net_tls.Method.TLS_SERVER_METHOD,
                min_version=net_tls.Version.TLS1 if legacy else net_tls.Version.TLS1_2,
                max_version=net_tls.Version.TLS1_1 if legacy else net_tls.Version.UNBOUNDED,
                # RFC 8996 versions need OpenSSL's security level 0 (pyca/cryptography issue 9523)
                cipher_list=("DEFAULT:@SECLEVEL=0",) if legacy else None,
                ecdh_curve=None,
                chain_file=None,
                alpn_select_callback=alpn_select_callback,
                request_client_cert=False,
                extra_chain_certs=chain,
                dhparams=None,
            )
            self._contexts[(test, name)] = ctx
        conn = SSL.Connection(ctx)
        conn.use_certificate(certs.Cert.from_pem(pem.chain[0]).to_pyopenssl())
        conn.use_privatekey(crypto.PKey.from_cryptography_key(load_pem_private_key(pem.key, None)))  # type: ignore[arg-type]
        app = given.get_app_data() if given is not None else None
        conn.set_app_data(app or AppData(client_alpn=None, server_alpn=None, http2=False))
        conn.set_accept_state()
        return conn


assert set(PREFERRED) == set(CERT_TESTS)
