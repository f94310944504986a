"""Every device is found: captures without MACs attribute their flows by address (issue 15).

The synthetic capture (``pcaps/synth/attribution.py``) moves one address from A to B by DHCP and
gives C a static address only the bench file names; its ground truth is the generator's own
bookkeeping. Real captures of the link types without MACs (raw IP, BSD loopback, Linux cooked
captures of tunnels) are checked against tshark's reading of their addresses.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from appliance.ingest.inventory import address_key
from appliance.ingest.replay import ReplayOptions, replay
from appliance.lab.bench import BenchError, load_bench
from appliance.store import queries
from parsers.lan import DEFAULT_LAN
from pcaps.synth import attribution as synth
from tests.support.paths import shared_path


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("attribution")
    t = synth.write(out)
    bench = out / "bench.yaml"
    bench.write_text(yaml.safe_dump(t["bench"]))
    t["bench_path"] = str(bench)
    return t


def _replay(store: Any, path: str, bench: str | None = None) -> str:
    opts = ReplayOptions(force=True, bench=load_bench(bench) if bench else None)
    return replay(store, path, opts).capture_id


def _per_device(store: Any, cid: str) -> dict[str, tuple[int, int, int, str]]:
    """What the read API says of each device: flows, bytes sent, received, how it was found."""
    return {
        d["mac"]: (d["flows"], d["bytes_sent"], d["bytes_received"], d["attributed_by"])
        for d in queries.devices(store, [cid])
    }


def _expected(truth: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    out: dict[str, tuple[int, int, int]] = {}
    for f in truth["flows"]:
        n, s, r = out.get(f["device"], (0, 0, 0))
        out[f["device"]] = (n + 1, s + f["bytes_sent"], r + f["bytes_received"])
    return out


def _tcp_per_device(store: Any, cid: str) -> dict[str, tuple[int, int, int]]:
    """Flows and bytes each way per device, of the TCP flows (the generator's; the DHCP exchange
    from 0.0.0.0 is A's and B's in the Ethernet capture only, where its frames carry their MACs)."""
    rows = store.query(
        """SELECT device_mac, count() AS n, sum(bytes_up) AS up, sum(bytes_down) AS down FROM {db}.flows
        WHERE capture_id = %(c)s AND proto = 6 GROUP BY device_mac""",
        {"c": cid},
    )
    return {r["device_mac"]: (int(r["n"]), int(r["up"]), int(r["down"])) for r in rows}


def _flows_by_device(store: Any, cid: str) -> Counter[tuple[str, str, int]]:
    rows = store.query(
        "SELECT device_mac, remote_ip, remote_port FROM {db}.flows WHERE capture_id = %(c)s AND proto = 6",
        {"c": cid},
    )
    return Counter((r["device_mac"], r["remote_ip"], int(r["remote_port"])) for r in rows)


def test_raw_ip_capture_gives_the_ethernet_captures_devices(store: Any, truth: dict[str, Any]) -> None:
    """The same traffic without MACs: A's and B's flows by their DHCP leases (the address changes
    owner when B's lease begins), C's by the bench file's address; every device's flows, bytes and
    remote ends as the Ethernet capture gives them, and as the generator made them."""
    eth = _replay(store, truth["files"]["ethernet"], truth["bench_path"])
    raw = _replay(store, truth["files"]["raw"], truth["bench_path"])
    want_flows = Counter((f["device"], f["remote_ip"], f["remote_port"]) for f in truth["flows"])
    assert _flows_by_device(store, eth) == want_flows
    assert _flows_by_device(store, raw) == want_flows
    a, b, c = (truth["devices"][k] for k in "ABC")
    assert _tcp_per_device(store, eth) == _tcp_per_device(store, raw) == _expected(truth)
    got_eth, got_raw = _per_device(store, eth), _per_device(store, raw)
    assert {m: got_eth[m][3] for m in (a, b, c)} == {a: "mac", b: "mac", c: "mac"}
    assert {m: got_raw[m][3] for m in (a, b, c)} == {a: "dhcp-lease", b: "dhcp-lease", c: "bench-address"}
    tops = {(t["mac"], t["remote_ip"]) for t in queries.top_remotes(store, [raw])}
    assert {(a, synth.CLOUD_A), (b, synth.CLOUD_B), (c, synth.BROKER)} <= tops


def test_without_leases_or_bench_each_local_address_is_a_device(store: Any, truth: dict[str, Any]) -> None:
    """Nothing names a MAC: one device per local address, under a key made from the address (so
    A's and B's traffic, which shared it, is one device's), found by ``local-address``."""
    cid = _replay(store, truth["files"]["raw_no_dhcp"])
    shared = address_key(ipaddress.ip_address(synth.SHARED).packed).hex(":")
    static = address_key(ipaddress.ip_address(synth.STATIC).packed).hex(":")
    assert shared == "06:00:c0:a8:4d:32"  # 06:00 and 192.168.77.50
    got = _per_device(store, cid)
    want = _expected(truth)
    a, b, c = (want[truth["devices"][k]] for k in "ABC")
    assert got[shared] == (a[0] + b[0], a[1] + b[1], a[2] + b[2], "local-address")
    assert got[static] == (*c, "local-address")
    rows = {d["mac"]: d for d in queries.devices(store, [cid])}
    assert rows[shared]["ipv4"] == [synth.SHARED] and rows[shared]["oui_vendor"] == ""


def test_bench_addresses_are_checked(tmp_path: Path) -> None:
    p = tmp_path / "bench.yaml"
    p.write_text("dc:a6:32:00:00:0c: {addresses: [192.168.77.60, 'fd00::60']}\n")
    assert load_bench(str(p)).devices["dc:a6:32:00:00:0c"].addresses == ["192.168.77.60", "fd00::60"]
    p.write_text("dc:a6:32:00:00:0c: {addresses: 192.168.77.600}\n")
    with pytest.raises(BenchError, match=r"addresses: '192.168.77.600' is not an IP address"):
        load_bench(str(p))


# ---- real captures without MACs ------------------------------------------------------------------

# (capture, tshark's -e fields for its source addresses): raw IP, BSD loopback, Linux cooked
# captures of an interface without hardware addresses (ARPHRD_NONE, a phone's mobile data)
NO_MAC = (
    ("nDPI/pcap/ocs.pcap", "ip.src"),
    ("nDPI/pcap/tencent_games.pcap", "ip.src"),
    ("nDPI/pcap/rdp.pcap", "ip.src"),
    ("nDPI/pcap/selfsigned.pcap", "ip.src"),
    ("suricata-verify/tls/tls-client-cert-01/tls-client-auth.pcap", "ipv6.src"),
    ("nDPI/pcap/KakaoTalk_chat.pcap", "ip.src"),
    ("nDPI/pcap/quickplay.pcap", "ip.src"),
)


@pytest.mark.tshark
@pytest.mark.parametrize(("name", "field"), NO_MAC)
def test_captures_without_macs_attribute_every_flow(store: Any, name: str, field: str) -> None:
    """Every flow belongs to a device, and the devices are the LAN (private, loopback) addresses
    that tshark sees sending, each under its address's key."""
    path = shared_path(*name.split("/"))
    sources = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-E", "occurrence=f", "-e", field],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    local = {
        address_key(a.packed).hex(":")
        for a in map(ipaddress.ip_address, set(sources))
        if a.is_private or a.is_loopback
    }
    cid = _replay(store, str(path))
    flows = store.query("SELECT device_mac, direction FROM {db}.flows WHERE capture_id = %(c)s", {"c": cid})
    assert flows and all(r["device_mac"] for r in flows), Counter(r["direction"] for r in flows)
    devices = {d["mac"]: d["attributed_by"] for d in queries.devices(store, [cid])}
    assert set(devices) == local
    assert set(devices.values()) == {"local-address"}


# ---- the LAN learnt from the capture -------------------------------------------------------------


def _tshark_sources(path: Path, field: str) -> Counter[tuple[str, str]]:
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-E", "occurrence=f", "-e", "eth.src", "-e", field],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return Counter(tuple(line.split("\t")) for line in out.splitlines() if line.split("\t")[1])  # type: ignore[misc]


def _lan_of(store: Any, cid: str) -> list[str]:
    rows = store.query("SELECT lan_prefixes FROM {db}.captures WHERE capture_id = %(c)s", {"c": cid})
    return list(rows[0]["lan_prefixes"])


@pytest.mark.tshark
@pytest.mark.parametrize(
    ("name", "host"),
    (("http_ipv6.pcap", "78:ac:c0:a7:0d:4c"), ("tumblr.pcap", "e4:42:a6:e5:63:f2")),
)
def test_public_ipv6_lan_is_learnt_from_its_hosts(store: Any, name: str, host: str) -> None:
    """A host with a public IPv6 address behind a router: without --lan its /64 is the LAN, so its
    flows are its own (outbound) instead of transit; the router, which sources every server's
    address, adds none of them. With --lan given, nothing is learnt (the flows stay transit)."""
    path = shared_path("nDPI", "pcap", name)
    sources = _tshark_sources(path, "ipv6.src")
    host_64 = {str(ipaddress.ip_network(a + "/64", strict=False)) for m, a in sources if m == host}
    assert len(host_64) == 1
    cid = _replay(store, str(path))
    assert _lan_of(store, cid)[len(DEFAULT_LAN) :] == sorted(host_64)
    flows = store.query("SELECT device_mac, direction FROM {db}.flows WHERE capture_id = %(c)s", {"c": cid})
    assert flows and {(r["device_mac"], r["direction"]) for r in flows} == {(host, "outbound")}
    given = replay(store, str(path), ReplayOptions(force=True, lan_prefixes=["192.168.0.0/16"])).capture_id
    assert given == cid
    flows = store.query(
        "SELECT DISTINCT direction FROM {db}.flows WHERE capture_id = %(c)s AND ingest_id = %(i)s",
        {"c": cid, "i": max(int(r["ingest_id"]) for r in store.query("SELECT ingest_id FROM {db}.captures"))},
    )  # the second run's rows
    assert [r["direction"] for r in flows] == ["transit"]


@pytest.mark.tshark
def test_gateways_sources_are_not_the_lan(store: Any) -> None:
    """sites.pcapng: several LANs' gateways forward a few servers each. None of the servers' public
    IPv4 addresses becomes a device's (a private host's next hop is a router); the laptop with three
    privacy addresses in one /64 is a device, not a gateway as it was when its global sources
    counted as forwarded traffic."""
    path = shared_path("nDPI", "pcap", "sites.pcapng")
    cid = _replay(store, str(path))
    devs = {d["mac"]: d for d in queries.devices(store, [cid])}
    assert all(ipaddress.ip_address(a).is_private for d in devs.values() for a in d["ipv4"])
    laptop = devs["34:e6:d7:02:1b:27"]
    want = {a for m, a in _tshark_sources(path, "ipv6.src") if m == "34:e6:d7:02:1b:27"}
    assert laptop["role"] == "device" and set(laptop["ipv6"]) == want and len(want) == 3
    stun = _replay(store, str(shared_path("nDPI", "pcap", "stun_google_meet.pcapng")))
    assert _lan_of(store, stun) == list(DEFAULT_LAN)  # one IPv6 flow and no IPv6 router known: no guess
