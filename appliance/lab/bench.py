"""The lab's bench file: what the engineers know about the devices under test.

YAML, either ``{devices: {MAC: {...}}, lan_prefixes: [...]}`` or a bare
``{MAC: {...}}`` map. Each device may give name, category, vendor, model,
firmware, the ``addresses`` it had on the LAN (one or a list: a capture without
MACs, raw IP or a tunnel's, is then attributed to it, issue 15) and a ``persona``
of the test person's known values: any identifier the detectors know, a name and
home coordinates (``PERSONA_KEYS``, from ``parsers.detect.persona``). Persona
values are personal data: they are kept in memory for matching and never
written to the store.

A key the tool would not use is an error, not a silence (a misspelt ``imie:``
would otherwise leave the IMEI unsought): the message names the file, the
device and the key, and ``tapaudit`` exits 1 with that one line.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from appliance.lookups.oui import vendor as oui_vendor
from parsers.detect.persona import ALIASES, FIELDS, MIN_LEN
from policies.yamlfile import read_yaml

CATEGORIES = ("watch", "child_watch", "speaker", "door_lock", "camera", "learning_tablet", "plug", "other")
TOP_KEYS = {"devices", "lan_prefixes"}
DEVICE_KEYS = {"name", "category", "vendor", "model", "firmware", "addresses", "persona", "notes"}
PERSONA_KEYS = {*FIELDS, *ALIASES, "home"}  # what the matcher looks for, and the home
HOME_KEYS = {"lat", "lon", "radius_m"}
MAC_RE = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")


class BenchError(Exception):
    """The bench file is unreadable or invalid (one-line message naming the file and key)."""


@dataclass
class BenchDevice:
    mac: str
    name: str = ""
    category: str = ""
    vendor: str = ""
    model: str = ""
    firmware: str = ""
    addresses: list[str] = field(default_factory=list)  # its IPv4/IPv6 addresses on the LAN, normalised
    persona: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Bench:
    path: str = ""
    sha256: str = ""
    devices: dict[str, BenchDevice] = field(default_factory=dict)
    lan_prefixes: list[str] = field(default_factory=list)

    def vendor_of(self, mac: str) -> str:
        """The vendor a lab named on its bench, else the IEEE registry's for the MAC's OUI."""
        b = self.devices.get(mac)
        return b.vendor if b is not None and b.vendor else oui_vendor(mac)


def normalize_mac(text: str) -> str:
    """aa:bb:cc:dd:ee:ff from any of aa-bb-..., AABB..., aa:bb:...; ValueError otherwise."""
    t = str(text).strip().lower()
    if not MAC_RE.match(t):
        raise ValueError(f"not a MAC address: {text!r}")
    hexes = re.sub(r"[:-]", "", t)
    return ":".join(hexes[i : i + 2] for i in range(0, 12, 2))


def load_bench(path: str) -> Bench:
    """Read and validate a bench file; raises BenchError with the offending key."""
    doc, raw = read_yaml(path, BenchError, f"bench file {path}")
    if not isinstance(doc, dict):
        raise BenchError(f"bench file {path}: expected a mapping of MAC addresses to devices")
    bench = Bench(path=path, sha256=hashlib.sha256(raw).hexdigest())
    prefixes = doc.get("lan_prefixes") or []
    if not isinstance(prefixes, list):
        raise BenchError(f"bench file {path}: lan_prefixes must be a list of CIDR prefixes")
    for p in prefixes:
        try:
            ipaddress.ip_network(str(p), strict=False)
        except ValueError:
            raise BenchError(f"bench file {path}: lan_prefixes: {p!r} is not a CIDR prefix") from None
    bench.lan_prefixes = [str(p) for p in prefixes]
    if "devices" in doc and set(doc) - TOP_KEYS:
        extra = ", ".join(sorted(map(str, set(doc) - TOP_KEYS)))
        raise BenchError(
            f"bench file {path}: unknown top-level key(s) {extra} (expected devices, lan_prefixes)"
        )
    devices = doc.get("devices", {k: v for k, v in doc.items() if k != "lan_prefixes"})
    if not isinstance(devices, dict):
        raise BenchError(f"bench file {path}: devices must map MAC addresses to device entries")
    for key, entry in devices.items():
        try:
            mac = normalize_mac(str(key))
        except ValueError:
            raise BenchError(f"bench file {path}: {key!r} is not a MAC address") from None
        bench.devices[mac] = _device(path, mac, entry or {})
    return bench


def _device(path: str, mac: str, entry: Any) -> BenchDevice:
    if not isinstance(entry, dict):
        raise BenchError(f"bench file {path}: {mac}: expected a mapping of fields")
    unknown = set(entry) - DEVICE_KEYS
    if unknown:
        raise BenchError(f"bench file {path}: {mac}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    cat = str(entry.get("category", "") or "")
    if cat and cat not in CATEGORIES:
        raise BenchError(f"bench file {path}: {mac}: category {cat!r} is not one of {', '.join(CATEGORIES)}")
    addresses = _addresses(path, mac, entry.get("addresses"))
    persona = entry.get("persona") or {}
    if not isinstance(persona, dict):
        raise BenchError(f"bench file {path}: {mac}: persona must be a mapping")
    _persona(f"bench file {path}: {mac}: persona", persona)
    return BenchDevice(
        mac=mac,
        name=str(entry.get("name", "") or ""),
        category=cat,
        vendor=str(entry.get("vendor", "") or ""),
        model=str(entry.get("model", "") or ""),
        firmware=str(entry.get("firmware", "") or ""),
        addresses=addresses,
        persona=dict(persona),
    )


def _addresses(path: str, mac: str, value: Any) -> list[str]:
    """A device entry's ``addresses``: one address or a list, each a single IPv4 or IPv6 address."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        try:
            out.append(str(ipaddress.ip_address(str(item).strip())))
        except ValueError:
            raise BenchError(f"bench file {path}: {mac}: addresses: {item!r} is not an IP address") from None
    return out


def _persona(where: str, persona: dict[Any, Any]) -> None:
    """Every persona key one the matcher uses, every value one it can find (BenchError otherwise)."""
    bad = set(persona) - PERSONA_KEYS
    if bad:
        raise BenchError(
            f"{where}: unknown field(s) {', '.join(sorted(map(str, bad)))}"
            f" (known: {', '.join(sorted(PERSONA_KEYS))})"
        )
    for key, value in persona.items():
        if key == "home":
            _home(f"{where}.home", value)
        elif key == "mac" and isinstance(value, int) and not isinstance(value, bool):
            raise BenchError(f"{where}.mac: quote the MAC address (YAML read it as the number {value})")
        elif isinstance(value, bool) or not isinstance(value, str | int):
            raise BenchError(f"{where}.{key}: expected text, got {type(value).__name__}")
        elif len(str(value).strip()) < MIN_LEN:
            raise BenchError(f"{where}.{key}: shorter than {MIN_LEN} characters, it would match by chance")


def _home(where: str, home: Any) -> None:
    if not isinstance(home, dict):
        raise BenchError(f"{where}: expected a mapping with lat and lon")
    bad = set(home) - HOME_KEYS
    if bad:
        raise BenchError(
            f"{where}: unknown field(s) {', '.join(sorted(map(str, bad)))} (known: lat, lon, radius_m)"
        )
    for key, low, high in (("lat", -90, 90), ("lon", -180, 180), ("radius_m", 1, 100_000)):
        value = home.get(key)
        if value is None and key == "radius_m":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise BenchError(f"{where}.{key}: expected a number from {low} to {high}, got {value!r}")
