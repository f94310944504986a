"""MQTT 3.1, 3.1.1 and 5 control packets from one direction of a TCP stream.

Smart watches and locks report location and state over MQTT: the CONNECT names the
device (client id, username), PUBLISH carries topic and payload, SUBSCRIBE shows what
it listens to. Version 5 adds properties; the version comes from the CONNECT, so a
``MqttParser`` is kept per connection and fed both directions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from parsers.protocols.wire import Reader

TYPES = {
    1: "connect",
    2: "connack",
    3: "publish",
    4: "puback",
    5: "pubrec",
    6: "pubrel",
    7: "pubcomp",
    8: "subscribe",
    9: "suback",
    10: "unsubscribe",
    11: "unsuback",
    12: "pingreq",
    13: "pingresp",
    14: "disconnect",
    15: "auth",
}
MAX_PACKET = 1 << 20
# v5 property id -> (name, kind): kinds are byte, u16, u32, varint, str, bin, pair
PROPERTIES = {
    0x01: ("payload_format_indicator", "byte"),
    0x02: ("message_expiry_interval", "u32"),
    0x03: ("content_type", "str"),
    0x08: ("response_topic", "str"),
    0x09: ("correlation_data", "bin"),
    0x0B: ("subscription_identifier", "varint"),
    0x11: ("session_expiry_interval", "u32"),
    0x12: ("assigned_client_identifier", "str"),
    0x13: ("server_keep_alive", "u16"),
    0x15: ("authentication_method", "str"),
    0x16: ("authentication_data", "bin"),
    0x17: ("request_problem_information", "byte"),
    0x18: ("will_delay_interval", "u32"),
    0x19: ("request_response_information", "byte"),
    0x1A: ("response_information", "str"),
    0x1C: ("server_reference", "str"),
    0x1F: ("reason_string", "str"),
    0x21: ("receive_maximum", "u16"),
    0x22: ("topic_alias_maximum", "u16"),
    0x23: ("topic_alias", "u16"),
    0x24: ("maximum_qos", "byte"),
    0x25: ("retain_available", "byte"),
    0x26: ("user_property", "pair"),
    0x27: ("maximum_packet_size", "u32"),
    0x28: ("wildcard_subscription_available", "byte"),
    0x29: ("subscription_identifier_available", "byte"),
    0x2A: ("shared_subscription_available", "byte"),
}


class MqttError(ValueError):
    """Malformed MQTT (lengths past the end, bad remaining length, unknown property)."""


@dataclass
class MqttMessage:
    kind: str
    flags: int
    fields: dict[str, Any] = field(default_factory=dict)
    offset: int = 0  # where the packet starts in the bytes parsed


class MqttParser:
    """Splits a direction's bytes into control packets; remembers the protocol version."""

    def __init__(self) -> None:
        self.version = 4

    def parse_stream(self, data: bytes) -> list[MqttMessage]:
        """Every whole packet at the start of ``data`` (a cut last packet is left out)."""
        return self.parse_prefix(data)[0]

    def parse_prefix(self, data: bytes) -> tuple[list[MqttMessage], int]:
        """Whole packets at the start of ``data`` and how many bytes they took."""
        out = []
        pos = 0
        while pos + 2 <= len(data):
            first = data[pos]
            length, used = _varint(data, pos + 1)
            if length < 0:
                break  # the length itself is not all here yet
            if length > MAX_PACKET:
                raise MqttError(f"remaining length {length} is absurd")
            end = pos + 1 + used + length
            if end > len(data):
                break
            msg = self.parse_packet(first, data[pos + 1 + used : end])
            msg.offset = pos
            out.append(msg)
            pos = end
        return out, pos

    def parse_packet(self, first: int, body: bytes) -> MqttMessage:
        ptype, flags = first >> 4, first & 0x0F
        if ptype not in TYPES:
            raise MqttError(f"packet type {ptype} does not exist")
        msg = MqttMessage(TYPES[ptype], flags)
        # the fixed header's bits, as Suricata logs them for every type (meaningful in PUBLISH)
        msg.fields.update(qos=(flags >> 1) & 3, retain=bool(flags & 1), dup=bool(flags & 8))
        r = Reader(body, MqttError)
        if ptype == 1:
            self._connect(r, msg.fields)
        elif ptype == 3:
            msg.fields["topic"] = r.string()
            if msg.fields["qos"]:
                msg.fields["message_id"] = r.u16()
            if self.version == 5:
                msg.fields["properties"] = _properties(r)
            msg.fields["message"] = r.rest()
        elif ptype in (8, 10):
            msg.fields["message_id"] = r.u16()
            if self.version == 5:
                msg.fields["properties"] = _properties(r)
            topics = []
            while r.left():
                topic = r.string()
                topics.append({"topic": topic, "qos": r.u8() & 3} if ptype == 8 else {"topic": topic})
            msg.fields["topics"] = topics
        elif ptype in (4, 5, 6, 7, 11):  # acknowledgements: the id, then (v5) a reason
            msg.fields["message_id"] = r.u16()
            if self.version == 5 and r.left():
                msg.fields["reason_code"] = r.u8()
                if r.left():
                    msg.fields["properties"] = _properties(r)
        elif ptype == 9:
            msg.fields["message_id"] = r.u16()
            if self.version == 5:
                msg.fields["properties"] = _properties(r)
            msg.fields["qos_granted"] = list(r.rest())
        elif ptype == 14 and self.version == 5:
            msg.fields["reason_code"] = r.u8() if r.left() else 0  # an empty body means 0, success
            if r.left():
                msg.fields["properties"] = _properties(r)
        elif ptype == 2 and r.left() >= 2:
            msg.fields.update(session_present=bool(r.u8() & 1), return_code=r.u8())
            if self.version == 5 and r.left():
                msg.fields["properties"] = _properties(r)
        return msg

    def _connect(self, r: Reader, f: dict[str, Any]) -> None:
        f["protocol_string"] = r.string()
        f["protocol_version"] = self.version = r.u8()
        flags = r.u8()
        f["flags"] = {
            "username": bool(flags & 0x80),
            "password": bool(flags & 0x40),
            "will_retain": bool(flags & 0x20),
            "will": bool(flags & 0x04),
            "clean_session": bool(flags & 0x02),
        }
        f["keepalive"] = r.u16()
        if self.version == 5:
            f["properties"] = _properties(r)
        f["client_id"] = r.string()
        if flags & 0x04:
            if self.version == 5:
                f["will_properties"] = _properties(r)
            f["will_topic"] = r.string()
            f["will_message"] = r.take(r.u16())
        if flags & 0x80:
            f["username"] = r.string()
        if flags & 0x40:
            f["password"] = r.take(r.u16()).decode("utf-8", "replace")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """MQTT variable byte integer at ``pos``: (value, bytes used)."""
    value = 0
    for i in range(4):
        if pos + i >= len(data):
            return -1, i  # not all here yet
        b = data[pos + i]
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            return value, i + 1
    raise MqttError("variable byte integer longer than 4 bytes")


def _properties(r: Reader) -> dict[str, Any]:
    length, used = _varint(r.buf, r.pos)
    if length < 0:
        raise MqttError("properties length cut short")
    r.pos += used
    p = Reader(r.take(length), MqttError)
    out: dict[str, Any] = {}
    while p.left():
        pid = p.u8()
        if pid not in PROPERTIES:
            raise MqttError(f"unknown property {pid:#x}")
        name, kind = PROPERTIES[pid]
        if kind == "byte":
            out[name] = p.u8()
        elif kind == "u16":
            out[name] = p.u16()
        elif kind == "u32":
            out[name] = int.from_bytes(p.take(4), "big")
        elif kind == "varint":
            v, used = _varint(p.buf, p.pos)
            if v < 0:
                raise MqttError("property value cut short")
            p.pos += used
            out[name] = v
        elif kind == "str":
            out[name] = p.string()
        elif kind == "bin":
            out[name] = p.take(p.u16())
        else:
            out.setdefault(name, []).append((p.string(), p.string()))
    return out
