"""DHCPv6 (RFC 8415, 4704): the fields that identify a client on an IPv6 network.

The client DUID is a stable identifier that survives MAC randomisation when it is a
DUID-LLT/LL made from a burned-in address; the FQDN option is the hostname the device
chose, the vendor and user class options name its DHCP stack, and the Option Request
Option (ORO) in order is a passive fingerprint, as option 55 is for DHCPv4. Relay
messages carry the client's message inside, decoded here to ``MAX_RELAY_DEPTH`` levels.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from parsers.protocols.wire import Reader

MSG_TYPES = {
    1: "SOLICIT",
    2: "ADVERTISE",
    3: "REQUEST",
    4: "CONFIRM",
    5: "RENEW",
    6: "REBIND",
    7: "REPLY",
    8: "RELEASE",
    9: "DECLINE",
    10: "RECONFIGURE",
    11: "INFORMATION-REQUEST",
    12: "RELAY-FORW",
    13: "RELAY-REPL",
    14: "LEASEQUERY",
    15: "LEASEQUERY-REPLY",
    16: "LEASEQUERY-DONE",
    17: "LEASEQUERY-DATA",
    18: "RECONFIGURE-REQUEST",
    19: "RECONFIGURE-REPLY",
    20: "DHCPV4-QUERY",
    21: "DHCPV4-RESPONSE",
}
RELAY_TYPES = (12, 13)
(
    OPT_CLIENTID,
    OPT_SERVERID,
    OPT_IA_NA,
    OPT_IA_TA,
    OPT_IAADDR,
    OPT_ORO,
    OPT_RELAY_MSG,
    OPT_USER_CLASS,
    OPT_VENDOR_CLASS,
    OPT_INTERFACE_ID,
    OPT_CLIENT_FQDN,
) = (1, 2, 3, 4, 5, 6, 9, 15, 16, 18, 39)
DUID_TYPES = {1: "LLT", 2: "EN", 3: "LL", 4: "UUID"}
MAX_RELAY_DEPTH = 8  # HOP_COUNT_LIMIT (RFC 8415 7.6): a relay chain is never longer


class Dhcpv6Error(ValueError):
    """Not a well-formed DHCPv6 message: a length past the end, an odd ORO, relays nested too deep."""


@dataclass(slots=True)
class Dhcpv6Message:
    msg_type: int
    transaction_id: int = 0  # 24 bits; 0 for relay messages, which have none
    option_codes: list[int] = field(default_factory=list)  # top-level options in wire order
    client_duid: str = ""  # hex
    duid_type: int = 0
    client_mac: str = ""  # from a DUID-LLT/LL with hardware type 1 (Ethernet)
    server_duid: str = ""
    fqdn: str = ""
    fqdn_flags: int = 0
    vendor_enterprise: int | None = None
    vendor_class: list[str] = field(default_factory=list)
    user_class: list[str] = field(default_factory=list)
    oro: list[int] = field(default_factory=list)
    iaids: list[int] = field(default_factory=list)  # of IA_NA and IA_TA, in order
    ia_addresses: list[str] = field(default_factory=list)  # IAADDR inside IA_NA / IA_TA
    # relay messages only
    hop_count: int = 0
    link_address: str = ""
    peer_address: str = ""
    interface_id: bytes = b""
    relayed: Dhcpv6Message | None = None

    @property
    def type_name(self) -> str:
        return MSG_TYPES.get(self.msg_type, str(self.msg_type))

    @property
    def is_relay(self) -> bool:
        return self.msg_type in RELAY_TYPES

    @property
    def innermost(self) -> Dhcpv6Message:
        """The client's or server's own message inside any relay layers."""
        msg = self
        while msg.relayed is not None:
            msg = msg.relayed
        return msg


def parse(payload: bytes) -> Dhcpv6Message:
    """Parse a DHCPv6 payload (udp/546, 547); raises Dhcpv6Error when malformed."""
    return _parse(payload, 0)


def _parse(payload: bytes, depth: int) -> Dhcpv6Message:
    r = Reader(payload, Dhcpv6Error)
    if r.left() < 4:
        raise Dhcpv6Error("shorter than a DHCPv6 header")
    mtype = r.u8()
    if mtype == 0:
        raise Dhcpv6Error("message type 0 is reserved")
    msg = Dhcpv6Message(mtype)
    if mtype in RELAY_TYPES:
        if depth >= MAX_RELAY_DEPTH:
            raise Dhcpv6Error(f"relay messages nested deeper than {MAX_RELAY_DEPTH}")
        msg.hop_count = r.u8()
        msg.link_address = socket.inet_ntop(socket.AF_INET6, r.take(16))
        msg.peer_address = socket.inet_ntop(socket.AF_INET6, r.take(16))
    else:
        msg.transaction_id = int.from_bytes(r.take(3), "big")
    for code, value in _options(r):
        msg.option_codes.append(code)
        _option(msg, code, value, depth)
    return msg


def _options(r: Reader) -> list[tuple[int, bytes]]:
    out = []
    while r.left():
        if r.left() < 4:
            raise Dhcpv6Error(f"{r.left()} bytes left, too few for an option header")
        code = r.u16()
        out.append((code, r.vec16()))
    return out


def _option(msg: Dhcpv6Message, code: int, value: bytes, depth: int) -> None:
    if code == OPT_CLIENTID:
        msg.client_duid = value.hex()
        msg.duid_type, msg.client_mac = _duid(value)
    elif code == OPT_SERVERID:
        msg.server_duid = value.hex()
    elif code in (OPT_IA_NA, OPT_IA_TA):
        fixed = 12 if code == OPT_IA_NA else 4  # IAID, T1, T2 / IAID
        if len(value) < fixed:
            raise Dhcpv6Error(f"IA option of {len(value)} bytes")
        msg.iaids.append(int.from_bytes(value[:4], "big"))
        for sub, data in _options(Reader(value[fixed:], Dhcpv6Error)):
            if sub == OPT_IAADDR:
                if len(data) < 24:
                    raise Dhcpv6Error(f"IAADDR of {len(data)} bytes")
                msg.ia_addresses.append(socket.inet_ntop(socket.AF_INET6, data[:16]))
    elif code == OPT_ORO:
        if len(value) % 2:
            raise Dhcpv6Error(f"ORO of odd length {len(value)}")
        msg.oro = [int.from_bytes(value[i : i + 2], "big") for i in range(0, len(value), 2)]
    elif code == OPT_USER_CLASS:
        msg.user_class = _strings(Reader(value, Dhcpv6Error))
    elif code == OPT_VENDOR_CLASS:
        vr = Reader(value, Dhcpv6Error)
        enterprise = int.from_bytes(vr.take(4), "big")
        if msg.vendor_enterprise is None:
            msg.vendor_enterprise = enterprise
        msg.vendor_class += _strings(vr)
    elif code == OPT_CLIENT_FQDN:
        if not value:
            raise Dhcpv6Error("empty Client FQDN option")
        msg.fqdn_flags = value[0]
        msg.fqdn = _domain(value[1:])
    elif code == OPT_INTERFACE_ID:
        msg.interface_id = value
    elif code == OPT_RELAY_MSG and msg.is_relay:
        msg.relayed = _parse(value, depth + 1)


def _strings(r: Reader) -> list[str]:
    """Opaque data items with 16-bit lengths (user class, vendor class), as text."""
    out = []
    while r.left():
        out.append(r.vec16().decode("utf-8", "replace"))
    return out


def _duid(duid: bytes) -> tuple[int, str]:
    """(DUID type, MAC) where the DUID is an LLT or LL made from an Ethernet address."""
    if len(duid) < 2:
        raise Dhcpv6Error("DUID shorter than its type")
    dtype = int.from_bytes(duid[:2], "big")
    lladdr = {1: duid[8:], 3: duid[4:]}.get(dtype, b"")
    if lladdr and len(lladdr) == 6 and duid[2:4] == b"\x00\x01":
        return dtype, ":".join(f"{b:02x}" for b in lladdr)
    return dtype, ""


def _domain(raw: bytes) -> str:
    """A domain name in DNS wire format without compression; a partial name has no final zero (RFC 4704)."""
    labels = []
    r = Reader(raw, Dhcpv6Error)
    while r.left():
        n = r.u8()
        if n == 0:
            break
        if n > 63:
            raise Dhcpv6Error(f"label length {n} (compression is not allowed here)")
        labels.append(r.take(n).decode("utf-8", "replace"))
    return ".".join(labels)
