"""The labelled-captures table (issue 15) held to what main gives, and the rows known wrong on main.

``tests.support.labelled`` replays every shared capture that comes with labels through the replay's
own pipeline and compares it with the labels: devices found, their flows charged to them, names
that agree, and for nDPI, Zeek and Suricata their flows and names. The floors below are the
figures after issue 15 (``labelled-after.md``; before it, ``labelled-before.md``), rounded down:
a regression fails here. A row found wrong is marked ``xfail(strict=True)`` while it is being
fixed: strict turns the fix into a failure, so the mark is removed and the row becomes a floor.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from appliance.ingest.replay import ReplayOptions, replay
from appliance.store.backends import Store
from tests.support import labelled
from tests.support.labels import all_labels, iot_sentinel
from tests.support.paths import SHARED, shared_path
from tests.support.replayed import replayed
from tests.support.zeekconn import trace_of

LABELS = {f"{lb.dataset}: {lb.device}": lb for lb in all_labels()} if SHARED.exists() else {}
SENTINEL = [lb.device for lb in iot_sentinel()] if SHARED.exists() else []

# dataset: (devices found in every capture, share of their flows charged to them, labels agreeing with a
# shown vendor or name)
DEVICE_FLOORS = {
    "IoT-Sentinel": (31, 0.72, 27),
    "Lifecycle": (1, 1.0, 1),
    "NEU intl-iot": (1, 0.85, 0),
    "SSI 2022": (1, 1.0, 0),
    "JasonHYJ": (1, 1.0, 0),
}
# reference: (reference flows matched, reference names agreeing, the replay's flows with a device)
REFERENCE_FLOORS = {"nDPI": (0.99, 0.93, 0.75), "Zeek": (1.0, 0.86, 0.89), "Suricata": (None, 0.99, 0.93)}


@pytest.fixture(scope="module")
def table() -> labelled.Table:
    shared_path("IoT-Sentinel")
    return labelled.table()


def _ratio(n: int, d: int | None) -> float:
    return n / d if d else 1.0


@pytest.mark.parametrize("dataset", DEVICE_FLOORS)
def test_device_dataset_floors(table: labelled.Table, dataset: str) -> None:
    row = next(r for r in table.datasets if r.dataset == dataset)
    found, attributed, agrees = DEVICE_FLOORS[dataset]
    assert row.found == row.devices >= found, row
    assert row.captures_found == row.captures, row
    assert _ratio(row.attributed, row.flows) >= attributed, row
    assert row.agrees >= agrees, row
    # what is not charged to the labelled device is a local flow another LAN device began, bar the
    # flows listed in test_flows_of_a_labelled_device_are_charged_to_it
    assert row.attributed + row.begun_by_other <= row.flows


@pytest.mark.parametrize("dataset", REFERENCE_FLOORS)
def test_reference_floors(table: labelled.Table, dataset: str) -> None:
    row = next(r for r in table.refs if r.dataset == dataset)
    matched, names, with_device = REFERENCE_FLOORS[dataset]
    assert row.captures > 0 and row.unreadable == 0, row
    if matched is None:
        assert row.ref_flows is None
    else:
        assert _ratio(row.matched, row.ref_flows) >= matched, row
    assert _ratio(row.agreeing, row.ref_names) >= names, row
    assert _ratio(row.with_device, row.flows) >= with_device, row


def test_stratosphere_row_says_why_it_is_empty(table: labelled.Table) -> None:
    row = next(r for r in table.refs if r.dataset == "Stratosphere")
    assert row.captures == 3 and row.ref_flows and row.ref_flows > 1000
    assert "cannot read Zeek logs" in row.note
    assert "Stratosphere | 3 | n/a" in labelled.markdown(table)


@pytest.mark.parametrize("folder", SENTINEL)
def test_every_iot_sentinel_mac_found_in_every_capture(folder: str) -> None:
    fig = labelled.device_figures(LABELS[f"IoT-Sentinel: {folder}"])
    assert fig.found_in == fig.captures == len(LABELS[f"IoT-Sentinel: {folder}"].captures) > 0
    assert fig.macs == {fig.label}
    assert fig.attributed > 0


# Flows of a labelled device charged to another device (or none) that are not local flows another
# device began: wrong on main.
@pytest.mark.parametrize("name", list(LABELS))
def test_flows_of_a_labelled_device_are_charged_to_it(name: str) -> None:
    """Every flow of the device is charged to it, unless it is a local flow another device began."""
    fig = labelled.device_figures(LABELS[name])
    assert fig.found_in == fig.captures
    assert fig.attributed + fig.begun_by_other == fig.flows, fig


@pytest.mark.tshark
@pytest.mark.parametrize("name", [n for n, lb in LABELS.items() if lb.ip and not lb.mac])
def test_device_labelled_by_address_has_the_mac_its_frames_carry(name: str) -> None:
    """A label giving only an address: the MAC tapaudit lists there is the one tshark reads on the
    frames sent from that address."""
    label = LABELS[name]
    fig = labelled.device_figures(label)
    for pcap in label.captures:
        out = subprocess.run(
            ["tshark", "-r", str(pcap), "-Y", f"ip.src == {label.ip}", "-T", "fields", "-e", "eth.src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert set(out.split()) == fig.macs, pcap.name


def test_ssi_plug_found_by_its_mac_and_address() -> None:
    label = LABELS["SSI 2022: Smart Power Plug"]
    for pcap in label.captures:
        devs = {d["mac"]: d for d in replayed(pcap).devices}
        assert label.ip in devs[label.mac]["ipv4"], pcap.name


def test_ssi_access_point_is_the_gateway() -> None:
    fig = labelled.device_figures(LABELS["SSI 2022: Smart Power Plug"])
    assert fig.gateway_found


def test_table_is_what_a_replay_stores(store: Store) -> None:
    """The harness's rows are the rows a real replay stores: flows per device and the devices."""
    pcap = shared_path("NEU-SNS-intl-iot", "yi_camera_sample.pcap")
    res = replay(store, str(pcap), ReplayOptions())
    stored = store.query(
        "SELECT device_mac, count() AS n FROM {db}.flows WHERE capture_id = %(c)s GROUP BY device_mac",
        {"c": res.capture_id},
    )
    ours = replayed(Path(pcap))
    counts: dict[str, int] = {}
    for f in ours.flows:
        counts[f.device_mac] = counts.get(f.device_mac, 0) + 1
    assert {r["device_mac"]: int(r["n"]) for r in stored} == counts
    devices = store.query(
        "SELECT mac, oui_vendor, ipv4 FROM {db}.devices WHERE capture_id = %(c)s", {"c": res.capture_id}
    )
    assert sorted((d["mac"], d["oui_vendor"], list(d["ipv4"])) for d in devices) == sorted(
        (d["mac"], d["oui_vendor"], d["ipv4"]) for d in ours.devices
    )


