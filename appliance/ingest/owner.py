"""Which local device a flow belongs to, and which end of it is remote: decided once per flow.

Every row about a flow names the device and the remote end the same way: the flow itself and its
bursts (``flow_rows``), its DNS, TLS, HTTP and application rows (``record_rows``) and the personal
data found in what it carried (``observe``). ``owner`` decides on the first ask and keeps the
answer in the slot the parser leaves for its consumer (``Flow.owner``), so a flow with a hundred
records is oriented once, not three times per record; the id that names the flow in every table is
computed at the same moment.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from appliance.ingest.inventory import usable_mac
from parsers.flow import Flow
from parsers.lan import LanPrefixes, ip_text, mac_text


class Owner(NamedTuple):  # a tuple: made once per flow on the replay's path, cheaper than a dataclass
    flow_id: int  # the same every time the same capture is replayed
    mac: bytes  # the device's MAC as the frames carry it (b"" for transit)
    device: str  # its text, "" when there is no usable device MAC
    direction: str  # outbound, inbound, local, multicast or transit
    device_first: bool  # the device is the flow's first sender (its ``a`` end)
    remote_ip: str  # the other end, as flows.remote_ip has it
    remote_port: int


def flow_id(f: Flow) -> int:
    """64-bit id from protocol, both endpoints, first timestamp and VLAN."""
    h = hashlib.blake2b(digest_size=8)
    h.update(bytes((f.proto,)) + f.a + f.ap.to_bytes(2, "big") + f.b + f.bp.to_bytes(2, "big"))
    h.update(f.first.to_bytes(8, "big") + f.vlan.to_bytes(2, "big"))
    return int.from_bytes(h.digest(), "big")


def orient(f: Flow, lan: LanPrefixes) -> tuple[bytes, str, bool]:
    """(device MAC, direction, device is the initiator) for a flow."""
    a_local, b_local = lan.is_local(f.a), lan.is_local(f.b)
    b_group = lan.is_link_scope(f.b)
    rmac = f.rmac or f.dmac
    if b_group:
        return (f.smac if usable_mac(f.smac) else b""), "multicast", True
    if a_local and not b_local:
        return f.smac, "outbound", True
    if b_local and not a_local:
        return rmac, "inbound", False
    if a_local and b_local:
        return f.smac, "local", True
    return b"", "transit", True


def owner(f: Flow, lan: LanPrefixes) -> Owner:
    """The flow's owner, decided on the first call and kept on the flow for every later one."""
    o = f.owner
    if o is None:
        mac, direction, first = orient(f, lan)
        remote_ip, remote_port = (f.b, f.bp) if first else (f.a, f.ap)
        o = f.owner = Owner(flow_id(f), mac, mac_text(mac) if usable_mac(mac) else "", direction, first,
                            ip_text(remote_ip), remote_port)  # fmt: skip
    return o  # type: ignore[return-value]  # the slot holds only what this function put there
