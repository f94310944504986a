"""DHCPv4 (RFC 2131/2132): the fields that identify a client.

Option 55 (parameter request list) in request order is the classic passive OS
and device fingerprint (as used by Fingerbank); option 60 names the vendor
stack and option 12 the hostname the device chose for itself.

A message cut by a capture's snap length (``parse_partial``) gives the fixed fields and
the options whole before the cut, as tshark shows them: at 96 bytes a frame still holds
the client's hardware address, though not the options that follow the 236-byte header.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

MAGIC = b"\x63\x82\x53\x63"
MSG_TYPES = {
    1: "discover",
    2: "offer",
    3: "request",
    4: "decline",
    5: "ack",
    6: "nak",
    7: "release",
    8: "inform",
}


CHADDR_END = 34  # op .. giaddr (28 bytes), then the client hardware address (6 of its 16 bytes)


class DhcpError(ValueError):
    """Payload is not a well-formed DHCP message."""


@dataclass
class DhcpMessage:
    op: int
    msg_type: str
    xid: int
    client_mac: bytes
    ciaddr: bytes
    yiaddr: bytes
    hostname: str = ""
    vendor_class: str = ""
    prl: list[int] = field(default_factory=list)
    client_id: bytes = b""
    requested_ip: bytes = b""
    server_id: bytes = b""
    fqdn: str = ""
    cut: bool = False  # a snap length cut it before its end option: the options end at the last whole one
    subnet_mask: bytes = b""  # option 1, in a server's offer or ack: the LAN the address is in


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\x00").decode("utf-8", "replace")


def parse(payload: bytes) -> DhcpMessage:
    """Parse a BOOTP/DHCP payload (UDP 67/68); raises DhcpError when malformed."""
    if len(payload) < 240 or payload[236:240] != MAGIC:
        raise DhcpError("not a DHCP message (short or no magic cookie)")
    return _parse(payload, False)


def parse_partial(payload: bytes) -> DhcpMessage:
    """A message cut by a snap length: the fixed fields it holds (at least up to the client's
    hardware address) and the options whole before the cut; raises DhcpError when shorter."""
    if len(payload) < CHADDR_END:
        raise DhcpError("cut before the client hardware address")
    if len(payload) >= 240 and payload[236:240] != MAGIC:
        raise DhcpError("not a DHCP message (no magic cookie)")
    return _parse(payload, True)


def _parse(payload: bytes, partial: bool) -> DhcpMessage:
    op, htype, hlen = payload[0], payload[1], payload[2]
    (xid,) = struct.unpack_from("!I", payload, 4)
    mac = payload[28 : 28 + hlen] if htype == 1 and hlen == 6 else b""
    msg = DhcpMessage(op, "", xid, mac, payload[12:16], payload[16:20])
    pos, end = 240, len(payload)
    msg.cut = partial  # until the end option (255, RFC 2132 3.2) shows the options are whole
    while pos < end:
        code = payload[pos]
        if code == 255:
            msg.cut = False
            break
        if code == 0:
            pos += 1
            continue
        n = payload[pos + 1] if pos + 1 < end else 0
        val = payload[pos + 2 : pos + 2 + n]
        if pos + 2 > end or len(val) < n:
            if partial:
                msg.cut = True
                break
            raise DhcpError(f"option {code} runs past the end")
        pos += 2 + n
        if code == 53 and n >= 1:
            msg.msg_type = MSG_TYPES.get(val[0], str(val[0]))
        elif code == 12:
            msg.hostname = _text(val)
        elif code == 60:
            msg.vendor_class = _text(val)
        elif code == 55:
            msg.prl = list(val)
        elif code == 61:
            msg.client_id = val
        elif code == 50 and n == 4:
            msg.requested_ip = val
        elif code == 54 and n == 4:
            msg.server_id = val
        elif code == 1 and n == 4:
            msg.subnet_mask = val
        elif code == 81 and n > 3:
            msg.fqdn = _fqdn(val[3:])
    return msg


def _fqdn(raw: bytes) -> str:
    """Option 81 domain name: wire-format labels (RFC 4702) or, in old clients, ASCII."""
    if raw and raw[0] < 64 and b"." not in raw:
        labels, pos = [], 0
        while pos < len(raw) and raw[pos]:
            n = raw[pos]
            labels.append(raw[pos + 1 : pos + 1 + n].decode("utf-8", "replace"))
            pos += 1 + n
        return ".".join(labels)
    return _text(raw)
