"""Flows against Zeek's conn.log baselines for the traces in ../shared/pcaps/zeek.

Compared: the number of connections, and for each one its packets and IP bytes in
both directions (where the baseline logs them). Every disagreement is printed
with its reason; a disagreement without a known reason fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.capture import read_pcap
from parsers.lan import LanPrefixes, ip_text
from parsers.meter import FlowMeter
from tests.support.paths import ROOT, shared_path
from tests.support.zeekconn import read_conn, trace_of

PROTO = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}
# Zeek orients UDP by well-known server ports (67, 123, ...); tapaudit turns a flow first seen at
# its reply around by the ports too, then by the LAN side (parsers/initiator.py), so the two may still
# differ where their port lists do. Counts are then compared with the directions swapped.
ORIENTATION = "orientation: Zeek and tapaudit name different ends the initiator"
# A '^' in Zeek's history means it flipped the connection after counting: the packets already
# counted stay on the orig side, so only the totals are comparable.
LATE_FLIP = "late flip: Zeek's history has '^' and keeps pre-flip packets as orig; totals compared"


def baseline_dirs() -> list[Path]:
    base = shared_path("zeek", "Baseline") if (ROOT.parent / "shared").exists() else None
    if base is None:
        return []
    return sorted(d for d in base.iterdir() if any(d.glob("conn.log*")) and trace_of(d))


@pytest.mark.parametrize("test_dir", baseline_dirs(), ids=lambda d: d.name)
def test_flows_match_zeek_conn_log(test_dir: Path) -> None:
    trace = shared_path("zeek", "Traces", str(trace_of(test_dir)))
    meter = FlowMeter(LanPrefixes().is_local)
    for ts, lt, wl, data in read_pcap(str(trace)):
        meter.feed(ts, lt, wl, data)
    meter.flush()
    zeek = read_conn(next(iter(sorted(test_dir.glob("conn.log*")))))
    ours = {(PROTO.get(f.proto, str(f.proto)), ip_text(f.a), f.ap, ip_text(f.b), f.bp): f for f in meter.done}

    assert len(ours) == len(zeek), f"{len(ours)} flows, Zeek logs {len(zeek)}"
    disagreements: list[tuple[str, str]] = []
    for z in zeek:
        if "id.orig_h" not in z:
            continue  # zeek-cut kept only uid/history: the count above is the check
        protos = {z["proto"]} if "proto" in z else {k[0] for k in ours}
        key = (protos.pop(), z["id.orig_h"], int(z["id.orig_p"]), z["id.resp_h"], int(z["id.resp_p"]))
        f = ours.get(key)
        swapped = False
        if f is None:
            f = ours.get((key[0], key[3], key[4], key[1], key[2]))
            assert f is not None, f"Zeek connection {key} not found in either direction"
            swapped = True
            disagreements.append((str(key), ORIENTATION))
        if "orig_pkts" not in z:
            continue
        want = (int(z["orig_pkts"]), int(z["orig_ip_bytes"]), int(z["resp_pkts"]), int(z["resp_ip_bytes"]))
        got = (f.pk_dn, f.by_dn, f.pk_up, f.by_up) if swapped else (f.pk_up, f.by_up, f.pk_dn, f.by_dn)
        if got != want and "^" in z.get("history", ""):
            disagreements.append((f"{key} ours {got} zeek {want}", LATE_FLIP))
            got, want = (got[0] + got[2], got[1] + got[3]), (want[0] + want[2], want[1] + want[3])
        assert got == want, f"{key}: packets/bytes {got}, Zeek {want}"
    for k, why in disagreements:
        print(f"{test_dir.name}: {k}: {why}")
