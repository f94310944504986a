"""Flow records from the meter to rows of the ``flows`` table.

Decides which local device a flow belongs to and which end is remote, and gives
each flow an id that is the same every time the same capture is replayed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from appliance.ingest.enrich import NO_DESTINATION, Enricher
from appliance.ingest.inventory import usable_mac
from appliance.store.schema import BURSTS, FLOWS
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
    f: Flow,
    capture_id: str,
    ingest_id: int,
    lan: LanPrefixes,
    enricher: Enricher | None,
    phase_at: Callable[[int, str], str],
) -> tuple[Any, ...]:
    """The ``flows`` row of a finished flow, built by column name (``FLOWS.row``)."""
    dev, direction, dev_first = orient(f, lan)
    remote_ip, remote_port = (f.b, f.bp) if dev_first else (f.a, f.ap)
    device = mac_text(dev) if usable_mac(dev) else ""
    remote = ip_text(remote_ip)
    dest = enricher.columns(f, device, direction, remote) if enricher is not None else NO_DESTINATION
    return FLOWS.row(
        capture_id=capture_id,
        ingest_id=ingest_id,
        flow_id=flow_id(f),
        first_ns=f.first,
        last_ns=f.last,
        ip_version=f.ipv,
        proto=f.proto,
        src_ip=ip_text(f.a),
        src_port=f.ap,
        dst_ip=ip_text(f.b),
        dst_port=f.bp,
        src_mac=mac_text(f.smac),
        dst_mac=mac_text(f.rmac or f.dmac),
        vlan=f.vlan,
        device_mac=device,
        direction=direction,
        remote_ip=remote,
        remote_port=remote_port,
        pkts_up=f.pk_up,
        pkts_down=f.pk_dn,
        bytes_up=f.by_up,
        bytes_down=f.by_dn,
        payload_up=f.pl_up,
        payload_down=f.pl_dn,
        tcp_flags_up=f.fl_up,
        tcp_flags_down=f.fl_dn,
        tcp_state=f.tcp_state,
        handshake=1 if f.handshake else 0,
        end_reason=f.end,
        segment=f.seq,
        app=dest.app,  # the destination's fields, by name (a **dest._asdict() costs twice as much)
        domain=dest.domain,
        domain_source=dest.domain_source,
        registrable=dest.registrable,
        organisation=dest.organisation,
        service=dest.service,
        service_kind=dest.service_kind,
        party=dest.party,
        country=dest.country,
        cross_border=dest.cross_border,
        as_org=dest.as_org,
        security=dest.security,
        readable=dest.readable,
        phase=phase_at(f.first, device),
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
    row = BURSTS.row
    return [
        row(capture_id=capture_id, ingest_id=ingest_id, flow_id=fid, device_mac=device, start_ns=s, end_ns=e,
            bytes_out=bu if dev_first else bd, bytes_in=bd if dev_first else bu,
            pkts_out=pu if dev_first else pd, pkts_in=pd if dev_first else pu, phase=phase_at(s, device))
        for s, e, bu, bd, pu, pd in f.bursts
    ]  # fmt: skip
