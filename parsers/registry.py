"""The explicit list of payload dissectors the flow meter runs, keyed by UDP port.

A dissector takes (ts, source MAC, source IP, source port, destination IP,
destination port, payload) and returns events; it raises ValueError (or a
subclass) on malformed input, which the meter counts per dissector and skips.
Add a dissector by adding it here: nothing registers itself on import.
"""

from __future__ import annotations

from collections.abc import Callable

from parsers.events import AddressSeen, DhcpSeen, Event, NameSeen
from parsers.protocols import dhcp, dns, ssdp

Dissector = Callable[[int, bytes, bytes, int, bytes, int, bytes], list[Event]]
ZERO4 = b"\x00\x00\x00\x00"


def dhcp_events(
    ts: int, smac: bytes, src: bytes, sport: int, dst: bytes, dport: int, pl: bytes
) -> list[Event]:
    msg = dhcp.parse(pl)
    if not msg.client_mac:
        return []
    out: list[Event] = [DhcpSeen(ts, msg.client_mac, msg)]
    if msg.msg_type == "ack" and msg.yiaddr != ZERO4:
        out.append(AddressSeen(ts, msg.client_mac, msg.yiaddr, "dhcp"))
    elif msg.op == 1 and msg.ciaddr != ZERO4:
        out.append(AddressSeen(ts, msg.client_mac, msg.ciaddr, "dhcp"))
    return out


SKIP_SERVICES = ("_services._dns-sd._udp.local",)


def mdns_events(
    ts: int, smac: bytes, src: bytes, sport: int, dst: bytes, dport: int, pl: bytes
) -> list[Event]:
    """Names a responder claims for itself: A/AAAA owners, SRV targets, service instances."""
    msg = dns.parse(pl)
    if not msg.is_response:
        return []
    names: dict[tuple[str, str], None] = {}
    for rec in msg.answers + msg.additional:
        if rec.rtype in (1, 28):
            names[("mdns", rec.name)] = None
        elif rec.rtype == 33:
            names[("mdns", rec.data.split(" ", 3)[-1])] = None
        elif rec.rtype == 12 and rec.name not in SKIP_SERVICES and not rec.name.endswith(".arpa"):
            names[("mdns-service", rec.data)] = None
    return [NameSeen(ts, smac, src, kind, name) for kind, name in names if name]


def ssdp_events(
    ts: int, smac: bytes, src: bytes, sport: int, dst: bytes, dport: int, pl: bytes
) -> list[Event]:
    msg = ssdp.parse(pl)
    if msg is None or not msg.is_announcement:
        return []
    out: list[Event] = []
    if msg.headers.get("server"):
        out.append(NameSeen(ts, smac, src, "ssdp-server", msg.headers["server"]))
    usn = msg.headers.get("usn", "")
    if usn.startswith("uuid:"):
        out.append(NameSeen(ts, smac, src, "ssdp-usn", usn.split("::", 1)[0]))
    return out


UDP_DISSECTORS: dict[int, tuple[str, Dissector]] = {
    67: ("dhcp", dhcp_events),
    68: ("dhcp", dhcp_events),
    5353: ("mdns", mdns_events),
    1900: ("ssdp", ssdp_events),
}
