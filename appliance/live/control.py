"""The running capture session's control socket: test-phase marks and status, from `tapaudit mark`
and the dashboard.

A Unix stream socket; one JSON request per connection, one JSON reply. The capture loop owns
the session's state, so the socket's thread only queues requests; the loop answers them
between packet batches (``Control.serve``), which keeps marks in order with the packets.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_REQUEST = 64 * 1024
REPLY_TIMEOUT_S = 10.0


class ControlError(Exception):
    """No session answers, or it refused the request (one line)."""


def default_path() -> str:
    """Where a session listens unless told: $TAPAUDIT_CONTROL, else /run/tapaudit (the systemd
    unit's RuntimeDirectory) when writable, else a per-user folder under /tmp."""
    if os.environ.get("TAPAUDIT_CONTROL"):
        return os.environ["TAPAUDIT_CONTROL"]
    if os.access("/run/tapaudit", os.W_OK):
        return "/run/tapaudit/control.sock"
    return os.path.join(os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/tapaudit-{os.getuid()}", "control.sock")


@dataclass
class _Pending:
    request: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    reply: dict[str, Any] = field(default_factory=dict)


class Control:
    """Listens on ``path``; ``serve(handler)`` answers what came in since the last call."""

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(os.path.dirname(path) or ".", mode=0o770, exist_ok=True)
        if os.path.exists(path):
            if _alive(path):
                raise ControlError(f"another capture session is listening on {path}")
            os.unlink(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        os.chmod(path, 0o660)  # the session's user and group: a lab engineer's `tapaudit mark`
        self._sock.listen(16)
        self._sock.settimeout(0.5)
        self._queue: queue.Queue[_Pending] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="tapaudit-control", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(REPLY_TIMEOUT_S)
            try:
                request = json.loads(_read_line(conn))
                if not isinstance(request, dict):
                    raise ValueError("not an object")
            except (OSError, ValueError) as exc:
                _send(conn, {"ok": False, "error": f"bad request: {exc}"})
                return
            item = _Pending(request)
            self._queue.put(item)
            if not item.done.wait(REPLY_TIMEOUT_S):
                item.reply = {"ok": False, "error": "the capture loop did not answer in time"}
            _send(conn, item.reply)

    def serve(self, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
        """Answer every queued request with ``handler`` (in the caller's thread); how many."""
        n = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return n
            try:
                item.reply = {"ok": True, **handler(item.request)}
            except ControlError as exc:
                item.reply = {"ok": False, "error": str(exc)}
            item.done.set()
            n += 1

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        self.serve(lambda _r: {"ok": False, "error": "the session stopped"})


def request(path: str, body: dict[str, Any], timeout: float = REPLY_TIMEOUT_S + 2) -> dict[str, Any]:
    """Send one request to the session at ``path``; its reply, or ControlError."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            _send(s, body)
            reply = json.loads(_read_line(s))
    except FileNotFoundError:
        raise ControlError(f"no capture session is running (no control socket at {path})") from None
    except ConnectionRefusedError:
        raise ControlError(f"no capture session answers at {path} (a stale socket?)") from None
    except PermissionError:
        raise ControlError(f"not allowed to use {path}: join the session's group") from None
    except (OSError, ValueError) as exc:
        raise ControlError(f"control socket {path}: {exc}") from None
    if not isinstance(reply, dict):
        raise ControlError(f"control socket {path}: a reply that is not an object")
    if not reply.get("ok"):
        raise ControlError(str(reply.get("error") or "refused"))
    return reply


def _alive(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(path)
        except OSError:
            return False
    return True


def _read_line(conn: socket.socket) -> str:
    buf = b""
    while b"\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            break
        buf += chunk
        if len(buf) > MAX_REQUEST:
            raise ValueError("request too long")
    return buf.split(b"\n", 1)[0].decode("utf-8")


def _send(conn: socket.socket, body: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(body).encode("utf-8") + b"\n")
