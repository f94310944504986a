"""The bundled synthetic lab replayed end to end and checked against its generator's ground truth."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from appliance.ingest.replay import ReplayOptions, ReplayResult, replay
from appliance.lab.bench import load_bench
from appliance.store import queries
from appliance.store.backends import Store, open_store
from tests.support.paths import ROOT

LAB = ROOT / "pcaps" / "lab"
PROTO = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58}


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((LAB / "lab.truth.yaml").read_text())
    return doc


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, ReplayResult]]:
    store = open_store(str(tmp_path_factory.mktemp("lab") / "db"))
    store.ensure_schema()
    bench = load_bench(str(LAB / "lab.bench.yaml"))
    res = replay(store, str(LAB / "lab.pcapng"), ReplayOptions(lan_prefixes=bench.lan_prefixes, bench=bench))
    yield store, res
    store.close()


def test_capture_counts(lab: tuple[Store, ReplayResult], truth: dict[str, Any]) -> None:
    _store, res = lab
    assert res.packets == truth["packets"]
    assert not res.truncated and res.skipped_packets == 0
    assert res.first_ns // 1000 == round(truth["first_ts"] * 1e6)  # microsecond stamps
    assert res.last_ns // 1000 == round(truth["last_ts"] * 1e6)


MASKED_HOSTNAMES = {"Testers-iPhone": "T*****s-iPhone"}


def test_every_device_with_its_identity(lab: tuple[Store, ReplayResult], truth: dict[str, Any]) -> None:
    store, _res = lab
    found = {d["mac"]: d for d in queries.devices(store)}
    bench = load_bench(str(LAB / "lab.bench.yaml"))
    for mac, t in truth["devices"].items():
        assert mac in found, f"{t['name']} ({mac}) not found"
        d = found[mac]
        assert d["oui_vendor"] == t["vendor"], mac
        # the tester's phone names its owner: stored with the name masked (tests/lab/test_at_rest.py)
        assert d["dhcp_hostname"] == MASKED_HOSTNAMES.get(t["dhcp_hostname"], t["dhcp_hostname"]), mac
        assert d["dhcp_vendor_class"] == t["dhcp_vendor_class"], mac
        assert d["dhcp_prl"] == ",".join(map(str, t["dhcp_prl"])), mac
        assert sorted(d["ipv4"]) == sorted(t["ipv4"]), mac
        assert sorted(d["ipv6"]) == sorted(t["ipv6"]), mac
        if t.get("mdns_name"):
            assert t["mdns_name"] in d["mdns_names"], mac
        if t.get("ssdp_server"):
            assert t["ssdp_server"] in d["ssdp_names"], mac
        if mac in bench.devices:
            assert (d["name"], d["category"], int(d["on_bench"])) == (t["name"], t["category"], 1)
    assert found[truth["lan"]["gateway_mac"]]["role"] == "gateway"
    assert {m for m, d in found.items() if d["role"] == "device" and d["ipv4"]} <= set(truth["devices"])


def _expected_flows() -> list[dict[str, str]]:
    with open(LAB / "lab.flows.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_flows_match_ground_truth(lab: tuple[Store, ReplayResult]) -> None:
    store, res = lab
    ours = {
        (
            int(f["proto"]),
            f["src_ip"],
            int(f["src_port"]),
            f["dst_ip"],
            int(f["dst_port"]),
            int(f["first_ns"]) // 1000,
        ): f
        for f in queries.flows(store, limit=10**7)
    }
    want = _expected_flows()
    assert res.flows == len(want) == len(ours)
    for w in want:
        key = (
            PROTO[w["proto"]],
            w["initiator_ip"],
            int(w["initiator_port"]),
            w["responder_ip"],
            int(w["responder_port"]),
            round(float(w["first_ts"]) * 1e6),
        )
        f = ours.get(key)
        assert f is not None, f"expected flow {key} ({w['note']}) not found"
        got = tuple(
            int(f[k])
            for k in ("pkts_up", "pkts_down", "bytes_up", "bytes_down", "payload_up", "payload_down")
        )
        exp = tuple(
            int(w[k])
            for k in ("pkts_up", "pkts_down", "ip_bytes_up", "ip_bytes_down", "payload_up", "payload_down")
        )
        assert got == exp, f"{key} ({w['note']}): ours {got}, truth {exp}"
        assert int(f["last_ns"]) // 1000 == round(float(w["last_ts"]) * 1e6), key
        assert int(f["vlan"]) == int(w["vlan"] or 0), key
        if w["tcp_end"] in ("fin", "rst"):
            assert f["end_reason"] == w["tcp_end"], key
        if w["device_mac"]:
            assert f["device_mac"] == w["device_mac"], key


def test_bench_devices_all_seen(lab: tuple[Store, ReplayResult]) -> None:
    _store, res = lab
    assert res.bench_missing == []
