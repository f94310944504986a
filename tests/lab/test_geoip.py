"""Country by location, registrant beside it: real addresses whose two answers differ.

The two sources are independent data sets shipped in wheels (MaxMind GeoLite2 Country in
geoip2fast, the RIRs' delegated statistics in iptocc), so each is the other's check: an
Amazon eu-central-1 address from a real capture is registered to Amazon in the US (ARIN)
and located in Frankfurt; the flow must say DE, keep US beside it, and judge the border by DE.
"""

from __future__ import annotations

import json
import subprocess
import sys

from appliance.ingest.enrich import Enricher
from appliance.ingest.replay import ReplayOptions, replay
from appliance.lookups import geoip
from appliance.store.backends import Store
from parsers.meter import Flow
from policies.catalog import load_catalog
from tests.support.paths import ROOT, shared_path

# SSI_Measurements_2022: a smart plug booting in Europe talks to two AWS addresses only
PLUG_BOOT = ("SSI_Measurements_2022", "smart_power_plug_boot_measurements.pcap")
AWS_FRANKFURT = ("3.121.131.36", "35.156.42.116")


def test_location_and_registrant_of_real_addresses_differ() -> None:
    # addresses seen in the real captures (found by comparing the two sources over all of them)
    for ip, located, registered in (
        ("3.121.131.36", "DE", "US"),  # SSI plug: AWS eu-central-1
        ("52.28.131.102", "DE", "US"),  # IoT-Sentinel: AWS eu-central-1
        ("52.17.248.50", "IE", "US"),  # IoT-Sentinel: AWS eu-west-1
        ("47.74.255.9", "SG", "US"),  # NEU-SNS intl-iot Yi camera: Alibaba Cloud Singapore
        ("223.5.5.5", "CN", "CN"),
    ):
        assert (geoip.country(ip), geoip.registry_country(ip)) == (located, registered), ip
    assert "AMAZON" in geoip.as_org("3.121.131.36")
    assert geoip.country("192.168.1.1") == geoip.registry_country("10.0.0.1") == ""


def test_flows_say_where_the_server_is(store: Store) -> None:
    pcap = shared_path(*PLUG_BOOT)
    res = replay(store, str(pcap), ReplayOptions(home=["DE"]))
    rows = store.query(
        "SELECT remote_ip, any(country) AS cc, any(registry_country) AS reg, max(cross_border) AS abroad,"
        " any(as_org) AS net FROM {db}.flows WHERE capture_id = %(c)s AND direction = 'outbound'"
        " GROUP BY remote_ip",
        {"c": res.capture_id},
    )
    got = {r["remote_ip"]: (r["cc"], r["reg"], r["abroad"]) for r in rows}
    assert set(AWS_FRANKFURT) <= set(got), got
    for ip in AWS_FRANKFURT:
        assert got[ip] == ("DE", "US", 0), ip  # in Germany: not abroad for a German home
    # the rollup carries both, so destination views read them without the flows
    roll = store.query(
        "SELECT DISTINCT country, registry_country FROM {db}.flow_rollup WHERE remote_ip = %(ip)s",
        {"ip": AWS_FRANKFURT[0]},
    )
    assert roll == [{"country": "DE", "registry_country": "US"}]
    cap = store.query("SELECT geoip_db, geoip_version FROM {db}.captures")[0]
    assert "GeoLite2 Country" in cap["geoip_db"] and "iptocc" in cap["geoip_db"]
    assert "GeoLite2-CountryASN" in cap["geoip_version"] and "sha256:" in cap["geoip_version"]


def test_anycast_resolvers_keep_the_registrants_country() -> None:
    """GeoLite2 puts DNSPod's anycast 119.29.29.29 in Singapore; from China it is answered in China
    (the Xiaodu plug's authors place it there too), so a catalogued anycast address is not moved."""
    assert geoip.country("119.29.29.29") == "SG"
    flow = Flow(
        17, bytes((192, 168, 1, 2)), 40000, bytes((119, 29, 29, 29)), 53, 0, b"\x02" * 6, b"\x04" * 6, 0
    )
    cols = Enricher(load_catalog()).columns(flow, "02:02:02:02:02:02", "outbound", "119.29.29.29")
    assert (cols.country, cols.registry_country, cols.cross_border) == ("CN", "CN", 0)


LAZY = """
import json, os, time, psutil
from appliance.ingest import enrich, replay
from appliance.lookups import geoip
p = psutil.Process()
geoip.geoip_version()  # names the data release without loading it
before, rss = geoip.loaded(), p.memory_info().rss
t = time.perf_counter()
cc = geoip.country("3.121.131.36")
seconds = time.perf_counter() - t
print(json.dumps({"loaded_before": before, "cc": cc, "seconds": seconds,
                  "rss_mib": (p.memory_info().rss - rss) / 2**20}))
"""


def test_loading_is_lazy_and_its_cost_measured() -> None:
    out = subprocess.run([sys.executable, "-c", LAZY], cwd=ROOT, capture_output=True, text=True, check=True)
    fig = json.loads(out.stdout)
    print(f"\nGeoIP data: loaded on first lookup in {fig['seconds']:.3f} s, RSS +{fig['rss_mib']:.0f} MiB")
    assert fig["loaded_before"] is False and fig["cc"] == "DE"
    assert fig["seconds"] < 5 and fig["rss_mib"] < 300
