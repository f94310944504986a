"""The synthetic smart-terminal lab: who is on the LAN and what each device does, phase by phase.

A gateway (DHCP, DNS, router advertisements), a tester's phone and six devices
under test (smartwatch, children's watch, speaker, door lock, camera, learning
tablet) over three hours. Every frame is built with scapy and kept with its time;
the ground truth comes from these frames, not from the code under test.
"""

from __future__ import annotations

import json

from scapy.layers.inet import ICMP, IP, UDP, fragment
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_RA,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw

from pcaps.synth import encrypted as enc
from pcaps.synth import frames as fr
from pcaps.synth import personal
from pcaps.synth.hosts import GW_IP, GW_LL, GW_MAC, HOURS, Host
from pcaps.synth.network import CLOUD, NTP_SERVER, V6_REMOTE, Lab


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
