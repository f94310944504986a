"""The servers and clients of tests/support/tlslab.py, each run inside one of its namespaces.

``python tests/support/tlspeers.py COMMAND ...``: ``http-server`` (Python ssl, ``http.server``),
``http-client`` (Python ssl with ``keylog_filename``), ``mqtt-client`` (paho-mqtt over a Python ssl
context with ``keylog_filename``; mosquitto_pub cannot log keys), ``ws-server`` and ``ws-client``
(the ``websockets`` library, compression off so frame lengths are the application's own). Every
client writes what it sent to ``--out`` (``tlslab.Truth`` fields) and logs its keys to ``--keylog``.
``asgi_app`` is the application hypercorn serves to curl.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script inside a namespace
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.netlab import DEVICE_IMEI
from tests.support.nspair import HOST, SERVER_IP
from tests.support.tlslab import CONFIG_PATH, HTTPS_PORT, LOCATION_PATH, MQTT_PORT, WS_PATH
from tests.support.tlslab import location_body as _body

REPLY = b'{"ok":true,"interval":2}'


def _server_ctx(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def _client_ctx(keylog: Path, version: str, cipher: str | None = None) -> ssl.SSLContext:
    """Verification off (self-signed lab certificate); the version pinned; TLS 1.2's suite chosen."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.keylog_filename = str(keylog)
    pinned = ssl.TLSVersion.TLSv1_2 if version == "TLSv1.2" else ssl.TLSVersion.TLSv1_3
    ctx.minimum_version = ctx.maximum_version = pinned
    if cipher and pinned is ssl.TLSVersion.TLSv1_2:
        ctx.set_ciphers(cipher)
    return ctx


def _wait_for_term() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()


def _write(out: Path, truth: dict[str, Any]) -> None:
    out.write_text(json.dumps(truth, indent=1))


# ---------------------------------------------------------------- HTTP/1.1 over Python ssl


def http_server(cert: Path, key: Path) -> None:
    ctx = _server_ctx(cert, key)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(REPLY)))
            self.end_headers()
            self.wfile.write(REPLY)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._reply()

        def do_GET(self) -> None:
            self._reply()

    class TLSServer(ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self) -> tuple[Any, Any]:
            sock, addr = super().get_request()
            return ctx.wrap_socket(sock, server_side=True), addr

    srv = TLSServer((SERVER_IP, HTTPS_PORT), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _wait_for_term()
    srv.shutdown()


def http_client(keylog: Path, out: Path, version: str, cipher: str) -> None:
    """Two location POSTs and a GET on one keep-alive connection."""
    ctx = _client_ctx(keylog, version, cipher)
    conn = http.client.HTTPSConnection(HOST, HTTPS_PORT, timeout=10, context=ctx)
    conn.sock = ctx.wrap_socket(
        socket.create_connection((SERVER_IP, HTTPS_PORT), timeout=10), server_hostname=HOST
    )
    sent = []
    for i, (method, path) in enumerate(
        (("POST", LOCATION_PATH), ("POST", LOCATION_PATH), ("GET", CONFIG_PATH))
    ):
        body = _body(i + 1) if method == "POST" else None
        headers = {"Content-Type": "application/json"} if body else {"User-Agent": "imoo-watch/1.0"}
        conn.request(method, path, body, headers)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: {r.status}")
        sent.append(
            {"method": method, "host": HOST, "uri": path, "content_length": len(body) if body else None}
        )
    tls = conn.sock
    assert isinstance(tls, ssl.SSLSocket)
    _write(out, {"tls_version": tls.version(), "cipher": tls.cipher()[0], "http1": sent})  # type: ignore[index]
    conn.close()


# ---------------------------------------------------------------- MQTT over TLS (paho-mqtt)


def mqtt_client(keylog: Path, out: Path, version: str, cipher: str | None) -> None:
    """Three PUBLISHes (QoS 1, 1, 0) of the watch's location, then DISCONNECT."""
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="imoo-watch", protocol=mqtt.MQTTv311)
    c.tls_set_context(_client_ctx(keylog, version, cipher))
    c.connect(SERVER_IP, MQTT_PORT, keepalive=30)
    c.loop_start()
    sent = []
    for i, qos in enumerate((1, 1, 0)):
        topic = f"watch/{DEVICE_IMEI}/location"
        payload = _body(i + 1)
        info = c.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout=10)
        if not info.is_published():
            raise RuntimeError(f"PUBLISH {i} not acknowledged")
        sent.append({"topic": topic, "payload_length": len(payload)})
    sock = c.socket()
    assert isinstance(sock, ssl.SSLSocket)
    neg = {"tls_version": sock.version(), "cipher": sock.cipher()[0]}  # type: ignore[index]
    c.disconnect()
    c.loop_stop()
    _write(out, neg | {"mqtt": sent, "sni": ""})  # paho connects by address: no server_name then


