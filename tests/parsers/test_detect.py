"""Content detectors on crafted payloads: every data type found with its path, precision and
confidence, and the look-alikes that must not be (timestamps, versions, hashes of nothing)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json

import pytest

from parsers.detect.hits import Hit
from parsers.detect.persona import PersonaMatcher
from parsers.detect.scan import scan
from parsers.detect.values import leaves


def luhn_digit(body: str) -> str:
    """The check digit that makes ``body + digit`` pass Luhn (written here, not imported)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def types(hits: list[Hit]) -> dict[str, Hit]:
    return {h.data_type: h for h in hits}


def one(payload: bytes | str, kind: str, **kw: object) -> Hit:
    data = payload.encode() if isinstance(payload, str) else payload
    got = [h for h in scan(data, **kw) if h.data_type == kind]  # type: ignore[arg-type]
    assert len(got) == 1, (kind, got)
    return got[0]


@pytest.mark.parametrize(
    ("payload", "decimals", "metres", "system"),
    [
        ('{"lat": 39.908720, "lng": 116.397470, "coordType": "gcj02"}', 6, 0.111, "GCJ-02"),
        ('{"latitude": "31.2304", "longitude": "121.4737"}', 4, 11.132, "unknown"),
        ('{"gps": {"wgsLat": 22.543, "wgsLon": 114.057}, "crs": "WGS84"}', 3, 111.32, "WGS-84"),
        ('{"location": "116.481488,39.990464", "coordsys": "bd09ll"}', 6, 0.111, "BD-09"),
        ("lat=39.91&lon=116.40&t=1", 2, 1113.2, "unknown"),
    ],
)
def test_coordinates_with_precision(payload: str, decimals: int, metres: float, system: str) -> None:
    h = one(payload, "location")
    assert (h.decimals, h.metres, h.detail["system"]) == (decimals, metres, system)
    lat, lon = (float(x) for x in h.value.split(","))
    assert 18 < lat < 54 and 73 < lon < 135  # in China whichever order the payload used


def test_accuracy_and_nmea() -> None:
    h = one('{"lat": 39.9087, "lon": 116.3975, "accuracy": 25}', "location")
    assert h.detail["accuracy_m"] == 25.0
    nmea = one("$GPRMC,123519,A,4807.0381,N,01131.0002,E,022.4,084.4,230394,003.1,W*6A", "location")
    assert nmea.metres == 0.185 and nmea.decimals == 6 and nmea.value.startswith("48.1173")


def test_location_proxies() -> None:
    wifi = {"aps": [{"bssid": f"c8:3a:35:00:00:{i:02x}", "rssi": -40 - i} for i in range(4)]}
    h = one(json.dumps(wifi), "wifi_scan")
    assert h.detail["access_points"] == 4
    assert not [x for x in scan(json.dumps(wifi).encode()) if x.data_type == "mac"]  # APs are not device ids
    assert one("macs=c8:3a:35:00:00:01,-55,home|c8:3a:35:00:00:02,-70,office", "wifi_scan")
    assert one('{"cell": {"mcc": "460", "mnc": "00", "lac": 4301, "cid": 20986}}', "cell_tower").value == (
        "460,00,4301,20986"
    )


def test_identifiers() -> None:
    imei = "49015420323751" + luhn_digit("49015420323751")
    iccid = "898600" + "1234567890123" + luhn_digit("8986001234567890123")
    body = {
        "imei": imei,
        "imsi": "460001234567890",
        "iccid": iccid,
        "androidId": "9774d56d682e549c",
        "oaid": "a3b1c2d4-1111-2222-3333-444455556666",
        "idfa": "6D92078A-8246-4BA4-AE5B-76104861E7DC",
        "sn": "HWK8X21A0001234",
        "mobile": "13800138000",
        "idcard": "11010519491231002X",
        "contact": "kid@example.cn",
        "note": "dev a4:c1:38:12:34:56 online",
    }
    got = types(scan(json.dumps(body).encode()))
    expect = dict(imei=imei, imsi="460001234567890", iccid=iccid, android_id="9774d56d682e549c",
                  oaid=body["oaid"], idfa=body["idfa"], serial="HWK8X21A0001234", phone="13800138000",
                  cn_id="11010519491231002X", email="kid@example.cn", mac="a4:c1:38:12:34:56")  # fmt: skip
    for kind, value in expect.items():
        assert kind in got and got[kind].value == value, kind
    assert got["imei"].confidence == "high" and got["mac"].confidence == "medium"


def test_identifiers_without_keys_in_text() -> None:
    imei = "35209900176148" + luhn_digit("35209900176148")
    got = types(scan(f"GET /r?x=1 device {imei} phone +86 139-1234-5678 id 11010519491231002X".encode()))
    assert got["imei"].value == imei and got["imei"].confidence == "medium"
    assert got["phone"].value == "13912345678"
    assert got["cn_id"].confidence == "high"


@pytest.mark.parametrize(
    "payload",
    [
        '{"ts": 1700000000123, "seq": 123456789012345, "v": "1.2.3.4"}',  # 13 digits, a non-Luhn 15
        '{"id": "110105194912310021"}',  # resident-id shape, wrong checksum
        '{"lat": 39, "lng": 116}',  # whole degrees: not precise location
        '{"lat": 0.0, "lng": 0.0}',
        '{"token": "9f86d081884c7d659a2feaa0c55ad015"}',
        '{"mac": "00:00:00:00:00:00", "bmac": "ff:ff:ff:ff:ff:ff"}',
        '{"temperature": 23.5, "humidity": 41.25}',
        "<html><body>price 12.50 CNY</body></html>",
    ],
)
def test_look_alikes_are_not_personal_data(payload: str) -> None:
    assert scan(payload.encode()) == []


