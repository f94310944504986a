"""A lab network whose appliance is the devices' gateway, for the interceptor's tests (needs root).

    dev1, dev2, dev3, phone --veth-- [ gw: bridge 10.78.0.1, routes ] --veth-- cloud 10.79.0.2

``gateway_lab()`` builds the namespaces with random-suffixed names: four clients on the LAN bridge of
ns "gw" (the appliance: IPv4 forwarding on, no NAT), and ns "cloud" with the servers: HTTPS on :443
(a certificate for ``HTTPS_HOST`` from the lab's own CA, ``Lab.ca_pem``), plain HTTP on :80 and UDP
responders on :53 and :123, each recording who spoke to it (JSON lines in the work folder). The lab
CA also signs ``OTHER_HOST``'s certificate, a name the devices trust but do not ask for: the
interceptor's "wrong host" test. IPv6 is off; nothing leaves the namespaces the lab creates.

The devices are this file run as a script (``device`` below, inside a device namespace): real
Python ``ssl`` clients in three configurations (``MODES``), each making ``--requests`` HTTPS POSTs
of its location, one connection each, retrying a failed one, and writing every attempt as JSON (the
ground truth). ``python tests/support/gwlab.py servers DIR`` is the cloud.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LAN_GW = "10.78.0.1"
LAN = "10.78.0.0/24"
WAN_GW = "10.79.0.1"
CLOUD_IP = "10.79.0.2"
HTTPS_HOST = "api.watch.example-imoo.cn"
OTHER_HOST = "other.example-imoo.cn"
IMEI = "356938035643809"
LAT, LNG = 31.230416, 121.473701  # 6 decimals: the precision the observer must report
MODES = ("validating", "nocheck", "nohost")  # ssl with a CA bundle; CERT_NONE; chain but no host name
HERE = Path(__file__).resolve()
HTTPS_FILE, HTTP_FILE, UDP_FILE = "https.jsonl", "http.jsonl", "udp.jsonl"


def _run(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=30)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run(["ip", *args], check=check)


def _cert(names: Sequence[str], issuer: Any = None, ca: bool = False) -> tuple[Any, Any]:
    """(certificate, key) with the ``cryptography`` package: a CA, or a leaf for ``names``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    icert, ikey = issuer if issuer else (None, key)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(icert.subject if icert is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return b.sign(ikey, hashes.SHA256()), key


def _write(cert: Any, key: Any, cert_path: Path, key_path: Path | None = None) -> None:
    from cryptography.hazmat.primitives import serialization

    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key_path is not None:
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


@dataclass
class Client:
    role: str  # a MODES entry, or "phone" (not on the bench)
    ns: str
    iface: str  # in ns
    port: str  # its bridge port in ns gw
    mac: str
    ip: str


@dataclass
class Lab:
    suffix: str
    ns_gw: str
    ns_cloud: str
    bridge: str  # in ns gw, LAN_GW: capture here
    clients: dict[str, Client]
    workdir: Path
    procs: list[subprocess.Popen[Any]] = field(default_factory=list)

    @property
    def namespaces(self) -> list[str]:
        return [self.ns_gw, self.ns_cloud, *(c.ns for c in self.clients.values())]

    @property
    def ca_pem(self) -> Path:
        return self.workdir / "labca.pem"

    def argv(self, ns: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]

    def popen(self, ns: str, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        p: subprocess.Popen[Any] = subprocess.Popen(self.argv(ns, argv), **kw)
        self.procs.append(p)
        return p

    def run(self, ns: str, argv: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[Any]:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(self.argv(ns, argv), check=kw.pop("check", False), **kw)

    def device_argv(self, role: str, out: Path, requests: int, period: float) -> list[str]:
        return [sys.executable, str(HERE), "device", "--mode", role, "--ca", str(self.ca_pem),
                "--out", str(out), "--requests", str(requests), "--period", str(period)]  # fmt: skip

    def server_sha256(self) -> str:
        """sha256 of the real server's certificate (DER): what a passed-through connection shows."""
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert((self.workdir / "server.pem").read_text())).hexdigest()

    def records(self, name: str) -> list[dict[str, Any]]:
        p = self.workdir / name
        return [json.loads(x) for x in p.read_text().splitlines() if x.strip()] if p.exists() else []


def _stop(p: subprocess.Popen[Any]) -> None:
    if p.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


@contextlib.contextmanager
def gateway_lab(prefix: str = "ic") -> Iterator[Lab]:
    """Build the gateway lab and its cloud's servers; tear everything down on exit."""
    if os.geteuid() != 0:
        raise PermissionError("gateway_lab needs root (network namespaces)")
    sfx = secrets.token_hex(3)
    roles = [*MODES, "phone"]
    clients = {}
    for i, r in enumerate(roles):
        mac = "02:78:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3)) + f":{i:02x}"
        clients[r] = Client(r, f"{prefix}-{r}-{sfx}", f"{prefix}d{i}{sfx}", f"{prefix}g{i}{sfx}", mac,
                            f"10.78.0.{11 + i}")  # fmt: skip
    lab = Lab(sfx, f"{prefix}-gw-{sfx}", f"{prefix}-cloud-{sfx}", f"{prefix}br{sfx}", clients,
              Path(tempfile.mkdtemp(prefix=f"gwlab-{sfx}-")))  # fmt: skip
    created: list[str] = []
    try:
        for ns in lab.namespaces:
            _ip("netns", "add", ns)
            created.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            _run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                  "net.ipv6.conf.default.disable_ipv6=1"])  # fmt: skip
        gw, cl = lab.ns_gw, lab.ns_cloud
        _ip("-n", gw, "link", "add", lab.bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0")
        _ip("-n", gw, "addr", "add", f"{LAN_GW}/24", "dev", lab.bridge)
        _ip("-n", gw, "link", "set", lab.bridge, "up")
        wg, wc = f"{prefix}wg{sfx}", f"{prefix}wc{sfx}"
        _ip("-n", gw, "link", "add", wg, "type", "veth", "peer", "name", wc, "netns", cl)
        _ip("-n", gw, "addr", "add", f"{WAN_GW}/24", "dev", wg)
        _ip("-n", gw, "link", "set", wg, "up")
        _ip("-n", cl, "addr", "add", f"{CLOUD_IP}/24", "dev", wc)
        _ip("-n", cl, "link", "set", wc, "up")
        _ip("-n", cl, "route", "add", LAN, "via", WAN_GW)
        # forwarding on; and the bridge hands frames to IP without netfilter's bridge hooks
        # (br_netfilter), so the capture on it sees the devices' packets before the redirect
        _run(["ip", "netns", "exec", gw, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
        _run(
            ["ip", "netns", "exec", gw, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0"], check=False
        )
        for c in clients.values():
            _ip("-n", gw, "link", "add", c.port, "type", "veth", "peer", "name", c.iface, "netns", c.ns)
            _ip("-n", gw, "link", "set", c.port, "master", lab.bridge)
            _ip("-n", gw, "link", "set", c.port, "up")
            _ip("-n", c.ns, "link", "set", c.iface, "address", c.mac)
            _ip("-n", c.ns, "addr", "add", f"{c.ip}/24", "dev", c.iface)
            _ip("-n", c.ns, "link", "set", c.iface, "up")
            _ip("-n", c.ns, "route", "add", "default", "via", LAN_GW)
        wd = lab.workdir
        ca = _cert(["tapaudit gwlab cloud CA"], ca=True)
        _write(*ca, lab.ca_pem)
        _write(*_cert([HTTPS_HOST], ca), wd / "server.pem", wd / "server.key")
        _write(*_cert([OTHER_HOST], ca), wd / "other.pem", wd / "other.key")
        lab.popen(cl, [sys.executable, str(HERE), "servers", str(wd)], stdout=subprocess.DEVNULL,
                  stderr=open(wd / "servers.stderr", "wb"))  # fmt: skip  # noqa: SIM115
        deadline = time.monotonic() + 30
        while not (wd / "servers.ready").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("the cloud's servers did not start")
            time.sleep(0.05)
        yield lab
    finally:
        for p in reversed(lab.procs):
            with contextlib.suppress(Exception):
                _stop(p)
        for ns in created:
            for pid in _ip("netns", "pids", ns, check=False).stdout.split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
        for ns in created:
            _ip("netns", "del", ns, check=False)
        if not os.environ.get("GWLAB_KEEP"):
            shutil.rmtree(lab.workdir, ignore_errors=True)


# ---------------------------------------------------------------- the cloud


def servers_main(wd: Path) -> None:
    lock = threading.Lock()

    def append(name: str, rec: dict[str, Any]) -> None:
        with lock, open(wd / name, "a") as f:
            f.write(json.dumps(rec) + "\n")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            tls = self.server.server_port == 443  # type: ignore[attr-defined]
            append(HTTPS_FILE if tls else HTTP_FILE, {"ts": time.time(), "client": self.client_address[0],
                   "path": self.path, "body": body.decode("utf-8", "replace")})  # fmt: skip
            self.send_response(200)
            self.send_header("Content-Length", "11")
            self.end_headers()
            self.wfile.write(b'{"ok":true}')

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(wd / "server.pem", wd / "server.key")

    class TLSServer(ThreadingHTTPServer):
        def get_request(self) -> tuple[Any, Any]:
            sock, addr = super().get_request()
            return ctx.wrap_socket(sock, server_side=True), addr

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass

    servers: list[Any] = [ThreadingHTTPServer((CLOUD_IP, 80), Handler), TLSServer((CLOUD_IP, 443), Handler)]
    for srv in servers:
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()

    def udp(port: int) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((CLOUD_IP, port))
        while True:
            data, addr = s.recvfrom(2048)
            append(UDP_FILE, {"ts": time.time(), "port": port, "client": addr[0], "len": len(data)})
            s.sendto(data, addr)

    for port in (53, 123):
        threading.Thread(target=udp, args=(port,), daemon=True).start()
    (wd / "servers.ready").write_text(str(os.getpid()))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()


# ---------------------------------------------------------------- a device


def context(mode: str, ca: str) -> ssl.SSLContext:
    """The device's TLS client: ``validating`` as a correct client is; ``nocheck`` checks nothing
    (CERT_NONE) and still speaks TLS 1.0; ``nohost`` checks the chain but not the host name."""
    if mode == "validating":
        return ssl.create_default_context(cafile=ca)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if mode == "nocheck":
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    elif mode == "nohost":
        ctx.load_verify_locations(ca)
    else:
        raise ValueError(mode)
    return ctx


def device_main(mode: str, ca: str, out: Path, requests: int, period: float) -> None:
    """Ground truth: {"mode", "udp": [{"port", "ok"}], "http_ok", "attempts": [{"ts", "request", "ok",
    "tls_version", "peer_sha256", "error", "body"}]}: every HTTPS attempt (``peer_sha256``: of the
    certificate the server showed), a failed one retried at once (10 at most)."""
    truth: dict[str, Any] = {"mode": mode, "udp": [], "attempts": []}
    for port in (53, 123):  # DNS and NTP: must reach the cloud untouched
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            s.sendto(b"x" * 48, (CLOUD_IP, port))
            truth["udp"].append({"port": port, "ok": s.recv(2048) == b"x" * 48})
    with socket.create_connection((CLOUD_IP, 80), timeout=5) as s:  # plain HTTP: untouched
        s.sendall(b"POST /plain HTTP/1.1\r\nHost: c\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        truth["http_ok"] = b" 200 " in s.recv(4096)
    ctx = context(mode, ca)
    t0 = time.monotonic()
    for i in range(requests):
        time.sleep(max(0.0, t0 + i * period - time.monotonic()))
        for _ in range(10):
            body = json.dumps({"imei": IMEI, "lat": LAT, "lng": LNG, "ts": int(time.time() * 1000)})
            rec: dict[str, Any] = {"ts": time.time(), "request": i, "ok": False, "tls_version": None,
                                   "peer_sha256": None, "error": None, "body": body}  # fmt: skip
            try:
                with (
                    socket.create_connection((CLOUD_IP, 443), timeout=5) as raw,
                    ctx.wrap_socket(raw, server_hostname=HTTPS_HOST) as tls,
                ):
                    rec["tls_version"] = tls.version()
                    rec["peer_sha256"] = hashlib.sha256(tls.getpeercert(binary_form=True) or b"").hexdigest()
                    head = (
                        f"POST /v1/location HTTP/1.1\r\nHost: {HTTPS_HOST}\r\nContent-Type: application/json"
                    )
                    tls.sendall(
                        f"{head}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}".encode()
                    )
                    reply = b""
                    while chunk := tls.recv(4096):
                        reply += chunk
                    rec["ok"] = reply.startswith(b"HTTP/1.1 200")
            except (OSError, ssl.SSLError) as e:
                rec["error"] = repr(e)
            truth["attempts"].append(rec)
            if rec["ok"]:
                break
            time.sleep(0.2)
    out.write_text(json.dumps(truth, indent=1))


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("device")
    d.add_argument("--mode", choices=MODES, required=True)
    d.add_argument("--ca", required=True)
    d.add_argument("--out", type=Path, required=True)
    d.add_argument("--requests", type=int, default=8)
    d.add_argument("--period", type=float, default=1.0)
    s = sub.add_parser("servers")
    s.add_argument("workdir", type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "device":
        device_main(a.mode, a.ca, a.out, a.requests, a.period)
    else:
        servers_main(a.workdir)


if __name__ == "__main__":
    main()
