"""Flow records from the meter to rows of the ``flows`` and ``bursts`` tables, named for their
device and remote end as ``owner`` decided once for the flow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from appliance.ingest.enrich import NO_DESTINATION, Enricher
from appliance.ingest.owner import Attribution, owner
from appliance.store.schema import BURSTS, FLOWS
from parsers.flow import Flow
from parsers.lan import ip_text, mac_text

# The flows row by column name, compiled once (``Table.builder``: a tuple literal in insert order
# instead of ~47 keywords bound per flow). ``o`` is the flow's owner, ``d`` its Destination.
_FLOW = FLOWS.builder(
    "capture_id, ingest_id, f, o, d, phase",
    {
        "capture_id": "capture_id",
        "ingest_id": "ingest_id",
        "flow_id": "o.flow_id",
        "first_ns": "f.first",
        "last_ns": "f.last",
        "ip_version": "f.ipv",
        "proto": "f.proto",
        # the owner already printed the remote end (o.remote_ip is ip_text of b, or of a)
        "src_ip": "ip_text(f.a) if o.device_first else o.remote_ip",
        "src_port": "f.ap",
        "dst_ip": "o.remote_ip if o.device_first else ip_text(f.b)",
        "dst_port": "f.bp",
        "src_mac": "mac_text(f.smac)",
        "dst_mac": "mac_text(f.rmac or f.dmac)",
        "vlan": "f.vlan",
        "device_mac": "o.device",
        "direction": "o.direction",
        "remote_ip": "o.remote_ip",
        "remote_port": "o.remote_port",
        "pkts_up": "f.pk_up",
        "pkts_down": "f.pk_dn",
        "bytes_up": "f.by_up",
        "bytes_down": "f.by_dn",
        "payload_up": "f.pl_up",
        "payload_down": "f.pl_dn",
        "tcp_flags_up": "f.fl_up",
        "tcp_flags_down": "f.fl_dn",
        "tcp_state": "f.tcp_state",
        "handshake": "1 if f.handshake else 0",
        "end_reason": "f.end",
        "segment": "f.seq",
        "app": "d.app",  # the destination's fields, by name
        "domain": "d.domain",
        "domain_source": "d.domain_source",
        "registrable": "d.registrable",
        "organisation": "d.organisation",
        "service": "d.service",
        "service_kind": "d.service_kind",
        "party": "d.party",
        "country": "d.country",
        "registry_country": "d.registry_country",
        "cross_border": "d.cross_border",
        "as_org": "d.as_org",
        "security": "d.security",
        "readable": "d.readable",
        "phase": "phase",
        "decrypted": "f.l7.plaintext if f.l7 is not None else ''",
        "zeek_uid": "''",  # a Zeek log replay puts the conn.log uid here (appliance.ingest.zeek_replay)
    },
    {"ip_text": ip_text, "mac_text": mac_text},
)
_BURST = BURSTS.builder(
    "capture_id, ingest_id, fid, device, phase, dev_first, s, e, bu, bd, pu, pd, qu, qd, lu, ld",
    {
        "capture_id": "capture_id",
        "ingest_id": "ingest_id",
        "flow_id": "fid",
        "device_mac": "device",
        "start_ns": "s",
        "end_ns": "e",
        "bytes_out": "bu if dev_first else bd",
        "bytes_in": "bd if dev_first else bu",
        "pkts_out": "pu if dev_first else pd",
        "pkts_in": "pd if dev_first else pu",
        "phase": "phase",
        "sq_out": "qu if dev_first else qd",
        "large_out": "lu if dev_first else ld",
    },
)


def flow_row(
    f: Flow,
    capture_id: str,
    ingest_id: int,
    who: Attribution,
    enricher: Enricher | None,
    phase_at: Callable[[int, str], str],
) -> tuple[Any, ...]:
    """The ``flows`` row of a finished flow, built by column name (``_FLOW``)."""
    o = owner(f, who)
    device = o.device
    dest = enricher.columns(f, device, o.direction, o.remote_ip) if enricher is not None else NO_DESTINATION
    return _FLOW(capture_id, ingest_id, f, o, dest, phase_at(f.first, device))


def burst_rows(
    f: Flow, capture_id: str, ingest_id: int, who: Attribution, phase_at: Callable[[int, str], str]
) -> list[tuple[Any, ...]]:
    """The flow's payload bursts as rows of ``bursts``, bytes counted from the device's side."""
    if not f.bursts:
        return []
    o = owner(f, who)
    device, fid, dev_first = o.device, o.flow_id, o.device_first
    return [
        _BURST(capture_id, ingest_id, fid, device, phase_at(b[0], device), dev_first, *b) for b in f.bursts
    ]
