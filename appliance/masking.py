"""Masking of values that may identify a person, applied before anything is stored.

Fail closed: every value a dissector hands over as possibly personal is masked
unless the user asked for raw evidence for this replay. A mask keeps the shape
(length, first and last characters) so an engineer can still tell values apart.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, quote

# path or topic segments that look like ids: four digits or more, or long runs of hex/base64
IDENTIFIER = re.compile(r"(?=(?:\D*\d){4})[0-9A-Za-z:_.=+-]{6,}|[0-9A-Fa-f]{12,}|[0-9A-Za-z_=+-]{20,}")


def mask(value: str) -> str:
    """'8612***5678'-style excerpt: first and last few characters, the middle starred."""
    n = len(value)
    if n == 0:
        return ""
    if n <= 4:
        return "*" * n
    keep = 2 if n < 12 else 3
    return value[:keep] + "*" * min(n - 2 * keep, 12) + value[-keep:]


def mask_query(query: str) -> str:
    """Keep the parameter names, mask the values."""
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return mask(query)
    return "&".join(f"{quote(k, safe='')}={mask(v)}" for k, v in pairs)


@lru_cache(maxsize=4096)  # a device requests the same paths and topics again and again
def mask_path(path: str) -> str:
    """Mask path or topic segments that look like identifiers (four digits or more, long hex or tokens)."""
    return "/".join(mask(seg) if IDENTIFIER.fullmatch(seg) else seg for seg in path.split("/"))


# "John's iMac", "Johns-iPhone", "Wang-Fangs-MacBook-Pro": an owner's name, then the product. The
# owner is masked (first letter kept); the product, which identifies the device, is kept.
_PRODUCT = (
    r"i(?:Phone|Pad|Pod|Mac)|MacBook|Mac|Apple|Galaxy|Pixel|Android|Phone|Laptop|PC|Tablet|Watch|Kindle"
    r"|Echo|TV|Desktop|Notebook|Surface|Chromebook|Xiaomi|Redmi|HUAWEI|Honor|OPPO|vivo"
)
_OWNED = re.compile(rf"^(?P<owner>[^.]+?)(?:'s|\u2019s|s)(?P<rest>[-_ ](?:{_PRODUCT})\b.*)$", re.IGNORECASE)


def _owner(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1)


# Android 2.2 to 7 named itself "android-" + Settings.Secure.ANDROID_ID in hex (AOSP
# ConnectivityService, net.hostname) in DHCP and mDNS: an identifier of the device and its user
_ANDROID_ID = re.compile(r"(?<![0-9A-Za-z])(android-)([0-9a-f]{8,16})(?![0-9A-Za-z])", re.IGNORECASE)


def mask_name(name: str, people: tuple[str, ...] = (), ids: tuple[str, ...] = ()) -> str:
    """A host or service name with any person's name or identifier in it masked: an owner before a
    product word (possessive, as phones and computers name themselves), any of ``people`` (the
    bench personas' names) wherever they stand, with spaces, dots, dashes or underscores between
    words, the Android ID of ``android-<hex>``, and any of ``ids`` (the personas' identifiers: a
    serial, an IMEI, a MAC with or without separators). A product's own name and a few hex digits
    of a MAC (``ESP_3B33A1``) stay: they identify the device, not its user."""
    name = _ANDROID_ID.sub(lambda x: x.group(1) + mask(x.group(2)), name)
    for value in ids:
        for form in {value, re.sub(r"[\s:.\-()]", "", value)}:
            if len(form) >= 5:
                name = re.sub(re.escape(form), lambda x: mask(x.group(0)), name, flags=re.IGNORECASE)
    m = _OWNED.match(name)
    if m:
        owner_end = m.end("owner")
        name = _owner(m.group("owner")) + name[owner_end:]
    for person in people:
        words = [re.escape(w) for w in person.split() if w]
        if words:
            name = re.sub(r"[-_. ]?".join(words), lambda x: _owner(x.group(0)), name, flags=re.IGNORECASE)
    return name


def mask_dns_name(name: str, people: tuple[str, ...] = (), ids: tuple[str, ...] = ()) -> str:
    """An mDNS/LLMNR name masked as ``mask_name`` masks a host name, label by label as well: an
    owner's name stands inside a DNS name as often as at its head (``_kerberos.Lucas-iMac.local``,
    ``Luca’s iMac._airplay._tcp.local``)."""
    name = mask_name(name, people, ids)
    return ".".join(mask_name(label, people, ids) for label in name.split("."))


NOT_PERSONAL = frozenset(("image", "audio", "video", "face_template", "wifi_scan", "contacts", "app_list"))


def mask_hit(data_type: str, value: str) -> str:
    """A detector hit's value masked for storage: coordinates keep one decimal, the rest as mask()."""
    if data_type.split(":", 1)[0] in NOT_PERSONAL:
        return value  # a description ("image/jpeg", "4 access points"), not the value itself
    if data_type == "location":
        return ",".join(_coarse(c) for c in value.split(","))
    return mask(value)


def _coarse(coordinate: str) -> str:
    whole, dot, frac = coordinate.partition(".")
    return whole + dot + frac[:1] + "*" * max(len(frac) - 1, 0) if dot else mask(coordinate)
