"""A lab network in Linux network namespaces for the live-capture tests (needs root).

    dev (the device under test) --veth-- [ tap: bridge ] --veth-- cloud (DHCP, DNS, HTTP, HTTPS)

``lab_network()`` builds three namespaces with random-suffixed names: "dev", "tap" (the appliance: a
Linux bridge joining a veth to each side; ``tap_iface`` is the bridge port facing the device, where the
appliance captures, like a switch mirror port) and "cloud" (10.77.0.1: dnsmasq serving DHCP in
10.77.0.50-99 and DNS with static answers, an HTTPS server on :443 and an HTTP server on :80 that
records every POST). IPv6 is off everywhere, so nothing crosses the port unless a test sends it: a test
can account for every packet with ``counters()``.

The device side is this file run as a script (``python tests/support/netlab.py device ...`` inside ns "dev",
see ``Lab.run_device``): it leases an address by DHCP (scapy), resolves ``DNS_NAMES`` through the
cloud's DNS, then POSTs locations over HTTP and makes HTTPS requests, and writes what it did as JSON
(the ground truth, format in ``device_main``). ``python tests/support/netlab.py servers DIR`` is the cloud's
HTTP and HTTPS servers.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
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

SUBNET = "10.77.0.0/24"
PREFIXLEN = 24
CLOUD_IP = "10.77.0.1"
DHCP_FIRST = "10.77.0.50"
DHCP_LAST = "10.77.0.99"
HTTPS_HOST = "api.watch.example-imoo.cn"  # the watch vendor's API (HTTPS, SNI)
HTTP_HOST = "track.example-amap.com"  # the location tracker (plain HTTP POSTs)
DNS_NAMES = (HTTPS_HOST, HTTP_HOST)  # both resolve to CLOUD_IP
HTTP_PATH = "/v1/location"
HTTPS_PATH = "/v2/config"
DEVICE_MAC_OUI = "e0:06:30"  # the device's MAC is this OUI plus 3 random bytes
DEVICE_IMEI = "356938035643809"
LAT = 31.230416
LNG = 121.473701
DNSMASQ = "/usr/sbin/dnsmasq"
HERE = Path(__file__).resolve()

# Files the cloud writes in Lab.workdir (JSON lines, one record per request).
POSTS_FILE = "http_posts.jsonl"  # {"ts", "client", "host", "path", "body"}
HTTPS_FILE = "https_requests.jsonl"  # {"ts", "client", "sni", "host", "path"}


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def _wait_for(pred: Any, timeout: float, what: str, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def make_self_signed(cert: Path, key: Path, names: Sequence[str]) -> None:
    """A self-signed certificate for ``names`` (first is the CN) with the ``cryptography`` package."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    pk = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    crt = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(pk.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(pk, hashes.SHA256())
    )
    key.write_bytes(
        pk.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(crt.public_bytes(serialization.Encoding.PEM))


@dataclass
class Counters:
    """The tap port's kernel counters (``/sys/class/net/IF/statistics``)."""

    rx_packets: int
    tx_packets: int
    rx_dropped: int

    @property
    def packets(self) -> int:
        return self.rx_packets + self.tx_packets

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            self.rx_packets - other.rx_packets,
            self.tx_packets - other.tx_packets,
            self.rx_dropped - other.rx_dropped,
        )


