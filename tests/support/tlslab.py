"""Real TLS stacks talking across a veth pair between two network namespaces, captured (needs root).

Issue 16 checks decryption against captures made by real TLS stacks, not by our own writer: each
scenario here runs a real server in namespace "srv" (10.78.0.1) and a real client in namespace "cli"
(10.78.0.2), captures the veth with ``dumpcap`` (Debian's wireshark-common, installed with tshark)
and writes, in its own folder::

    capture.pcapng   what crossed the wire
    capture-dsb.pcapng  the same with the key log inside, as pcapng Decryption Secrets Blocks
                     (``editcap --inject-secrets tls,keys.log``): the lab that hands over one file
    keys.log         the client's NSS key log (Python ssl ``keylog_filename``, ``openssl s_client
                     -keylogfile``, curl's ``SSLKEYLOGFILE``)
    truth.json       what the client sent (the ground truth, format in ``Truth``)

The scenarios (``SCENARIOS``) cover TLS 1.2 GCM, ChaCha20 and CBC through Python's ssl (OpenSSL),
the TLS 1.3 suites Python cannot choose (AES-256-GCM, ChaCha20, AES-128-CCM, AES-128-CCM-8) through
``openssl s_server``/``s_client`` with a KeyUpdate mid-connection, curl over HTTP/1.1 and HTTP/2
against hypercorn, MQTT publishes to mosquitto over TLS (paho-mqtt), and a WebSocket over TLS
(``websockets``). Request bodies carry the lab's personal data (an IMEI, a location) so the
detectors have something to find once the traffic is decrypted.

``python tests/support/tlslab.py OUT [NAME ...]`` builds scenarios from the command line; the servers
and clients run inside the namespaces are tests/support/tlspeers.py.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.netlab import DEVICE_IMEI, LAT, LNG, _wait_for
from tests.support.nspair import HOST, SERVER_IP, Pair, captured, namespace_pair, wait_port

MQTT_PORT = 8883  # IANA "secure-mqtt"; tshark dissects MQTT over TLS there
HTTPS_PORT = 443
LOCATION_PATH = "/v1/location"
CONFIG_PATH = "/v2/config"
WS_PATH = "/v1/stream"
HERE = Path(__file__).resolve()
PEERS = HERE.parent / "tlspeers.py"  # the servers and clients, run inside the namespaces
MOSQUITTO = "/usr/sbin/mosquitto"
# OpenSSL's suite names -> IANA numbers (TLS Cipher Suites registry: RFC 5289, RFC 7905, RFC 8446 B.4)
SUITE_IDS = {
    "ECDHE-RSA-AES128-GCM-SHA256": 0xC02F,
    "ECDHE-RSA-AES128-SHA256": 0xC027,
    "ECDHE-ECDSA-AES128-GCM-SHA256": 0xC02B,
    "ECDHE-ECDSA-AES256-GCM-SHA384": 0xC02C,
    "ECDHE-RSA-CHACHA20-POLY1305": 0xCCA8,
    "TLS_AES_256_GCM_SHA384": 0x1302,
    "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
    "TLS_AES_128_CCM_SHA256": 0x1304,
    "TLS_AES_128_CCM_8_SHA256": 0x1305,
}


def location_body(i: int) -> bytes:
    """A location report like the lab watch's: IMEI, latitude, longitude, a sequence number."""
    return json.dumps({"imei": DEVICE_IMEI, "lat": LAT, "lng": LNG, "seq": i}).encode()


@dataclass
class Truth:
    """What a scenario's client sent, the ground truth the oracle and tapaudit are compared with.

    ``http1``: {"method", "host", "uri", "content_length"} per HTTP/1.x request (content_length None
    for a request without a body); ``http2``: {"stream_id", "method", "authority", "path", "status",
    "request_data_length"} per stream; ``mqtt``: {"topic", "payload_length"} per PUBLISH from the
    client; ``ws``: {"opcode", "payload_length"} per frame the client sent; ``key_updates``: how many
    KeyUpdate messages the client sent; ``sni``: the server_name it sent; ``tls_version``/``cipher``:
    what the client's stack reported as negotiated (OpenSSL names; for curl, which does not print
    them, the version and suite it was pinned to: the oracle's test reads them in the ServerHello).
    """

    name: str
    stack: str
    tls_version: str
    cipher: str
    app: str
    http1: list[dict[str, Any]] = field(default_factory=list)
    http2: list[dict[str, Any]] = field(default_factory=list)
    mqtt: list[dict[str, Any]] = field(default_factory=list)
    ws: list[dict[str, Any]] = field(default_factory=list)
    key_updates: int = 0
    sni: str = HOST
    build_seconds: float = 0.0


