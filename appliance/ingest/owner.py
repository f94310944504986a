"""Which local device a flow belongs to, and which end of it is remote: decided once per flow.

Every row about a flow names the device and the remote end the same way: the flow itself and its
bursts (``flow_rows``), its DNS, TLS, HTTP and application rows (``record_rows``) and the personal
data found in what it carried (``observe``). ``owner`` decides on the first ask and keeps the
answer in the slot the parser leaves for its consumer (``Flow.owner``), so a flow with a hundred
records is oriented once, not three times per record; the id that names the flow in every table is
computed at the same moment.

The device is the local end's MAC when the frames carry it; else (raw IP, loopback, cooked
captures of tunnels) the device the inventory names for the local address at the flow's start
(``Attribution.device_at``: the bench file's address, a DHCP lease, NDP or ARP, else the address's
own key), so that captures without MACs attribute their flows too (issue 15).
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple, Protocol

from appliance.ingest.inventory import usable_mac
from parsers.flow import Flow
from parsers.lan import LanPrefixes, ip_text, mac_text


class Attribution(Protocol):
    """What deciding a flow's device needs: the LAN, and who had a local address when
    (``appliance.ingest.inventory.Inventory`` is one)."""

    lan: LanPrefixes

    def device_at(self, ip: bytes, ts: int) -> bytes: ...


class Owner(NamedTuple):  # a tuple: made once per flow on the replay's path, cheaper than a dataclass
    flow_id: int  # the same every time the same capture is replayed
    mac: bytes  # the device's key: its MAC, or its address's key (b"" for transit)
    device: str  # its text, "" for transit
    direction: str  # outbound, inbound, local, multicast or transit
    device_first: bool  # the device is the flow's first sender (its ``a`` end)
    remote_ip: str  # the other end, as flows.remote_ip has it
    remote_port: int


UNSPECIFIED = (bytes(4), bytes(16))


def flow_id(f: Flow) -> int:
    """64-bit id from protocol, both endpoints, first timestamp and VLAN."""
    h = hashlib.blake2b(digest_size=8)
    h.update(bytes((f.proto,)) + f.a + f.ap.to_bytes(2, "big") + f.b + f.bp.to_bytes(2, "big"))
    h.update(f.first.to_bytes(8, "big") + f.vlan.to_bytes(2, "big"))
    return int.from_bytes(h.digest(), "big")


def orient(f: Flow, who: Attribution) -> tuple[bytes, str, bool]:
    """(device key, direction, device is the initiator) for a flow."""
    lan = who.lan
    a_local, b_local = lan.is_local(f.a), lan.is_local(f.b)
    if f.a in UNSPECIFIED and usable_mac(f.smac):
        a_local = True  # 0.0.0.0 or ::, "this host" before it has an address (RFC 1122 3.2.1.3, RFC 4862 5.4)
    if lan.is_link_scope(f.b):
        if usable_mac(f.smac):
            return f.smac, "multicast", True
        return (who.device_at(f.a, f.first) if a_local else b""), "multicast", True
    if a_local and not b_local:
        return _device(who, f.smac, f.a, f.first), "outbound", True
    if b_local and not a_local:
        return _device(who, f.rmac or f.dmac, f.b, f.first), "inbound", False
    if a_local and b_local:
        return _device(who, f.smac, f.a, f.first), "local", True
    return b"", "transit", True


def _device(who: Attribution, mac: bytes, ip: bytes, ts: int) -> bytes:
    """The local end's MAC when its frames carried one, else its address's device then."""
    return mac if usable_mac(mac) else who.device_at(ip, ts)


def owner(f: Flow, who: Attribution) -> Owner:
    """The flow's owner, decided on the first call and kept on the flow for every later one."""
    o = f.owner
    if o is None:
        mac, direction, first = orient(f, who)
        remote_ip, remote_port = (f.b, f.bp) if first else (f.a, f.ap)
        o = f.owner = Owner(flow_id(f), mac, mac_text(mac), direction, first, ip_text(remote_ip), remote_port)
    return o  # type: ignore[return-value]  # the slot holds only what this function put there
