"""Two network namespaces joined by one veth pair, and a capture of it (needs root).

The TLS lab (tests/support/tlslab.py) runs a real server in "srv" (``SERVER_IP``) and a real client
in "cli" (``CLIENT_IP``) and captures the server's veth with ``dumpcap`` (Debian's wireshark-common,
installed with tshark). Built on the helpers of tests/support/netlab.py (``ip``, waiting, stopping,
the self-signed certificate); the certificates are made once per pair: an EC one and, for the
ECDHE-RSA suites, an RSA one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.netlab import HTTPS_HOST, _ip, _kill_ns_pids, _stop, _wait_for, make_self_signed

SERVER_IP = "10.78.0.1"
CLIENT_IP = "10.78.0.2"
PREFIXLEN = 24
HOST = HTTPS_HOST  # the watch vendor's API: the certificates' name
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Pair:
    """Namespaces "cli" and "srv" joined by one veth; ``srv_iface`` is where the lab captures."""

    ns_cli: str
    ns_srv: str
    cli_iface: str
    srv_iface: str
    workdir: Path  # the server's certificates
    procs: list[subprocess.Popen[Any]] = field(default_factory=list)

    def ns(self, role: str) -> str:
        return {"cli": self.ns_cli, "srv": self.ns_srv}[role]

    def argv(self, role: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns(role), *argv]

    def popen(self, role: str, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        kw.setdefault("cwd", ROOT)
        p: subprocess.Popen[Any] = subprocess.Popen(self.argv(role, argv), **kw)
        self.procs.append(p)
        return p

    def run(self, role: str, argv: Sequence[str], timeout: float = 60) -> str:
        r = subprocess.run(self.argv(role, argv), capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        if r.returncode != 0:
            raise RuntimeError(f"{argv[:3]} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        return r.stdout

    def stop_all(self) -> None:
        while self.procs:
            with contextlib.suppress(Exception):
                _stop(self.procs.pop())


@contextlib.contextmanager
def namespace_pair(prefix: str = "tl") -> Iterator[Pair]:
    """Two namespaces with random-suffixed names and a veth between them; torn down on exit."""
    if os.geteuid() != 0:
        raise PermissionError("namespace_pair needs root (network namespaces)")
    sfx = secrets.token_hex(3)
    pair = Pair(
        ns_cli=f"{prefix}-cli-{sfx}",
        ns_srv=f"{prefix}-srv-{sfx}",
        cli_iface=f"{prefix}c{sfx}",
        srv_iface=f"{prefix}s{sfx}",
        workdir=Path(tempfile.mkdtemp(prefix=f"tlslab-{sfx}-")),
    )
    created: list[str] = []
    try:
        for ns in (pair.ns_cli, pair.ns_srv):
            _ip("netns", "add", ns)
            created.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ],
                check=True,
                capture_output=True,
                timeout=30,
            )
        _ip(
            "-n",
            pair.ns_srv,
            "link",
            "add",
            pair.srv_iface,
            "type",
            "veth",
            "peer",
            "name",
            pair.cli_iface,
            "netns",
            pair.ns_cli,
        )
        for ns, ifname, ip in (
            (pair.ns_srv, pair.srv_iface, SERVER_IP),
            (pair.ns_cli, pair.cli_iface, CLIENT_IP),
        ):
            _ip("-n", ns, "addr", "add", f"{ip}/{PREFIXLEN}", "dev", ifname)
            _ip("-n", ns, "link", "set", ifname, "up")
        make_self_signed(pair.workdir / "ec.pem", pair.workdir / "ec.key", [HOST])
        _make_rsa_cert(pair.workdir / "rsa.pem", pair.workdir / "rsa.key", HOST)
        yield pair
    finally:
        pair.stop_all()
        for ns in created:
            _kill_ns_pids(ns)
        for ns in created:
            _ip("netns", "del", ns, check=False)
        shutil.rmtree(pair.workdir, ignore_errors=True)


def _make_rsa_cert(cert: Path, key: Path, name: str) -> None:
    """An RSA-2048 self-signed certificate: the ECDHE-RSA suites of the TLS 1.2 scenarios need one."""
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30"]
    subprocess.run(
        [
            *openssl,
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=DNS:{name}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


@contextlib.contextmanager
def captured(pair: Pair, out: Path) -> Iterator[None]:
    """``dumpcap`` on the server's veth for the duration of the block; stopped and flushed on exit."""
    err = out.with_suffix(".dumpcap.log")
    log = open(err, "wb")  # noqa: SIM115 (the child owns it)
    p = pair.popen("srv", ["dumpcap", "-q", "-i", pair.srv_iface, "-w", str(out)], stdout=log, stderr=log)
    _wait_for(lambda: "Capturing on" in err.read_text(errors="replace"), 20, "dumpcap", p)
    try:
        yield
    finally:
        time.sleep(0.3)  # the last FIN/ACKs
        _stop(p)
        pair.procs.remove(p)


def wait_port(pair: Pair, port: int, proc: subprocess.Popen[Any], what: str) -> None:
    def listening() -> bool:
        r = subprocess.run(
            pair.argv("srv", ["ss", "-Hltn", f"sport = :{port}"]), capture_output=True, text=True
        )
        return bool(r.stdout.strip())

    _wait_for(listening, 30, what, proc)
