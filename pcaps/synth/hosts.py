"""Who is on the lab's LAN: the hosts (their MACs, addresses, bench entries and personas), the
gateway, the phases and the capture's start time. Data and small helpers only; ``network.Lab``
sends on these hosts' behalf.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from typing import Any

T0 = 1_772_442_000  # 2026-03-02 09:00:00 UTC
HOURS = 3
PHASES = [
    ("boot", 0, 600),
    ("idle", 600, 3600),
    ("feature_on", 3600, 6000),
    ("feature_off", 6000, 8400),
    ("background", 8400, 10800),
]
GW_MAC, GW_IP, GW_LL = "68:dd:b7:50:00:01", "192.168.50.1", "fe80::6add:b7ff:fe50:1"
BCAST = "ff:ff:ff:ff:ff:ff"


@dataclass
class Host:
    key: str
    mac: str
    ip: str
    name: str
    category: str
    hostname: str
    vendor_class: str
    prl: list[int]
    bench: dict[str, Any] = field(default_factory=dict)
    ula: str = ""
    mdns: str = ""
    ssdp_server: str = ""

    @property
    def ll(self) -> str:
        """EUI-64 link-local address."""
        b = bytearray(int(x, 16) for x in self.mac.split(":"))
        b[0] ^= 2
        eui = bytes(b[:3]) + b"\xff\xfe" + bytes(b[3:])
        return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + eui))

    @property
    def client_id(self) -> bytes:
        return b"\x01" + bytes(int(x, 16) for x in self.mac.split(":"))


def persona(rng: random.Random, name: str, email: str, phone: str) -> dict[str, Any]:
    return {
        "imei": luhn_complete("86" + "".join(str(rng.randrange(10)) for _ in range(12))),
        "serial": "SN" + "".join(rng.choice("0123456789ABCDEF") for _ in range(10)),
        "phone": phone,
        "email": email,
        "name": name,
        "home": {"lat": 31.230416, "lon": 121.473701},
    }


def luhn_complete(digits: str) -> str:
    """Append the Luhn check digit (IMEIs carry one)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits + str((10 - total % 10) % 10)


def hosts(rng: random.Random) -> list[Host]:
    """The devices under test and the phone; fixed MACs with real IEEE OUIs."""

    def dev(
        key: str,
        mac: str,
        last: int,
        name: str,
        cat: str,
        host: str,
        vc: str,
        prl: list[int],
        vendor: str,
        model: str,
        person: dict[str, Any],
        **kw: str,
    ) -> Host:
        bench = {
            "name": name,
            "category": cat,
            "vendor": vendor,
            "model": model,
            "firmware": "1.0." + str(last),
            "persona": person,
        }
        return Host(key, mac, f"192.168.50.{last}", name, cat, host, vc, prl, bench, **kw)

    kid = persona(rng, "Li Xiaoming", "xiaoming.li@example.cn", "+86 138 0013 8000")
    adult = persona(rng, "Wang Fang", "wang.fang@example.com", "+86 139 0013 9000")
    return [
        dev(
            "watch",
            "e0:06:30:5a:11:21",
            21,
            "Huawei Watch GT (lab)",
            "watch",
            "HUAWEI-WATCH-GT",
            "HUAWEI:android:LIO",
            [1, 3, 6, 15, 26, 28, 51, 58, 59, 43],
            "Huawei",
            "GT-4",
            adult,
            ula="fd00:50::21",
        ),
        dev(
            "child_watch",
            "80:41:4e:7c:22:31",
            31,
            "imoo Kids Watch Z7",
            "child_watch",
            "imoo-Z7",
            "dhcpcd-9.4.1",
            [1, 121, 33, 3, 6, 12, 15, 26, 28, 51, 54, 58, 59, 119],
            "BBK (imoo)",
            "Z7",
            kid,
        ),
        dev(
            "speaker",
            "cc:eb:5e:3b:33:41",
            41,
            "Xiaomi Smart Speaker",
            "speaker",
            "xiaomi-speaker-lx06",
            "udhcp 1.31.1",
            [1, 3, 6, 12, 15, 28, 42],
            "Xiaomi",
            "LX06",
            adult,
            ula="fd00:50::41",
            mdns="xiaomi-speaker-lx06.local",
        ),
        dev(
            "door_lock",
            "18:c2:3c:44:44:51",
            51,
            "Aqara Smart Lock D100",
            "door_lock",
            "lumi-lock-d100",
            "",
            [1, 3, 6, 15, 28],
            "Aqara (Lumi United)",
            "D100",
            adult,
        ),
        dev(
            "camera",
            "64:f2:fb:66:55:61",
            61,
            "EZVIZ C6 camera",
            "camera",
            "EZVIZ-C6",
            "EZVIZ C6N",
            [1, 3, 6, 12, 15, 28, 42, 43],
            "EZVIZ",
            "C6N",
            adult,
            ssdp_server="Linux/3.10 UPnP/1.0 EZVIZ-C6N/5.3.0",
        ),
        dev(
            "learning_tablet",
            "20:ff:36:77:66:71",
            71,
            "iFLYTEK Learning Tablet T10",
            "learning_tablet",
            "iFLYTEK-T10",
            "android-dhcp-12",
            [1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114, 108],
            "iFLYTEK",
            "T10",
            kid,
            ula="fd00:50::71",
            mdns="iflytek-t10.local",
        ),
        Host(
            "phone",
            "60:fd:a6:88:77:81",
            "192.168.50.81",
            "Tester iPhone",
            "other",
            "Testers-iPhone",
            "",
            [1, 121, 3, 6, 15, 108, 114, 119, 252],
        ),
    ]
