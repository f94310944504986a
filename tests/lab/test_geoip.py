"""Country by location, registrant beside it: real addresses whose two answers differ.

The two sources are independent data sets shipped in wheels (MaxMind GeoLite2 Country in
geoip2fast, the RIRs' delegated statistics in iptocc), so each is the other's check: an
Amazon eu-central-1 address from a real capture is registered to Amazon in the US (ARIN)
and located in Frankfurt; the flow must say DE, keep US beside it, and judge the border by DE.
"""

from __future__ import annotations

import ipaddress
import json
import mmap
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from appliance.ingest.enrich import Enricher
from appliance.ingest.replay import ReplayOptions, replay
from appliance.lookups import geoip
from appliance.lookups.geoip_table import FORMAT, open_table
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


def oracle() -> object:
    """geoip2fast itself, loading its whole data file (what ``geoip_table`` avoids)."""
    import contextlib
    import io

    from geoip2fast import GeoIP2Fast

    with contextlib.redirect_stdout(io.StringIO()):
        return GeoIP2Fast(geoip2fast_data_file=geoip.GEOIP_FILE)


def test_table_answers_as_geoip2fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random addresses of both families, networks' edges in a spread of chunks, real servers and
    what is not an address: the mapped table says what geoip2fast says."""
    db: Any = oracle()
    monkeypatch.setenv("TAPAUDIT_CACHE_DIR", str(tmp_path))
    table = open_table(geoip._path(), "test")  # built into this test's own cache folder
    assert isinstance(open_table(geoip._path(), "test").buf, mmap.mmap)  # and read back mapped
    rng = random.Random(20)
    ips = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(20_000)]
    ips += [str(ipaddress.IPv6Address((0x2 << 125) | rng.getrandbits(125))) for _ in range(4_000)]
    ips += [str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(500)]
    for firsts in (table.first, table.first_asn):
        for root in rng.sample(range(len(firsts)), 40):
            col = firsts[root]
            for chunk in rng.sample(range(len(col)), min(len(col), 25)):
                for v in (col[chunk] - 1, col[chunk], col[chunk] + 1):
                    if 0 <= v < 1 << 128:
                        ips.append(str(ipaddress.ip_address(v)))
    ips += [*AWS_FRANKFURT, "119.29.29.29", "223.5.5.5", "0.0.0.0", "255.255.255.255", "::", "::1"]
    ips += ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "not an address", "", "1.2.3", "::ffff:8.8.8.8"]
    named = 0
    for ip in ips:
        hit = db.lookup(ip)  # type: ignore[attr-defined]
        want = (str(hit.country_code), str(getattr(hit, "asn_name", "") or ""))
        assert table.lookup(ip) == want, ip
        named += want[0] not in ("", "--") and bool(want[1])
    assert named > 10_000  # most answers name a country and a network: not a comparison of blanks


def test_table_is_built_once_and_in_memory_when_the_cache_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAPAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    first = open_table(geoip._path(), "abc")
    cached = list((tmp_path / "cache").iterdir())
    assert [p.name for p in cached] == [f"geoip-geoip2fast-asn-ipv6-abc-v{FORMAT}.bin"]
    assert isinstance(open_table(geoip._path(), "abc").buf, mmap.mmap)  # read back, not rebuilt
    cached[0].write_bytes(cached[0].read_bytes()[:-10])  # cut: rebuilt, same answers
    again = open_table(geoip._path(), "abc")
    assert again.lookup("3.121.131.36") == first.lookup("3.121.131.36") == ("DE", "AMAZON-02")
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("TAPAUDIT_CACHE_DIR", str(tmp_path / "file" / "cache"))  # cannot be made
    mem = open_table(geoip._path(), "abc")
    assert isinstance(mem.buf, bytes) and mem.lookup("3.121.131.36") == ("DE", "AMAZON-02")


def test_the_data_files_digest_is_its_sha256_kept_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digest recorded with each capture (``geoip_version``) is the data file's sha256 prefix,
    read back from the cache folder in a later run (issue 20, point 3) and taken again once the
    file is another: rewritten in place or replaced."""
    import hashlib
    import os

    monkeypatch.setenv("TAPAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / geoip.GEOIP_FILE
    data.write_bytes(geoip._path().read_bytes())
    monkeypatch.setattr(geoip, "_path", lambda: data)

    def digest() -> str:
        geoip._file_digest.cache_clear()
        return geoip._file_digest()

    def sha() -> str:
        return "sha256:" + hashlib.sha256(data.read_bytes()).hexdigest()[:16]

    try:
        assert digest() == sha()  # hashed, then kept
        assert [p.name[:12] for p in (tmp_path / "cache").iterdir()] == ["geoip-sha256"]
        assert digest() == sha()  # read back
        with data.open("r+b") as fh:  # the same size, rewritten in place: a new modification time
            fh.write(b"\x00")
        os.utime(data, ns=(data.stat().st_atime_ns, data.stat().st_mtime_ns + 10**9))
        assert digest() == sha()
        replaced = tmp_path / "new"
        replaced.write_bytes(data.read_bytes()[:-1])
        replaced.replace(data)
        assert digest() == sha()
    finally:
        geoip._file_digest.cache_clear()