# ---- rows that were wrong before issue 15 (labelled-before.md): now floors -------------------------

NO_MAC = {"raw", "ipv4", "ipv6", "null", "loop", "ppp", "ppp-hdlc", "cisco-hdlc"}  # linktype_name


def test_raw_ip_captures_charge_flows_to_devices(table: labelled.Table) -> None:
    cs = [c for k in ("nDPI", "Suricata") for c in table.captures[k] if set(c.link_types) & NO_MAC]
    assert sum(c.flows for c in cs) > 20
    assert sum(c.with_device for c in cs) >= 0.9 * sum(c.flows for c in cs)


def test_linux_cooked_captures_charge_flows_to_devices(table: labelled.Table) -> None:
    cs = [c for k in ("nDPI", "Suricata") for c in table.captures[k] if "linux-sll" in c.link_types]
    assert sum(c.flows for c in cs) > 20
    assert sum(c.with_device for c in cs) >= 0.9 * sum(c.flows for c in cs)


@pytest.mark.parametrize("trace", ["dhcp/dhcp.pcap", "dhcp/dhcp_inform.pcap"])
def test_dhcp_assigned_public_lan_flows_are_charged(trace: str) -> None:
    assert trace in {trace_of(d) for d in (SHARED / "zeek" / "Baseline").iterdir()}
    r = replayed(shared_path("zeek", "Traces", trace))
    assert r.flows and all(f.device_mac for f in r.flows), [(f.src, f.dst, f.direction) for f in r.flows]


TUNNELS = {
    "4in4tunnel.pcap": "IPv4 in IPv4 (protocol 4)",
    "gre.pcapng": "GRE",
    "4in6tunnel.pcap": "IPv4 in IPv6",
    "6in6tunnel.pcap": "IPv6 in IPv6",
}


@pytest.mark.parametrize("pcap", list(TUNNELS))
def test_tunnelled_flows_match_ndpi(table: labelled.Table, pcap: str) -> None:
    c = next(c for c in table.captures["nDPI"] if c.name == pcap)
    assert c.ref_flows > 0
    assert c.matched == c.ref_flows


def test_gquic_server_names_agree_with_ndpi(table: labelled.Table) -> None:
    named = agreeing = 0
    for c in table.captures["nDPI"]:
        for kind in ("gQUIC-Q043", "gQUIC-Q046"):
            named += c.ref_names[kind]
            agreeing += c.agreeing[kind]
    assert named >= 5
    assert agreeing == named


def test_dns_authority_names_agree_with_suricata(table: labelled.Table) -> None:
    named = sum(c.ref_names["dns-authority"] for c in table.captures["Suricata"])
    agreeing = sum(c.agreeing["dns-authority"] for c in table.captures["Suricata"])
    assert named >= 2
    assert agreeing == named
