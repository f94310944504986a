"""Test harness: an h2c server on 127.0.0.1 (the ``h2`` library over sockets) for curl to talk to.

It answers every request with 200 and a JSON body naming the method, path and the request
body's length, by prior knowledge (the client preface) or after an HTTP/1.1 ``Upgrade: h2c``
(RFC 9113 3.2), one thread per connection. ``answers`` keeps what it sent, per request path.
"""

from __future__ import annotations

import json
import socket
import threading
from contextlib import suppress

import h2.config
import h2.connection
import h2.events


class H2cServer:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.answers: dict[str, bytes] = {}
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.sock.close()

    def _accept(self) -> None:
        with suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        h2c = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        first = sock.recv(65536)
        if first.startswith(b"PRI * HTTP/2.0"):
            h2c.initiate_connection()
            rest = first
        else:  # an HTTP/1.1 request asking to upgrade: its HTTP2-Settings, then 101
            while b"\r\n\r\n" not in first:
                first += sock.recv(65536)
            head, _, rest = first.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
            settings = fields["http2-settings"].encode()
            sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
            h2c.initiate_upgrade_connection(settings + b"=" * (-len(settings) % 4))
            method, path = lines[0].split(" ")[:2]
            self._answer(h2c, 1, method, path, 0)  # the upgrade request is stream 1 (RFC 9113 3.2)
        bodies: dict[int, int] = {}
        heads: dict[int, tuple[str, str]] = {}
        data = rest
        with suppress(OSError), sock:
            while True:
                for ev in h2c.receive_data(data) if data else []:
                    if isinstance(ev, h2.events.RequestReceived):
                        hd = {str(k): str(v) for k, v in ev.headers}  # str: header_encoding
                        heads[ev.stream_id] = (hd[":method"], hd[":path"])
                    elif isinstance(ev, h2.events.DataReceived):
                        bodies[ev.stream_id] = bodies.get(ev.stream_id, 0) + len(ev.data)
                        h2c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        method, path = heads[ev.stream_id]
                        self._answer(h2c, ev.stream_id, method, path, bodies.get(ev.stream_id, 0))
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        sock.sendall(h2c.data_to_send())
                        return
                out = h2c.data_to_send()
                if out:
                    sock.sendall(out)
                data = sock.recv(65536)
                if not data:
                    return

    def _answer(self, h2c: h2.connection.H2Connection, sid: int, method: str, path: str, size: int) -> None:
        body = json.dumps({"method": method, "path": path, "received": size}).encode()
        self.answers[path] = body
        h2c.send_headers(
            sid,
            [(":status", "200"), ("content-type", "application/json"), ("content-length", str(len(body)))],
        )
        h2c.send_data(sid, body, end_stream=True)
