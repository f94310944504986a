"""Test harness: the device labels the shared captures come with, read from the datasets' own files.

Each ``DeviceLabel`` says which device a capture is about, by MAC or by address, as its
authors wrote it down: IoT-Sentinel's ``_iotdevice-mac.txt`` per device folder (Miettinen et al.,
ICDCS 2017), the Lifecycle dataset's ``device-IP.xlsx``, Mon(IoT)r's ``devices_us.txt`` and
``devices_uk.txt`` (Ren et al., IMC 2019), the SSI measurements' README, and for the Blink hub
the device folder it was published in (``MANIFEST.tsv``) with the address the manifest gives.

Makers and brands are what a user would recognise the device by: a label agrees with tapaudit
when the IEEE OUI vendor tapaudit shows is the maker, or a name it shows (DHCP host name or
vendor class, mDNS or SSDP name) carries the maker or the brand. They are written here once,
from the label and the brands' public owners, not from tapaudit's output.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import SHARED


@dataclass(frozen=True)
class DeviceLabel:
    dataset: str
    device: str  # the label's name for it
    captures: tuple[Path, ...]
    mac: str = ""  # the labelled MAC, "" when the label gives only an address
    ip: str = ""  # the labelled IPv4 address, when the label gives one
    makers: tuple[str, ...] = ()  # company names an OUI vendor would carry; () if the label names none
    brands: tuple[str, ...] = ()  # maker, brand or model words a device name would carry
    gateway: str = ""  # the access point's MAC, when the label names it
    source: str = ""  # the file the label comes from


def _words(*w: str) -> tuple[str, ...]:
    return w


# IoT Sentinel, Table I (arXiv:1611.04880): each folder's maker, then its brand or model words.
# HomeMatic and MAX! are eQ-3's brands, ednet is ASSMANN Electronic's, Hue was Philips Lighting's
# (Signify since 2018), WeMo is Belkin's, Lightify is Osram's, iKettle and SmarterCoffee are Smarter's.
SENTINEL: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Aria": (_words("Fitbit"), _words("Fitbit", "Aria")),
    "HomeMaticPlug": (_words("eQ-3"), _words("HomeMatic")),
    "Withings": (_words("Withings"), _words("Withings")),
    "MAXGateway": (_words("eQ-3"), _words("MAX!")),
    "HueBridge": (_words("Philips", "Signify"), _words("Philips", "Hue")),
    "HueSwitch": (_words("Philips", "Signify"), _words("Philips", "Hue")),
    "EdnetGateway": (_words("ednet", "ASSMANN"), _words("ednet")),
    "EdnetCam1": (_words("ednet", "ASSMANN"), _words("ednet")),
    "EdnetCam2": (_words("ednet", "ASSMANN"), _words("ednet")),
    "EdimaxCam1": (_words("Edimax"), _words("Edimax")),
    "EdimaxCam2": (_words("Edimax"), _words("Edimax")),
    "EdimaxPlug1101W": (_words("Edimax"), _words("Edimax", "SP-1101W")),
    "EdimaxPlug2101W": (_words("Edimax"), _words("Edimax", "SP-2101W")),
    "Lightify": (_words("Osram"), _words("Osram", "Lightify")),
    "WeMoInsightSwitch": (_words("Belkin"), _words("Belkin", "WeMo")),
    "WeMoInsightSwitch2": (_words("Belkin"), _words("Belkin", "WeMo")),
    "WeMoLink": (_words("Belkin"), _words("Belkin", "WeMo")),
    "WeMoSwitch": (_words("Belkin"), _words("Belkin", "WeMo")),
    "WeMoSwitch2": (_words("Belkin"), _words("Belkin", "WeMo")),
    "TP-LinkPlugHS100": (_words("TP-Link"), _words("TP-Link", "HS100")),
    "TP-LinkPlugHS110": (_words("TP-Link"), _words("TP-Link", "HS110")),
    "SmarterCoffee": (_words("Smarter"), _words("Smarter")),
    "iKettle2": (_words("Smarter"), _words("Smarter", "iKettle")),
    **{
        f"D-Link{kind}": (_words("D-Link"), _words("D-Link"))
        for kind in ("Cam", "DayCam", "DoorSensor", "HomeHub", "Sensor", "Siren", "Switch", "WaterSensor")
    },
}


def iot_sentinel() -> list[DeviceLabel]:
    base = SHARED / "IoT-Sentinel"
    out = []
    for d in sorted(p for p in base.glob("*") if (p / "_iotdevice-mac.txt").exists()):
        makers, brands = SENTINEL.get(d.name, ((), ()))
        out.append(
            DeviceLabel(
                "IoT-Sentinel",
                d.name,
                tuple(sorted(d.glob("*.pcap"))),
                mac=(d / "_iotdevice-mac.txt").read_text().strip().lower(),
                makers=makers,
                brands=brands,
                source=f"IoT-Sentinel/{d.name}/_iotdevice-mac.txt",
            )
        )
    return out


def xlsx_rows(path: Path) -> list[list[str]]:
    """The first sheet of an .xlsx as rows of text (ECMA-376: shared strings, inline values)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(path) as z:
        shared = []
        if "xl/sharedStrings.xml" in z.namelist():
            root = ET.fromstring(z.read("xl/sharedStrings.xml"))
            shared = [
                "".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t")) for si in root.findall("m:si", ns)
            ]
        sheet = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in sheet.iter(f"{{{ns['m']}}}row"):
        cells = []
        for c in row.findall("m:c", ns):
            v = c.find("m:v", ns)
            text = v.text or "" if v is not None else ""
            cells.append(shared[int(text)] if c.get("t") == "s" and text else text)
        rows.append(cells)
    return rows


