"""Broker's JSON encoding of Zeek values and events, as Zeek's WebSocket API sends them (v1).

Zeek's docs (``doc/advanced/devel/websocket-api.rst``, copied in ../shared/docs/zeek) and Broker's
"Data Representation" (``broker/doc/web-socket.rst``): every value is ``{"@data-type": T, "data":
V}``; an event arrives as a ``data-message`` whose data is the vector ``[format 1, type 1,
[name, [args...], [metadata...]]]``. The first message from the server is ``{"type": "ack",
"endpoint": ..., "version": ...}``, an error ``{"type": "error", "code": ..., "context": ...}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class BrokerError(ValueError):
    """A message that is not Broker's JSON as documented."""


@dataclass(frozen=True)
class Event:
    topic: str
    name: str
    args: list[Any]


def value(v: Any) -> Any:
    """A Broker JSON value as Python: numbers, text (addresses, subnets, ports, enums, timestamps as
    Broker prints them), lists for vectors and sets, dicts for tables, None for none."""
    if not isinstance(v, dict) or "@data-type" not in v:
        raise BrokerError(f"not a Broker value: {str(v)[:80]}")
    t: str = v["@data-type"]
    d: Any = v.get("data")
    if t == "none":
        return None
    if t in ("vector", "set"):
        if not isinstance(d, list):
            raise BrokerError(f"{t} without a list")
        return [value(x) for x in d]
    if t == "table":
        if not isinstance(d, list):
            raise BrokerError("table without a list")
        return {_key(value(x["key"])): value(x["value"]) for x in d}
    if t in ("count", "integer"):
        return int(d)
    if t == "real":
        return float(d)
    if t == "boolean":
        return bool(d)
    if t in ("string", "address", "subnet", "port", "enum", "timestamp", "timespan"):
        return str(d)
    raise BrokerError(f"unknown Broker type {t!r}")


def _key(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k


def encode(v: Any) -> dict[str, Any]:
    """A Python value in Broker's JSON (strings, ints, floats, bools, None, lists): the tests' server
    and any client that publishes use it."""
    if v is None:
        return {"@data-type": "none", "data": {}}
    if isinstance(v, bool):
        return {"@data-type": "boolean", "data": v}
    if isinstance(v, int):
        return {"@data-type": "count" if v >= 0 else "integer", "data": v}
    if isinstance(v, float):
        return {"@data-type": "real", "data": v}
    if isinstance(v, str):
        return {"@data-type": "string", "data": v}
    if isinstance(v, list | tuple):
        return {"@data-type": "vector", "data": [encode(x) for x in v]}
    raise BrokerError(f"cannot encode {type(v).__name__}")


def event_message(topic: str, name: str, args: list[Any]) -> str:
    """A ``data-message`` carrying event ``name(args)`` on ``topic``, as the server sends it."""
    body = encode([1, 1, [name, list(args), []]])
    return json.dumps({"type": "data-message", "topic": topic, **body})


def parse_message(text: str | bytes) -> dict[str, Any] | Event:
    """One message from the server: an Event for a data-message carrying an event, else the
    message's object (ack, error); BrokerError when it is neither."""
    try:
        msg = json.loads(text)
    except ValueError as exc:
        raise BrokerError(f"not JSON: {exc}") from None
    if not isinstance(msg, dict) or "type" not in msg:
        raise BrokerError("not a WebSocket API message (no type)")
    if msg["type"] != "data-message":
        return msg
    outer = value({"@data-type": msg.get("@data-type"), "data": msg.get("data")})
    if not (isinstance(outer, list) and len(outer) >= 3 and outer[0] == 1 and outer[1] == 1):
        raise BrokerError("a data-message that is not an event (format 1, type 1)")
    ev = outer[2]
    if not (isinstance(ev, list) and len(ev) >= 2 and isinstance(ev[0], str) and isinstance(ev[1], list)):
        raise BrokerError("an event without a name and arguments")
    return Event(str(msg.get("topic", "")), ev[0], ev[1])
