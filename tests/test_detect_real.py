"""Content detectors on real captures: what devices upload in nDPI's and IoT-Sentinel's traces.

nDPI's captures hold no personal data in what clients send: no hit of medium or high
confidence may appear. IoT-Sentinel's setup captures do hold some, sent in clear by
the devices themselves: their own MAC addresses (as ``mac`` or as a ``serialNumber``)
and the tester's account e-mail. Every hit there must be one of those, checked
against the capture's own link-layer addresses, never a number that only looks like one.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import dpkt
import pytest
from conftest import shared_path
from sessionrun import run_sessions

from parsers.detect.hits import Hit
from parsers.detect.scan import scan
from parsers.events import AppRecord, HttpRecord

TESTER_ACCOUNTS = {"mmietti.work@outlook.com"}  # the study's own account, in the devices' setup calls


def uploads(pcap: Path) -> list[tuple[bytes, str]]:
    """What clients sent: HTTP request queries and bodies, MQTT/CoAP/RTSP payloads up."""
    out: list[tuple[bytes, str]] = []
    for r in run_sessions(pcap).records:
        if isinstance(r, HttpRecord) and r.up:
            out.append((r.msg.query.encode(), ""))  # type: ignore[union-attr]
            out.append((r.msg.body, r.msg.header("content-type")))
        elif isinstance(r, AppRecord) and r.up and r.payload:
            out.append((r.payload, ""))
    return [(b, ct) for b, ct in out if b]


def hits_of(pcap: Path) -> list[Hit]:
    return [h for body, ct in uploads(pcap) for h in scan(body, ct) if h.confidence in ("high", "medium")]


def source_macs(pcap: Path) -> set[str]:
    macs = set()
    with pcap.open("rb") as fh:
        for _ts, buf in dpkt.pcap.UniversalReader(fh):
            if len(buf) >= 12:
                macs.add(buf[6:12].hex())
    return macs


def test_ndpi_uploads_hold_no_personal_data() -> None:
    root = shared_path("nDPI", "pcap")
    scanned = 0
    found: list[tuple[str, str, str]] = []
    for pcap in sorted(root.glob("*.pcap*")):
        for body, ct in uploads(pcap):
            scanned += 1
            found += [(pcap.name, h.data_type, h.path) for h in scan(body, ct) if h.confidence != "low"]
    print(f"\nnDPI: {scanned} uploaded payloads scanned, {len(found)} hits of medium or high confidence")
    assert scanned > 100
    assert not found, found


@pytest.mark.xdist_group("iot-sentinel")
def test_iot_sentinel_hits_are_the_devices_own_identifiers() -> None:
    root = shared_path("IoT-Sentinel")
    kinds: Counter[str] = Counter()
    for pcap in sorted(root.glob("*/*.pcap")):
        hits = hits_of(pcap)
        if not hits:
            continue
        own = source_macs(pcap)
        for h in hits:
            kinds[h.data_type] += 1
            if h.data_type in ("mac", "serial"):
                assert re.sub(r"[^0-9a-f]", "", h.value.lower()) in own, (pcap.name, h)
            elif h.data_type == "email":
                assert h.value in TESTER_ACCOUNTS, (pcap.name, h)
            else:
                raise AssertionError(f"{pcap.name}: unexpected {h.data_type} {h.path}")
    print(f"\nIoT-Sentinel: {dict(kinds)}")
    assert kinds["mac"] > 0 and kinds["email"] > 0