# ---------------------------------------------------------------- WebSocket over TLS


def ws_server(cert: Path, key: Path) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(ws: ServerConnection) -> None:
        async for msg in ws:
            await ws.send(msg)

    async def run() -> None:
        stop = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
        async with serve(echo, SERVER_IP, HTTPS_PORT, ssl=_server_ctx(cert, key), compression=None):
            await stop

    asyncio.run(run())


def ws_client(keylog: Path, out: Path, version: str, cipher: str | None) -> None:
    """Three text frames (locations) and one binary frame, each echoed back, then a close."""
    from websockets.asyncio.client import connect

    ctx = _client_ctx(keylog, version, cipher)
    frames: list[str | bytes] = [_body(i).decode() for i in (1, 2, 3)]
    frames.append(bytes(range(256)) * 2)

    async def run() -> dict[str, Any]:
        sock = socket.create_connection((SERVER_IP, HTTPS_PORT), timeout=10)
        async with connect(
            f"wss://{HOST}{WS_PATH}", sock=sock, ssl=ctx, server_hostname=HOST, compression=None
        ) as ws:
            for f in frames:
                await ws.send(f)
                if await ws.recv() != f:
                    raise RuntimeError("echo differs")
            tls = ws.transport.get_extra_info("ssl_object")
            return {"tls_version": tls.version(), "cipher": tls.cipher()[0]}

    neg = asyncio.run(run())
    sent = [
        {
            "opcode": 1 if isinstance(f, str) else 2,
            "payload_length": len(f.encode() if isinstance(f, str) else f),
        }
        for f in frames
    ]
    upgrade = {"method": "GET", "host": HOST, "uri": WS_PATH, "content_length": None}
    _write(out, neg | {"ws": sent, "http1": [upgrade]})


# ---------------------------------------------------------------- the app hypercorn serves to curl

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def asgi_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """200 and a small JSON to every request, after reading its whole body."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            kind = msg["type"].rsplit(".", 1)[1]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": REPLY})


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("http-server", "ws-server"):
        s = sub.add_parser(name)
        s.add_argument("--cert", type=Path, required=True)
        s.add_argument("--key", type=Path, required=True)
    for name in ("http-client", "mqtt-client", "ws-client"):
        c = sub.add_parser(name)
        c.add_argument("--keylog", type=Path, required=True)
        c.add_argument("--out", type=Path, required=True)
        c.add_argument("--version", choices=("TLSv1.2", "TLSv1.3"), required=True)
        c.add_argument("--cipher", default=None)
    a = ap.parse_args(argv)
    if a.cmd == "http-server":
        http_server(a.cert, a.key)
    elif a.cmd == "ws-server":
        ws_server(a.cert, a.key)
    elif a.cmd == "http-client":
        http_client(a.keylog, a.out, a.version, a.cipher)
    elif a.cmd == "mqtt-client":
        mqtt_client(a.keylog, a.out, a.version, a.cipher)
    else:
        ws_client(a.keylog, a.out, a.version, a.cipher)


if __name__ == "__main__":
    main()
