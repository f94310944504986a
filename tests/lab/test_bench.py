"""The bench file: every persona type the matcher knows is accepted and found in traffic; any key
the tool would not use is refused with one line naming the file, the device and the key.

A capture is written here (a device POSTing one persona value of each type, in clear, and its
locations near and far from the persona's home); the values are the ground truth.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from appliance.ingest.replay import ReplayOptions, replay
from appliance.lab.bench import PERSONA_KEYS, BenchError, load_bench
from appliance.store.backends import open_store
from parsers import capture_write as cw
from parsers.detect.identifiers import KEYS
from tests.support.run import cli

DEV, GW = "02:1a:2b:3c:4d:01", "02:1a:2b:3c:4d:fe"
DEV_IP, CLOUD = "192.168.7.20", "203.0.113.10"
# WGS-84, and the same point in GCJ-02: a test point of googollee/eviltransform (its test suite)
HOME = {"lat": 31.1774276, "lon": 121.5272106}
HOME_GCJ = (31.17530398364597, 121.531541859215)
# one value of each type, as a lab would write it on the bench (cn_id: GB 11643's own example)
PERSONA = {
    "imei": "490154203237518",
    "meid": "A10000009296F2",
    "imsi": "460001234567890",
    "iccid": "8986001234567890123",
    "mac": "A4:C1:38:9A:BC:DE",
    "serial": "SN7K2Q9X4M1",
    "android_id": "9774d56d682e549c",
    "oaid": "1fe9a970-8d3b-4e41-b5a3-0f8c2e6d7a11",
    "idfa": "6D92078A-8246-4BA4-AE5B-76104861E7DC",
    "phone": "+86 139 1234 5678",
    "cn_id": "11010519491231002X",
    "email": "tester.one@example.org",
    "name": "Zhang Wei",
}
# how a device sends each: as written, or in a spelling the matcher must also know
SENT = {
    **PERSONA,
    "mac": "a4c1389abcde",
    "oaid": PERSONA["oaid"].replace("-", ""),
    "phone": "13912345678",
    "email": hashlib.sha256(PERSONA["email"].encode()).hexdigest(),
}


def _post(t: float, sport: int, body: bytes) -> list[tuple[int, bytes]]:
    """One HTTP POST on its own TCP connection, handshake to FIN, as (ns, frame)."""
    req = (
        f"POST /v1/report HTTP/1.1\r\nHost: api.bench.example\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    up, down = (
        Ether(src=DEV, dst=GW) / IP(src=DEV_IP, dst=CLOUD),
        Ether(src=GW, dst=DEV) / IP(src=CLOUD, dst=DEV_IP),
    )
    c, s = 1000, 5000
    segs = [
        up / TCP(sport=sport, dport=80, flags="S", seq=c),
        down / TCP(sport=80, dport=sport, flags="SA", seq=s, ack=c + 1),
        up / TCP(sport=sport, dport=80, flags="A", seq=c + 1, ack=s + 1),
        up / TCP(sport=sport, dport=80, flags="PA", seq=c + 1, ack=s + 1) / req,
        down / TCP(sport=80, dport=sport, flags="A", seq=s + 1, ack=c + 1 + len(req)),
        up / TCP(sport=sport, dport=80, flags="FA", seq=c + 1 + len(req), ack=s + 1),
        down / TCP(sport=80, dport=sport, flags="FA", seq=s + 1, ack=c + 2 + len(req)),
        up / TCP(sport=sport, dport=80, flags="A", seq=c + 2 + len(req), ack=s + 2),
    ]
    return [(int((t + i * 0.01) * 1e9), bytes(p)) for i, p in enumerate(segs)]


def write_capture(path: Path) -> None:
    """Each persona value in a POST of its own, then locations: at home, 300 m off, 2 km off, and
    at home in GCJ-02 (offset ~460 m from WGS-84 there) and at two decimals (too coarse)."""
    t0, frames = 1_700_000_000.0, []
    for i, (key, value) in enumerate(SENT.items()):
        frames += _post(t0 + i, 40000 + i, json.dumps({"v": key[:1], "data": value}).encode())
    for i, (lat, lon, system) in enumerate(
        [
            (f"{HOME['lat']:.6f}", f"{HOME['lon']:.6f}", "wgs84"),
            (f"{HOME['lat'] + 0.0027:.6f}", f"{HOME['lon']:.6f}", "wgs84"),  # 300 m north
            (f"{HOME['lat'] + 0.018:.6f}", f"{HOME['lon']:.6f}", "wgs84"),  # 2 km north
            (f"{HOME_GCJ[0]:.6f}", f"{HOME_GCJ[1]:.6f}", "gcj02"),
            (f"{HOME['lat']:.2f}", f"{HOME['lon']:.2f}", "wgs84"),
        ]
    ):
        body = f'{{"lat": {lat}, "lng": {lon}, "coordType": "{system}"}}'.encode()
        frames += _post(t0 + 100 + i, 41000 + i, body)
    with path.open("wb") as fh, cw.PcapWriter(fh, nano=True) as out:
        out.write_all(frames)


def write_bench(path: Path, persona: dict[str, object], **top: object) -> Path:
    path.write_text(yaml.safe_dump({"devices": {DEV: {"name": "bench device", "persona": persona}}, **top}))
    return path


def observations(tmp_path: Path, bench: Path) -> list[dict[str, object]]:
    cap = tmp_path / "persona.pcap"
    write_capture(cap)
    b = load_bench(str(bench))
    store = open_store(str(tmp_path / "db"))
    try:
        store.ensure_schema()
        replay(store, str(cap), ReplayOptions(bench=b, raw_evidence=True, force=True))
        sql = "SELECT data_type, excerpt, detail FROM {db}.observations WHERE device_mac = %(m)s"
        return store.query(sql, {"m": DEV})
    finally:
        store.close()


def test_every_detector_type_is_a_persona_key() -> None:
    assert set(KEYS) | {"name", "home"} <= PERSONA_KEYS
    assert len(PERSONA) == len(KEYS) + 1  # this test's persona has one value of each


def test_each_persona_value_is_found_as_its_own(tmp_path: Path) -> None:
    rows = observations(tmp_path, write_bench(tmp_path / "b.yaml", {**PERSONA, "home": HOME}))
    found = {str(r["data_type"]).split(":", 1)[1]: str(r["excerpt"]) for r in rows
             if str(r["data_type"]).startswith("persona:")}  # fmt: skip
    assert set(found) == set(PERSONA), sorted(set(PERSONA) - set(found))
    for key, excerpt in found.items():
        assert excerpt.lower() == SENT[key].lower(), key  # the spelling the device sent (raw evidence on)


def test_aliases_are_found_under_the_detectors_names(tmp_path: Path) -> None:
    persona = {"id_number": PERSONA["cn_id"], "gaid": PERSONA["idfa"]}
    rows = observations(tmp_path, write_bench(tmp_path / "b.yaml", persona))
    assert {"persona:cn_id", "persona:idfa"} <= {str(r["data_type"]) for r in rows}


def test_home_distance_classes(tmp_path: Path) -> None:
    rows = observations(tmp_path, write_bench(tmp_path / "b.yaml", {"name": "Zhang Wei", "home": HOME}))
    locs = [json.loads(str(r["detail"])) for r in rows if r["data_type"] == "location"]
    assert len(locs) == 5
    marks = sorted(d.get("home_within_m", 0) for d in locs)
    # at home (WGS-84), at home in GCJ-02, 300 m off; 2 km off and two decimals are not marked
    assert marks == [0, 0, 50, 50, 500], locs
    (tmp_path / "r").mkdir()
    radius = observations(
        tmp_path / "r", write_bench(tmp_path / "r.yaml", {"home": {**HOME, "radius_m": 100}})
    )
    near = [json.loads(str(r["detail"])).get("home_within_m") for r in radius if r["data_type"] == "location"]
    assert sorted(m for m in near if m) == [50, 50]  # 300 m is past a 100 m radius


BAD = [
    ({"devices": {DEV: {"persona": {"imie": "490154203237518"}}}}, "persona: unknown field(s) imie"),
    ({"devices": {DEV: {"persona": {"idfv": "6D92078A-8246-4BA4-AE5B-76104861E7DC"}}}}, "idfv"),
    (
        {"devices": {DEV: {"persona": {"home": {**HOME, "radius": 100}}}}},
        "persona.home: unknown field(s) radius",
    ),
    ({"devices": {DEV: {"persona": {"home": {"lat": 95, "lon": 121}}}}}, "persona.home.lat"),
    ({"devices": {DEV: {"persona": {"name": "Li"}}}}, "persona.name: shorter than 5"),
    ({"devices": {DEV: {"persona": {"imei": ["490154203237518"]}}}}, "persona.imei: expected text, got list"),
    ({"devices": {DEV: {"persona": {"mac": 10_20_30}}}}, "persona.mac: quote the MAC"),
    ({"devices": {DEV: {"persona": {"email": None}}}}, "persona.email: expected text"),
    ({"devices": {}, "personas": {}}, "unknown top-level key(s) personas"),
]


@pytest.mark.parametrize(("doc", "message"), BAD, ids=[m for _, m in BAD])
def test_unused_keys_are_refused(tmp_path: Path, doc: dict[str, object], message: str) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(BenchError) as exc:
        load_bench(str(path))
    text = str(exc.value)
    assert message in text and str(path) in text and "\n" not in text, text
    if "top-level" not in message:
        assert DEV in text


def test_sexagesimal_mac_is_refused(tmp_path: Path) -> None:
    """YAML 1.1 reads an unquoted 10:20:30:40:50:59 as a base-60 number: not silently a wrong value."""
    path = tmp_path / "bench.yaml"
    path.write_text(f'devices:\n  "{DEV}":\n    persona:\n      mac: 10:20:30:40:50:59\n')
    with pytest.raises(BenchError, match="quote the MAC"):
        load_bench(str(path))


def test_replay_refuses_a_bad_bench_in_one_line(tmp_path: Path) -> None:
    cap = tmp_path / "c.pcap"
    write_capture(cap)
    bench = write_bench(tmp_path / "bench.yaml", {"imie": "490154203237518"})
    p = cli("replay", str(cap), "--bench", str(bench), "--db", str(tmp_path / "db"), "-q")
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    assert str(bench) in lines[0] and DEV in lines[0] and "imie" in lines[0], lines[0]
