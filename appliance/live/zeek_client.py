"""The client of Zeek's WebSocket API: subscribes to the rows ``tapaudit-publish.zeek`` publishes
and hands them on, reconnecting whenever the connection drops (issue 21, point 2).

The wire format is Zeek's (``../shared/docs/zeek/websocket-api.rst``): the client's first message is
the JSON array of topics it subscribes to (prefixes), the server answers ``{"type": "ack"}`` or an
error, then sends ``data-message``s in Broker's JSON (``parsers.zeek.broker``). The shipped script
publishes ``TapAudit::log_row(version, path, row)``; a row whose version is not ``SCRIPT_VERSION``
is counted and skipped (the script and the client change together). The client runs on its own
thread with the ``websockets`` library's synchronous client (Python broker bindings, when a Zeek
installation provides them, speak Broker's binary protocol to a Zeek peer instead; Zeek is not
installable here, so only the WebSocket path is built and tested). While the server is away the
client retries every ``retry_s`` (doubling to ``retry_max_s``); Zeek does not keep what it published
meanwhile, so what a sensor logged while no client listened is not received (its logs have it).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from parsers.zeek.broker import BrokerError, Event, parse_message

SCRIPT = "tapaudit-publish.zeek"
SCRIPT_VERSION = "1"  # TapAudit::version in the shipped script
TOPIC = "tapaudit/v1"  # TapAudit::topic_prefix
EVENT = "TapAudit::log_row"
API_PATH = "/v1/messages/json"


def script_text() -> str:
    """The Zeek script shipped with tapaudit (appliance/live/zeek/tapaudit-publish.zeek)."""
    return (resources.files("appliance.live") / "zeek" / SCRIPT).read_text()


def api_url(url: str) -> str:
    """``ws://host:port`` with the API's path added when none is given."""
    head, sep, rest = url.partition("://")
    if not sep or head not in ("ws", "wss"):
        raise ValueError(f"{url}: a ws:// or wss:// URL is needed")
    return url if "/" in rest else url + API_PATH


@dataclass
class ClientStats:
    connects: int = 0
    drops: int = 0
    messages: int = 0
    rows: int = 0
    bad_messages: int = 0
    other_events: int = 0
    wrong_version: int = 0
    last_error: str = ""
    endpoint: str = ""
    zeek_version: str = ""
    connected: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ZeekClient:
    url: str
    topics: list[str] = field(default_factory=lambda: [TOPIC])
    retry_s: float = 0.5
    retry_max_s: float = 10.0
    rows: queue.Queue[tuple[str, dict[str, Any]]] = field(default_factory=queue.Queue)
    stats: ClientStats = field(default_factory=ClientStats)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.url = api_url(self.url)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="zeek-ws", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        wait = self.retry_s
        while not self.stop.is_set():
            try:
                self._session()
                wait = self.retry_s  # it had connected: retry soon
            except Exception as exc:  # any failure is a drop: reconnect
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
            if self.stats.connected:
                self.stats.drops += 1
                self.stats.connected = False
            if self.stop.wait(wait):
                break
            wait = min(wait * 2, self.retry_max_s)

    def _session(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        with connect(self.url, open_timeout=5, additional_headers={"X-Application-Name": "tapaudit"}) as ws:
            ws.send(json.dumps(self.topics))
            ack = parse_message(ws.recv(timeout=10))
            if isinstance(ack, Event) or ack.get("type") != "ack":
                raise BrokerError(f"no ack from the server: {str(ack)[:200]}")
            self.stats.connects += 1
            self.stats.connected = True
            self.stats.endpoint = str(ack.get("endpoint", ""))
            self.stats.zeek_version = str(ack.get("version", ""))
            while not self.stop.is_set():
                try:
                    text = ws.recv(timeout=0.2)
                except TimeoutError:
                    continue
                except ConnectionClosed:
                    raise
                self._take(text)

    def _take(self, text: str | bytes) -> None:
        self.stats.messages += 1
        try:
            msg = parse_message(text)
        except BrokerError:
            self.stats.bad_messages += 1
            return
        if not isinstance(msg, Event):
            if msg.get("type") == "error":
                self.stats.last_error = str(msg.get("context") or msg.get("code"))[:300]
            return
        if msg.name != EVENT or len(msg.args) < 3:
            self.stats.other_events += 1
            return
        version, path, row = msg.args[0], msg.args[1], msg.args[2]
        if version != SCRIPT_VERSION:
            self.stats.wrong_version += 1
            return
        try:
            obj = json.loads(row) if isinstance(row, str) else None
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            self.stats.bad_messages += 1
            return
        self.stats.rows += 1
        self.rows.put((str(path), obj))

    def wait_connected(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.stats.connected:
                return True
            time.sleep(0.05)
        return False
