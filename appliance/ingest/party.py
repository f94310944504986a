"""Whose a destination is, relative to the device's maker: ``first``, ``third`` or ``unknown``.

TR-10 and TR-13 turn on third parties, so a maker's own service must not be left ``unknown``
just because the catalogue lacks one of its names. In order:

- the catalogue names the organisation: ``first`` when it is the vendor's (vendors.yaml, matched
  on the bench vendor, else the OUI registrant), else ``third``;
- an uncatalogued name whose registrable domain (public suffix list, ``appliance.lookups.psl``)
  is one of the registrable domains the catalogue lists for the vendor's organisations, or whose
  registrable label is the maker's name (a vendor rule's names, or the words of the vendor the
  bench file gives): ``first`` (``account.xiaomi.tw`` for a Xiaomi speaker, ``govee.com`` for a
  bench device of vendor Govee);
- no usable name: the address announced by the maker's own network, the AS organisation naming
  the maker as a whole word (Beijing Baidu Netcom for a Xiaodu plug): ``first``;
- otherwise ``unknown``. A declaration's own destinations are applied at assessment
  (``policies.engine.declared_parties``), since replay does not read declarations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from appliance.lab.bench import Bench
from appliance.lookups.psl import snapshot
from policies.catalog import Catalog, Service

# words of a company name that name no maker (a bench vendor "Aqara (Lumi United)" names aqara, lumi)
NOT_A_NAME = frozenset(
    ("inc", "ltd", "llc", "gmbh", "corp", "corporation", "company", "limited", "group", "holdings",
     "united", "technology", "technologies", "tech", "electronics", "electric", "electrical",
     "communication", "communications", "information", "network", "networks", "smart", "home",
     "intelligent", "international", "digital", "science", "industrial", "industries", "device",
     "devices", "trading", "the", "and", "of", "co", "shenzhen", "beijing", "shanghai", "hangzhou",
     "guangzhou", "qingdao", "zhuhai", "xiamen", "suzhou", "nanjing")
)  # fmt: skip
WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True)
class Maker:
    """What names one device's maker: catalogue organisations, their registrable domains, the labels
    a maker's own domain would carry, and a pattern for its AS organisation names."""

    organisations: frozenset[str]
    domains: frozenset[str]
    labels: frozenset[str]
    network: re.Pattern[str] | None


class Parties:
    def __init__(self, catalog: Catalog, bench: Bench) -> None:
        self.catalog = catalog
        self.bench = bench
        self.maker = lru_cache(maxsize=1024)(self._maker)

    def party(self, device: str, svc: Service | None, registrable: str, as_org: str) -> str:
        """first, third or unknown for one flow of ``device`` (see the module's order)."""
        m = self.maker(device)
        if svc is not None:
            return "first" if svc.organisation in m.organisations else "third"
        if registrable:
            if registrable in m.domains or _label(registrable) in m.labels:
                return "first"
            return "unknown"
        if as_org and m.network is not None and m.network.search(as_org.lower()):
            return "first"
        return "unknown"

    def _maker(self, device: str) -> Maker:
        vendor = self.bench.vendor_of(device)
        orgs = self.catalog.first_party(vendor)
        own = (d for d, s in self.catalog.domains.items() if s.organisation in orgs)
        domains = frozenset(r for r in map(_registrable, own) if r)
        names = {n for n in self.catalog.vendor_names(vendor) if n.isascii()}
        labels = {n.replace(" ", "") for n in names if WORD.fullmatch(n.replace(" ", ""))}
        b = self.bench.devices.get(device)
        if b is not None and b.vendor:  # the lab named the maker: its own words count as its name
            labels |= {w for w in WORD.findall(b.vendor.lower()) if len(w) >= 3 and w not in NOT_A_NAME}
        network = None
        if names:
            alts = "|".join(sorted(re.escape(n) for n in names))
            network = re.compile(rf"(?<![a-z0-9])(?:{alts})(?![a-z0-9])")
        labels |= {x.replace("-", "") for x in labels}
        return Maker(orgs, domains, frozenset(labels), network)


def _label(registrable: str) -> str:
    """The registered label of a registrable domain (``xiaomi`` of ``xiaomi.com.cn``), hyphens dropped."""
    return registrable.split(".", 1)[0].replace("-", "")


@lru_cache(maxsize=1 << 14)
def _registrable(domain: str) -> str:
    return snapshot().registrable(domain)
