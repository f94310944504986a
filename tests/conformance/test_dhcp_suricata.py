"""DHCP messages read by the replay's sessions against suricata-verify's expected eve.json fields."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from parsers.events import AppRecord
from tests.support.paths import shared_path
from tests.support.sessionrun import run_sessions

SV = shared_path("suricata-verify")
# The parameter request list options Suricata names in ``params`` (rust/src/dhcp/logger.rs); it skips others.
OPTION = {
    1: "subnet_mask",
    3: "router",
    6: "dns_server",
    15: "domain",
    35: "arp_timeout",
    42: "ntp_server",
    66: "tftp_server_name",
    150: "tftp_server_ip",
}


def cases() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for d in sorted(SV.glob("*dhcp*")) if SV.exists() else []:
        spec = yaml.safe_load((d / "test.yaml").read_text())
        for check in spec.get("checks") or []:
            match = (check.get("filter") or {}).get("match") or {}
            if match.get("event_type") == "dhcp" and "dhcp.id" in match:
                out.append((d.name, match))
    return out


def ours(rec: AppRecord) -> dict[str, Any]:
    d = rec.detail
    got: dict[str, Any] = {
        "dhcp.id": d["xid"],
        "dhcp.client_mac": d["client_mac"],
        "dhcp.dhcp_type": rec.kind,
        "dhcp.type": d["op"],
        "dhcp.client_ip": d["ciaddr"],
        "dhcp.assigned_ip": d["yiaddr"],
        "dhcp.vendor_class_identifier": d["vendor_class"],
        "dhcp.hostname": rec.name,
    }
    for i, code in enumerate(c for c in d["prl"] if c in OPTION):
        got[f"dhcp.params[{i}]"] = OPTION[code]
    return got


@pytest.mark.parametrize(("test_dir", "want"), cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_dhcp_matches_suricata(test_dir: str, want: dict[str, Any]) -> None:
    pcap = SV / test_dir / "input.pcap"
    meter = run_sessions(pcap)
    recs = [r for r in meter.records if isinstance(r, AppRecord) and r.protocol == "dhcp"]
    hits = [r for r in recs if r.detail["xid"] == want["dhcp.id"] and r.detail["op"] == want["dhcp.type"]]
    assert len(hits) == 1, (test_dir, want["dhcp.id"])
    got = ours(hits[0])
    compared = 0
    for key, value in want.items():
        if key in got:
            expected = str(value).rstrip("\x00") if key == "dhcp.hostname" else value
            assert got[key] == expected, (key, got[key], value)
            compared += 1
    assert compared >= 5
    assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", got["dhcp.client_mac"])


def test_cases_found() -> None:
    if SV.exists():
        assert len(cases()) >= 3
