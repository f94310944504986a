"""Device and person identifiers: IMEI/MEID, IMSI, ICCID, MAC, Android ID, OAID, IDFA, serials,
phone numbers, Chinese resident ID numbers and e-mail addresses.

Each is recognised by its own check (Luhn for IMEI and ICCID, the MCC for IMSI, the
GB 11643 checksum and a real birth date for resident IDs, libphonenumber's validity
for phone numbers) and, where the shape alone is common (16 hex digits, a UUID), only
under a key that names it. A key that names the identifier raises confidence to high.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from operator import mul

import phonenumbers

from parsers.detect.hits import HIGH, MEDIUM, Hit
from parsers.detect.location import SIGNAL_KEYS, norm
from parsers.detect.values import Leaf

DIGITS15 = re.compile(r"(?<![A-Za-z0-9])(\d{15})(?![A-Za-z0-9])")  # not a run inside a token
ICCID = re.compile(r"(?<![A-Za-z0-9])(89\d{17,18})(?![A-Za-z0-9])")
MAC = re.compile(
    r"(?<![0-9A-Fa-f:-])((?:[0-9A-Fa-f]{2}([:-]))(?:[0-9A-Fa-f]{2}\2){4}[0-9A-Fa-f]{2})(?![0-9A-Fa-f:-])"
)
# every free-text identifier has five digits in a row, an @, MAC-like hex pairs or a spaced phone number
ANY_ID_CHAR = re.compile(r"\d{5}|@|[0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}|\d{3}[- ]\d{4}")
SERIAL = re.compile(r"[\w-]+")  # a serial number's characters
HEX12 = re.compile(r"^[0-9A-Fa-f]{12}$")
HEX16 = re.compile(r"^[0-9A-Fa-f]{16}$")
UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
OAID = re.compile(
    r"^(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{16,64})$"
)
MEID = re.compile(r"^[0-9A-Fa-f]{14}$")
CN_ID = re.compile(r"(?<![0-9Xx])(\d{17}[\dXx])(?![0-9Xx])")
EMAIL = re.compile(r"(?<![\w.+-])([\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24})")
# the leading look-ahead names the characters a match can start with ("+86", "86", "1"): it lets the
# regex engine skip to them instead of trying the look-behind at every position (same matches)
CN_MOBILE = re.compile(
    r"(?=[+81])(?<![A-Za-z0-9])(?:\+?86[- ]?)?(1[3-9]\d[- ]?\d{4}[- ]?\d{4})(?![A-Za-z0-9])"
)
# keys whose numbers are counters, times or secrets: a digit run there is not an IMEI or a phone
NOT_IDS = frozenset(
    [
        "i",
        "id",
        "ts",
        "t",
        "time",
        "timestamp",
        "seq",
        "nonce",
        "auth",
        "sign",
        "signature",
        "token",
        "key",
        "hash",
        "checksum",
        "crc",
        "session",
        "sid",
        "rand",
        "r",
    ]
)
# MCCs of mainland China, Hong Kong, Macao, Taiwan and the common roaming origins; an IMSI is 15 digits
IMSI_MCC = ("460", "461", "454", "455", "466", "310", "311", "234", "262", "208", "440", "450", "505")

KEYS = {
    "imei": frozenset(("imei", "imei1", "imei2", "deviceimei", "imeino")),
    "meid": frozenset(("meid",)),
    "imsi": frozenset(("imsi", "subscriberid")),
    "iccid": frozenset(("iccid", "simserial", "simserialnumber", "simid")),
    "mac": frozenset(
        ("mac", "macaddr", "macaddress", "wifimac", "btmac", "bluetoothmac", "devicemac", "ethmac")
    ),
    "android_id": frozenset(("androidid", "aid", "ssaid")),
    "oaid": frozenset(("oaid", "msaoaid")),
    "idfa": frozenset(("idfa", "advertisingid", "adid", "gaid")),
    "serial": frozenset(("sn", "serial", "serialno", "serialnumber", "devicesn", "devsn", "hwsn", "snno")),
    "phone": frozenset(
        ("phone", "mobile", "tel", "telephone", "phonenumber", "mobilephone", "msisdn", "cellphone")
    ),
    "cn_id": frozenset(("idcard", "idno", "idnumber", "identitycard", "sfz", "certno", "cardno")),
    "email": frozenset(("email", "mail", "emailaddress")),
}
_KEY_TYPE = {k: t for t, names in KEYS.items() for k in names}
AP_KEYS = frozenset(
    ("bssid", "apmac", "routermac", "gatewaymac", "ssidmac")
)  # access points: location proxies
AP_ENTRY = re.compile(r"\s*[,;| ]\s*-\d{2,3}\b")  # a MAC then a signal level: a scanned access point
MAC_SEPARATORS, PHONE_SEPARATORS, SPACES_DASHES = (
    re.compile(r"[:-]"),
    re.compile(r"[- ]"),
    re.compile(r"[\s-]"),
)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@dataclass(slots=True, frozen=True)
class Shapes:
    """The free-text shapes worth trying in a payload (``parsers.detect.sieve`` says which are there):
    a run of 15 digits (IMEI, IMSI, ICCID, resident ID), hex pairs with a separator (MAC), an @
    (e-mail), a mobile number."""

    digits15: bool = True
    mac: bool = True
    email: bool = True
    phone: bool = True


EVERY_SHAPE = Shapes()
NO_SHAPE = Shapes(False, False, False, False)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def cn_id_ok(text: str) -> bool:
    """GB 11643-1999: weighted checksum over 17 digits, and a real birth date."""
    body, check = text[:17], text[17].upper()
    if not body.isdigit():
        return False
    expect = "10X98765432"[sum(map(mul, map(int, body), ID_WEIGHTS)) % 11]  # body: 17 digits, as weights
    if check != expect:
        return False
    try:
        born = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    # today's date only for a birth after the day this module was loaded (asking the clock costs more
    # than the whole check, and a day once past stays past)
    return dt.date(1900, 1, 1) <= born and (born <= _LOADED_ON or born <= dt.date.today())


_LOADED_ON = dt.date.today()


def _mac_ok(mac: str) -> bool:
    raw = MAC_SEPARATORS.sub("", mac).lower()
    return raw not in ("000000000000", "ffffffffffff") and not raw.startswith("01005e")


def find(leaves: Iterable[Leaf], shapes: Shapes = EVERY_SHAPE) -> list[Hit]:
    """Identifier hits; free text is tried only for ``shapes`` (each one absent finds nothing)."""
    items = list(leaves)
    # objects with a signal level are scanned access points or cells ({"mac": ..., "rssi": -61}):
    # a MAC there is a BSSID, a location proxy (parsers.detect.location), not the device's own
    scans = {x.parent for x in items if x.parent > 0 and x.key and norm(x.key) in SIGNAL_KEYS}
    # a leaf under no identifier's key is tried only if it can hold a shape sought: long enough for
    # the shortest of them (``_leaf``'s lengths, after strip(), which only shortens) or with an @
    shortest = min(
        (n for n, on in ((15, shapes.digits15), (17, shapes.mac), (11, shapes.phone)) if on), default=1 << 30
    )
    hits: list[Hit] = []
    for leaf in items:
        if (
            len(leaf.value) < shortest
            and not (shapes.email and "@" in leaf.value)
            and (not leaf.key or norm(leaf.key) not in _KEY_TYPE)
        ):
            continue  # _leaf would find nothing
        hits += _leaf(leaf, leaf.parent in scans, shapes)
    return hits


def _leaf(leaf: Leaf, scanned: bool = False, shapes: Shapes = EVERY_SHAPE) -> list[Hit]:
    v = leaf.value.strip()
    if not v or len(v) > 1 << 16:
        return []
    named = _KEY_TYPE.get(norm(leaf.key)) if leaf.key else None
    out: list[Hit] = []
    if named == "mac" and scanned:
        return out
    if named is not None:
        h = _named(named, leaf.path, v)
        if h is not None:
            return [h]
    # shapes distinctive enough to stand without a key (in any value or text)
    # each shape only where the payload has it and the value is long enough to hold it (15 digits,
    # a MAC's 17 characters, an @, a mobile's 11 digits)
    n = len(v)
    digits, mac, email, phone = (
        shapes.digits15 and n >= 15,
        shapes.mac and n >= 17,
        shapes.email and "@" in v,
        shapes.phone and n >= 11,
    )
    if not (digits or mac or email or phone):
        return out
    if (leaf.key and norm(leaf.key) in NOT_IDS) or not ANY_ID_CHAR.search(v):
        return out
    for m in DIGITS15.finditer(v) if digits else ():
        d = m.group(1)
        if luhn_ok(d) and d[:2] in ("35", "86", "99", "01", "49", "30", "33", "44", "45", "46", "91"):
            out.append(Hit("imei", leaf.path, d, MEDIUM))
        elif d[:3] in IMSI_MCC and d.startswith(("46000", "46001", "46002", "46003", "46007", "46011")):
            out.append(Hit("imsi", leaf.path, d, MEDIUM))
    for m in ICCID.finditer(v) if digits else ():
        if luhn_ok(m.group(1)):
            out.append(Hit("iccid", leaf.path, m.group(1), HIGH if m.group(1).startswith("8986") else MEDIUM))
    for m in MAC.finditer(v) if mac and norm(leaf.key) not in AP_KEYS and not scanned else ():
        if _mac_ok(m.group(1)) and not AP_ENTRY.match(v, m.end()):
            out.append(Hit("mac", leaf.path, m.group(1), MEDIUM))
    for m in CN_ID.finditer(v) if digits else ():
        if cn_id_ok(m.group(1)):
            out.append(Hit("cn_id", leaf.path, m.group(1), HIGH))
    for m in EMAIL.finditer(v) if email else ():
        out.append(Hit("email", leaf.path, m.group(1), HIGH))
    for m in CN_MOBILE.finditer(v) if phone else ():
        number = PHONE_SEPARATORS.sub("", m.group(1))
        if _phone_ok(number):
            out.append(Hit("phone", leaf.path, number, MEDIUM, detail={"region": "CN"}))
    return out


@lru_cache(maxsize=4096)  # a device sends the same numbers again and again: libphonenumber's check is slow
def _phone_ok(number: str, region: str = "CN") -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, region))
    except phonenumbers.NumberParseException:
        return False


def _named(kind: str, path: str, v: str) -> Hit | None:
    """A value under a key that names the identifier: checked for its shape, then high confidence."""
    digits = SPACES_DASHES.sub("", v)
    if kind == "imei" and (len(digits) == 15 and digits.isdigit() and luhn_ok(digits)):
        return Hit("imei", path, digits, HIGH)
    if kind == "imei" and MEID.match(digits):
        return Hit("meid", path, digits, HIGH)
    if kind == "meid" and MEID.match(digits):
        return Hit("meid", path, digits, HIGH)
    if kind == "imsi" and len(digits) in (14, 15) and digits.isdigit():
        return Hit("imsi", path, digits, HIGH)
    if kind == "iccid" and 19 <= len(digits) <= 20 and digits.startswith("89"):
        return Hit("iccid", path, digits, HIGH if luhn_ok(digits) else MEDIUM)
    if kind == "mac" and (MAC.fullmatch(v) or HEX12.match(v)) and _mac_ok(v):
        return Hit("mac", path, v, HIGH)
    if kind == "android_id" and HEX16.match(v):
        return Hit("android_id", path, v, HIGH)
    if kind == "oaid" and OAID.match(v) and set(v) - {"0", "-"}:
        return Hit("oaid", path, v, HIGH)
    if kind == "idfa" and UUID.match(v) and set(v) - {"0", "-"}:
        return Hit("idfa", path, v, HIGH)
    if kind == "serial" and 6 <= len(v) <= 40 and SERIAL.fullmatch(v) and any(c.isdigit() for c in v):
        return Hit("serial", path, v, MEDIUM)
    if kind == "phone" and _phone_ok(digits if digits.startswith("+") else digits.lstrip("0") or digits):
        return Hit("phone", path, digits, HIGH)
    if kind == "cn_id" and len(v) == 18 and cn_id_ok(v):
        return Hit("cn_id", path, v, HIGH)
    if kind == "email" and EMAIL.fullmatch(v):
        return Hit("email", path, v, HIGH)
    return None
