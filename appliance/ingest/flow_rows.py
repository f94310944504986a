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


def flow_row(
    f: Flow,
    capture_id: str,
    ingest_id: int,
    who: Attribution,
    enricher: Enricher | None,
    phase_at: Callable[[int, str], str],
) -> tuple[Any, ...]:
    """The ``flows`` row of a finished flow, built by column name (``FLOWS.row``)."""
    o = owner(f, who)
    device = o.device
    dest = enricher.columns(f, device, o.direction, o.remote_ip) if enricher is not None else NO_DESTINATION
    return FLOWS.row(
        capture_id=capture_id,
        ingest_id=ingest_id,
        flow_id=o.flow_id,
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
        direction=o.direction,
        remote_ip=o.remote_ip,
        remote_port=o.remote_port,
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
        registry_country=dest.registry_country,
        cross_border=dest.cross_border,
        as_org=dest.as_org,
        security=dest.security,
        readable=dest.readable,
        phase=phase_at(f.first, device),
        decrypted=f.l7.plaintext if f.l7 is not None else "",
        zeek_uid="",  # a Zeek log replay puts the conn.log uid here (appliance.ingest.zeek_replay)
    )


def burst_rows(
    f: Flow, capture_id: str, ingest_id: int, who: Attribution, phase_at: Callable[[int, str], str]
) -> list[tuple[Any, ...]]:
    """The flow's payload bursts as rows of ``bursts``, bytes counted from the device's side."""
    if not f.bursts:
        return []
    o = owner(f, who)
    device, fid, dev_first = o.device, o.flow_id, o.device_first
    row = BURSTS.row
    return [
        row(capture_id=capture_id, ingest_id=ingest_id, flow_id=fid, device_mac=device, start_ns=s, end_ns=e,
            bytes_out=bu if dev_first else bd, bytes_in=bd if dev_first else bu,
            pkts_out=pu if dev_first else pd, pkts_in=pd if dev_first else pu, phase=phase_at(s, device),
            sq_out=qu if dev_first else qd, large_out=lu if dev_first else ld)
        for s, e, bu, bd, pu, pd, qu, qd, lu, ld in f.bursts
    ]  # fmt: skip