@dataclass
class Lab:
    """The built network. Namespace arguments to ``run``/``popen`` are a role or a namespace name."""

    suffix: str
    ns_dev: str
    ns_tap: str
    ns_cloud: str
    tap_iface: str  # bridge port in ns_tap facing the device: capture here
    tap_cloud_iface: str  # bridge port in ns_tap facing the cloud
    bridge: str  # the bridge in ns_tap
    dev_iface: str  # the device's interface in ns_dev (no address until DHCP)
    cloud_iface: str  # the cloud's interface in ns_cloud (CLOUD_IP)
    device_mac: str
    cloud_mac: str
    cloud_ip: str
    workdir: Path  # temp dir: certificate, dnsmasq leases/log, POSTS_FILE, HTTPS_FILE
    procs: list[subprocess.Popen[Any]] = field(default_factory=list)

    @property
    def namespaces(self) -> dict[str, str]:
        return {"dev": self.ns_dev, "tap": self.ns_tap, "cloud": self.ns_cloud}

    @property
    def posts_file(self) -> Path:
        return self.workdir / POSTS_FILE

    @property
    def https_file(self) -> Path:
        return self.workdir / HTTPS_FILE

    def ns(self, name: str) -> str:
        return self.namespaces.get(name, name)

    def argv(self, ns: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns(ns), *argv]

    def popen(self, ns: str, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` in namespace ``ns``; the lab stops it on exit if it is still running."""
        p: subprocess.Popen[Any] = subprocess.Popen(self.argv(ns, argv), **popen_kwargs)
        self.procs.append(p)
        return p

    def run(self, ns: str, argv: Sequence[str], **run_kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """``subprocess.run`` of ``argv`` in namespace ``ns`` (default: text output captured, 60 s)."""
        run_kwargs.setdefault("capture_output", True)
        run_kwargs.setdefault("text", True)
        run_kwargs.setdefault("timeout", 60)
        return subprocess.run(self.argv(ns, argv), check=run_kwargs.pop("check", False), **run_kwargs)

    def counters(self) -> Counters:
        stats = f"/sys/class/net/{self.tap_iface}/statistics"
        out = self.run(
            "tap",
            ["cat", f"{stats}/rx_packets", f"{stats}/tx_packets", f"{stats}/rx_dropped"],
            check=True,
        ).stdout.split()
        return Counters(int(out[0]), int(out[1]), int(out[2]))

    def device_argv(self, out: Path, duration: float, period: float, keylog: str = "") -> list[str]:
        """The device's command line; ``keylog``: its TLS stack writes its session keys there (NSS
        key log format, Python's ``SSLContext.keylog_filename``), as an instrumented build does."""
        return [
            sys.executable,
            str(HERE),
            "device",
            "--iface",
            self.dev_iface,
            "--out",
            str(out),
            "--duration",
            str(duration),
            "--period",
            str(period),
            "--dns",
            self.cloud_ip,
            *(["--keylog", keylog] if keylog else []),
        ]

    def run_device(self, out: Path, duration: float = 10.0, period: float = 2.0) -> dict[str, Any]:
        """Run the device script in ns "dev" to the end; returns its ground truth (also in ``out``)."""
        r = self.run("dev", self.device_argv(out, duration, period), timeout=duration + 60)
        if r.returncode != 0:
            raise RuntimeError(f"device script failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return json.loads(out.read_text())

    def posts(self) -> list[dict[str, Any]]:
        """The POSTs the cloud's HTTP server received, in order."""
        return _read_jsonl(self.posts_file)

    def https_requests(self) -> list[dict[str, Any]]:
        return _read_jsonl(self.https_file)


def _read_jsonl(p: Path) -> list[dict[str, Any]]:
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def _stop(p: subprocess.Popen[Any]) -> None:
    if p.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            p.kill()
        p.wait(timeout=5)


def _kill_ns_pids(ns: str) -> None:
    """Kill whatever still runs in one of the lab's own namespaces (only processes the lab started)."""
    r = _ip("netns", "pids", ns, check=False)
    for pid in r.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


@contextlib.contextmanager
def lab_network(prefix: str | None = None) -> Iterator[Lab]:
    """Build the dev/tap/cloud network with its services; tear everything down on exit.

    ``prefix`` (at most 7 characters, default "nl") starts every namespace and interface name; each
    name ends with the same random 6-hex-digit suffix (interface names stay within 15 characters).
    """
    if os.geteuid() != 0:
        raise PermissionError("lab_network needs root (network namespaces)")
    prefix = "nl" if prefix is None else prefix
    if len(prefix) > 7 or not prefix.replace("-", "").isalnum():
        raise ValueError("prefix: at most 7 letters, digits or '-'")
    sfx = secrets.token_hex(3)

    def name(role: str) -> str:
        n = f"{prefix}{role}{sfx}"
        assert len(n) <= 15, n
        return n

    mac_tail = secrets.token_bytes(3)
    lab = Lab(
        suffix=sfx,
        ns_dev=f"{prefix}-dev-{sfx}",
        ns_tap=f"{prefix}-tap-{sfx}",
        ns_cloud=f"{prefix}-cloud-{sfx}",
        tap_iface=name("td"),
        tap_cloud_iface=name("tc"),
        bridge=name("br"),
        dev_iface=name("dv"),
        cloud_iface=name("cl"),
        device_mac=DEVICE_MAC_OUI + "".join(f":{b:02x}" for b in mac_tail),
        cloud_mac="02:77:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3)),
        cloud_ip=CLOUD_IP,
        workdir=Path(tempfile.mkdtemp(prefix=f"netlab-{sfx}-")),
    )
    created: list[str] = []
    try:
        for ns in (lab.ns_dev, lab.ns_tap, lab.ns_cloud):
            _ip("netns", "add", ns)
            created.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        # veth pairs created inside ns "tap", the far ends moved straight into dev/cloud
        _ip("-n", lab.ns_tap, "link", "add", lab.tap_iface, "type", "veth", "peer", "name", lab.dev_iface,
            "netns", lab.ns_dev)  # fmt: skip
        _ip("-n", lab.ns_tap, "link", "add", lab.tap_cloud_iface, "type", "veth", "peer", "name",
            lab.cloud_iface, "netns", lab.ns_cloud)  # fmt: skip
        _ip("-n", lab.ns_tap, "link", "add", lab.bridge, "type", "bridge", "stp_state", "0",
            "forward_delay", "0", "mcast_snooping", "0")  # fmt: skip
        for ns in (lab.ns_dev, lab.ns_tap, lab.ns_cloud):
            subprocess.run(
                ["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                 "net.ipv6.conf.default.disable_ipv6=1"],
                check=True, capture_output=True, timeout=30,
            )  # fmt: skip
        _ip("-n", lab.ns_dev, "link", "set", lab.dev_iface, "address", lab.device_mac)
        _ip("-n", lab.ns_cloud, "link", "set", lab.cloud_iface, "address", lab.cloud_mac)
        for port in (lab.tap_iface, lab.tap_cloud_iface):
            _ip("-n", lab.ns_tap, "link", "set", port, "master", lab.bridge)
        for ns, ifname in (
            (lab.ns_tap, lab.bridge),
            (lab.ns_tap, lab.tap_iface),
            (lab.ns_tap, lab.tap_cloud_iface),
            (lab.ns_cloud, lab.cloud_iface),
            (lab.ns_dev, lab.dev_iface),
        ):
            _ip("-n", ns, "link", "set", ifname, "up")
        _ip("-n", lab.ns_cloud, "addr", "add", f"{CLOUD_IP}/{PREFIXLEN}", "dev", lab.cloud_iface)

        wd = lab.workdir
        make_self_signed(wd / "cert.pem", wd / "key.pem", [HTTPS_HOST])
        dnsmasq = lab.popen(
            "cloud",
            [
                DNSMASQ,
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--user=root",
                "--group=root",
                f"--pid-file={wd / 'dnsmasq.pid'}",
                f"--interface={lab.cloud_iface}",
                "--bind-interfaces",
                f"--listen-address={CLOUD_IP}",
                "--no-resolv",
                "--no-hosts",
                "--no-ping",
                *[f"--host-record={n},{CLOUD_IP}" for n in DNS_NAMES],
                f"--dhcp-range={DHCP_FIRST},{DHCP_LAST},255.255.255.0,1h",
                f"--dhcp-option=option:router,{CLOUD_IP}",
                f"--dhcp-option=option:dns-server,{CLOUD_IP}",
                f"--dhcp-leasefile={wd / 'dnsmasq.leases'}",
                "--dhcp-authoritative",
                f"--log-facility={wd / 'dnsmasq.log'}",
                "--log-queries",
                "--log-dhcp",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(wd / "dnsmasq.stderr", "wb"),  # noqa: SIM115 (the child owns it)
        )
        servers = lab.popen(
            "cloud",
            [sys.executable, str(HERE), "servers", str(wd), "--ip", CLOUD_IP],
            stdout=subprocess.DEVNULL,
            stderr=open(wd / "servers.stderr", "wb"),  # noqa: SIM115
        )
        _wait_for(lambda: (wd / "dnsmasq.pid").exists(), 15, "dnsmasq", dnsmasq)
        _wait_for(lambda: (wd / "servers.ready").exists(), 30, "HTTP/HTTPS servers", servers)
        yield lab
    finally:
        for p in reversed(lab.procs):
            with contextlib.suppress(Exception):
                _stop(p)
        for ns in created:
            _kill_ns_pids(ns)
        for ns in created:
            _ip("netns", "del", ns, check=False)
        if os.environ.get("NETLAB_KEEP"):
            print(f"netlab: kept {lab.workdir}", file=sys.stderr)
        else:
            shutil.rmtree(lab.workdir, ignore_errors=True)


# ---------------------------------------------------------------- the cloud's HTTP and HTTPS servers


def servers_main(workdir: Path, ip: str) -> None:
    lock = threading.Lock()

    def append(fname: str, rec: dict[str, Any]) -> None:
        with lock, open(workdir / fname, "a") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            if self.server.server_port == 443:  # type: ignore[attr-defined]
                self._record_https()
            else:
                append(
                    POSTS_FILE,
                    {
                        "ts": time.time(),
                        "client": self.client_address[0],
                        "host": self.headers.get("Host"),
                        "path": self.path,
                        "body": body.decode("utf-8", "replace"),
                    },
                )
            self._reply(200, b'{"ok":true}')

        def do_GET(self) -> None:
            if self.server.server_port == 443:  # type: ignore[attr-defined]
                self._record_https()
                self._reply(200, b'{"interval":2,"upload":"http://' + HTTP_HOST.encode() + b'"}')
            else:
                self._reply(404, b"{}")

        def _record_https(self) -> None:
            sni = getattr(self.connection, "netlab_sni", None)
            append(
                HTTPS_FILE,
                {
                    "ts": time.time(),
                    "client": self.client_address[0],
                    "sni": sni,
                    "host": self.headers.get("Host"),
                    "path": self.path,
                },
            )

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(workdir / "cert.pem", workdir / "key.pem")

    def on_sni(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
        sock.netlab_sni = name  # type: ignore[union-attr]

    ctx.sni_callback = on_sni

    class TLSServer(ThreadingHTTPServer):
        def get_request(self) -> tuple[Any, Any]:
            sock, addr = super().get_request()
            return ctx.wrap_socket(sock, server_side=True), addr

    http = ThreadingHTTPServer((ip, 80), Handler)
    https = TLSServer((ip, 443), Handler)
    http.daemon_threads = https.daemon_threads = True
    for srv in (http, https):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    (workdir / "servers.ready").write_text(str(os.getpid()))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    http.shutdown()
    https.shutdown()


# ---------------------------------------------------------------- the device


def _dhcp(iface: str, mac: str, timeout: float = 5.0) -> dict[str, Any]:
    """DISCOVER/OFFER/REQUEST/ACK with scapy on ``iface`` (which has no address yet)."""
    from scapy.config import conf
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.sendrecv import srp1

    conf.checkIPaddr = False
    chaddr = bytes.fromhex(mac.replace(":", ""))
    xid = secrets.randbits(32)

    def pkt(opts: list[Any]) -> Any:
        return (
            Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
            / IP(src="0.0.0.0", dst="255.255.255.255")
            / UDP(sport=68, dport=67)
            / BOOTP(chaddr=chaddr, xid=xid, flags=0x8000)
            / DHCP(options=opts)
        )

    def options(p: Any) -> dict[str, Any]:
        return {o[0]: o[1] for o in p[DHCP].options if isinstance(o, tuple) and len(o) >= 2}

    offer = None
    for _ in range(3):
        offer = srp1(
            pkt([("message-type", "discover"), ("hostname", "imoo-watch"), "end"]),
            iface=iface, timeout=timeout, verbose=0,
        )  # fmt: skip
        if offer is not None and options(offer).get("message-type") == 2:
            break
    if offer is None:
        raise RuntimeError("no DHCP OFFER")
    oo = options(offer)
    ip = offer[BOOTP].yiaddr
    ack = srp1(
        pkt(
            [
                ("message-type", "request"),
                ("requested_addr", ip),
                ("server_id", oo["server_id"]),
                ("hostname", "imoo-watch"),
                "end",
            ]
        ),
        iface=iface,
        timeout=timeout,
        verbose=0,
    )
    if ack is None or options(ack).get("message-type") != 5:
        raise RuntimeError(f"no DHCP ACK for {ip}")
    ao = options(ack)
    return {
        "ip": ack[BOOTP].yiaddr,
        "server_id": ao.get("server_id"),
        "router": ao.get("router"),
        "dns": ao.get("name_server"),
        "subnet_mask": ao.get("subnet_mask"),
        "lease_time": ao.get("lease_time"),
        "xid": xid,
        "mac": mac,
    }


def _resolve(name: str, server: str) -> list[str]:
    """One plain UDP DNS A query to ``server``."""
    from scapy.layers.dns import DNS, DNSQR

    qid = secrets.randbits(16)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(bytes(DNS(id=qid, rd=1, qd=DNSQR(qname=name, qtype="A"))), (server, 53))
        resp = DNS(s.recv(4096))
    if resp.id != qid or resp.rcode != 0:
        raise RuntimeError(f"DNS {name}: rcode {resp.rcode}")
    return [str(rr.rdata) for rr in (resp.an or []) if rr.type == 1]


def device_main(
    iface: str, out: Path, duration: float, period: float, dns_server: str, keylog: str = ""
) -> None:
    """Ground truth written to ``out``::

    {"iface", "mac", "started", "ended",
     "dhcp": {"ip", "server_id", "router", "dns", "subnet_mask", "lease_time", "xid", "mac"},
     "dns": [{"ts", "name", "server", "answers": [ip, ...]}],
     "posts": [{"ts", "host", "ip", "path", "status", "body"}],   # body: the exact JSON text sent
     "https": [{"ts", "host", "ip", "sni", "path", "status", "ok", "tls_version", "error"}]}
    """
    import http.client

    mac = Path(f"/sys/class/net/{iface}/address").read_text().strip()
    truth: dict[str, Any] = {"iface": iface, "mac": mac, "started": time.time(), "dns": [], "posts": [],
                             "https": []}  # fmt: skip

    def save() -> None:
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(truth, indent=1))
        tmp.replace(out)

    lease = _dhcp(iface, mac)
    truth["dhcp"] = lease
    subprocess.run(["ip", "addr", "add", f"{lease['ip']}/{PREFIXLEN}", "dev", iface], check=True)
    save()
    addrs: dict[str, str] = {}
    for n in DNS_NAMES:
        answers = _resolve(n, dns_server)
        truth["dns"].append({"ts": time.time(), "name": n, "server": dns_server, "answers": answers})
        addrs[n] = answers[0]
    save()

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    if keylog:
        tls.keylog_filename = keylog
    t0 = time.monotonic()
    i = 0
    while True:
        due = t0 + i * period
        if due - t0 >= duration:
            break
        time.sleep(max(0.0, due - time.monotonic()))
        body = json.dumps({"imei": DEVICE_IMEI, "lat": LAT, "lng": LNG, "ts": int(time.time() * 1000)})
        rec: dict[str, Any] = {"ts": time.time(), "host": HTTP_HOST, "ip": addrs[HTTP_HOST],
                               "path": HTTP_PATH, "body": body, "status": None}  # fmt: skip
        c = http.client.HTTPConnection(HTTP_HOST, 80, timeout=5)
        c.sock = socket.create_connection((addrs[HTTP_HOST], 80), timeout=5)
        try:
            c.request("POST", HTTP_PATH, body.encode(), {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            rec["status"] = r.status
        finally:
            c.close()
        truth["posts"].append(rec)

        hrec: dict[str, Any] = {"ts": time.time(), "host": HTTPS_HOST, "ip": addrs[HTTPS_HOST],
                                "sni": HTTPS_HOST, "path": HTTPS_PATH, "status": None, "ok": False,
                                "tls_version": None, "error": None}  # fmt: skip
        hc = http.client.HTTPSConnection(HTTPS_HOST, 443, timeout=5, context=tls)
        try:
            raw = socket.create_connection((addrs[HTTPS_HOST], 443), timeout=5)
            hc.sock = tls.wrap_socket(raw, server_hostname=HTTPS_HOST)
            hrec["tls_version"] = hc.sock.version()
            hc.request("GET", HTTPS_PATH, headers={"User-Agent": "imoo-watch/1.0"})
            hr = hc.getresponse()
            hr.read()
            hrec["status"] = hr.status
            hrec["ok"] = hr.status == 200
        except (OSError, ssl.SSLError, http.client.HTTPException) as e:
            hrec["error"] = repr(e)
        finally:
            hc.close()
        truth["https"].append(hrec)
        save()
        i += 1
    truth["ended"] = time.time()
    save()


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("device", help="the device's traffic (run inside ns dev)")
    d.add_argument("--iface", required=True)
    d.add_argument("--out", type=Path, required=True)
    d.add_argument("--duration", type=float, default=10.0)
    d.add_argument("--period", type=float, default=2.0)
    d.add_argument("--dns", default=CLOUD_IP)
    d.add_argument("--keylog", default="", help="write the TLS session keys here (NSS key log)")
    s = sub.add_parser("servers", help="the cloud's HTTP :80 and HTTPS :443 (run inside ns cloud)")
    s.add_argument("workdir", type=Path)
    s.add_argument("--ip", default=CLOUD_IP)
    a = ap.parse_args(argv)
    if a.cmd == "device":
        device_main(a.iface, a.out, a.duration, a.period, a.dns, a.keylog)
    else:
        servers_main(a.workdir, a.ip)


if __name__ == "__main__":
    main()
