"""Two firmware versions of the lab's children's watch, half an hour each, and what changed between them.

    python -m pcaps.synth.firmware --out-dir pcaps/lab

Writes ``child-watch-fw-a.pcapng`` (firmware 3.1.0), ``child-watch-fw-b.pcapng`` (3.2.0, tested
the next day) and ``child-watch-fw-diff.truth.yaml``: what ``tapaudit diff A B`` must find.
Only the children's watch is on the LAN (with the lab's gateway): DHCP, DNS and its reports,
built with the lab's primitives (``pcaps.synth.network.Lab``). From A to B:

- the location report to the vendor goes every 60 s instead of every 600 s, with six
  decimals instead of four, and no longer carries the phone number;
- a third-party analytics SDK appears: Umeng (``ulogs.umeng.com``) receives the IMEI and
  the Wi-Fi MAC every 600 s;
- Google Firebase logging (TLS, abroad) is gone;
- the Amap reverse geocode (every 300 s, five decimals) stays as it was.

The truth is the generator's record of what it sent (each message's time, data types and
destination); the organisations and countries of the destinations are stated here as the
catalogue (``policies/catalog``) and the RIR data name them. The captures are replayed
without a phases file, so every series is in phase ``unmarked``. Deterministic: the same
seed gives byte-identical files.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from parsers.capture_write import write_pcapng
from pcaps.synth import frames as fr
from pcaps.synth.hosts import T0
from pcaps.synth.network import CLOUD, Lab

DAY = 86400
SPAN = 1800  # seconds of each capture
PHASE = "unmarked"
FREQUENCY_RATIO = 1.1  # as tapaudit's diff: a median interval 10 % longer or shorter is a change
# destination -> (catalogue organisation, country of its address)
WHERE = {
    "api.watch.imoo.com": ("bbk", "CN"),
    "restapi.amap.com": ("autonavi", "CN"),
    "firebaselogging-pa.googleapis.com": ("google", "US"),
    "ulogs.umeng.com": ("umeng", "CN"),
}
UA = "imoo-Z7/{version}"


@dataclass(frozen=True)
class Firmware:
    name: str  # a or b
    version: str
    day: int  # days after the lab's T0
    report_every: int  # s between location reports to the vendor
    decimals: int  # decimal places of those reports
    phone: bool  # the report carries the phone number
    firebase: bool  # Google Firebase logging over TLS
    umeng: bool  # the Umeng SDK's analytics envelope

    @property
    def capture(self) -> str:
        return f"child-watch-fw-{self.name}.pcapng"


FIRMWARE = (
    Firmware("a", "3.1.0", 0, 600, 4, phone=True, firebase=True, umeng=False),
    Firmware("b", "3.2.0", 1, 60, 6, phone=False, firebase=False, umeng=True),
)


@dataclass(frozen=True)
class Sent:
    """One message with personal data: its first packet's time, what it carried, to whom."""

    t: float
    data_types: tuple[str, ...]
    destination: str
    decimals: int = -1


