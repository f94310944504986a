"""Destination enrichment: for each flow, which service it reached, whose, where, and how protected.

The domain comes from what the flow itself said (TLS SNI, HTTP Host, QUIC SNI) or,
failing that, from the name the device resolved for that address before the flow
began (``DnsNames``). The registrable domain comes from the public suffix list
snapshot that ships with tldextract (no download, ``appliance.lookups.psl``);
organisation and service kind from ``policies.catalog``; the party relative to the
device's maker from them (``appliance.ingest.party``); the country where the server is
located, the country its address block is registered to, and the network operator (AS
organisation) from ``appliance.lookups.geoip``, so every remote address gets an owner
even without a name.
All of it is offline and reproducible; database versions are recorded with each capture.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right, insort
from functools import lru_cache
from typing import NamedTuple

from appliance.ingest.party import Parties
from appliance.lab.bench import Bench
from appliance.lookups.geoip import as_org, country, registry_country
from appliance.lookups.psl import snapshot
from parsers.flow import Flow
from parsers.protocols.dns import DnsMessage
from policies.catalog import Catalog

DNS_SLACK_NS = 2_000_000_000  # an answer up to 2 s after a flow's first packet still names it
DEFAULT_HOME = ("CN",)  # mainland China; HK, MO and TW are their own codes, so they count as outbound


@lru_cache(maxsize=1 << 16)
def registrable(domain: str) -> str:
    """The registrable domain (eTLD+1) of a host name; '' for addresses and bare suffixes."""
    if not domain or _is_ip(domain):
        return ""
    return snapshot().registrable(domain)


def _is_ip(text: str) -> bool:
    if not text or not (text[-1].isdigit() or ":" in text):
        return False  # host names end in a letter (top-level domains are alphabetic)
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


class DnsNames:
    """Time-aware address-to-name map per device, from the DNS answers it received."""

    def __init__(self) -> None:
        self.by_device: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self.any_device: dict[str, list[tuple[int, str]]] = {}

    def add(self, device: str, ts: int, msg: DnsMessage) -> None:
        if not msg.is_response or not msg.questions:
            return
        qname = msg.questions[0][0].lower().rstrip(".")
        for rec in msg.answers:
            if rec.rtype in (1, 28) and rec.data:
                insort(self.by_device.setdefault((device, rec.data), []), (ts, qname))
                insort(self.any_device.setdefault(rec.data, []), (ts, qname))

    def name(self, device: str, ip: str, ts: int) -> tuple[str, str]:
        """(name, source): the device's latest answer for ``ip`` before ``ts``, else any device's."""
        for entries, source in (
            (self.by_device.get((device, ip)), "dns"),
            (self.any_device.get(ip), "dns-other"),
        ):
            if entries:
                i = bisect_right(entries, (ts + DNS_SLACK_NS, "\uffff")) - 1
                if i >= 0:
                    return entries[i][1], source
        return "", ""


class Destination(NamedTuple):
    """What the flows table says about a flow's destination: its fields are ``flows`` columns by name."""

    app: str
    domain: str
    domain_source: str
    registrable: str
    organisation: str
    service: str
    service_kind: str
    party: str
    country: str
    registry_country: str
    cross_border: int
    as_org: str
    security: str
    readable: int


NO_DESTINATION = Destination("", "", "", "", "", "", "", "", "", "", 0, "", "", 0)


REMOTE_CACHE = 1 << 15  # remote ends remembered per run (~10 MiB); the cache starts over when full


class Remote(NamedTuple):
    """What one device's flows to one remote end (address, name, application) have in common: all of
    a ``Destination`` but the name's source and the session's security."""

    app: str
    registrable: str
    organisation: str
    service: str
    service_kind: str
    party: str
    country: str
    registry_country: str
    cross_border: int
    as_org: str


class Enricher:
    """Everything the flows table says about a flow's destination, from the flow and its session.

    The catalogue, GeoIP and party answers for a remote end are worked out once per run and kept
    by (device, address, name, application, DNS-over-TLS port): a device talks to the same few
    servers over and over, and each answer is a function of that key alone (issue 20)."""

    def __init__(self, catalog: Catalog, home: tuple[str, ...] = DEFAULT_HOME, bench: Bench | None = None):
        self.catalog = catalog
        self.home = frozenset(c.upper() for c in home)
        self.bench = bench or Bench()  # the lab's own vendor names for its devices
        self.parties = Parties(catalog, self.bench)
        self.dns = DnsNames()
        self.remotes: dict[tuple[str, str, str, str, bool], Remote] = {}

    def columns(self, f: Flow, device: str, direction: str, remote_ip: str) -> Destination:
        """The destination columns of one flow."""
        s = f.l7
        app = s.app if s is not None else ""
        security = s.security if s is not None else ""
        # a TLS flow opened with session keys was read as a clear one is (issue 16)
        readable = 1 if s is not None and s.readable else 0  # decrypted TLS too (Session.readable)
        domain, source = "", ""
        if s is not None and s.sni and not _is_ip(s.sni):
            domain, source = s.sni.lower().rstrip("."), ("quic" if app == "quic" else "sni")
        elif s is not None and s.host and not _is_ip(s.host):
            domain, source = s.host, "http"
        elif direction in ("outbound", "inbound"):
            domain, source = self.dns.name(device, remote_ip, f.first)
        if direction not in ("outbound", "inbound"):
            return Destination(app, domain, source, registrable(domain), "", "", "", "local", "", "", 0, "",
                               security, readable)  # fmt: skip
        key = (device, remote_ip, domain, app, 853 in (f.ap, f.bp))
        r = self.remotes.get(key)
        if r is None:
            if len(self.remotes) >= REMOTE_CACHE:
                self.remotes.clear()
            r = self.remotes[key] = self._remote(*key)
        return Destination(r.app, domain, source, r.registrable, r.organisation, r.service, r.service_kind,
                           r.party, r.country, r.registry_country, r.cross_border, r.as_org, security,
                           readable)  # fmt: skip

    def _remote(self, device: str, remote_ip: str, domain: str, app: str, dot_port: bool) -> Remote:
        """The remote end's columns for a flow leaving or entering the LAN."""
        svc = self.catalog.lookup(domain) if domain else None
        if svc is None:  # no name, or an uncatalogued one: a well-known address still names the service
            svc = self.catalog.addresses.get(remote_ip)
        if svc is not None and svc.kind == "dns" and app in ("tls", "quic"):
            # DNS over TLS/QUIC (853) or over HTTPS (443...) to a known resolver, by name or address
            app = ("dot" if app == "tls" else "doq") if dot_port else "doh"
        reg = registry_country(remote_ip)
        # the catalogue's well-known addresses are anycast (public resolvers): GeoIP places such an
        # address at one of many nodes (DNSPod's 119.29.29.29 in SG, answered in China from China),
        # so where it is cannot be told from the address and the registrant's country stands
        cc = reg if remote_ip in self.catalog.addresses else country(remote_ip)
        reg_domain = registrable(domain)
        net = "" if svc else as_org(remote_ip)  # the owner when the catalogue does not know the name
        return Remote(
            app=app,
            registrable=reg_domain,
            organisation=svc.organisation if svc else "",
            service=svc.name if svc else "",
            service_kind=svc.kind if svc else "",
            party=self.parties.party(device, svc, reg_domain, net),
            country=cc,
            registry_country=reg,
            cross_border=1 if cc and cc not in self.home else 0,
            as_org=net,
        )
