"""Payloads full of personal data, each with what it carries: the detector-heavy capture's messages.

A message is what a device or SDK sends in one request or publish: a few fields drawn from
the kinds of personal data ``parsers.detect`` knows (identifiers with their own check digits,
phone numbers of real Chinese mobile ranges, e-mail, coordinates at 2 to 7 decimals, health
readings, the persona's own values in clear or hashed), among fields that carry none
(timestamps, counters, firmware versions). The same facts are written as JSON, a query string,
a form body, a schema-less protobuf message, plain text or an MQTT publish; about a fifth of
the messages carry nothing. What each message carries is recorded as it is built, from the
values the generator chose (``kinds``): the truth is never the output of the code under test.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from urllib.parse import urlencode

from pcaps.synth.hosts import luhn_complete

# mobile prefixes of the three mainland operators (MIIT numbering plan), all valid in libphonenumber
MOBILE_PREFIXES = ("134", "135", "136", "138", "139", "150", "151", "158", "186", "187", "188", "189")
HEALTH = (  # key as SDKs name it, truth type, value range
    ("heartRate", "health:heart_rate", (48, 130)),
    ("spo2", "health:spo2", (90, 100)),
    ("steps", "health:steps", (100, 25000)),
    ("sleepDuration", "health:sleep", (120, 600)),
    ("systolic", "health:blood_pressure", (95, 160)),
)
LOCATION_KEYS = (("lat", "lng"), ("latitude", "longitude"), ("gpsLat", "gpsLng"), ("lat", "lon"))
# GB 11643-1999: weights of the 17 digits and the check character by the weighted sum mod 11
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


@dataclass(slots=True)
class Message:
    """One payload and the personal data it carries (truth data types, one entry per value)."""

    form: str  # json, query, form, protobuf, text, none
    body: bytes  # body, query string (query) or publish payload
    kinds: list[str]
    places: list[int]  # each location's decimal places, in the order of its "location" in kinds


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randrange(10)) for _ in range(8))


def imei(rng: random.Random) -> str:
    return luhn_complete("86" + "".join(str(rng.randrange(10)) for _ in range(12)))


def cn_id(rng: random.Random) -> str:
    """A resident ID number: region, a birth date 1950-2009, sequence, GB 11643 check character."""
    body = (
        rng.choice(("110101", "310104", "440305", "330106"))
        + f"{rng.randrange(1950, 2010)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
        + f"{rng.randrange(1000):03d}"
    )
    return body + ID_CHECK[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def unicast_mac(rng: random.Random) -> str:
    first = rng.randrange(256) & 0xFC | 0x00  # unicast, globally administered
    return ":".join(f"{b:02x}" for b in (first or 0x10, *(rng.randrange(256) for _ in range(5))))


def facts(
    rng: random.Random, persona: dict[str, str], flat: bool
) -> tuple[dict[str, object], list[str], list[int]]:
    """Three to seven fields of personal data (a location as two fields), and their truth types.

    ``flat``: every value is a string at the top level (query strings and forms)."""
    out: dict[str, object] = {}
    kinds: list[str] = []
    places_sent: list[int] = []
    own = rng.random() < 0.5  # the persona's own values, or someone else's
    for what in rng.sample(
        ("imei", "phone", "email", "location", "mac", "serial", "android_id", "imsi", "iccid", "health",
         "name", "cn_id", "hashed"),
        rng.randrange(3, 8),
    ):  # fmt: skip
        if what == "imei":
            out["imei"] = persona["imei"] if own else imei(rng)
            kinds += ["imei", "persona:imei"] if own else ["imei"]
        elif what == "phone":
            out["phone"] = persona["mobile"] if own else mobile(rng)
            kinds += ["phone", "persona:phone"] if own else ["phone"]
        elif what == "email":
            out["email"] = (
                persona["email"] if own else f"user{rng.randrange(10**6)}@mail{rng.randrange(9)}.example.cn"
            )
            kinds += ["email", "persona:email"] if own else ["email"]
        elif what == "location":
            places = rng.randrange(2, 8)
            la, lo = rng.choice(LOCATION_KEYS)
            pair = {la: f"{rng.uniform(22, 41):.{places}f}", lo: f"{rng.uniform(103, 122):.{places}f}"}
            if rng.random() < 0.3:
                pair["coordType"] = rng.choice(("wgs84", "gcj02", "bd09ll"))
            if flat or rng.random() < 0.5:
                out.update(pair)
            else:
                out["loc"] = pair
            kinds.append("location")
            places_sent.append(places)
        elif what == "mac":
            out["mac"] = unicast_mac(rng)
            kinds.append("mac")
        elif what == "serial":
            out["sn"] = (
                persona["serial"]
                if own
                else "SN" + "".join(rng.choice("0123456789ABCDEF") for _ in range(10))
            )
            kinds += ["serial", "persona:serial"] if own else ["serial"]
        elif what == "android_id":
            out["androidId"] = f"{rng.getrandbits(64) | 1 << 60:016x}"
            kinds.append("android_id")
        elif what == "imsi":
            out["imsi"] = "46000" + "".join(str(rng.randrange(10)) for _ in range(10))
            kinds.append("imsi")
        elif what == "iccid":
            out["iccid"] = luhn_complete("8986" + "".join(str(rng.randrange(10)) for _ in range(15)))
            kinds.append("iccid")
        elif what == "health":
            for key, kind, (lo_, hi_) in rng.sample(HEALTH, rng.randrange(1, 4)):
                value = rng.randrange(lo_, hi_)
                out[key] = str(value) if flat else value
                kinds.append(kind)
        elif what == "name":
            out["nickname"] = persona["name"]
            kinds.append("persona:name")
        elif what == "cn_id":
            out["idCard"] = cn_id(rng)
            kinds.append("cn_id")
        elif what == "hashed":  # SDKs send the IMEI as an MD5 or SHA-256 to dodge plain-text search
            algo = rng.choice(("md5", "sha256"))
            out["did"] = hashlib.new(algo, persona["imei"].encode()).hexdigest()
            kinds.append("persona:imei")
    return out, kinds, places_sent


def harmless(rng: random.Random, ts_ms: int, flat: bool) -> dict[str, object]:
    """Fields with no personal data: a timestamp, a counter, battery, firmware, a status."""
    out: dict[str, object] = {"ts": ts_ms, "seq": rng.randrange(10_000), "battery": rng.randrange(5, 100),
                              "fw": f"{rng.randrange(1, 4)}.{rng.randrange(10)}.{rng.randrange(30)}",
                              "status": rng.choice(("ok", "idle", "charging"))}  # fmt: skip
    return {k: str(v) for k, v in out.items()} if flat else out


def message(rng: random.Random, persona: dict[str, str], form: str, ts_ms: int) -> Message:
    """One payload in ``form`` (json, query, form, protobuf, text), or one with no personal data."""
    if rng.random() < 0.2:
        return Message("none", _empty(rng, form, ts_ms), [], [])
    if form == "protobuf":
        return _protobuf(rng, persona, ts_ms)
    if form == "text":
        return _text(rng, persona)
    flat = form in ("query", "form")
    fields, kinds, places = facts(rng, persona, flat)
    doc = harmless(rng, ts_ms, flat) | fields
    body = urlencode(doc).encode() if flat else json.dumps(doc, separators=(",", ":")).encode()
    return Message(form, body, kinds, places)


def _empty(rng: random.Random, form: str, ts_ms: int) -> bytes:
    flat = form in ("query", "form")
    doc = harmless(rng, ts_ms, flat) | {"temp": f"{rng.uniform(15, 30):.1f}", "rssiOk": "1"}
    if form == "protobuf":
        return _pb_varint(1, ts_ms) + _pb_varint(2, rng.randrange(100)) + _pb_bytes(3, b"ok")
    return urlencode(doc).encode() if flat else json.dumps(doc, separators=(",", ":")).encode()


def _protobuf(rng: random.Random, persona: dict[str, str], ts_ms: int) -> Message:
    """Keyless values: shapes that stand without a key (IMEI by Luhn, e-mail, phone), persona values."""
    out = _pb_varint(1, ts_ms)
    kinds: list[str] = []
    own = rng.random() < 0.5
    number = 2
    for what in rng.sample(("imei", "email", "phone", "name"), rng.randrange(1, 5)):
        if what == "imei":
            value = persona["imei"] if own else imei(rng)
            kinds += ["imei", "persona:imei"] if own else ["imei"]
        elif what == "email":
            value = persona["email"] if own else f"u{rng.randrange(10**6)}@pb.example.cn"
            kinds += ["email", "persona:email"] if own else ["email"]
        elif what == "phone":
            value = persona["mobile"] if own else mobile(rng)
            kinds += ["phone", "persona:phone"] if own else ["phone"]
        else:
            value = persona["name"]
            kinds.append("persona:name")
        out += _pb_bytes(number, value.encode())
        number += 1
    out += _pb_varint(number, rng.randrange(1, 100))
    return Message("protobuf", out, kinds, [])


def _text(rng: random.Random, persona: dict[str, str]) -> Message:
    """A log line: a phone number and an e-mail address in free text, and the user's name."""
    phone = mobile(rng)
    mail = f"log{rng.randrange(10**5)}@support.example.cn"
    line = f"user {persona['name']} bound phone {phone} contact {mail} result ok\n"
    return Message("text", line.encode(), ["persona:name", "phone", "email"], [])


def _pb_varint(number: int, value: int) -> bytes:
    return _uvarint(number << 3) + _uvarint(value)


def _pb_bytes(number: int, value: bytes) -> bytes:
    return _uvarint(number << 3 | 2) + _uvarint(len(value)) + value


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, low = n >> 7, n & 0x7F
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)
