"""Device inventory: local devices by MAC, their addresses over time and their names.

Evidence comes from ARP, DHCP, NDP, mDNS/SSDP events and from flows (a local
address seen as a flow's source belongs to the MAC that sent it). A MAC that
forwards traffic of remote addresses is marked as the gateway. The bench file
overrides the inferred name, category and vendor and adds model and firmware.

A frame without a MAC (raw IP, BSD loopback, a cooked capture of a tunnel, a flow
whose device never answered in a cooked capture) still belongs to a device: the one
``device_at`` names for its local address at that time (issue 15). In order: the
bench file's ``addresses`` of a device; the MAC that last claimed the address before
then by a DHCP lease, NDP, ARP or its own frames (an address a lease hands to another
MAC belongs to that MAC from then on; before any claim, to the first claimant); else
the address itself is the device, under a key of its own (``address_key``). Each
device's row says by which of these it was found (``devices.attributed_by``).
"""

from __future__ import annotations

import hashlib
import socket
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from appliance.lab.bench import Bench
from appliance.lookups.oui import vendor as oui_vendor
from appliance.masking import mask_dns_name, mask_name
from appliance.store.schema import DEVICE_ADDRESSES, DEVICES
from parsers.events import AddressSeen, DhcpSeen, Event, LanSeen, NameSeen
from parsers.flow import Flow
from parsers.lan import LanPrefixes, ip_text, mac_text

BAD_MACS = {b"", b"\x00" * 6, b"\xff" * 6}
GATEWAY_MIN_SOURCES = 3  # a host with its own global IPv6 relays 1-2 "remote" sources, a router many
# How a device was found, strongest first: its MAC in frames; the bench file naming its address;
# a claim on the address (DHCP lease, NDP, ARP); the address alone (devices.attributed_by).
RULES = ("mac", "bench-address", "dhcp-lease", "ndp", "arp", "local-address")
CLAIM_RULE = {"traffic": "mac", "dhcp": "dhcp-lease", "ndp": "ndp", "arp": "arp"}
# Keys of address-only devices: first octets in the IEEE 802c SLAP "reserved" quadrant (locally
# administered, Y=1 Z=0), which no administrator assigns: 06 + the IPv4 address, 16 + 40 bits of
# the IPv6 address's hash. A random MAC could take one only by a 2^-40 chance.
KEY_V4, KEY_V6 = 0x06, 0x16


@dataclass
class _Addr:
    first: int
    last: int
    n: int = 1


@dataclass
class _Dev:
    mac: bytes
    first: int
    last: int
    hostname: str = ""
    vendor_class: str = ""
    prl: list[int] = field(default_factory=list)
    client_id: bytes = b""
    names: dict[str, dict[str, None]] = field(default_factory=lambda: {"mdns": {}, "ssdp": {}})
    forwarded: set[bytes] = field(default_factory=set)  # remote sources it relayed (capped)
    rules: set[str] = field(default_factory=set)  # how it was found (RULES)


def usable_mac(mac: bytes) -> bool:
    """A unicast hardware address (not empty, zero, broadcast or multicast)."""
    return mac not in BAD_MACS and len(mac) == 6 and not mac[0] & 1


def address_key(ip: bytes) -> bytes:
    """The stable device key of a local address no MAC is known for: the same in every capture."""
    if len(ip) == 4:
        return bytes((KEY_V4, 0)) + ip
    return bytes((KEY_V6,)) + hashlib.blake2b(ip, digest_size=5).digest()


def _packed(ip: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in ip else socket.AF_INET, ip)


def is_address_key(mac: bytes) -> bool:
    return len(mac) == 6 and mac[0] in (KEY_V4, KEY_V6) and (mac[0] == KEY_V6 or mac[1] == 0)


