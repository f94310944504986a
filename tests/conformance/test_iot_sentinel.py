"""Device inventory on IoT-Sentinel (Miettinen et al., ICDCS 2017): 31 setup captures of real devices.

For every device folder, the MAC in ``_iotdevice-mac.txt`` must be found as a device,
with an IEEE OUI vendor, an IPv4 address, and the DHCP hostname that tshark reads
from the same packets (option 12; several of these devices send none): as announced when
names are kept raw (--raw-evidence), and as ``appliance.masking.mask_name`` masks tshark's
name by default (a person's name or an Android ID in a host name is not stored as sent).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from appliance.ingest.inventory import Inventory
from appliance.masking import mask_name
from appliance.store.schema import DEVICES
from parsers.capture import read_pcap
from parsers.lan import LanPrefixes
from parsers.meter import FlowMeter
from tests.support.paths import SHARED, shared_path

FOLDERS = sorted(p.name for p in (SHARED / "IoT-Sentinel").glob("*") if (p / "_iotdevice-mac.txt").exists())


def test_all_31_device_folders_present() -> None:
    shared_path("IoT-Sentinel")
    assert len(FOLDERS) == 31


def tshark_hostnames(files: list[Path], mac: str) -> set[str]:
    merge = subprocess.Popen(["mergecap", "-F", "pcap", "-w", "-", *map(str, files)], stdout=subprocess.PIPE)
    out = subprocess.run(
        [
            "tshark",
            "-r",
            "-",
            "-Y",
            f"dhcp.hw.mac_addr == {mac}",
            "-T",
            "fields",
            "-e",
            "dhcp.option.dhcp",
            "-e",
            "dhcp.option.hostname",
        ],
        stdin=merge.stdout,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    merge.wait()
    # Client messages (discover 1, request 3, inform 8, release 7) carry the client's own hostname.
    return {
        h
        for line in out.splitlines()
        for t, _, h in [line.partition("\t")]
        if h and t in ("1", "3", "7", "8")
    }


@pytest.mark.parametrize("folder", FOLDERS)
def test_device_found_with_hostname_and_vendor(folder: str) -> None:
    d = shared_path("IoT-Sentinel", folder)
    mac = (d / "_iotdevice-mac.txt").read_text().strip().lower()
    files = sorted(d.glob("*.pcap"))
    lan = LanPrefixes()
    meter = FlowMeter(lan.is_local)
    inv, raw = Inventory(lan), Inventory(lan, raw=True)
    for f in files:
        for ts, lt, wl, data in read_pcap(str(f)):
            meter.feed(ts, lt, wl, data)
    meter.flush()
    for i in (inv, raw):
        i.add_events(meter.events)
        for flow in meter.done:
            i.add_flow(flow)
    rows = {r["mac"]: r for r in (dict(zip(DEVICES.names, t, strict=True)) for t in inv.device_rows("t", 1))}
    raw_rows = {
        r["mac"]: r for r in (dict(zip(DEVICES.names, t, strict=True)) for t in raw.device_rows("t", 1))
    }
    assert mac in rows, f"{folder}: {mac} not found among {sorted(rows)}"
    row = rows[mac]
    oui_vendor, hostname, ipv4 = row["oui_vendor"], row["dhcp_hostname"], row["ipv4"]
    announced = raw_rows[mac]["dhcp_hostname"]
    assert oui_vendor and not oui_vendor.startswith("("), f"{folder}: no OUI vendor for {mac}"
    assert ipv4, f"{folder}: no IPv4 address for {mac}"
    if shutil.which("tshark") and shutil.which("mergecap"):
        names = tshark_hostnames(files, mac)
        if names:
            assert announced in names, f"{folder}: hostname {announced!r}, tshark sees {names}"
            assert hostname in {mask_name(n) for n in names}, f"{folder}: stored {hostname!r}, tshark {names}"
        else:
            assert hostname == announced == "", (
                f"{folder}: hostname {announced!r} but tshark sees no option 12"
            )
    print(f"{folder}: {mac} vendor={oui_vendor!r} hostname={hostname!r} ipv4={ipv4}")
