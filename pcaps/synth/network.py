"""The lab's network and its primitives: who is on the LAN (hosts, personas, addresses), the cloud's
addresses, and ``Lab``, which keeps every frame with its time and sends DNS, DHCP, TCP and UDP
exchanges on the hosts' behalf.

``lab.build`` lays the three hours of traffic out with these; ``personal`` and ``encrypted`` add
their scenarios through them. They import this module, never ``lab``, so the generator has no
import cycle.
"""

from __future__ import annotations

import ipaddress
import json
import random
from typing import Any

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    IPv6,
)
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from pcaps.synth import frames as fr
from pcaps.synth.hosts import BCAST, GW_IP, GW_MAC, T0, Host, hosts

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