def build(fw: Firmware, seed: int) -> tuple[Lab, list[Sent]]:
    """The watch's half hour under one firmware: DHCP, DNS, its reports."""
    lab = Lab(seed)
    c = lab.hosts["child_watch"]
    p = c.bench["persona"]
    ua = UA.format(version=fw.version)
    sent: list[Sent] = []
    end = SPAN - 30

    def http(t: float, name: str, request: bytes, kinds: tuple[str, ...], decimals: int = -1) -> None:
        n = len(lab.frames)
        ip, port = CLOUD[name]
        lab.tcp(t, c, ip, port, [request], [fr.http_ok()])
        first = next(ft for ft, pkt, _ in lab.frames[n:] if pkt.src == c.mac and _has_data(pkt))
        sent.append(Sent(first, kinds, name, decimals))

    lab.boot(5, c)
    names = ["api.watch.imoo.com", "restapi.amap.com"]
    names += ["firebaselogging-pa.googleapis.com"] if fw.firebase else []
    names += ["ulogs.umeng.com"] if fw.umeng else []
    for i, name in enumerate(names):
        lab.dns(10 + 2 * i, c, name)

    home = p["home"]
    for t in range(60, end, fw.report_every):
        lat = home["lat"] + lab.rng.uniform(-2e-4, 2e-4)
        lon = home["lon"] + lab.rng.uniform(-2e-4, 2e-4)
        doc: dict[str, Any] = {
            "imei": p["imei"],
            "ts": int(T0 + fw.day * DAY + t),
            "lat": "@lat",
            "lon": "@lon",
        }
        doc["acc"] = 8
        if fw.phone:
            doc["phone"] = p["phone"]
        doc["bat"] = 80
        body = _json(doc, {"lat": f"{lat:.{fw.decimals}f}", "lon": f"{lon:.{fw.decimals}f}"})
        kinds = ("location", "imei", "phone") if fw.phone else ("location", "imei")
        report = fr.http_post("api.watch.imoo.com", "/v2/device/report", body, ua)
        http(t, "api.watch.imoo.com", report, kinds, fw.decimals)

    for t in range(90, end, 300):  # unchanged between the two: five decimals every 300 s
        q = f"/v3/geocode/regeo?location={home['lon']:.5f},{home['lat']:.5f}&key=demo"
        http(t, "restapi.amap.com", fr.http_get("restapi.amap.com", q, ua), ("location",), 5)

    if fw.firebase:
        for t in range(120, end, 600):
            lab.tls(t, c, "firebaselogging-pa.googleapis.com", [800], [120])

    if fw.umeng:
        for t in range(150, end, 600):
            head = {"appkey": "5f9a7c3e8b1d2a0012ab34ef", "imei": p["imei"], "mac": c.mac, "os": "Android"}
            body = _json({"header": head, "body": {"events": [{"id": "launch"}]}})
            req = fr.http_post("ulogs.umeng.com", "/unify_logs", body, "UMengSDK/9.6.3")
            http(t, "ulogs.umeng.com", req, ("imei", "mac"))
    return lab, sent


def _has_data(pkt: Any) -> bool:
    from scapy.packet import Raw

    return bool(pkt.haslayer(Raw) and bytes(pkt[Raw].load))


def _json(doc: dict[str, Any], numbers: dict[str, str] | None = None) -> bytes:
    """Compact JSON with numbers as the firmware prints them (json would drop trailing zeros)."""
    text = json.dumps(doc, separators=(",", ":"))
    for key, literal in (numbers or {}).items():
        text = text.replace(f'"@{key}"', literal)
    return text.encode()


def write_capture(lab: Lab, fw: Firmware, path: Path) -> dict[str, Any]:
    order = sorted(range(len(lab.frames)), key=lambda i: (lab.frames[i][0], i))
    base = (T0 + fw.day * DAY) * 1_000_000
    packets = [(base + round(lab.frames[i][0] * 1_000_000), bytes(lab.frames[i][1])) for i in order]
    with open(path, "wb") as fh:
        write_pcapng(fh, ((ts * 1000, data) for ts, data in packets))
    return {
        "capture": path.name,
        "firmware": fw.version,
        "packets": len(packets),
        "first_ts": packets[0][0] / 1e6,
        "last_ts": packets[-1][0] / 1e6,
    }


