"""First party by the maker: the catalogue's vendor organisations, the maker's own domains and
networks, and the product's declaration; ``unknown`` only when nothing names the owner.

Oracles: the catalogue and vendors.yaml (data with sources), the lab's bench and declarations
(generated with ground truth), and the Xiaodu plug's real capture, whose one uncatalogued
address is announced by Baidu's own network (GeoLite2 ASN) and whose maker is Baidu
(its OUI registrant is Shanghai Xiaodu Technology).
"""

from __future__ import annotations

from appliance.ingest.enrich import Enricher
from appliance.ingest.replay import ReplayOptions, replay
from appliance.lab.bench import Bench, BenchDevice, load_bench
from appliance.store.backends import Store
from parsers.meter import Flow
from parsers.sessions import TcpSession
from policies.declaration import load_declaration
from policies.engine import declared_parties
from policies.model import Facts
from tests.support.paths import ROOT, shared_path

LAB = ROOT / "pcaps" / "lab"
SPEAKER = "cc:eb:5e:3b:33:41"  # bench vendor Xiaomi
GOVEE = "02:00:00:00:00:61"  # a bench device whose maker vendors.yaml does not know


def _party(enricher: Enricher, device: str, domain: str, ip: str = "203.0.113.9") -> str:
    flow = Flow(6, bytes((192, 168, 50, 9)), 40000, bytes(4), 443, 0, b"\x02" * 6, b"\x04" * 6, 0)
    if domain:
        s = TcpSession(__import__("collections").Counter())
        s.app, s.sni, s.security = "tls", domain, "tls1.3"
        flow.l7 = s
    return enricher.columns(flow, device, "outbound", ip).party


def test_the_makers_own_domains_are_first_party() -> None:
    from policies.catalog import load_catalog

    bench = load_bench(str(LAB / "lab.bench.yaml"))
    bench.devices[GOVEE] = BenchDevice(GOVEE, vendor="Govee")
    bench.devices["02:00:00:00:00:62"] = BenchDevice("02:00:00:00:00:62", vendor="Alibaba Tmall Genie")
    e = Enricher(load_catalog(), bench=bench)
    assert _party(e, SPEAKER, "api.io.mi.com") == "first"  # catalogued as Xiaomi's
    assert _party(e, SPEAKER, "account.xiaomi.tw") == "first"  # uncatalogued, the maker's name
    assert _party(e, SPEAKER, "apis.map.qq.com") == "third"  # catalogued as Tencent's
    assert _party(e, SPEAKER, "telemetry.example-vendor.net") == "unknown"  # nothing names it
    # the catalogue lists a.alimama.cn for Alibaba: alimama.cn is Alibaba's registrable domain
    assert _party(e, "02:00:00:00:00:62", "b.alimama.cn") == "first"
    assert _party(e, SPEAKER, "b.alimama.cn") == "unknown"
    # a maker named only by the bench: its own name as the registered label
    assert _party(e, GOVEE, "app2.govee.com") == "first"
    assert _party(e, GOVEE, "govee.example.com") == "unknown"  # the label of example.com is example
    unnamed = Enricher(load_catalog(), bench=Bench())  # no bench: the OUI says nothing of Govee
    assert _party(unnamed, GOVEE, "app2.govee.com") == "unknown"


def test_an_address_on_the_makers_network_is_first_party(store: Store) -> None:
    pcap = shared_path(
        "Lifecycle-Based-Traffic-Dataset", "result_demo", "traffic_demo", "xiaodu_plug", "xiaodu_plug.pcap"
    )
    res = replay(store, str(pcap), ReplayOptions())
    rows = store.query(
        "SELECT remote_ip, any(party) AS party, any(as_org) AS net, any(domain) AS dom FROM {db}.flows"
        " WHERE capture_id = %(c)s AND direction IN ('outbound', 'inbound') AND organisation = ''"
        " GROUP BY remote_ip",
        {"c": res.capture_id},
    )
    got = {r["remote_ip"]: (r["party"], r["net"], r["dom"]) for r in rows}
    party, net, dom = got["182.61.62.75"]
    assert dom == "" and "Baidu" in net and party == "first"
    party, net, _ = got["112.34.112.167"]
    assert "China Mobile" in net and party == "unknown"  # a carrier's network names no maker


def test_a_declarations_own_destinations_are_first_party() -> None:
    decl = load_declaration(str(LAB / "declarations" / "child_watch.yaml"))  # destinations: bbk, imoo.com
    rows = [
        {"destination": "push.imoo.com", "party": "unknown"},
        {"destination": "restapi.amap.com", "party": "third"},  # a declared SDK stays third
        {"destination": "imoo.com.evil.example", "party": "unknown"},
        {"destination": "42.62.43.77", "party": "unknown"},
    ]
    facts = Facts(
        "c", {"mac": "80:41:4e:7c:22:31", "category": "child_watch"}, flows=rows, observations=rows[:1]
    )
    out = declared_parties(facts, decl)
    assert [r["party"] for r in out.flows] == ["first", "third", "unknown", "unknown"]
    assert out.observations[0]["party"] == "first"
    assert rows[0]["party"] == "unknown"  # the gathered facts are not changed in place
