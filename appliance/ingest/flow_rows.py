"""Flow records from the meter to rows of the ``flows`` table.

Decides which local device a flow belongs to and which end is remote, and gives
each flow an id that is the same every time the same capture is replayed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from appliance.ingest.enrich import Enricher
from appliance.ingest.inventory import usable_mac
from parsers.lan import LanPrefixes, ip_text, mac_text
from parsers.meter import Flow


def flow_id(f: Flow) -> int:
    """64-bit id from protocol, both endpoints, first timestamp and VLAN (computed once per flow)."""
    if f.fid:
        return f.fid
    h = hashlib.blake2b(digest_size=8)
    h.update(bytes((f.proto,)) + f.a + f.ap.to_bytes(2, "big") + f.b + f.bp.to_bytes(2, "big"))
    h.update(f.first.to_bytes(8, "big") + f.vlan.to_bytes(2, "big"))
    f.fid = int.from_bytes(h.digest(), "big")
    return f.fid


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


def flow_row(
    f: Flow, capture_id: str, ingest_id: int, lan: LanPrefixes, enricher: Enricher | None = None
) -> tuple[Any, ...]:
    dev, direction, dev_first = orient(f, lan)
    remote_ip, remote_port = (f.b, f.bp) if dev_first else (f.a, f.ap)
    device = mac_text(dev) if usable_mac(dev) else ""
    remote = ip_text(remote_ip)
    if enricher is not None:
        dest = enricher.columns(f, device, direction, remote)
    else:
        dest = ("", "", "", "", "", "", "", "", "", 0, "", "", 0)
    return (
        capture_id,
        ingest_id,
        flow_id(f),
        f.first,
        f.last,
        f.ipv,
        f.proto,
        ip_text(f.a),
        f.ap,
        ip_text(f.b),
        f.bp,
        mac_text(f.smac),
        mac_text(f.rmac or f.dmac),
        f.vlan,
        device,
        direction,
        remote,
        remote_port,
        f.pk_up,
        f.pk_dn,
        f.by_up,
        f.by_dn,
        f.pl_up,
        f.pl_dn,
        f.fl_up,
        f.fl_dn,
        f.tcp_state,
        1 if f.handshake else 0,
        f.end,
        f.seq,
        *dest,
    )


def burst_rows(
    f: Flow, capture_id: str, ingest_id: int, lan: LanPrefixes, phase_at: Callable[[int, str], str]
) -> list[tuple[Any, ...]]:
    """The flow's payload bursts as rows of ``bursts``, bytes counted from the device's side."""
    if not f.bursts:
        return []
    dev, _direction, dev_first = orient(f, lan)
    device = mac_text(dev) if usable_mac(dev) else ""
    fid = flow_id(f)
    if dev_first:
        return [(capture_id, ingest_id, fid, device, s, e, bu, bd, pu, pd, phase_at(s, device))
                for s, e, bu, bd, pu, pd in f.bursts]  # fmt: skip
    return [(capture_id, ingest_id, fid, device, s, e, bd, bu, pd, pu, phase_at(s, device))
            for s, e, bu, bd, pu, pd in f.bursts]  # fmt: skip
