"""Which addresses belong to the lab's LAN, decided on raw address bytes.

The default prefixes are RFC 1918, RFC 6598 shared space is *not* local, ULA
(RFC 4193), IPv4/IPv6 link-local, loopback (a capture on a host's loopback
interface is that host's own traffic), and the multicast/broadcast ranges a LAN
device talks to without leaving the LAN.

A LAN may also use public addresses: the global IPv6 prefix its router advertises
(SLAAC), the public IPv4 subnet its DHCP server assigns from. Unless the user named
the LAN (``--lan``, the bench file's ``lan_prefixes``), ``LanPrefixes(learn=True)``
learns them from the capture: prefixes that routers and DHCP servers announce
(``announce``), and global addresses that a device of the segment uses as its source
(``used``; an IPv6 address by its /64). The gateway also sources global addresses,
every remote server's, as it forwards their traffic onto the LAN: a MAC counts as a
router, whose sources are not the LAN's, when it advertised routes or leases
(``router``), carried a private address's traffic to or from a global one (its next
hop), or sourced ``FORWARDER_MIN`` distinct addresses (IPv6: /64s), and no
address is learnt from traffic before a router of its IP version is known, so the
two ends of the first flows are not both taken for the LAN. An IPv6 source whose interface
identifier is the EUI-64 of its frame's MAC (RFC 4291 appendix A) is the sender's
own SLAAC address, local whatever else is known.
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
    "127.0.0.0/8",
    "::1/128",
)
# Destinations that never leave the segment: not "remote", but not a device either.
LINK_SCOPE = ("224.0.0.0/4", "255.255.255.255/32", "0.0.0.0/32", "ff00::/8", "::/128")
# A host uses one IPv4 address and one or two /64s (a stable and a temporary address share
# theirs, RFC 8981); a router forwarding a few servers' traffic sources more.
FORWARDER_MIN = 3
BAD_MACS = (b"", b"\x00" * 6, b"\xff" * 6)


# Addresses whose membership is remembered: a lab's devices and the servers they talk to most come
# first; past it (a week of a busy bench reaches millions of remote addresses) membership is
# computed again, a few integer masks, rather than held (issue 20: memory under 1 GiB at 10M packets).
CACHE_MAX = 1 << 16


class LanPrefixes:
    """Membership test for address bytes (4 or 16 bytes), cached per address."""

    def __init__(self, prefixes: Iterable[str] = DEFAULT_LAN, learn: bool = False) -> None:
        self.prefixes = [ipaddress.ip_network(p, strict=False) for p in prefixes]
        self._nets = _masks(self.prefixes)
        self._scope = _masks([ipaddress.ip_network(p) for p in LINK_SCOPE])
        self._local: dict[bytes, bool] = {}
        self._link: dict[bytes, bool] = {}
        self.learn = learn
        self.announced: list[IPNet] = []  # prefixes routers and DHCP servers announced
        self._announced: Masks = {4: [], 16: []}
        self.routers: set[bytes] = set()  # MACs that advertised routes or leases, or were a next hop
        self._routed: set[int] = set()  # IP versions a router is known for
        self._sources: dict[bytes, set[bytes]] = {}  # MAC -> global keys it sourced (capped)
        self._users: dict[bytes, set[bytes]] = {}  # global key -> MACs that sourced it
        self._own: set[bytes] = set()  # keys of EUI-64 addresses their own MAC used
        self.learnt_hits = 0  # answers "local" that came from traffic learnt, not prefixes or announcements

    @property
    def text(self) -> list[str]:
        """The prefixes, the learnt ones after those given."""
        learnt = [str(p) for p in self.announced if p not in self.prefixes]
        for key in sorted(self._users, key=lambda k: (len(k), k)):
            if self._learnt(key):
                net = ip_text(key) + "/32" if len(key) == 4 else ip_text(key + bytes(8)) + "/64"
                if not any(ipaddress.ip_network(net).subnet_of(p) for p in self.announced):  # type: ignore[arg-type]
                    learnt.append(net)
        return [str(p) for p in self.prefixes] + learnt

    def is_local(self, addr: bytes) -> bool:
        """True if the address is inside one of the LAN prefixes, given or learnt."""
        hit = self._local.get(addr)
        if hit is None:
            hit = _member(addr, self._nets, self._local)
        if hit or not self.learn:
            return hit
        if self._announced[len(addr)] and _member(addr, self._announced, {}):
            return True
        if self._learnt(addr if len(addr) == 4 else addr[:8]):
            self.learnt_hits += 1
            return True
        return False

    # ---- learning (``learn=True``) ----------------------------------------------------------

    def router(self, mac: bytes, version: int) -> None:
        """``mac`` routes IPv``version`` (it advertised routes or leases, or was a flow's next hop):
        what it sources is not the LAN's."""
        if self.learn and mac not in BAD_MACS:
            self.routers.add(mac)
            self._routed.add(version)

    def announce(self, prefix: bytes, length: int) -> None:
        """A prefix a router or DHCP server announced for the link."""
        if not self.learn or len(prefix) not in (4, 16) or not 0 < length <= len(prefix) * 8:
            return
        net = ipaddress.ip_network((ip_text(prefix), length), strict=False)
        if net in self.announced or _member(prefix, self._nets, {}) or self.is_link_scope(prefix):
            return  # inside a given prefix (the private ranges): local already
        self.announced.append(net)
        self._announced = _masks(self.announced)

    def used(self, mac: bytes, addr: bytes) -> None:
        """A frame from ``mac`` had ``addr`` as its source (a flow's first packet each way)."""
        if not self.learn or mac in BAD_MACS or mac[0] & 1 or self.is_link_scope(addr):
            return
        if self.given(addr):
            return
        key = addr if len(addr) == 4 else addr[:8]
        if len(addr) == 16 and addr[8:] == eui64(mac):
            self._own.add(key)
        sources = self._sources.setdefault(mac, set())
        if len(sources) < FORWARDER_MIN and key not in sources:
            sources.add(key)
            if len(sources) == FORWARDER_MIN:
                self._routed.add(4 if len(key) == 4 else 6)
        if mac in self.routers:
            # a router's sources are the servers it relays: a router never makes an address local
            # (``_learnt``), and keeping every server it relayed would grow with the capture
            return
        users = self._users.setdefault(key, set())
        if len(users) < 4:
            users.add(mac)

    def given(self, addr: bytes) -> bool:
        """True if the address is inside one of the prefixes given (not learnt)."""
        hit = self._local.get(addr)
        return _member(addr, self._nets, self._local) if hit is None else hit

    def is_router(self, mac: bytes) -> bool:
        return mac in self.routers or len(self._sources.get(mac, ())) >= FORWARDER_MIN

    def _learnt(self, key: bytes) -> bool:
        """A global address (IPv6: its /64) that a device of the segment used, not a router, once a
        router of that IP version is known (before, either end of a flow could be the router)."""
        if key in self._own:
            return True
        users = self._users.get(key)
        if not users or (4 if len(key) == 4 else 6) not in self._routed:
            return False
        return any(not self.is_router(m) for m in users)

    def absorb(self, other: LanPrefixes) -> None:
        """Add what another replay worker learnt from its share of the traffic (issue 20): routers,
        sources, users and EUI-64 keys; announcements are context every worker read alike."""
        self.routers |= other.routers
        self._routed |= other._routed
        self._own |= other._own
        self.learnt_hits += other.learnt_hits
        for mac, keys in other._sources.items():
            mine = self._sources.setdefault(mac, set())
            mine |= keys
            if len(mine) >= FORWARDER_MIN:
                self._routed.add(4 if len(next(iter(mine))) == 4 else 6)
        for key, macs in other._users.items():
            self._users.setdefault(key, set()).update(macs)

    def learns_from_traffic(self) -> bool:
        """True if some address is local only because of traffic seen (not a prefix given or
        announced): where that can happen, which flows a replay worker saw decides it."""
        return bool(self.learnt_hits) or any(self._learnt(key) for key in self._users) or bool(self._own)

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
    if len(cache) < CACHE_MAX:
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


def eui64(mac: bytes) -> bytes:
    """The modified EUI-64 interface identifier SLAAC makes from a MAC (RFC 4291 appendix A)."""
    return bytes((mac[0] ^ 0x02,)) + mac[1:3] + b"\xff\xfe" + mac[3:6] if len(mac) == 6 else b""
