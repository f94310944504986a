"""Personal data sent in clear text at known intervals in known phases, and its ground truth.

Every kind of personal data the content detectors know is sent here by at least one
device, as a device or SDK of its kind would send it: plain HTTP (JSON, form, query,
multipart, vCard, raw media), MQTT publishes and CoAP posts. Each message records what
it carries when its payload is built (``Seen``: time of the packet, device, data type,
destination, carrier, decimals); what the lab's own behaviours already send in clear
(``lab.build``) is recorded from their frames by what those behaviours are known to put
in them. ``generate_lab`` writes both to the ground truth: the truth is the generator's
record of what it sent, never the output of the code under test.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import json
import random
import re
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from pcaps.synth import frames as fr
from pcaps.synth.hosts import T0, Host, luhn_complete
from pcaps.synth.network import CLOUD, Lab


@dataclass(frozen=True, slots=True)
class Seen:
    """One personal-data value the generator sent: what, in which packet, to whom, how precise."""

    t: float  # lab time (s after T0) of the packet carrying it
    device: str
    data_type: str
    destination: str
    carrier: str  # http.body, http.query, mqtt.publish, mqtt.connect, coap.POST
    decimals: int | None = None  # location: decimal places of the coarser coordinate as sent
    system: str | None = None  # location: coordinate system the payload names (NMEA: WGS-84 by definition)


def add(lab: Lab) -> None:
    """Record the clear-text personal data the lab already sends, then add the rest (call last in build)."""
    seen = existing(lab)
    saved = lab.rng
    lab.rng = random.Random(saved.getrandbits(64))  # this traffic draws from its own stream
    try:
        s = Sender(lab, seen)
        watch(s)
        child_watch(s)
        speaker(s)
        door_lock(s)
        camera(s)
        tablet(s)
    finally:
        lab.rng = saved
    lab.seen = sorted(seen, key=lambda x: (x.t, x.device, x.data_type, x.carrier))


# ---- what the lab's own behaviours send in clear -------------------------------------------

LAT = re.compile(rb"\"lat\":-?\d+\.(\d+),\"lon\":-?\d+\.(\d+)")
QUERY_PAIR = re.compile(rb"location=-?\d+\.(\d+),-?\d+\.(\d+)")


def existing(lab: Lab) -> list[Seen]:
    """Clear-text personal data of ``lab.build``'s behaviours, found in their frames by request line.

    Each behaviour is known to send the same fields every time (the children's watch's
    report: its IMEI, phone number and a six-decimal fix; the tablet's speech request: the
    child's name, e-mail, serial and audio); the persona values are checked to be there.
    """

    kid = lab.hosts["child_watch"]
    tab = lab.hosts["learning_tablet"]
    kp, tp = kid.bench["persona"], tab.bench["persona"]
    mqtt_ip = CLOUD["mqtt.watch.imoo.com"][0]
    out: list[Seen] = []

    def note(t: float, mac: str, dest: str, carrier: str, kinds: Iterable[str], places: int = -1) -> None:
        out.extend(Seen(t, mac, k, dest, carrier, places if k == "location" else None) for k in kinds)

    for t, pkt, _note in lab.frames:
        if not pkt.haslayer(IP) or not pkt.haslayer(TCP) or not pkt.haslayer(Raw):
            continue
        src, dst, data = pkt[Ether].src, pkt[IP].dst, bytes(pkt[Raw].load)
        if src == kid.mac and data.startswith(b"POST /v2/device/report "):
            assert kp["imei"].encode() in data and kp["phone"].encode() in data
            report = ("location", "imei", "persona:imei", "phone", "persona:phone")
            note(t, kid.mac, "api.watch.imoo.com", "http.body", report, _places(LAT, data))
        elif src == kid.mac and data.startswith(b"GET /v3/geocode/regeo?"):
            note(t, kid.mac, "restapi.amap.com", "http.query", ["location"], _places(QUERY_PAIR, data))
        elif src == kid.mac and dst == mqtt_ip and data[:1] == b"\x10":
            assert f"imoo-{kp['imei']}".encode() in data  # the client id
            note(t, kid.mac, "mqtt.watch.imoo.com", "mqtt.connect", ("imei", "persona:imei"))
        elif src == kid.mac and dst == mqtt_ip and data[:1] == b"\x30":
            assert data.count(kp["imei"].encode()) == 2  # in the topic and in the JSON
            publish = ("location", "imei", "persona:imei", "imei", "persona:imei")
            note(t, kid.mac, "mqtt.watch.imoo.com", "mqtt.publish", publish, _places(LAT, data))
        elif src == tab.mac and data.startswith(b"POST /v2/iat "):
            for key in ("name", "email", "serial"):
                assert json.dumps(tp[key]).encode() in data
            speech = ("persona:name", "email", "persona:email", "serial", "persona:serial", "audio")
            note(t, tab.mac, "iat-api.xfyun.cn", "http.body", speech)  # the audio: 600 bytes as hex
    return out


def _places(pattern: re.Pattern[bytes], data: bytes) -> int:
    """Decimal places of the coarser coordinate the payload prints."""
    m = pattern.search(data)
    assert m is not None
    return min(len(g) for g in m.groups())


# ---- sending and recording -----------------------------------------------------------------


class Sender:
    """The lab's primitives with the truth recorded per message."""

    def __init__(self, lab: Lab, seen: list[Seen]) -> None:
        self.lab = lab
        self.rng = lab.rng
        self.seen = seen
        self.mid = 0x2A00

    def h(self, key: str) -> Host:
        return self.lab.hosts[key]

    def note(
        self,
        t: float,
        h: Host,
        kinds: Iterable[str],
        dest: str,
        carrier: str,
        decimals: int | None = None,
        system: str | None = None,
    ) -> None:
        for k in kinds:
            loc = k == "location"
            self.seen.append(
                Seen(round(t, 6), h.mac, k, dest, carrier, decimals if loc else None, system if loc else None)
            )

    def dns(self, t: float, h: Host, name: str) -> None:
        self.lab.dns(t, h, name)

    def http(self, t: float, h: Host, host: str, request: bytes, response: bytes = b"") -> float:
        """One request on its own connection; the time of the packet that starts the request."""
        n = len(self.lab.frames)
        ip, port = _cloud(host)
        self.lab.tcp(t, h, ip, port, [request], [response or fr.http_ok()])
        return next(ft for ft, p, _ in self.lab.frames[n:] if p[Ether].src == h.mac and _data(p))

    def coap(self, t: float, h: Host, host: str, path: str, payload: bytes) -> float:
        self.mid += 1
        token = self.rng.randbytes(4)
        ip, port = _cloud(host)
        self.lab.udp(
            t,
            h,
            ip,
            40000 + self.mid % 1000,
            port,
            fr.coap_post(self.mid, token, host, path, payload),
            fr.coap_ack(self.mid, token),
            rtt=0.035,
        )
        return t

    def mqtt(
        self,
        h: Host,
        host: str,
        start: float,
        stop: float,
        connect: bytes,
        messages: list[tuple[float, bytes]],
    ) -> None:
        """One MQTT connection: CONNECT at ``start``, each PUBLISH (QoS 0) at its time, FIN at ``stop``."""
        ip, port = _cloud(host)
        sends: list[tuple[float, bytes, bytes | None]] = [(start + 0.031, connect, fr.MQTT_CONNACK)]
        self.lab.timed_tcp(h, ip, port, start, stop, sends + [(tt, msg, b"") for tt, msg in messages])


def _data(p: Any) -> bytes:
    """A frame's TCP/UDP payload (scapy keeps an empty Raw on segments built without data)."""
    return bytes(p[Raw].load) if p.haslayer(Raw) else b""


def _cloud(name: str) -> tuple[str, int]:

    return CLOUD[name]


def _fix(value: float, places: int) -> str:
    return f"{value:.{places}f}"


def _json(doc: dict[str, Any], numbers: dict[str, str] | None = None) -> bytes:
    """Compact JSON; ``numbers`` puts numbers in as the firmware prints them (json drops trailing zeros)."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    for key, literal in (numbers or {}).items():
        text = text.replace(f'"@{key}"', literal)
    return text.encode()


def _every(start: float, stop: float, period: float) -> list[float]:
    out, t = [], start
    while t < stop:
        out.append(t)
        t += period
    return out


# ---- the devices ---------------------------------------------------------------------------


def watch(s: Sender) -> None:
    """The adult's smartwatch: health readings and a workout's GPS track to Huawei IoTDA over
    MQTT/1883 with the feature on (heart rate every 60 s, SpO2 every 300 s, steps every 600 s,
    an NMEA GGA fix every 30 s); a night's sleep, blood pressure and temperature as a form
    every 900 s while idle."""
    w = s.h("watch")
    host = "iot-mqtts.cn-north-4.myhuaweicloud.com"
    dev_id = "65f2c1d0e7a1b23c4d5e6f7a_gt4watch"
    s.dns(3570, w, host)
    connect = fr.mqtt_connect(f"{dev_id}_0_0_2026030210", dev_id, s.rng.randbytes(16).hex())
    msgs: list[tuple[float, bytes]] = []
    report = f"$oc/devices/{dev_id}/sys/properties/report"
    for k, t in enumerate(_every(3610, 6000, 60)):
        props: dict[str, Any] = {"heartRate": s.rng.randint(64, 96)}
        kinds = ["health:heart_rate"]
        if k % 5 == 0:
            props["spo2"] = s.rng.randint(95, 99)
            kinds.append("health:spo2")
        if k % 10 == 0:
            props["steps"] = 1200 + 350 * k
            kinds.append("health:steps")
        stamp = _clock(t, "%Y%m%dT%H%M%SZ")
        body = _json({"services": [{"service_id": "Health", "properties": props, "event_time": stamp}]})
        msgs.append((t, fr.mqtt_publish(report, body)))
        s.note(t, w, kinds, host, "mqtt.publish")
    home = w.bench["persona"]["home"]
    for k, t in enumerate(_every(3625, 6000, 30)):  # a run: the fix moves about 2.5 m/s north-east
        lat, lon = home["lat"] + 0.00055 * k, home["lon"] + 0.00048 * k
        gga = fr.nmea(
            f"GPGGA,{_clock(t, '%H%M%S')}.00,{fr.nmea_coord(lat, 2, 4)},N,{fr.nmea_coord(lon, 3, 4)},E,"
            "1,09,0.8,12.4,M,8.1,M,,"
        )
        msgs.append((t, fr.mqtt_publish(f"$oc/devices/{dev_id}/user/gnss", gga.encode() + b"\r\n")))
        # minutes with 4 decimals: 1852 m x 1e-4 = 0.19 m, the resolution of 6 decimals of a degree
        s.note(t, w, ["location"], host, "mqtt.publish", decimals=6, system="WGS-84")
    msgs.sort()
    s.mqtt(w, host, 3580, 6010, connect, msgs)

    sync = "health-sync.hicloud.com"
    s.dns(640, w, sync)
    for t in _every(700, 3600, 900):
        form = (
            f"deviceId={dev_id}&date=20260302&sleepMinutes={s.rng.randint(380, 460)}"
            f"&deepSleep={s.rng.randint(70, 120)}&systolic={s.rng.randint(110, 128)}"
            f"&diastolic={s.rng.randint(70, 84)}&bodyTemp=36.{s.rng.randint(3, 8)}"
        ).encode()
        req = fr.http_post(sync, "/healthkit/v1/sleep", form, "HuaweiHealth/13.1", _FORM)
        at = s.http(t, w, sync, req)
        kinds = ["health:sleep"] * 2 + ["health:blood_pressure"] * 2 + ["health:temperature"]
        s.note(at, w, kinds, sync, "http.body")


_FORM = "application/x-www-form-urlencoded"


def _clock(t: float, fmt: str) -> str:

    return dt.datetime.fromtimestamp(T0 + t, dt.UTC).strftime(fmt)


def child_watch(s: Sender) -> None:
    """The children's watch: SIM identifiers at boot; Wi-Fi and cell positioning (Amap, query) every
    300 s while idle; a Tencent reverse geocode with five decimals every 900 s while idle; Tencent
    network positioning (JSON cells and access points) every 600 s in the background."""
    c = s.h("child_watch")
    p = c.bench["persona"]
    imsi = "46000" + "".join(str(s.rng.randrange(10)) for _ in range(10))
    iccid = _luhn("898600" + "".join(str(s.rng.randrange(10)) for _ in range(13)))
    meid = "A10000" + s.rng.randbytes(4).hex().upper()
    reg = _json(
        {
            "imei": p["imei"],
            "meid": meid,
            "imsi": imsi,
            "iccid": iccid,
            "phone": p["phone"],
            "model": "Z7",
            "fw": "3.1.0",
        }
    )
    host = "api.watch.imoo.com"
    at = s.http(100, c, host, fr.http_post(host, "/v2/device/register", reg, "imoo-Z7/3.1"))
    kinds = ["imei", "persona:imei", "meid", "imsi", "iccid", "phone", "persona:phone"]
    s.note(at, c, kinds, host, "http.body")

    aps = [
        (_mac(s.rng, "c8:3a:35"), "TP-LINK_A401"),
        (_mac(s.rng, "50:bd:5f"), "ChinaNet-x7Ab"),
        (_mac(s.rng, "d4:ee:07"), "MERCURY_2F3C"),
    ]
    cells = [(460, 0, 6338, 83893851), (460, 0, 6338, 83893853), (460, 0, 6338, 83893917)]
    key = s.rng.randbytes(16).hex()
    amap = "apilocate.amap.com"
    s.dns(650, c, amap)
    for t in _every(660, 3600, 300):
        macs = "|".join(f"{m},{-s.rng.randint(40, 85)},{ssid}" for m, ssid in aps)
        bts, *near = (f"{a},{b},{lac},{ci},{-s.rng.randint(55, 95)}" for a, b, lac, ci in cells)
        q = (
            f"/position?accesstype=1&imei={p['imei']}&cdma=0&bts={bts}&nearbts={'|'.join(near)}"
            f"&macs={macs}&output=json&key={key}"
        )
        at = s.http(t, c, amap, fr.http_get(amap, q, "imoo-Z7/3.1"))
        kinds = ["imei", "persona:imei", "wifi_scan"] + ["cell_tower"] * len(cells)
        s.note(at, c, kinds, amap, "http.query")

    qq = "apis.map.qq.com"
    s.dns(670, c, qq)
    home = p["home"]
    for t in _every(680, 3600, 900):
        lat, lon = home["lat"] - 0.00191 + s.rng.uniform(-1e-4, 1e-4), home["lon"] + 0.00454
        q = f"/ws/geocoder/v1/?location={_fix(lat, 5)},{_fix(lon, 5)}&key={key[:20].upper()}&get_poi=0"
        at = s.http(t, c, qq, fr.http_get(qq, q, "imoo-Z7/3.1"))
        s.note(at, c, ["location"], qq, "http.query", decimals=5)

    s.dns(8420, c, qq)
    for t in _every(8430, 10800, 600):
        doc = {
            "key": key[:20].upper(),
            "device_id": p["imei"],
            "cellinfo": [
                {"mcc": a, "mnc": b, "lac": lac, "cellid": ci, "rss": -s.rng.randint(55, 95)}
                for a, b, lac, ci in cells[:2]
            ],
            "wifiinfo": [{"mac": m, "rssi": -s.rng.randint(40, 85)} for m, _ssid in aps],
        }
        at = s.http(t, c, qq, fr.http_post(qq, "/ws/location/v1/network", _json(doc), "imoo-Z7/3.1"))
        kinds = ["imei", "persona:imei", "wifi_scan", "cell_tower", "cell_tower"]
        s.note(at, c, kinds, qq, "http.body")


def speaker(s: Sender) -> None:
    """The speaker: each voice command's audio (AMR or Ogg Opus, base64 in JSON) to the ASR service,
    10 s after each voice burst (every 400 s with the feature on); a weather lookup with a two-decimal
    position every 600 s in the background."""
    sp = s.h("speaker")
    asr = "speech.ai.xiaomi.com"
    s.dns(3690, sp, asr)
    for k, burst in enumerate(range(3700, 5900, 400)):
        clip, fmt = (fr.amr(s.rng, 150), "amr") if k % 2 == 0 else (fr.ogg_opus(s.rng, 2400), "opus")
        body = _json(
            {
                "appid": "xiaoai-lx06",
                "format": fmt,
                "rate": 16000 if fmt == "opus" else 8000,
                "audio": base64.b64encode(clip).decode(),
            }
        )
        at = s.http(burst + 10, sp, asr, fr.http_post(asr, "/speech/v1/asr", body, "MiAiSpeaker/LX06"))
        s.note(at, sp, ["audio"], asr, "http.body")

    wx = "weatherapi.market.xiaomi.com"
    s.dns(8450, sp, wx)
    home = sp.bench["persona"]["home"]
    for t in _every(8460, 10800, 600):
        q = (
            f"/wtr-v3/weather/all?latitude={_fix(home['lat'], 2)}&longitude={_fix(home['lon'], 2)}"
            "&isLocated=true&locale=zh_cn&appKey=weather20151024"
        )
        at = s.http(t, sp, wx, fr.http_get(wx, q, "MiAiSpeaker/LX06"))
        s.note(at, sp, ["location"], wx, "http.query", decimals=2)


def door_lock(s: Sender) -> None:
    """The lock: a status report with its MAC over CoAP/5683 (no DTLS) every 600 s in every phase;
    a 128-float face template at each face unlock (every 600 s with the feature on)."""
    d = s.h("door_lock")
    coap = "iot-coap.cn-north-4.myhuaweicloud.com"
    s.dns(290, d, coap)
    for t in _every(300, 10800 - 30, 600):
        body = _json({"mac": d.mac, "event": "status", "locked": True, "battery": 90 - int(t) // 1200})
        at = s.coap(t, d, coap, "/t/d", body)
        s.note(at, d, ["mac"], coap, "coap.POST")

    face = "face.aqara.cn"
    s.dns(3620, d, face)
    for t in _every(3630, 6000, 600):
        vec = ",".join(f"{s.rng.gauss(0, 0.09):.6f}" for _ in range(128))
        body = b'{"did":"lumi.158d00045ab3c1","slot":1,"feature":[' + vec.encode() + b"]}"
        at = s.http(t, d, face, fr.http_post(face, "/face/v1/verify", body, "lumi-lock-d100/1.0.51"))
        s.note(at, d, ["face_template"], face, "http.body")


def camera(s: Sender) -> None:
    """The camera: a motion snapshot (JPEG in a multipart form, its serial in the query) every 600 s
    and an MP4 clip every 600 s, both with the feature on."""
    cam = s.h("camera")
    serial = cam.bench["persona"]["serial"]
    pic = "alarmpic.ys7.com"
    s.dns(3690, cam, pic)
    boundary = "----EzvizFormBoundary7MA4YWxkTrZu0gW"
    for t in _every(3700, 6000, 600):
        body = fr.multipart(
            boundary,
            [("alarmType", "", "", b"motion"), ("pic", "alarm.jpg", "image/jpeg", fr.jpeg(s.rng, 2600))],
        )
        req = fr.http_post(
            pic,
            f"/api/alarm/upload?serial={serial}&channel=1",
            body,
            "EZVIZ-C6N/5.3.0",
            f"multipart/form-data; boundary={boundary}",
        )
        at = s.http(t, cam, pic, req)
        s.note(at, cam, ["image"], pic, "http.body")
        s.note(at, cam, ["serial", "persona:serial"], pic, "http.query")

    vid = "cloudvideo.ys7.com"
    s.dns(3990, cam, vid)
    for t in _every(4000, 6000, 600):
        req = fr.http_post(
            vid, "/api/cloud/clip?channel=1", fr.mp4(s.rng, 5200), "EZVIZ-C6N/5.3.0", "video/mp4"
        )
        at = s.http(t, cam, vid, req)
        s.note(at, cam, ["video"], vid, "http.body")


def tablet(s: Sender) -> None:
    """The learning tablet (a child's): real-name registration and the address book (vCards) at
    boot; the installed-app list to Getui once; an Umeng analytics envelope (device IDs, the
    phone number's MD5 in upper case, the e-mail's SHA-256) every 900 s idle and in the
    background; a GCJ-02 fix every 1200 s idle; Baidu BD-09 geocoding and a homework photo
    (base64 JPEG) every 600 s with the feature on."""
    tab = s.h("learning_tablet")
    p = tab.bench["persona"]
    edu = "edu.iflytek.com"
    s.dns(200, tab, edu)
    reg = _json(
        {
            "name": p["name"],
            "idCard": _cn_id("310104", "20160518", s.rng),
            "mobile": _national(p["phone"]),
            "grade": 3,
        }
    )
    at = s.http(210, tab, edu, fr.http_post(edu, "/v1/account/register", reg, "iFlytekT10/2.0"))
    s.note(at, tab, ["persona:name", "cn_id", "phone", "persona:phone"], edu, "http.body")

    cards, numbers = [], []
    for i, (fn, prefix) in enumerate(
        (
            ("Mama", "139"),
            ("Baba", "186"),
            ("Nainai", "150"),
            ("Wang Laoshi", "177"),
            ("Zhang Wei", "135"),
            ("Liu Yang", "189"),
        )
    ):
        digits = prefix + "".join(str(s.rng.randrange(10)) for _ in range(8))
        numbers.append(digits)
        shown = (
            digits,
            f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}",
            f"{digits[:3]}-{digits[3:7]}-{digits[7:]}",
        )
        card = f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{fn}\r\nTEL;TYPE=CELL:{shown[i % 3]}\r\n"
        if i == 3:
            card += "EMAIL;TYPE=WORK:wang.laoshi@school.example.cn\r\n"
        cards.append(card + "END:VCARD\r\n")
    assert len(set(numbers)) == len(numbers)
    at = s.http(
        250,
        tab,
        edu,
        fr.http_post(
            edu, "/v1/contacts/sync", "".join(cards).encode(), "iFlytekT10/2.0", "text/vcard; charset=utf-8"
        ),
    )
    s.note(at, tab, ["contacts", *["phone"] * len(numbers), "email"], edu, "http.body")

    getui = "sdk.open.phone.igexin.com"
    s.dns(890, tab, getui)
    apps = [
        "com.tencent.mm",
        "com.tencent.mobileqq",
        "com.ss.android.ugc.aweme",
        "com.eg.android.AlipayGphone",
        "com.sina.weibo",
        "com.xunmeng.pinduoduo",
        "com.iflytek.inputmethod",
        "com.zuoyebang.airclass",
    ]
    doc = {
        "action": "reportapplist",
        "cid": s.rng.randbytes(16).hex(),
        "appid": "gW2zE8Qk7N6Jm3sT",
        "applist": [{"pkg": a, "ver": f"{s.rng.randint(1, 9)}.{s.rng.randint(0, 20)}"} for a in apps],
    }
    at = s.http(900, tab, getui, fr.http_post(getui, "/api.php?format=json", _json(doc), "Getui-SDK/3.2.8"))
    s.note(at, tab, ["app_list"], getui, "http.body")

    umeng = "ulogs.umeng.com"
    s.dns(630, tab, umeng)
    s.dns(8430, tab, umeng)
    ids = {
        "android_id": s.rng.randbytes(8).hex(),
        "oaid": _uuid(s.rng),
        "gaid": _uuid(s.rng),
        "mac": tab.mac,
        "mobile_md5": hashlib.md5(_national(p["phone"]).encode()).hexdigest().upper(),
        "email_sha256": hashlib.sha256(p["email"].encode()).hexdigest(),
    }
    kinds = ["android_id", "oaid", "idfa", "mac", "persona:phone", "persona:email"]
    for t in _every(640, 3600, 900) + _every(8440, 10800, 900):
        head = {
            "appkey": "5f9a7c3e8b1d2a0012ab34cd",
            **ids,
            "os": "Android",
            "os_version": "12",
            "device_model": "T10",
        }
        body = _json({"header": head, "body": {"events": [{"id": "page_view", "page": "home"}]}})
        at = s.http(t, tab, umeng, fr.http_post(umeng, "/unify_logs", body, "UMengSDK/9.6.3"))
        s.note(at, tab, kinds, umeng, "http.body")

    home = p["home"]
    s.dns(690, tab, edu)
    for t in _every(700, 3600, 1200):  # GCJ-02 offsets the WGS-84 fix by a few hundred metres in Shanghai
        lat, lon = home["lat"] - 0.00191, home["lon"] + 0.00454 + s.rng.uniform(-1e-4, 1e-4)
        fix = {"lng": "@lng", "lat": "@lat", "coordType": "gcj02", "accuracy": 30}
        body = _json({"uid": "u8823101", "loc": fix}, {"lat": _fix(lat, 5), "lng": _fix(lon, 5)})
        at = s.http(t, tab, edu, fr.http_post(edu, "/v1/device/location", body, "iFlytekT10/2.0"))
        s.note(at, tab, ["location"], edu, "http.body", decimals=5, system="GCJ-02")

    baidu = "api.map.baidu.com"
    s.dns(3635, tab, baidu)
    for t in _every(3640, 6000, 600):
        lat, lon = home["lat"] + 0.00637, home["lon"] + 0.01104 + s.rng.uniform(-1e-3, 1e-3)
        q = (
            f"/reverse_geocoding/v3/?ak={s.rng.randbytes(12).hex()}&output=json&coordtype=bd09ll"
            f"&location={_fix(lat, 4)},{_fix(lon, 4)}"
        )
        at = s.http(t, tab, baidu, fr.http_get(baidu, q, "iFlytekT10/2.0"))
        s.note(at, tab, ["location"], baidu, "http.query", decimals=4, system="BD-09")

    hw = "homework.xfyun.cn"
    s.dns(3655, tab, hw)
    for t in _every(3660, 6000, 600):
        body = _json(
            {"subject": "math", "grade": 3, "image": base64.b64encode(fr.jpeg(s.rng, 1800)).decode()}
        )
        at = s.http(t, tab, hw, fr.http_post(hw, "/v1/homework/correct", body, "iFlytekT10/2.0"))
        s.note(at, tab, ["image"], hw, "http.body")


def _mac(rng: random.Random, oui: str) -> str:
    return oui + "".join(f":{b:02x}" for b in rng.randbytes(3))


def _uuid(rng: random.Random) -> str:
    h = rng.randbytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _national(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def _luhn(digits: str) -> str:

    return luhn_complete(digits)


def _cn_id(area: str, born: str, rng: random.Random) -> str:
    """A resident ID number (GB 11643): area, birth date, sequence, weighted check character."""
    body = area + born + f"{rng.randrange(1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


# ---- the truth as written ------------------------------------------------------------------


def truth(lab: Lab, phase_at: Callable[[float], str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``observations`` and ``series`` sections of the ground truth."""

    obs: list[dict[str, Any]] = []
    for x in lab.seen:
        e: dict[str, Any] = {
            "ts": round(T0 + float(x.t), 3),
            "device": x.device,
            "data_type": x.data_type,
            "destination": x.destination,
            "phase": phase_at(x.t),
            "carrier": x.carrier,
        }
        if x.decimals is not None:
            e["decimals"] = x.decimals
        if x.system is not None:
            e["system"] = x.system
        obs.append(e)
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for e in obs:
        groups.setdefault((e["device"], e["data_type"], e["destination"], e["phase"]), []).append(e)
    series = []
    for (dev, kind, dest, phase), es in sorted(groups.items()):
        times = sorted({e["ts"] for e in es})
        gaps = [b - a for a, b in itertools.pairwise(times)]
        row: dict[str, Any] = {
            "device": dev,
            "data_type": kind,
            "destination": dest,
            "phase": phase,
            "interval": round(float(statistics.median(gaps)), 3) if gaps else None,
            "count": len(es),
            "reports": len(times),
        }
        if kind == "location":
            row["max_decimals"] = max(e["decimals"] for e in es)
        series.append(row)
    return obs, series
