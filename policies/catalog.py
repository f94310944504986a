"""The destination catalogue: which organisation and kind of service a domain belongs to.

Data lives in ``policies/catalog/organisations.yaml`` (organisations, their services
and domain suffixes, each with its source) and ``vendors.yaml`` (which organisations
are first party for a device vendor). A lab edits the YAML; this module only reads it.
Lookups are longest-suffix matches on whole labels, so ``bugly.qq.com`` beats ``qq.com``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from policies.yamlfile import read_yaml

CATALOG_DIR = Path(__file__).with_name("catalog")
KINDS = frozenset(
    [
        "platform",
        "cloud",
        "cdn",
        "analytics",
        "push",
        "advertising",
        "attribution",
        "crash",
        "location",
        "speech",
        "av",
        "time",
        "dns",
        "connectivity",
        "payment",
        "social",
        "other",
    ]
)


class CatalogError(ValueError):
    """The catalogue files are unreadable or inconsistent (one line naming the file and entry)."""


@dataclass(frozen=True, slots=True)
class Service:
    organisation: str  # id
    org_name: str
    org_country: str
    name: str
    kind: str
    source: str
    suffix: str  # the catalogue domain that matched


@dataclass(frozen=True, slots=True)
class VendorRule:
    id: str
    match: tuple[str, ...]
    organisations: frozenset[str]


class Catalog:
    def __init__(self, organisations: dict[str, Any], vendors: dict[str, Any], where: str = "") -> None:
        self.version = str(organisations.get("version", ""))
        self.names: dict[str, str] = {}
        self.names_zh: dict[str, str] = {}  # the Chinese name where the catalogue gives one, else the name
        self.domains: dict[str, Service] = {}
        self.addresses: dict[str, Service] = {}  # well-known service addresses (public resolvers)
        for org in organisations.get("organisations") or []:
            oid = str(org.get("id", ""))
            if not oid or oid in self.names:
                raise CatalogError(f"{where}: organisation id {oid!r} missing or repeated")
            self.names[oid] = str(org.get("name", oid))
            self.names_zh[oid] = str(org.get("name_zh") or self.names[oid])
            for svc in org.get("services") or []:
                kind = str(svc.get("kind", ""))
                if kind not in KINDS:
                    raise CatalogError(f"{where}: {oid}: unknown service kind {kind!r}")
                for addr in svc.get("addresses") or []:
                    a = str(addr)
                    if a in self.addresses:
                        raise CatalogError(f"{where}: address {a} listed twice")
                    self.addresses[a] = Service(
                        oid, self.names[oid], str(org.get("country", "")), str(svc.get("name", oid)),
                        kind, str(svc.get("source", "")), a,
                    )  # fmt: skip
                for dom in svc.get("domains") or []:
                    d = str(dom).lower().strip(".")
                    if d in self.domains:
                        raise CatalogError(f"{where}: domain {d} listed twice")
                    self.domains[d] = Service(
                        oid,
                        self.names[oid],
                        str(org.get("country", "")),
                        str(svc.get("name", self.names[oid])),
                        kind,
                        str(svc.get("source", "")),
                        d,
                    )
        self.vendors: list[VendorRule] = []
        for v in vendors.get("vendors") or []:
            orgs = frozenset(str(o) for o in v.get("organisations") or [])
            unknown = orgs - self.names.keys()
            if unknown:
                raise CatalogError(f"{where}: vendor {v.get('id')}: unknown organisations {sorted(unknown)}")
            match = tuple(str(m).lower() for m in v.get("match") or [])
            self.vendors.append(VendorRule(str(v.get("id", "")), match, orgs))
        self.lookup = lru_cache(maxsize=1 << 16)(self._lookup)
        self.first_party = lru_cache(maxsize=1024)(self._first_party)
        self.vendor_names = lru_cache(maxsize=1024)(self._vendor_names)

    def _lookup(self, domain: str) -> Service | None:
        """The service of the longest catalogued suffix of ``domain``."""
        d = domain.lower().rstrip(".")
        while d:
            hit = self.domains.get(d)
            if hit is not None:
                return hit
            _, dot, d = d.partition(".")
            if not dot:
                return None
        return None

    def _first_party(self, vendor: str) -> frozenset[str]:
        """Organisation ids that count as first party for a device whose vendor text is ``vendor``."""
        text = vendor.lower()
        out: set[str] = set()
        for rule in self.vendors:
            if any(m in text for m in rule.match):
                out |= rule.organisations
        return frozenset(out)

    def _vendor_names(self, vendor: str) -> frozenset[str]:
        """The names (``match`` strings) of every vendor rule that matches ``vendor``: how the maker's
        own domains and networks are spelled (xiaomi, mijia for a Xiaomi device)."""
        text = vendor.lower()
        return frozenset(m for rule in self.vendors if any(m in text for m in rule.match) for m in rule.match)


@lru_cache(maxsize=8)  # read once per process: a catalogue is not changed while tapaudit runs
def load_catalog(directory: Path = CATALOG_DIR) -> Catalog:
    orgs_path, vendors_path = directory / "organisations.yaml", directory / "vendors.yaml"
    orgs = read_yaml(orgs_path, CatalogError, f"catalogue {orgs_path}", shipped=True)[0] or {}
    vendors = (
        read_yaml(vendors_path, CatalogError, f"catalogue {vendors_path}", shipped=True)[0]
        if vendors_path.exists()
        else {}
    )
    return Catalog(orgs, vendors or {}, str(directory))
