"""Per-protocol readers of UDP datagrams, and the inventory evidence some of them carry.

A UDP protocol's reader is split in two on purpose: ``parse`` turns a datagram into
the protocol's message, ``read`` turns that message into records (and may note the
flow's host or server name on the session). The inventory extractors (DHCP, mDNS,
SSDP: which MAC has which address and names) take the same parsed message, so a
datagram that feeds both the records and the device inventory is parsed once.

A parse or read raising ``ValueError`` (or a subclass), ``IndexError`` or
``UnicodeError`` is a malformed datagram: the session counts it and goes on.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from parsers.events import (
    AddressSeen,
    AppRecord,
    DhcpSeen,
    DnsRecord,
    Event,
    LanSeen,
    NameSeen,
    Record,
    TlsRecord,
)
from parsers.lan import ip_text
from parsers.protocols import coap, dhcp, dhcpv6, dns, gquic, ntp, quic, ssdp
from parsers.session_types import UdpSession

UDP_MAX_PACKETS = 8  # packets read of a flow whose protocol only needs its first exchange
QUIC_VERSIONS = frozenset(v.to_bytes(4, "big") for v in quic.SALTS)
ZERO4 = b"\x00\x00\x00\x00"
SKIP_SERVICES = ("_services._dns-sd._udp.local",)


Reader = Callable[[UdpSession, list[Record], Any, bool, int, Any], bool]
Inventory = Callable[[int, bytes, bytes, Any], list[Event]]


@dataclass(frozen=True, slots=True)
class Datagram:
    """How one UDP protocol is read: ``parse(payload) -> message``, then ``read(session, out, flow,
    up, ts, message) -> whether the flow's next datagrams are still wanted``. ``partial`` parses a
    datagram a snap length cut short as far as it goes (DNS, DHCP); without it such a datagram
    is parsed as any other, and counted truncated rather than malformed if that fails."""

    parse: Callable[[bytes], Any]
    read: Reader
    partial: Callable[[bytes], Any] | None = None


# ---- sniffing: a flow's protocol from its first datagram, when its ports do not say ------------


def sniff_quic(payload: bytes, up: bool) -> bool:
    """A QUIC long header of a version we can decrypt the Initial of (v1, v2, drafts, Q050, T05x),
    or a Google QUIC client hello in clear (Q024..Q046)."""
    if len(payload) >= 7 and payload[0] & 0xC0 == 0xC0 and payload[1:5] in QUIC_VERSIONS:
        return True
    return gquic.sniff(payload)


def sniff_dtls(payload: bytes, up: bool) -> bool:
    """A DTLS record (content type 20-25, version 0xfe..)."""
    return len(payload) >= 13 and 20 <= payload[0] <= 25 and payload[1] == 0xFE


# ---- records ----------------------------------------------------------------------------------


def _as_is(payload: bytes) -> bytes:
    return payload


def _dns(s: UdpSession, out: list[Record], flow: Any, up: bool, ts: int, m: dns.DnsMessage) -> bool:
    out.append(DnsRecord(flow, ts, s.app, "udp", m))
    return True


def _dhcp(s: UdpSession, out: list[Record], flow: Any, up: bool, ts: int, m: dhcp.DhcpMessage) -> bool:
    detail = {
        "xid": m.xid,
        "op": "request" if m.op == 1 else "reply",
        "ciaddr": ip_text(m.ciaddr),
        "client_mac": m.client_mac.hex(":"),
        "vendor_class": m.vendor_class,
        "prl": m.prl,
        "requested": ".".join(str(b) for b in m.requested_ip),  # option 50 as sent, whatever its length
        "yiaddr": ip_text(m.yiaddr),
    }
    out.append(AppRecord(flow, ts, up, "dhcp", m.msg_type, m.hostname, detail))
    return True


def _quic(s: UdpSession, out: list[Record], flow: Any, up: bool, ts: int, payload: bytes) -> bool:
    """The client's Initial packets, decrypted until its ClientHello is whole (later Initials
    with the server's connection id are decrypted with the first one's keys); or a gQUIC
    client hello in clear."""
    if not up:
        return s.packets < UDP_MAX_PACKETS
    if s.crypto is None and gquic.clear_version(payload):
        hello = gquic.clear_hello(payload)
        if hello is None:
            return s.packets < UDP_MAX_PACKETS
        s.sni = hello.sni
        out.append(TlsRecord(flow, ts, "quic", client=hello))
        return False
    if s.crypto is None:
        s.crypto = quic.InitialCrypto()
    for pkt in quic.client_initials(payload, s.crypto.original):
        hello = s.crypto.add(pkt)
        if hello is not None:
            s.sni = hello.sni
            out.append(TlsRecord(flow, ts, "quic", client=hello))
            s.crypto = None
            return False
    return s.packets < UDP_MAX_PACKETS


def _ssdp(s: UdpSession, out: list[Record], flow: Any, up: bool, ts: int, m: ssdp.SsdpMessage | None) -> bool:
    if m is None:
        return True
    name = m.headers.get("nt") or m.headers.get("st") or ""
    if not s.host:
        s.host = m.headers.get("host", "")
    out.append(AppRecord(flow, ts, up, "ssdp", m.start_line.split(" ", 1)[0], name, dict(m.headers)))
    return True


def _ntp(s: UdpSession, out: list[Record], flow: Any, up: bool, ts: int, m: ntp.NtpMessage) -> bool:
    detail = {"version": m.version, "stratum": m.stratum, "ref_id": m.ref_id.rstrip("\x00")}
    out.append(AppRecord(flow, ts, up, "ntp", m.mode_name, "", detail))
    return s.packets < UDP_MAX_PACKETS  # the first exchanges say what the device synchronises with


def _coap(s: UdpSession, out: list[Record], flow: Any, up: bool, ts: int, m: coap.CoapMessage) -> bool:
    if up and not s.host and m.uri_host:
        s.host = m.uri_host.lower()
    detail: dict[str, Any] = {"type": m.type, "code": m.code, "mid": m.message_id}
    if m.content_format is not None:
        detail["content_format"] = m.content_format
    if m.uri_query:
        detail["query"] = "&".join(m.uri_query)
    out.append(AppRecord(flow, ts, up, "coap", m.code_name or m.code, m.uri_path, detail, m.payload))
    return True


def _dhcpv6_parse(payload: bytes) -> dhcpv6.Dhcpv6Message:
    return dhcpv6.parse(payload).innermost  # a relayed message: the client's own, inside


def _dhcpv6(s: UdpSession, out: list[Record], flow: Any, up: bool, ts: int, m: dhcpv6.Dhcpv6Message) -> bool:
    detail = {
        "xid": m.transaction_id,
        "client_mac": m.client_mac,
        "vendor_class": ",".join(m.vendor_class),
        "vendor_enterprise": m.vendor_enterprise,
        "oro": m.oro,
        "requested": ",".join(m.ia_addresses),
    }
    out.append(AppRecord(flow, ts, up, "dhcpv6", m.type_name.lower(), m.fqdn, detail))
    return True


DNS = Datagram(dns.parse, _dns, dns.parse_partial)
DHCP = Datagram(dhcp.parse, _dhcp, dhcp.parse_partial)
DHCPV6 = Datagram(_dhcpv6_parse, _dhcpv6)
SSDP = Datagram(ssdp.parse, _ssdp)
NTP = Datagram(ntp.parse, _ntp)
COAP = Datagram(coap.parse, _coap)
QUIC = Datagram(_as_is, _quic)  # stateful: the session keeps the Initial's decryption


# ---- inventory: (ts, source MAC, source IP, parsed message) -> events --------------------------


def dhcp_events(ts: int, smac: bytes, src: bytes, msg: dhcp.DhcpMessage) -> list[Event]:
    """The client's MAC with its DHCP fingerprint, and the address it was given or still uses; a
    server's offer or ack also names the LAN (the address under its subnet mask, RFC 2132 option 1)
    and shows the sender to be the LAN's server, not a device of it."""
    if not msg.client_mac:
        return []
    out: list[Event] = [DhcpSeen(ts, msg.client_mac, msg)]
    if msg.op == 2 and msg.msg_type in ("offer", "ack"):
        length = mask_length(msg.subnet_mask)
        if msg.yiaddr != ZERO4 and length:
            net = (int.from_bytes(msg.yiaddr, "big") >> (32 - length) << (32 - length)).to_bytes(4, "big")
            out.append(LanSeen(ts, smac, net, length, "dhcp"))
        else:
            out.append(LanSeen(ts, smac, b"", 0, "dhcp"))
    if msg.msg_type == "ack" and msg.yiaddr != ZERO4:
        out.append(AddressSeen(ts, msg.client_mac, msg.yiaddr, "dhcp"))
    elif msg.op == 1 and msg.ciaddr != ZERO4 and msg.msg_type != "release":  # a release gives it up
        out.append(AddressSeen(ts, msg.client_mac, msg.ciaddr, "dhcp"))
    return out


