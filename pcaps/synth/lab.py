"""The synthetic smart-terminal lab: who is on the LAN and what each device does, phase by phase.

A gateway (DHCP, DNS, router advertisements), a tester's phone and six devices
under test (smartwatch, children's watch, speaker, door lock, camera, learning
tablet) over three hours. Every frame is built with scapy and kept with its time;
the ground truth comes from these frames, not from the code under test.
"""

from __future__ import annotations

import ipaddress
import json
import random
from dataclasses import dataclass, field
from typing import Any

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet, Raw

from pcaps.synth import encrypted as enc
from pcaps.synth import frames as fr
from pcaps.synth import personal

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


CLOUD = {  # name -> (address, port)
    "connect-drcn.hispace.hicloud.com": ("121.36.99.17", 443),
    "health-api.cloud.huawei.com": ("121.36.99.40", 443),
    "api.watch.imoo.com": ("47.96.17.101", 80),
    "mqtt.watch.imoo.com": ("47.96.17.102", 1883),
    "alogus.umeng.com": ("203.119.169.10", 443),
    "restapi.amap.com": ("106.11.43.140", 80),
    "api.io.mi.com": ("111.13.141.21", 443),
    "resolver.msg.xiaomi.net": ("111.13.141.30", 443),
    "aiot-rpc.aqara.cn": ("120.79.140.9", 443),
    "open.ys7.com": ("115.236.76.5", 443),
    "devlog.ys7.com": ("115.236.76.6", 443),
    "android.bugly.qq.com": ("109.244.244.11", 443),
    "iat-api.xfyun.cn": ("42.62.43.76", 80),
    "firebaselogging-pa.googleapis.com": ("142.250.72.42", 443),
    "gateway.icloud.com": ("17.248.150.37", 443),
    "aiot-mqtt.aqara.cn": ("120.79.140.12", 443),
    "alarm.ys7.com": ("115.236.76.8", 443),
    # clear-text services of pcaps.synth.personal
    "iot-mqtts.cn-north-4.myhuaweicloud.com": ("121.36.99.50", 1883),
    "iot-coap.cn-north-4.myhuaweicloud.com": ("121.36.99.51", 5683),
    "health-sync.hicloud.com": ("121.36.99.42", 80),
    "apilocate.amap.com": ("106.11.43.141", 80),
    "apis.map.qq.com": ("109.244.194.121", 80),
    "api.map.baidu.com": ("180.101.49.12", 80),
    "ulogs.umeng.com": ("203.119.169.11", 80),
    "sdk.open.phone.igexin.com": ("122.228.77.85", 80),
    "edu.iflytek.com": ("42.62.43.80", 80),
    "homework.xfyun.cn": ("42.62.43.81", 80),
    "alarmpic.ys7.com": ("115.236.76.10", 80),
    "cloudvideo.ys7.com": ("115.236.76.11", 80),
    "face.aqara.cn": ("120.79.140.20", 80),
    "weatherapi.market.xiaomi.com": ("111.13.141.50", 80),
    "speech.ai.xiaomi.com": ("111.13.141.51", 80),
}
NTP_SERVER = "203.107.6.88"
V6_REMOTE = "2408:8756:c52:1::e1"