def lifecycle() -> list[DeviceLabel]:
    """device-IP.xlsx names each demo device's address; its captures are the files named after it.
    Xiaodu (Shanghai Xiaodu Technology) is Baidu's smart-device company."""
    demo = SHARED / "Lifecycle-Based-Traffic-Dataset" / "result_demo" / "traffic_demo"
    out = []
    for name, ip in (r[:2] for r in xlsx_rows(demo / "device-IP.xlsx")[1:] if len(r) >= 2):
        pcaps = tuple(sorted(demo.rglob(f"{name}*.pcap")))
        if pcaps:
            makers = ("Xiaodu", "Baidu") if name.startswith("xiaodu") else ()
            out.append(
                DeviceLabel(
                    "Lifecycle",
                    name,
                    pcaps,
                    ip=ip,
                    makers=makers,
                    brands=makers,
                    source="Lifecycle-Based-Traffic-Dataset/.../device-IP.xlsx",
                )
            )
    return out


def _mac(text: str) -> str:
    """Mon(IoT)r's lists drop leading zeros (``c:8c:24:b:be:fb``)."""
    return ":".join(f"{int(x, 16):02x}" for x in text.split(":"))


def neu() -> list[DeviceLabel]:
    """The device the capture is named after (yi_camera_sample: yi-camera, made by Shanghai Xiaoyi
    Technology, "YI"), with the MAC of the study's lab whose address the capture's bytes carry
    (the US and UK lists each give one)."""
    base = SHARED / "NEU-SNS-intl-iot"
    out = []
    for pcap in sorted(base.glob("*.pcap")):
        name, data = pcap.stem.removesuffix("_sample").replace("_", "-"), pcap.read_bytes()
        for lst in ("devices_us.txt", "devices_uk.txt"):
            for line in (base / lst).read_text().splitlines():
                mac, _, dev = line.strip().partition(" ")
                if dev.strip() == name and bytes.fromhex(_mac(mac).replace(":", "")) in data:
                    makers = ("Xiaoyi", "YI Technology") if name.startswith("yi-") else ()
                    out.append(
                        DeviceLabel(
                            "NEU intl-iot",
                            name,
                            (pcap,),
                            mac=_mac(mac),
                            makers=makers,
                            brands=(*makers, name),
                            source=f"NEU-SNS-intl-iot/{lst}",
                        )
                    )
    return out


SSI_BLOCK = re.compile(r"^(?P<name>[^\n:#-][^\n:]*):\n- IPv4 - (?P<ip>\S+)\n- MAC - (?P<mac>\S+)", re.M)


def ssi() -> list[DeviceLabel]:
    """The README's sections give each device and its access point (IPv4, MAC); the captures are
    the files named after the device. The README names no maker for the plug."""
    base = SHARED / "SSI_Measurements_2022"
    text = (base / "README.md").read_text()
    out = []
    for section in text.split("\n### ")[1:]:
        blocks = {m["name"].strip(): m for m in SSI_BLOCK.finditer(section)}
        ap = blocks.pop("Access point", None)
        for name, m in blocks.items():
            key = re.sub(r"[^a-z]", "", name.lower())
            pcaps = tuple(
                p for p in sorted(base.glob("*.pcap")) if key in re.sub(r"[^a-z]", "", p.stem.lower())
            )
            if pcaps:
                out.append(
                    DeviceLabel(
                        "SSI 2022",
                        name,
                        pcaps,
                        mac=m["mac"].lower(),
                        ip=m["ip"],
                        gateway=ap["mac"].lower() if ap else "",
                        source="SSI_Measurements_2022/README.md",
                    )
                )
    return out


BLINK_IP = "192.168.20.105"  # the hub's address, as MANIFEST.md gives it (the only LAN host in the capture)


def jasonhyj() -> list[DeviceLabel]:
    """The device folder the capture was published in (MANIFEST.tsv's source_path). Blink belongs to
    Immedia Semiconductor (Amazon since 2017)."""
    with (SHARED / "MANIFEST.tsv").open() as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["local_path"].endswith(".pcap")]
    out = []
    for r in rows:
        if r["local_path"].startswith("JasonHYJ-deviceIdentification/"):
            device = r["source_path"].split("/")[-2]
            out.append(
                DeviceLabel(
                    "JasonHYJ",
                    device,
                    (SHARED / r["local_path"],),
                    ip=BLINK_IP,
                    makers=("Blink", "Immedia"),
                    brands=("Blink",),
                    source="MANIFEST.tsv",
                )
            )
    return out


def all_labels() -> list[DeviceLabel]:
    return [*iot_sentinel(), *lifecycle(), *neu(), *ssi(), *jasonhyj()]