def series(fw: Firmware, sent: list[Sent]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Per data type x organisation x phase: reports, median interval, decimals, as sent."""
    times: dict[tuple[str, str, str], list[float]] = {}
    places: dict[tuple[str, str, str], int] = {}
    for s in sent:
        for kind in dict.fromkeys(s.data_types):
            key = (kind, WHERE[s.destination][0], PHASE)
            times.setdefault(key, []).append(fw.day * DAY + s.t)
            if kind == "location":
                places[key] = max(places.get(key, -1), s.decimals)
    out = {}
    for key, ts in sorted(times.items()):
        ts = sorted(set(ts))
        gaps = [b - a for a, b in itertools.pairwise(ts)]
        out[key] = {
            "data_type": key[0],
            "organisation": key[1],
            "phase": key[2],
            "reports": len(ts),
            "interval": round(statistics.median(gaps), 6) if gaps else 0.0,
            "max_decimals": places.get(key, -1),
        }
    return out


def differences(a: tuple[Firmware, list[Sent]], b: tuple[Firmware, list[Sent]]) -> dict[str, Any]:
    """What changed from A to B, from what each firmware sent."""

    def dests(sent: list[Sent], fw: Firmware) -> set[str]:
        out = {s.destination for s in sent}
        return out | ({"firebaselogging-pa.googleapis.com"} if fw.firebase else set())

    da, db = dests(a[1], a[0]), dests(b[1], b[0])
    sa, sb = series(*a), series(*b)

    def new_gone(x: set[str], y: set[str]) -> dict[str, list[str]]:
        return {"new": sorted(y - x), "gone": sorted(x - y)}

    def where(names: set[str], i: int) -> set[str]:
        return {WHERE[n][i] for n in names}

    kinds_a = {k for s in a[1] for k in s.data_types}
    kinds_b = {k for s in b[1] for k in s.data_types}
    frequency, precision = [], []
    for key in sorted(sa.keys() & sb.keys()):
        x, y = sa[key], sb[key]
        head = {"data_type": key[0], "organisation": key[1], "phase": key[2]}
        if x["interval"] and y["interval"]:
            lo, hi = sorted((x["interval"], y["interval"]))
            if hi / lo >= FREQUENCY_RATIO:
                frequency.append({**head, "a_interval": x["interval"], "b_interval": y["interval"]})
        if x["max_decimals"] != y["max_decimals"]:
            precision.append({**head, "a_decimals": x["max_decimals"], "b_decimals": y["max_decimals"]})
    return {
        "destinations": {
            "new": [_dest(n) for n in sorted(db - da)],
            "gone": [_dest(n) for n in sorted(da - db)],
        },
        "organisations": new_gone(where(da, 0), where(db, 0)),
        "countries": new_gone(where(da, 1), where(db, 1)),
        "data_types": new_gone(kinds_a, kinds_b),
        "series": {
            "new": [_Row(_short(sb[k])) for k in sorted(sb.keys() - sa.keys())],
            "gone": [_Row(_short(sa[k])) for k in sorted(sa.keys() - sb.keys())],
        },
        "frequency": [_Row(r) for r in frequency],
        "precision": [_Row(r) for r in precision],
        "unchanged": [
            _Row(_short(sa[k]))
            for k in sorted(sa.keys() & sb.keys())
            if not _changed(k, frequency, precision)
        ],
    }


def _changed(key: tuple[str, str, str], *lists: list[dict[str, Any]]) -> bool:
    return any((r["data_type"], r["organisation"], r["phase"]) == key for rows in lists for r in rows)


def _short(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("data_type", "organisation", "phase", "interval", "reports")}


def _dest(name: str) -> dict[str, Any]:
    org, cc = WHERE[name]
    return _Row({"destination": name, "organisation": org, "countries": [cc]})


def generate(out_dir: Path, seed: int) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    built = [(fw, *build(fw, seed)) for fw in FIRMWARE]
    caps = {fw.name: write_capture(lab, fw, out_dir / fw.capture) for fw, lab, _sent in built}
    mac = built[0][1].hosts["child_watch"].mac
    truth: dict[str, Any] = {
        "generator": "pcaps/synth/firmware.py",
        "seed": seed,
        "device": mac,
        "phase": PHASE,
        "a": caps["a"],
        "b": caps["b"],
        "note": "findings are not listed: they depend on the rule packs; replay without a phases file",
    }
    truth.update(differences((built[0][0], built[0][2]), (built[1][0], built[1][2])))
    (out_dir / "child-watch-fw-diff.truth.yaml").write_text(
        "# generated by pcaps/synth/firmware.py: do not edit, regenerate\n"
        + yaml.dump(truth, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    )
    return truth


class _Row(dict[str, Any]):
    """A mapping written on one line."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Row, lambda d, row: d.represent_mapping("tag:yaml.org,2002:map", row.items(), flow_style=True)
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    try:
        truth = generate(args.out_dir, args.seed)
    except OSError as exc:
        print(f"firmware: error: {exc}", file=sys.stderr)
        return 1
    for side in ("a", "b"):
        print(f"wrote {args.out_dir / truth[side]['capture']}: {truth[side]['packets']:,} packets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