# ---------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    stack: str
    tls_version: str  # "TLSv1.2" or "TLSv1.3", as OpenSSL names it
    cipher: str  # OpenSSL's name of the suite
    app: str  # "http1", "http2", "mqtt", "websocket"
    run: Callable[[Pair, Path, Scenario], Truth]


def _serve(pair: Pair, d: Path, argv: Sequence[str], port: int, what: str) -> None:
    """Start a server in "srv" (its output in d/server.log) and wait until it listens on ``port``."""
    log = open(d / "server.log", "wb")  # noqa: SIM115 (the child owns it)
    srv = pair.popen("srv", argv, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
    wait_port(pair, port, srv, what)


def _peer_client(pair: Pair, d: Path, sc: Scenario, command: str) -> Truth:
    """Run a tlspeers.py client in "cli" while the veth is captured; its truth.json completed."""
    argv = [
        sys.executable,
        str(PEERS),
        command,
        "--keylog",
        str(d / "keys.log"),
        "--out",
        str(d / "truth.json"),
    ]
    with captured(pair, d / "capture.pcapng"):
        pair.run("cli", [*argv, "--version", sc.tls_version, "--cipher", sc.cipher])
    pair.stop_all()
    sent = json.loads((d / "truth.json").read_text())
    return Truth(**sent | {"name": sc.name, "stack": sc.stack, "app": sc.app})


def _py_http(pair: Pair, d: Path, sc: Scenario) -> Truth:
    cert = "rsa" if sc.tls_version == "TLSv1.2" else "ec"  # the ECDHE-RSA suites need an RSA key
    pem, key = str(pair.workdir / f"{cert}.pem"), str(pair.workdir / f"{cert}.key")
    _serve(
        pair, d, [sys.executable, str(PEERS), "http-server", "--cert", pem, "--key", key], HTTPS_PORT, "https"
    )
    return _peer_client(pair, d, sc, "http-client")


def _openssl(pair: Pair, d: Path, sc: Scenario) -> Truth:
    """s_server echo mode; s_client sends a POST, a KeyUpdate ("K": update and ask the peer to) and a GET."""
    pem, key = str(pair.workdir / "ec.pem"), str(pair.workdir / "ec.key")
    s_server = ["openssl", "s_server", "-accept", f"{SERVER_IP}:{HTTPS_PORT}", "-naccept", "1", "-tls1_3"]
    _serve(
        pair, d, [*s_server, "-ciphersuites", sc.cipher, "-cert", pem, "-key", key], HTTPS_PORT, "s_server"
    )
    body = location_body(1)
    post = (
        f"POST {LOCATION_PATH} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    get = f"GET {CONFIG_PATH} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: imoo-watch/1.0\r\n\r\n".encode()
    seen = d / "server.log"  # s_server prints what it receives
    with captured(pair, d / "capture.pcapng"):
        s_client = ["openssl", "s_client", "-connect", f"{SERVER_IP}:{HTTPS_PORT}", "-servername", HOST]
        s_client += ["-tls1_3", "-ciphersuites", sc.cipher, "-keylogfile", str(d / "keys.log")]
        client_log = open(d / "client.log", "wb")  # noqa: SIM115 (the child owns it)
        cli = pair.popen("cli", s_client, stdin=subprocess.PIPE, stdout=client_log, stderr=subprocess.STDOUT)
        assert cli.stdin is not None
        _wait_for(lambda: "CIPHER is" in seen.read_text(errors="replace"), 20, "TLS handshake", cli)
        # s_client reads stdin in chunks and checks a command letter at a chunk's start: pace the chunks
        steps = (
            (post, seen, '"seq": 1}'),
            (b"K\n", d / "client.log", "KEYUPDATE"),
            (get, seen, "imoo-watch/1.0"),
        )
        for chunk, where, mark in steps:
            cli.stdin.write(chunk)
            cli.stdin.flush()
            _wait_for(
                lambda f=where, m=mark: m in f.read_text(errors="replace"),
                20,
                f"{mark!r} in {where.name}",
                cli,
            )
        cli.stdin.close()
        cli.wait(timeout=20)
    pair.stop_all()
    printed = (d / "client.log").read_text(errors="replace")
    neg = next(line for line in printed.splitlines() if "Cipher is" in line)  # "New, TLSv1.3, Cipher is X"
    return Truth(
        name=sc.name,
        stack=sc.stack,
        app=sc.app,
        tls_version=neg.split(",")[1].strip(),
        cipher=neg.rsplit(" ", 1)[1],
        http1=[
            {"method": "POST", "host": HOST, "uri": LOCATION_PATH, "content_length": len(body)},
            {"method": "GET", "host": HOST, "uri": CONFIG_PATH, "content_length": None},
        ],
        key_updates=1,
    )


def _curl(pair: Pair, d: Path, sc: Scenario) -> Truth:
    """curl against hypercorn: a POST of a location, a second POST and a GET, one connection."""
    pem, key = str(pair.workdir / "ec.pem"), str(pair.workdir / "ec.key")
    bind = f"{SERVER_IP}:{HTTPS_PORT}"
    app = "tests.support.tlspeers:asgi_app"
    hypercorn = [sys.executable, "-m", "hypercorn", "--certfile", pem, "--keyfile", key, "--bind", bind, app]
    _serve(pair, d, hypercorn, HTTPS_PORT, "hypercorn")
    h2 = sc.app == "http2"
    proto = ["--http2"] if h2 else ["--http1.1"]
    tls = (
        ["--tlsv1.3"]
        if sc.tls_version == "TLSv1.3"
        else ["--tlsv1.2", "--tls-max", "1.2", "--ciphers", sc.cipher]
    )
    url = f"https://{HOST}"
    bodies = [location_body(1), location_body(2)]
    per = [
        "-sS",
        "-k",
        *proto,
        *tls,
        "--resolve",
        f"{HOST}:{HTTPS_PORT}:{SERVER_IP}",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{response_code}\\n",
    ]
    argv = ["curl", *per]
    for b in bodies:  # one connection: curl reuses it for each --next transfer
        argv += [
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            b.decode(),
            f"{url}{LOCATION_PATH}",
            "--next",
            *per,
        ]
    argv += ["-A", "imoo-watch/1.0", f"{url}{CONFIG_PATH}"]
    env = ["env", f"SSLKEYLOGFILE={d / 'keys.log'}"]
    with captured(pair, d / "capture.pcapng"):
        out = pair.run("cli", [*env, *argv], timeout=60)
    pair.stop_all()
    got = [line.split() for line in out.splitlines() if line.strip()]
    want_ver = "2" if h2 else "1.1"
    if [g[0] for g in got] != [want_ver] * 3 or [g[1] for g in got] != ["200"] * 3:
        raise RuntimeError(f"curl: {got}")
    reqs = [
        ("POST", LOCATION_PATH, len(bodies[0])),
        ("POST", LOCATION_PATH, len(bodies[1])),
        ("GET", CONFIG_PATH, None),
    ]
    t = Truth(name=sc.name, stack=sc.stack, app=sc.app, tls_version=sc.tls_version, cipher=sc.cipher)
    if h2:
        t.http2 = [
            {
                "stream_id": 1 + 2 * i,
                "method": m,
                "authority": HOST,
                "path": p,
                "status": 200,
                "request_data_length": n or 0,
            }
            for i, (m, p, n) in enumerate(reqs)
        ]
    else:
        t.http1 = [{"method": m, "host": HOST, "uri": p, "content_length": n} for m, p, n in reqs]
    return t


def _mqtt(pair: Pair, d: Path, sc: Scenario) -> Truth:
    conf = d / "mosquitto.conf"
    conf.write_text(
        f"listener {MQTT_PORT} {SERVER_IP}\nallow_anonymous true\npersistence false\nlog_dest stderr\n"
        f"certfile {pair.workdir / 'ec.pem'}\nkeyfile {pair.workdir / 'ec.key'}\n"
        "user root\n"  # mosquitto would drop to user "mosquitto", which cannot read the 0700 workdir
    )
    _serve(pair, d, [MOSQUITTO, "-c", str(conf)], MQTT_PORT, "mosquitto")
    return _peer_client(pair, d, sc, "mqtt-client")


def _websocket(pair: Pair, d: Path, sc: Scenario) -> Truth:
    pem, key = str(pair.workdir / "ec.pem"), str(pair.workdir / "ec.key")
    _serve(pair, d, [sys.executable, str(PEERS), "ws-server", "--cert", pem, "--key", key], HTTPS_PORT, "wss")
    return _peer_client(pair, d, sc, "ws-client")


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("py-tls12-aes128gcm", "python-ssl", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "http1", _py_http),
    Scenario("py-tls12-chacha20", "python-ssl", "TLSv1.2", "ECDHE-RSA-CHACHA20-POLY1305", "http1", _py_http),
    Scenario("py-tls12-aes128cbc", "python-ssl", "TLSv1.2", "ECDHE-RSA-AES128-SHA256", "http1", _py_http),
    Scenario("py-tls13-aes256gcm", "python-ssl", "TLSv1.3", "TLS_AES_256_GCM_SHA384", "http1", _py_http),
    Scenario("ossl-tls13-aes256gcm", "openssl", "TLSv1.3", "TLS_AES_256_GCM_SHA384", "http1", _openssl),
    Scenario(
        "ossl-tls13-chacha20",
        "openssl",
        "TLSv1.3",
        "TLS_CHACHA20_POLY1305_SHA256",
        "http1",
        _openssl,
    ),
    Scenario("ossl-tls13-aes128ccm", "openssl", "TLSv1.3", "TLS_AES_128_CCM_SHA256", "http1", _openssl),
    Scenario("ossl-tls13-aes128ccm8", "openssl", "TLSv1.3", "TLS_AES_128_CCM_8_SHA256", "http1", _openssl),
    Scenario("curl-h1-tls12", "curl", "TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384", "http1", _curl),
    Scenario("curl-h2-tls13", "curl", "TLSv1.3", "TLS_AES_256_GCM_SHA384", "http2", _curl),
    Scenario("mqtt-tls13", "paho-mqtt+mosquitto", "TLSv1.3", "TLS_AES_256_GCM_SHA384", "mqtt", _mqtt),
    Scenario("ws-tls12", "websockets", "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", "websocket", _websocket),
)
BY_NAME = {s.name: s for s in SCENARIOS}


def inject_secrets(capture: Path, keylog: Path, out: Path) -> None:
    """``editcap --inject-secrets tls,KEYLOG``: the key log as a Decryption Secrets Block in ``out``."""
    subprocess.run(
        ["editcap", "--inject-secrets", f"tls,{keylog}", str(capture), str(out)],
        check=True,
        capture_output=True,
        timeout=60,
    )


def build(out: Path, names: Sequence[str] = ()) -> dict[str, Truth]:
    """Build the named scenarios (all by default) into ``out/NAME/``; returns their ground truth."""
    todo = [BY_NAME[n] for n in names] if names else list(SCENARIOS)
    truths: dict[str, Truth] = {}
    with namespace_pair() as pair:
        for sc in todo:
            d = out / sc.name
            d.mkdir(parents=True, exist_ok=True)
            t0 = time.monotonic()
            t = sc.run(pair, d, sc)
            inject_secrets(d / "capture.pcapng", d / "keys.log", d / "capture-dsb.pcapng")
            t.build_seconds = round(time.monotonic() - t0, 2)
            (d / "truth.json").write_text(json.dumps(asdict(t), indent=1))
            truths[sc.name] = t
    return truths


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("names", nargs="*", help=f"scenarios (default all): {', '.join(BY_NAME)}")
    a = ap.parse_args(argv)
    if unknown := set(a.names) - set(BY_NAME):
        ap.error(f"unknown scenario: {', '.join(sorted(unknown))}")
    for name, t in build(a.out, a.names).items():
        print(f"{name}: {t.tls_version} {t.cipher} {t.app} {t.build_seconds}s")


if __name__ == "__main__":
    main()