class Lab:
    """Builds the frames of the whole lab; ``frames`` holds (time s, frame, fragment note)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.hosts = {h.key: h for h in hosts(self.rng)}
        self.frames: list[tuple[float, Packet, str]] = []
        self.datagrams: dict[float, Packet] = {}  # time of a last fragment -> the whole datagram
        self.ports: dict[str, int] = {}
        self.ids = 0
        self.periodic: list[dict[str, Any]] = []  # encrypted series sent at a known period (truth)
        self.uploads: list[dict[str, Any]] = []  # encrypted uploads of known kind (truth)
        self.seen: list[Any] = []  # personal values sent in clear (pcaps.synth.personal.Seen, truth)

    # ---- primitives ------------------------------------------------------------------------

    def add(self, t: float, p: Packet, note: str = "") -> None:
        self.frames.append((round(t, 6), p, note))

    def sport(self, h: Host) -> int:
        self.ports[h.key] = self.ports.get(h.key, 40000 + 1000 * len(self.ports)) + 1
        return self.ports[h.key]

    def up(self, h: Host, dst: str = GW_MAC) -> Ether:
        return Ether(src=h.mac, dst=dst)

    def down(self, h: Host) -> Ether:
        return Ether(src=GW_MAC, dst=h.mac)

    def tcp(
        self,
        t: float,
        h: Host,
        ip: str,
        port: int,
        ups: list[bytes],
        downs: list[bytes],
        close: str = "fin",
        v6: bool = False,
    ) -> float:
        """A whole TCP connection: handshake, request/response pairs, FIN or RST. Returns its end."""
        sp = self.sport(h)
        src = h.ula if v6 else h.ip
        mk = (lambda s, d: IPv6(src=s, dst=d)) if v6 else (lambda s, d: IP(src=s, dst=d))
        cs, ss = self.rng.randrange(1 << 31), self.rng.randrange(1 << 31)
        rtt = 0.02 + self.rng.random() * 0.03

        def c2s(tt: float, flags: str, data: bytes = b"") -> None:
            seg = TCP(sport=sp, dport=port, flags=flags, seq=cs, ack=ss if "A" in flags else 0, window=64240)
            self.add(tt, self.up(h) / mk(src, ip) / seg / (Raw(data) if data else b""))

        def s2c(tt: float, flags: str, data: bytes = b"") -> None:
            seg = TCP(sport=port, dport=sp, flags=flags, seq=ss, ack=cs, window=65535)
            self.add(tt, self.down(h) / mk(ip, src) / seg / (Raw(data) if data else b""))

        c2s(t, "S")
        cs += 1
        s2c(t + rtt, "SA")
        ss += 1
        c2s(t + rtt + 0.0005, "A")
        t += rtt + 0.001
        for i in range(max(len(ups), len(downs))):
            for chunk in _segments(ups[i] if i < len(ups) else b""):
                c2s(t, "PA", chunk)
                cs += len(chunk)
                t += 0.0008
            if i < len(downs):
                t += rtt
                for chunk in _segments(downs[i]):
                    s2c(t, "PA", chunk)
                    ss += len(chunk)
                    t += 0.0008
                c2s(t + 0.0004, "A")
            t += 0.01
        if close == "rst":
            s2c(t, "R")
            return t
        c2s(t, "FA")
        cs += 1
        s2c(t + rtt, "FA")
        ss += 1
        c2s(t + rtt + 0.0005, "A")
        return t + rtt

    def timed_tcp(
        self,
        h: Host,
        ip: str,
        port: int,
        start: float,
        stop: float,
        exchanges: list[tuple[float, bytes, bytes | None]],
    ) -> None:
        """One TCP connection whose messages go at the given times (tcp() packs them back to back).

        ``exchanges`` are (time, bytes up, bytes down): the server answers 30 ms later;
        with nothing to say (b"") it acknowledges, with None it stays silent (a stream).
        """
        sp = self.sport(h)
        seq = {"c": self.rng.randrange(1 << 31), "s": self.rng.randrange(1 << 31)}

        def send(tt: float, up: bool, flags: str, data: bytes = b"") -> None:
            me, peer = ("c", "s") if up else ("s", "c")
            ports = (sp, port) if up else (port, sp)
            l3 = IP(src=h.ip, dst=ip) if up else IP(src=ip, dst=h.ip)
            seg = TCP(sport=ports[0], dport=ports[1], flags=flags, seq=seq[me], ack=seq[peer], window=64240)
            self.add(tt, (self.up(h) if up else self.down(h)) / l3 / seg / (Raw(data) if data else b""))
            seq[me] += len(data) + (1 if "S" in flags or "F" in flags else 0)

        send(start, True, "S")
        send(start + 0.03, False, "SA")
        send(start + 0.0305, True, "A")
        for tt, up, down in exchanges:
            for i in range(0, len(up), 1400):
                send(tt + i / 1400 * 0.0002, True, "PA", up[i : i + 1400])
            if down:
                send(tt + 0.03, False, "PA", down)
                send(tt + 0.0305, True, "A")
            elif down is not None:
                send(tt + 0.03, False, "A")
        send(stop, True, "FA")
        send(stop + 0.03, False, "FA")
        send(stop + 0.0305, True, "A")

    def tls(
        self,
        t: float,
        h: Host,
        name: str,
        up_sizes: list[int],
        down_sizes: list[int],
        close: str = "fin",
        v6: bool = False,
        ip: str = "",
    ) -> float:
        ip = ip or CLOUD[name][0]
        ups = [fr.tls_client_hello(name, self.rng) + fr.tls_record(20, 1, self.rng)]
        ups += [fr.tls_record(23, n, self.rng) for n in up_sizes]
        downs = [fr.tls_record(22, 90, self.rng) + fr.tls_record(23, 2400, self.rng)]
        downs += [fr.tls_record(23, n, self.rng) for n in down_sizes]
        return self.tcp(t, h, ip, 443, ups, downs, close, v6)

    def udp(
        self,
        t: float,
        h: Host,
        dst: str,
        sport: int,
        dport: int,
        data: bytes,
        reply: bytes = b"",
        dmac: str = GW_MAC,
        rtt: float = 0.02,
    ) -> None:
        v6 = ":" in dst
        l3 = IPv6(src=h.ula if not dst.startswith("ff") else h.ll, dst=dst) if v6 else IP(src=h.ip, dst=dst)
        self.add(t, Ether(src=h.mac, dst=dmac) / l3 / UDP(sport=sport, dport=dport) / Raw(data))
        if reply:
            back = IPv6(src=dst, dst=h.ula) if v6 else IP(src=dst, dst=h.ip)
            self.add(t + rtt, self.down(h) / back / UDP(sport=dport, dport=sport) / Raw(reply))

    def dns(self, t: float, h: Host, name: str) -> float:
        self.ids = (self.ids + 1) & 0xFFFF
        addr = ipaddress.IPv4Address(CLOUD[name][0]).packed
        self.udp(
            t,
            h,
            GW_IP,
            30000 + self.ids % 20000,
            53,
            fr.dns_query(self.ids, name),
            fr.dns_answer(self.ids, name, [addr]),
            rtt=0.012,
        )
        return t + 0.02

    # ---- behaviours ------------------------------------------------------------------------

    def boot(self, t: float, h: Host) -> None:
        """DHCP (discover, offer, request, ack), a gratuitous ARP, ARP for the gateway."""
        xid = self.rng.randrange(1 << 32)
        chaddr = bytes(int(x, 16) for x in h.mac.split(":")) + bytes(10)
        opts: list[Any] = [("client_id", h.client_id), ("hostname", h.hostname.encode())]
        if h.vendor_class:
            opts.append(("vendor_class_id", h.vendor_class.encode()))
        opts.append(("param_req_list", h.prl))
        for i, kind in enumerate(("discover", "request")):
            extra = [("requested_addr", h.ip), ("server_id", GW_IP)] if kind == "request" else []
            self.add(
                t + i * 0.5,
                Ether(src=h.mac, dst=BCAST)
                / IP(src="0.0.0.0", dst="255.255.255.255")
                / UDP(sport=68, dport=67)
                / BOOTP(chaddr=chaddr, xid=xid, flags=0x8000)
                / DHCP(options=[("message-type", kind), *opts[:1], *extra, *opts[1:], "end"]),
            )
            reply = "offer" if kind == "discover" else "ack"
            self.add(
                t + i * 0.5 + 0.01,
                Ether(src=GW_MAC, dst=BCAST)
                / IP(src=GW_IP, dst="255.255.255.255")
                / UDP(sport=67, dport=68)
                / BOOTP(op=2, chaddr=chaddr, xid=xid, yiaddr=h.ip, flags=0x8000)
                / DHCP(
                    options=[
                        ("message-type", reply),
                        ("server_id", GW_IP),
                        ("lease_time", 7200),
                        ("subnet_mask", "255.255.255.0"),
                        ("router", GW_IP),
                        ("name_server", GW_IP),
                        "end",
                    ]
                ),
            )
        t += 1.1
        self.add(t, Ether(src=h.mac, dst=BCAST) / ARP(op=1, hwsrc=h.mac, psrc=h.ip, pdst=h.ip))
        self.add(t + 0.1, Ether(src=h.mac, dst=BCAST) / ARP(op=1, hwsrc=h.mac, psrc=h.ip, pdst=GW_IP))
        self.add(
            t + 0.101,
            Ether(src=GW_MAC, dst=h.mac) / ARP(op=2, hwsrc=GW_MAC, psrc=GW_IP, hwdst=h.mac, pdst=h.ip),
        )
        if h.ula:  # SLAAC: duplicate-address probes, then an advertisement of the address
            for i, addr in enumerate((h.ll, h.ula)):
                sn = str(
                    ipaddress.IPv6Address(
                        int(ipaddress.IPv6Address("ff02::1:ff00:0"))
                        | (int(ipaddress.IPv6Address(addr)) & 0xFFFFFF)
                    )
                )
                self.add(
                    t + 0.2 + i * 0.1,
                    Ether(src=h.mac, dst="33:33:ff" + h.mac[8:])
                    / IPv6(src="::", dst=sn)
                    / ICMPv6ND_NS(tgt=addr),
                )
            self.add(
                t + 1.3,
                Ether(src=h.mac, dst="33:33:00:00:00:01")
                / IPv6(src=h.ll, dst="ff02::1")
                / ICMPv6ND_NA(tgt=h.ula, R=0, S=0, O=1),
            )
        if h.mdns:
            self.udp(
                t + 2,
                h,
                "224.0.0.251",
                5353,
                5353,
                fr.mdns_announce(h.mdns, ipaddress.IPv4Address(h.ip).packed),
                dmac="01:00:5e:00:00:fb",
            )
        if h.ssdp_server:
            self.ssdp(t + 3, h)

    def ssdp(self, t: float, h: Host) -> None:
        usn = "uuid:" + "-".join(h.mac.replace(":", "")[i : i + 4] for i in range(0, 12, 4)) + "-0000-0000"
        self.udp(
            t,
            h,
            "239.255.255.250",
            1900,
            1900,
            fr.ssdp_notify(f"http://{h.ip}:49152/desc.xml", h.ssdp_server, usn),
            dmac="01:00:5e:7f:ff:fa",
        )

    def location_json(self, h: Host, t: float, extra: dict[str, Any] | None = None) -> bytes:
        p = h.bench["persona"]
        lat = p["home"]["lat"] + self.rng.uniform(-2e-4, 2e-4)
        lon = p["home"]["lon"] + self.rng.uniform(-2e-4, 2e-4)
        doc = {"imei": p["imei"], "ts": int(T0 + t), "lat": "@lat", "lon": "@lon", "acc": 8, **(extra or {})}
        # six decimals always, as the device firmware prints them (json would drop trailing zeros)
        text = json.dumps(doc, separators=(",", ":"))
        return text.replace('"@lat"', f"{lat:.6f}").replace('"@lon"', f"{lon:.6f}").encode()


def _segments(data: bytes, mss: int = 1400) -> list[bytes]:
    return [data[i : i + mss] for i in range(0, len(data), mss)] if data else []


def gateway_router_ad(lab: Lab, t: float) -> None:
    lab.add(
        t,
        Ether(src=GW_MAC, dst="33:33:00:00:00:01")
        / IPv6(src=GW_LL, dst="ff02::1")
        / ICMPv6ND_RA()
        / ICMPv6NDOptSrcLLAddr(lladdr=GW_MAC)
        / ICMPv6NDOptPrefixInfo(prefix="fd00:50::", prefixlen=64),
    )


def build(seed: int) -> Lab:
    """Lay out the three hours of traffic."""
    lab = Lab(seed)
    H = lab.hosts
    rng = lab.rng
    for i in range(0, HOURS * 3600, 600):
        gateway_router_ad(lab, 3 + i)
    for i, key in enumerate(
        ("watch", "child_watch", "speaker", "door_lock", "camera", "learning_tablet", "phone")
    ):
        lab.boot(20 + 9 * i, H[key])
    end = HOURS * 3600 - 30

    # smartwatch: HTTPS heartbeats; health uploads in feature_on; Umeng analytics; IPv6 sync
    w = H["watch"]
    lab.dns(90, w, "connect-drcn.hispace.hicloud.com")
    for t in range(100, end, 300):
        lab.tls(t + rng.random(), w, "connect-drcn.hispace.hicloud.com", [180], [120])
    enc.periodic(lab, w, "connect-drcn.hispace.hicloud.com", 300, [*range(100, end, 300)], "TLS heartbeat")
    lab.dns(3590, w, "health-api.cloud.huawei.com")
    for t in range(3600, 6000, 120):
        lab.tls(t + 0.5, w, "health-api.cloud.huawei.com", [900, 400], [200, 80])
    enc.periodic(
        lab, w, "health-api.cloud.huawei.com", 120, [*range(3600, 6000, 120)], "health sync, feature_on"
    )
    lab.dns(700, w, "alogus.umeng.com")
    lab.tls(705, w, "alogus.umeng.com", [1500], [60], close="rst")
    for t in range(1000, end, 1800):
        lab.tls(t, w, "sync-v6.hicloud.com", [300], [300], v6=True, ip=V6_REMOTE)
    enc.periodic(lab, w, "sync-v6.hicloud.com", 1800, [*range(1000, end, 1800)], "TLS over IPv6")
    lab.add(1500, lab.up(w) / IPv6(src=w.ula, dst=V6_REMOTE) / ICMPv6EchoRequest(id=7, seq=1, data=b"p" * 32))
    lab.add(
        1500.04, lab.down(w) / IPv6(src=V6_REMOTE, dst=w.ula) / ICMPv6EchoReply(id=7, seq=1, data=b"p" * 32)
    )

    # children's watch: plain HTTP location reports, MQTT session > 70 min, Amap lookups
    c = H["child_watch"]
    lab.dns(95, c, "api.watch.imoo.com")
    for t in range(120, end, 600):
        body = lab.location_json(c, t, {"phone": c.bench["persona"]["phone"], "bat": 80})
        report = fr.http_post("api.watch.imoo.com", "/v2/device/report", body, "imoo-Z7/3.1")
        for later in (0.3, 300.3) if 3600 <= t < 6000 else (0.3,):  # twice as often in feature_on
            lab.tcp(t + later, c, CLOUD["api.watch.imoo.com"][0], 80, [report], [fr.http_ok()])
    lab.dns(690, c, "mqtt.watch.imoo.com")
    mqtt_session(lab, c, 700, 5500)
    lab.dns(3605, c, "restapi.amap.com")
    for t in range(3610, 6000, 240):
        q = f"/v3/geocode/regeo?location={121.473701:.6f},{31.230416:.6f}&key=demo".encode()
        lab.tcp(
            t,
            c,
            CLOUD["restapi.amap.com"][0],
            80,
            [b"GET " + q + b" HTTP/1.1\r\nHost: restapi.amap.com\r\n\r\n"],
            [fr.http_ok(b'{"status":"1"}')],
        )

    # speaker: Xiaomi cloud, NTP every 10 min (silences > 120 s), voice bursts over UDP, SSDP none, IPv6
    s = H["speaker"]
    lab.dns(100, s, "api.io.mi.com")
    lab.dns(101, s, "resolver.msg.xiaomi.net")
    for t in range(130, end, 600):
        lab.udp(t, s, NTP_SERVER, 123, 123, fr.ntp_packet(3, rng), fr.ntp_packet(4, rng))
        lab.tls(t + 5, s, "api.io.mi.com", [220], [180])
    enc.periodic(lab, s, "api.io.mi.com", 600, [*range(135, end, 600)], "TLS report")
    lab.tls(140, s, "resolver.msg.xiaomi.net", [150, 150, 150], [90, 90, 90])
    for burst in range(3700, 5900, 400):  # voice upload: 20 ms frames for 6 s, then silence
        enc.voice(lab, s, "111.13.141.40", burst, 6)
    enc.periodic(lab, s, "111.13.141.40", 400, [*range(3700, 5900, 400)], "voice bursts, feature_on")
    for t in range(2000, end, 1800):
        lab.tls(t, s, "api-v6.io.mi.com", [400], [600], v6=True, ip=V6_REMOTE)
    enc.periodic(lab, s, "api-v6.io.mi.com", 1800, [*range(2000, end, 1800)], "TLS over IPv6")

    # door lock: quiet TLS keepalives, pings to the gateway
    d = H["door_lock"]
    lab.dns(110, d, "aiot-rpc.aqara.cn")
    for t in range(150, end, 900):
        lab.tls(t, d, "aiot-rpc.aqara.cn", [96], [64])
        lab.add(
            t + 30, lab.up(d) / IP(src=d.ip, dst=GW_IP) / ICMP(type=8, id=3, seq=t % 65536) / Raw(b"\0" * 32)
        )
        lab.add(
            t + 30.002,
            lab.down(d) / IP(src=GW_IP, dst=d.ip) / ICMP(type=0, id=3, seq=t % 65536) / Raw(b"\0" * 32),
        )
    enc.periodic(lab, d, "aiot-rpc.aqara.cn", 900, [*range(150, end, 900)], "TLS report")
    lab.dns(155, d, "aiot-mqtt.aqara.cn")
    enc.keepalive(lab, d, "aiot-mqtt.aqara.cn", CLOUD["aiot-mqtt.aqara.cn"][0], 160, end, 45, (5000, 5600))

    # camera: device-log TLS, video uploads in feature_on, SSDP, one fragmented datagram, a reset
    cam = H["camera"]
    lab.dns(120, cam, "open.ys7.com")
    lab.dns(121, cam, "devlog.ys7.com")
    for t in range(160, end, 1200):
        lab.tls(t, cam, "devlog.ys7.com", [700], [100])
        lab.ssdp(t + 1, cam)
    enc.periodic(lab, cam, "devlog.ys7.com", 1200, [*range(160, end, 1200)], "device log")
    for t in range(3650, 6000, 600):  # motion clips: 8 s of video at 80 kB/s
        enc.video(lab, cam, "open.ys7.com", CLOUD["open.ys7.com"][0], t, 8, 20, 4000)
    enc.periodic(lab, cam, "open.ys7.com", 600, [*range(3650, 6000, 600)], "video clips, feature_on")
    lab.tls(6250, cam, "open.ys7.com", [500], [], close="rst")
    lab.dns(4395, cam, "alarm.ys7.com")
    for t in (4400, 5420):  # motion snapshots
        enc.snapshot(lab, cam, "alarm.ys7.com", CLOUD["alarm.ys7.com"][0], t, 60_000)
    big = (
        IP(src=cam.ip, dst="115.236.76.7", id=4242) / UDP(sport=50000, dport=6000) / Raw(rng.randbytes(3200))
    )
    frags = fragment(big, fragsize=1480)
    for k, frag in enumerate(frags):
        note = "fragment-last" if k == len(frags) - 1 else "fragment"
        lab.add(4000 + k * 0.0005, lab.up(cam) / frag, note)
    lab.datagrams[round(4000 + (len(frags) - 1) * 0.0005, 6)] = lab.up(cam) / big

    # learning tablet: speech API over plain HTTP with the child's name, bugly crash reports,
    # Firebase abroad, IPv6, and one flow on the lab's tagged VLAN 20
    tab = H["learning_tablet"]
    lab.dns(130, tab, "iat-api.xfyun.cn")
    lab.dns(131, tab, "android.bugly.qq.com")
    lab.dns(132, tab, "firebaselogging-pa.googleapis.com")
    p = tab.bench["persona"]
    for t in range(3620, 6000, 300):
        body = json.dumps(
            {
                "user": p["name"],
                "email": p["email"],
                "serial": p["serial"],
                "audio": "b64:" + rng.randbytes(600).hex(),
            }
        ).encode()
        lab.tcp(
            t,
            tab,
            CLOUD["iat-api.xfyun.cn"][0],
            80,
            [fr.http_post("iat-api.xfyun.cn", "/v2/iat", body, "iFlytekT10/2.0")],
            [fr.http_ok()],
        )
    for t in range(400, end, 2400):
        lab.tls(t, tab, "android.bugly.qq.com", [1200], [80])
        lab.tls(t + 60, tab, "firebaselogging-pa.googleapis.com", [800], [120])
        lab.tls(t + 90, tab, "ipv6.xfyun.cn", [200], [200], v6=True, ip=V6_REMOTE)
    for name, late in (
        ("android.bugly.qq.com", 0),
        ("firebaselogging-pa.googleapis.com", 60),
        ("ipv6.xfyun.cn", 90),
    ):
        enc.periodic(lab, tab, name, 2400, [t + late for t in range(400, end, 2400)], "SDK report")
    for k in range(40):
        lab.add(
            7000 + k * 0.5,
            Ether(src=tab.mac, dst=GW_MAC)
            / Dot1Q(vlan=20)
            / IP(src=tab.ip, dst="42.62.43.77")
            / UDP(sport=51000, dport=8443)
            / Raw(rng.randbytes(200)),
        )

    # the tester's phone: iCloud and a ping
    ph = H["phone"]
    lab.dns(200, ph, "gateway.icloud.com")
    for t in range(210, end, 1500):
        lab.tls(t, ph, "gateway.icloud.com", [600], [900])
    enc.periodic(lab, ph, "gateway.icloud.com", 1500, [*range(210, end, 1500)], "iCloud")
    lab.add(300, lab.up(ph) / IP(src=ph.ip, dst=GW_IP) / ICMP(type=8, id=9) / Raw(b"x" * 56))
    lab.add(300.003, lab.down(ph) / IP(src=GW_IP, dst=ph.ip) / ICMP(type=0, id=9) / Raw(b"x" * 56))
    personal.add(lab)  # personal data in clear text, with its ground truth (last: it reads the frames above)
    return lab


def mqtt_session(lab: Lab, h: Host, start: float, stop: float) -> None:
    """One long MQTT connection: CONNECT, a location PUBLISH every 2 min, PINGREQ every 60 s."""
    ip, port = CLOUD["mqtt.watch.imoo.com"]
    p = h.bench["persona"]
    sched: list[tuple[float, bytes, bytes | None]] = [
        (start + 0.032, fr.mqtt_connect(f"imoo-{p['imei']}", "watch", "s3cret"), fr.MQTT_CONNACK)
    ]
    t = start
    while t < stop:
        t += 60
        if int(t - start) % 120 == 0:
            sched.append((t, fr.mqtt_publish(f"loc/{p['imei']}", lab.location_json(h, t)), b""))
        else:
            sched.append((t, fr.MQTT_PINGREQ, fr.MQTT_PINGRESP))
    lab.timed_tcp(h, ip, port, start, stop + 1, sched)