def test_persona_values_in_clear_and_hashed() -> None:
    persona = PersonaMatcher(
        {"phone": "+86 138 0013 8000", "email": "Kid@Example.cn", "mac": "A4-C1-38-12-34-56"}
    )
    for text, form in [
        ("13800138000", "national"),
        (hashlib.sha256(b"13800138000").hexdigest().upper(), "sha256(national)"),
        (hashlib.md5(b"kid@example.cn").hexdigest(), "md5(clear)"),
        (hashlib.sha1(b"a4:c1:38:12:34:56").hexdigest(), "sha1(colons)"),
        ("A4C138123456", "no separators"),
    ]:
        got = [
            h
            for h in scan(json.dumps({"x": text}).encode(), persona=persona)
            if h.data_type.startswith("persona")
        ]
        assert got and got[0].detail["form"] == form, (text, got)


def test_layers_are_opened() -> None:
    inner = b'{"lat": 30.274084, "lng": 120.155070}'
    wrapped = json.dumps({"d": base64.b64encode(gzip.compress(inner)).decode()}).encode()
    h = one(wrapped, "location")
    assert h.decimals == 6 and ":b64" in h.path
    hexed = json.dumps({"d": inner.hex()}).encode()
    assert one(hexed, "location").path.endswith(":hex")
    assert one(gzip.compress(b"imei=" + b"490154203237518"), "imei").value == "490154203237518"


def test_media_and_face_templates() -> None:
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(64)
    assert (
        one(json.dumps({"photo": base64.b64encode(jpeg).decode()}), "image").detail["format"] == "image/jpeg"
    )
    boundary = "----x1"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="f"\r\n\r\n').encode() + (
        b"\x89PNG\r\n\x1a\n" + bytes(32) + f"\r\n--{boundary}--\r\n".encode()
    )
    assert (
        one(body, "image", content_type=f"multipart/form-data; boundary={boundary}").detail["format"]
        == "image/png"
    )
    assert one(b"#!AMR\n" + bytes(40), "audio").detail["format"] == "audio/amr"
    assert one(bytes(4) + b"ftypisom" + bytes(20), "video").detail["format"] == "video/mp4"
    assert (
        one(json.dumps({"emb": [0.0123 * i for i in range(1, 129)]}), "face_template").detail["dimensions"]
        == 128
    )
    assert not [h for h in scan(json.dumps({"v": [0.5] * 64}).encode()) if h.data_type == "face_template"]


def test_multipart_parts_are_sized_without_the_delimiters_line_break() -> None:
    """RFC 2046 5.1.1: the CRLF before "--boundary" is the delimiter's. Each part's size is held
    against Python's email parser, which knows nothing of tapaudit; the parts hold line breaks of
    their own, the JPEG's last bytes are one."""
    import email
    from email.policy import HTTP

    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 3 + b"\r\n"
    png = b"\x89PNG\r\n\x1a\n" + bytes(1000)
    ctype = "multipart/form-data; boundary=tapaudit-7f3a"
    body = (
        b'--tapaudit-7f3a\r\nContent-Disposition: form-data; name="face"\r\nContent-Type: image/jpeg\r\n\r\n'
        + jpeg
        + b'\r\n--tapaudit-7f3a\r\nContent-Disposition: form-data; name="snap"\r\n\r\n'
        + png
        + b"\r\n--tapaudit-7f3a--\r\n"
    )
    parsed = email.message_from_bytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body, policy=HTTP)
    sizes = [len(p.get_payload(decode=True)) for p in parsed.iter_parts()]
    assert sizes == [len(jpeg), len(png)]  # the oracle agrees with the bytes put in
    hits = [h for h in scan(body, content_type=ctype) if h.path.startswith("$.part")]
    assert [(h.path, h.detail["format"], h.detail["bytes"]) for h in hits] == [
        ("$.part[1]", "image/jpeg", sizes[0]),
        ("$.part[2]", "image/png", sizes[1]),
    ]
    # a preamble, transport padding after a delimiter, and an epilogue are not parts
    raw = b"preamble\r\n--b1 \t\r\nContent-Type: image/png\r\n\r\n" + png + b"\r\n--b1--\r\nepilogue"
    [h] = [h for h in scan(raw, content_type="multipart/form-data; boundary=b1") if h.data_type == "image"]
    assert (h.path, h.detail["bytes"]) == ("$.part[1]", len(png))


def test_contacts_apps_and_health() -> None:
    vcards = "BEGIN:VCARD\nFN:Li Lei\nTEL:13800138000\nEND:VCARD\n" * 3
    assert one(vcards, "contacts").detail["entries"] == 3
    numbers = {"c": [f"1390000{i:04d}" for i in range(5)]}
    assert one(json.dumps(numbers), "contacts").detail["numbers"] == 5
    apps = {"apps": ["com.tencent.mm", "com.ss.android.ugc.aweme", "com.taobao.taobao", "com.baidu.searchbox",
                     "com.xunmeng.pinduoduo"]}  # fmt: skip
    assert one(json.dumps(apps), "app_list").detail["packages"] == 5
    got = types(scan(b'{"heartRate": 72, "spo2": 98, "stepCount": 4021, "sleepDuration": 420}'))
    assert {"health:heart_rate", "health:spo2", "health:steps", "health:sleep"} <= set(got)


def test_hostile_payloads_are_bounded() -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    assert scan(deep) == []
    bomb = gzip.compress(bytes(50 << 20))
    assert len(list(leaves(bomb))) <= 1
    many = json.dumps({f"k{i}": i for i in range(50_000)}).encode()
    assert len(list(leaves(many))) <= 20_000
