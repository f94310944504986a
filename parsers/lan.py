"""Which addresses belong to the lab's LAN, decided on raw address bytes.

The default prefixes are RFC 1918, RFC 6598 shared space is *not* local, ULA
(RFC 4193), IPv4/IPv6 link-local, and the multicast/broadcast ranges a LAN
device talks to without leaving the LAN.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_LAN = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
)
# Destinations that never leave the segment: not "remote", but not a device either.
LINK_SCOPE = ("224.0.0.0/4", "255.255.255.255/32", "0.0.0.0/32", "ff00::/8", "::/128")


class LanPrefixes:
    """Membership test for address bytes (4 or 16 bytes), cached per address."""

    def __init__(self, prefixes: Iterable[str] = DEFAULT_LAN) -> None:
        self.prefixes = [ipaddress.ip_network(p, strict=False) for p in prefixes]
        self._nets = _masks(self.prefixes)
        self._scope = _masks([ipaddress.ip_network(p) for p in LINK_SCOPE])
        self._local: dict[bytes, bool] = {}
        self._link: dict[bytes, bool] = {}

    @property
    def text(self) -> list[str]:
        return [str(p) for p in self.prefixes]

    def is_local(self, addr: bytes) -> bool:
        """True if the address is inside one of the LAN prefixes."""
        hit = self._local.get(addr)
        return _member(addr, self._nets, self._local) if hit is None else hit

    def is_link_scope(self, addr: bytes) -> bool:
        """True for multicast, broadcast and unspecified addresses."""
        hit = self._link.get(addr)
        return _member(addr, self._scope, self._link) if hit is None else hit


Masks = dict[int, list[tuple[int, int]]]  # address length in bytes -> (mask, network) pairs


def _masks(nets: list[IPNet]) -> Masks:
    out: Masks = {4: [], 16: []}
    for n in nets:
        out[4 if n.version == 4 else 16].append((int(n.netmask), int(n.network_address)))
    return out


def _member(addr: bytes, nets: Masks, cache: dict[bytes, bool]) -> bool:
    """Whether the address is in one of ``nets`` (integer masks: new addresses are the common
    case on a busy link), remembered in a bounded cache."""
    value = int.from_bytes(addr, "big")
    hit = any(value & mask == net for mask, net in nets.get(len(addr), ()))
    if len(cache) < 1 << 20:
        cache[addr] = hit
    return hit


def ip_text(addr: bytes) -> str:
    """Printable form of 4- or 16-byte address bytes."""
    if len(addr) == 4:
        return socket.inet_ntop(socket.AF_INET, addr)
    return socket.inet_ntop(socket.AF_INET6, addr)


def mac_text(mac: bytes) -> str:
    """aa:bb:cc:dd:ee:ff, or '' when no link-layer address is known."""
    return mac.hex(":") if mac else ""
