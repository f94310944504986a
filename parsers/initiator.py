"""Which end began a flow, when the capture shows its answer first.

The flow meter (``parsers.meter``) asks once per new flow (``sent_by_responder``) and turns
the flow around when its first packet came from the responder. When no TCP handshake says
which end began, the ports do: a packet from a service port to an ephemeral one is the
service's reply.

Service ports are the IANA system ports (0-1023, RFC 6335 section 6) and the registered
ports that smart devices and their clouds serve on, listed below with their protocol.
The DHCP and DHCPv6 client ports are system ports, but the client's: a server answers to them.
"""

from __future__ import annotations

from collections.abc import Callable

TCP, UDP, ICMP, ICMP6 = 6, 17, 1, 58
SYN, ACK = 0x02, 0x10
# Reply types (RFC 792, RFC 950, RFC 4443): a flow first seen at one was begun by the other side.
# Router and neighbour advertisements are not among them: they are often sent unasked.
ICMP_REPLIES = frozenset((0, 14, 16, 18, 129))  # echo, timestamp, information, mask; echo (v6)

REGISTERED_SERVICES = frozenset(
    (
        1883,  # MQTT (IANA)
        8883,  # MQTT over TLS (IANA)
        1900,  # SSDP (UPnP Device Architecture 2.0)
        3478,  # STUN/TURN (RFC 8489)
        5349,  # STUN/TURN over TLS (RFC 8489)
        5222,  # XMPP client (RFC 6120)
        5223,  # Apple push notifications (Apple, "TCP and UDP ports used by Apple software products")
        5228,  # Google Firebase Cloud Messaging (Google, FCM ports and your firewall)
        5060,  # SIP (RFC 3261)
        5061,  # SIP over TLS (RFC 3261)
        5353,  # mDNS (RFC 6762)
        5355,  # LLMNR (RFC 4795)
        5683,  # CoAP (RFC 7252)
        5684,  # CoAP over DTLS (RFC 7252)
        1935,  # RTMP (Adobe RTMP specification)
        8008,  # HTTP alternate, Google Cast (IANA http-alt)
        8009,  # Google Cast control (Google Cast developer docs)
        8080,  # HTTP alternate (IANA http-alt)
        8443,  # HTTPS alternate (IANA pcsync-https, common use)
        4789,  # VXLAN (RFC 7348)
        2152,  # GTP-U (3GPP TS 29.281)
    )
)
CLIENT_PORTS = frozenset((68, 546))  # DHCP client (RFC 2131), DHCPv6 client (RFC 8415)


def service_port(port: int) -> bool:
    """Whether ``port`` is a service's rather than a client's (ephemeral) one."""
    if port < 1024:
        return port not in CLIENT_PORTS
    return port in REGISTERED_SERVICES


def sent_by_responder(
    proto: int, src: bytes, sport: int, dst: bytes, dport: int, flags: int, is_local: Callable[[bytes], bool]
) -> bool:
    """Whether a flow's first packet came from its responder (the capture began mid-flow).

    In order: TCP's SYN (the initiator's) or SYN-ACK (the responder's); for ICMP (whose
    "ports" are types), a reply type; a packet to a multicast or broadcast address is its
    sender's; then the ports, a service port answering an ephemeral one; then, when the
    ports do not tell (both services, both ephemeral), the LAN side: a packet from outside
    the LAN to a LAN address is the answer to the device.
    """
    if proto == TCP and flags & SYN:
        return bool(flags & ACK)
    if proto in (ICMP, ICMP6):
        return sport in ICMP_REPLIES
    if proto != TCP and proto != UDP:
        return False
    if (dst[0] >= 224) if len(dst) == 4 else (dst[0] == 0xFF):
        return False  # a multicast or broadcast address never began a flow
    s_service, d_service = service_port(sport), service_port(dport)
    if s_service != d_service:
        return s_service
    return not is_local(src) and is_local(dst)