def mask_length(mask: bytes) -> int:
    """The prefix length of a contiguous IPv4 subnet mask (255.255.255.0 -> 24); 0 for none or a
    mask with holes, which no LAN has."""
    if len(mask) != 4:
        return 0
    bits = int.from_bytes(mask, "big")
    length = bin(bits).count("1")
    return length if length and bits == (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF else 0


def dhcpv6_events(ts: int, smac: bytes, src: bytes, msg: dhcpv6.Dhcpv6Message) -> list[Event]:
    """A server's reply assigning addresses (IA_NA, IA_TA): each address's /64 is the LAN (RFC 4291
    2.5.1: unicast interface identifiers are 64 bits), and the address belongs to the client's MAC
    when its DUID was made from one (DUID-LL/LLT)."""
    if msg.msg_type not in (2, 7) or not msg.ia_addresses:  # ADVERTISE, REPLY
        return []
    mac = bytes.fromhex(msg.client_mac.replace(":", "")) if msg.client_mac else b""
    out: list[Event] = []
    for text in msg.ia_addresses:
        addr = socket.inet_pton(socket.AF_INET6, text)
        out.append(LanSeen(ts, smac, addr[:8] + bytes(8), 64, "dhcpv6"))
        if mac and msg.msg_type == 7:
            out.append(AddressSeen(ts, mac, addr, "dhcp"))
    return out


def mdns_events(ts: int, smac: bytes, src: bytes, msg: dns.DnsMessage) -> list[Event]:
    """Names a responder claims for itself: A/AAAA owners, SRV targets, service instances."""
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


def ssdp_events(ts: int, smac: bytes, src: bytes, msg: ssdp.SsdpMessage | None) -> list[Event]:
    """A UPnP announcement's server string and device UUID."""
    if msg is None or not msg.is_announcement:
        return []
    out: list[Event] = []
    if msg.headers.get("server"):
        out.append(NameSeen(ts, smac, src, "ssdp-server", msg.headers["server"]))
    usn = msg.headers.get("usn", "")
    if usn.startswith("uuid:"):
        out.append(NameSeen(ts, smac, src, "ssdp-usn", usn.split("::", 1)[0]))
    return out