class Inventory:
    """Accumulates evidence per MAC; ``device_rows`` and ``address_rows`` export it."""

    def __init__(self, lan: LanPrefixes, bench: Bench | None = None, raw: bool = False) -> None:
        self.lan = lan
        self.bench = bench or Bench()
        self.raw = (
            raw  # names stored as announced (--raw-evidence); else a person's name or id in them masked
        )
        personas = [d.persona for d in self.bench.devices.values()]
        self.people = tuple(sorted({str(p["name"]) for p in personas if p.get("name")}))
        self.announcers: set[bytes] = set()  # MACs that served leases or advertised routes (a router's work)
        self.ids = tuple(
            sorted({str(v) for p in personas for k, v in p.items() if k not in ("name", "home") and v})
        )
        self.devs: dict[bytes, _Dev] = {}
        self.addrs: dict[tuple[bytes, bytes, str], _Addr] = {}
        self.bench_addrs = {  # the bench file's addresses -> its devices' MACs
            _packed(a): bytes.fromhex(m.replace(":", ""))
            for m, d in self.bench.devices.items()
            for a in d.addresses
        }
        self.claims: dict[bytes, list[tuple[int, bytes, str]]] = {}  # address -> (time, MAC, rule), by time
        self.by_address = 0  # devices named by a local address, not a MAC in the frames (device_at)

    def _dev(self, mac: bytes, ts: int) -> _Dev:
        d = self.devs.get(mac)
        if d is None:
            d = self.devs[mac] = _Dev(mac, ts, ts)
        else:
            d.first = min(d.first, ts)
            d.last = max(d.last, ts)
        return d

    def _addr(self, mac: bytes, ip: bytes, source: str, first: int, last: int, claim: bool = True) -> None:
        """``mac`` used ``ip``; a claim on the address when the evidence carried the MAC itself
        (not when ``device_at`` named the MAC for an address without one)."""
        if not usable_mac(mac) or not self.lan.is_local(ip) or self.lan.is_link_scope(ip):
            return
        d = self._dev(mac, first)
        d.last = max(d.last, last)
        if claim:
            d.rules.add(CLAIM_RULE.get(source, "mac"))
            self._claim(ip, first, mac, CLAIM_RULE.get(source, "mac"))
        key = (mac, ip, source)
        a = self.addrs.get(key)
        if a is None:
            self.addrs[key] = _Addr(first, last)
        else:
            a.first, a.last, a.n = min(a.first, first), max(a.last, last), a.n + 1

    def _claim(self, ip: bytes, ts: int, mac: bytes, rule: str) -> None:
        """``mac`` used or was given ``ip`` at ``ts``; kept only where the owner changes."""
        claims = self.claims.setdefault(ip, [])
        i = bisect_right(claims, ts, key=lambda c: c[0])
        if i and claims[i - 1][1] == mac:
            return  # the same owner still
        if i < len(claims) and claims[i][1] == mac:
            claims[i] = (ts, mac, claims[i][2])  # the same owner, known earlier
            return
        claims.insert(i, (ts, mac, rule))

    def device_at(self, ip: bytes, ts: int) -> bytes:
        """The device a local address without a MAC in its frames belonged to at ``ts`` (its MAC,
        or ``address_key``), by the first rule that knows (module docstring)."""
        self.by_address += 1
        mac = self.bench_addrs.get(ip)
        rule = "bench-address"
        if mac is None:
            claims = self.claims.get(ip)
            if claims:
                i = bisect_right(claims, ts, key=lambda c: c[0])
                _, mac, rule = claims[i - 1] if i else claims[0]
            else:
                mac, rule = address_key(ip), "local-address"
        self._dev(mac, ts).rules.add(rule)
        return mac

    def add_events(self, events: list[Event]) -> None:
        for ev in events:
            if isinstance(ev, AddressSeen):
                self._addr(ev.mac, ev.ip, ev.source, ev.ts, ev.ts)
            elif isinstance(ev, LanSeen):
                self.announcers.add(ev.mac)
                self.lan.router(ev.mac, 4 if ev.source == "dhcp" else 6)
                self.lan.announce(ev.prefix, ev.length)
            elif isinstance(ev, DhcpSeen):
                if not usable_mac(ev.mac) or ev.msg.op != 1:
                    continue  # server replies describe the client, but the client's own words win
                d = self._dev(ev.mac, ev.ts)
                d.rules.add("dhcp-lease")
                m = ev.msg
                d.hostname = m.hostname or d.hostname
                d.vendor_class = m.vendor_class or d.vendor_class
                d.prl = m.prl or d.prl
                d.client_id = m.client_id or d.client_id
            elif isinstance(ev, NameSeen) and self.lan.is_local(ev.ip) and not self.lan.is_link_scope(ev.ip):
                if usable_mac(ev.mac):
                    d = self._dev(ev.mac, ev.ts)
                    d.rules.add("mac")
                else:  # announced over raw IP: the name is the address's device's
                    d = self.devs[self.device_at(ev.ip, ev.ts)]
                d.names["mdns" if ev.kind.startswith("mdns") else "ssdp"][ev.name] = None

    def add_flow(self, f: Flow) -> None:
        """Traffic evidence: local sources own their addresses; remote sources mark gateways."""
        self._source(f.smac, f.a, f.first, f.last)
        if f.rmac or f.pk_dn:
            self._source(f.rmac, f.b, f.first, f.last)

    def _source(self, mac: bytes, ip: bytes, first: int, last: int) -> None:
        if self.lan.is_local(ip):
            if usable_mac(mac) or self.lan.is_link_scope(ip):
                self._addr(mac, ip, "traffic", first, last)
            else:
                self._addr(self.device_at(ip, first), ip, "traffic", first, last, claim=False)
        elif usable_mac(mac) and not self.lan.is_link_scope(ip):
            fwd = self._dev(mac, first).forwarded
            if len(fwd) < GATEWAY_MIN_SOURCES:
                fwd.add(ip)

    def absorb(self, other: Inventory) -> None:
        """Add another replay worker's inventory (issue 20). Both read every context packet (ARP,
        NDP, DHCP, mDNS, SSDP: ``parsers.partition``), so what events say is the same in both; what
        flows say (traffic addresses, forwarded sources, times) is each worker's share, and adds up."""
        self.by_address += other.by_address
        self.announcers |= other.announcers
        self.lan.absorb(other.lan)
        for mac, o in other.devs.items():
            d = self.devs.get(mac)
            if d is None:
                self.devs[mac] = o
                continue
            d.first, d.last = min(d.first, o.first), max(d.last, o.last)
            d.hostname = d.hostname or o.hostname
            d.vendor_class = d.vendor_class or o.vendor_class
            d.prl = d.prl or o.prl
            d.client_id = d.client_id or o.client_id
            for kind, names in o.names.items():
                for name in names:
                    d.names[kind].setdefault(name, None)
            d.forwarded |= o.forwarded  # more than GATEWAY_MIN_SOURCES: checked by the caller
            d.rules |= o.rules
        for key, a in other.addrs.items():
            mine = self.addrs.get(key)
            if mine is None:
                self.addrs[key] = a
            elif key[2] == "traffic":  # each worker's own flows
                mine.first, mine.last, mine.n = min(mine.first, a.first), max(mine.last, a.last), mine.n + a.n

    def forwarded_ambiguous(self) -> bool:
        """True if a MAC forwarded more remote sources, of both IP versions, than one process keeps
        (``GATEWAY_MIN_SOURCES``): which ones it kept, and so its role, would depend on flow order."""
        return any(
            len(d.forwarded) > GATEWAY_MIN_SOURCES and len({len(ip) for ip in d.forwarded}) > 1
            for d in self.devs.values()
        )

    # ---- export -----------------------------------------------------------------------

    def address_rows(self, capture_id: str, ingest_id: int) -> list[tuple[Any, ...]]:
        rows = []
        for (mac, ip, source), a in sorted(self.addrs.items()):
            rows.append(
                DEVICE_ADDRESSES.row(
                    capture_id=capture_id,
                    ingest_id=ingest_id,
                    mac=mac_text(mac),
                    address=ip_text(ip),
                    family=4 if len(ip) == 4 else 6,
                    source=source,
                    first_ns=a.first,
                    last_ns=a.last,
                    observations=a.n,
                )
            )
        return rows

    def _gateway(self, mac: bytes, forwarded: set[bytes], v4: set[str]) -> bool:
        """A router: it relayed several remote sources onto the LAN; or relayed any and served
        leases or advertised routes; or relayed a public IPv4 source while holding a LAN IPv4 address
        itself (a host has one IPv4 address: only a router sends another's; the IPv6 threshold is for
        hosts with global addresses of their own). A small access point relays a plug's two servers
        (SSI_Measurements_2022)."""
        if len(forwarded) >= GATEWAY_MIN_SOURCES or (forwarded and mac in self.announcers):
            return True
        return bool(v4) and any(len(ip) == 4 for ip in forwarded)

    def _name(self, name: str, dns: bool = False) -> str:
        """A name the device gave itself, masked unless raw (an mDNS name label by label)."""
        if self.raw:
            return name
        return (mask_dns_name if dns else mask_name)(name, self.people, self.ids)

    def device_rows(self, capture_id: str, ingest_id: int) -> list[tuple[Any, ...]]:
        by_mac: dict[bytes, tuple[set[str], set[str]]] = {}
        for mac, ip, _src in self.addrs:
            v4, v6 = by_mac.setdefault(mac, (set(), set()))
            (v4 if len(ip) == 4 else v6).add(ip_text(ip))
        rows = []
        for mac, d in sorted(self.devs.items()):
            if mac not in by_mac and not d.hostname and not any(d.names.values()):
                continue  # only ever forwarded traffic with no identity of its own: not a device
            m = mac_text(mac)
            b = self.bench.devices.get(m)
            keyed = is_address_key(mac)  # a key made from its address, not a MAC: no vendor
            oui = "" if keyed else oui_vendor(m)
            mdns = [self._name(x, dns=True) for x in d.names["mdns"]]
            hostname = self._name(d.hostname)
            prl = ",".join(map(str, d.prl))
            fp = hashlib.sha1(f"{d.vendor_class};{prl}".encode()).hexdigest()[:16] if prl else ""
            v4, v6 = by_mac.get(mac, (set(), set()))
            rows.append(
                DEVICES.row(
                    capture_id=capture_id,
                    ingest_id=ingest_id,
                    mac=m,
                    oui_vendor=oui,
                    name=(b.name if b and b.name else "") or hostname or (mdns[0] if mdns else ""),
                    category=(b.category if b and b.category else "unknown"),
                    vendor="" if keyed else self.bench.vendor_of(m),
                    model=b.model if b else "",
                    firmware=b.firmware if b else "",
                    on_bench=1 if b else 0,
                    role="gateway" if self._gateway(mac, d.forwarded, v4) else "device",
                    attributed_by=next((r for r in RULES if r in d.rules), "mac"),
                    dhcp_hostname=hostname,
                    dhcp_vendor_class=d.vendor_class,
                    dhcp_prl=prl,
                    dhcp_fingerprint=fp,
                    dhcp_client_id=d.client_id.hex(),
                    mdns_names=mdns,
                    ssdp_names=[self._name(x) for x in d.names["ssdp"]],
                    ipv4=sorted(v4),
                    ipv6=sorted(v6),
                    first_ns=d.first,
                    last_ns=d.last,
                )
            )
        return rows

    def bench_missing(self) -> list[str]:
        """Bench devices that never showed up in the capture (worth a warning)."""
        seen = {mac_text(m) for m in self.devs}
        return sorted(m for m in self.bench.devices if m not in seen)
