"""Generate the detector-heavy capture: most payloads carry personal data, with its ground truth.

    python -m pcaps.synth.generate_detect --packets 200000 --out bench/out/detect-200000.pcap

Six lab devices (the benchmark capture's, ``benchcap.MACS``), each with a persona, talk to
their clouds over plain HTTP (JSON and form bodies, query strings, protobuf, log lines) and
MQTT (publishes of JSON); a flow carries one to eight messages (``detect_payloads``), each in
one TCP segment, answered by the server. Beside the capture it writes:

- ``<name>.bench.yaml``: the LAN and the devices with their personas, for ``replay --bench``;
- ``<name>.truth.tsv``: one line per personal-data value sent (packet time in ns, device MAC,
  carrier, data type, a location's decimal places), recorded by the generator as it built each payload;
- ``<name>.truth.yaml``: the generator's settings and the counts per data type.

Deterministic: the same seed and packet count give byte-identical files. Issue 20 point 2.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from parsers.capture_write import PcapWriter
from pcaps.synth.benchcap import MACS, _csum, _mac
from pcaps.synth.detect_payloads import Message, message
from pcaps.synth.frames import (
    MQTT_CONNACK,
    dns_query,
    http_get,
    http_ok,
    http_post,
    mqtt_connect,
    mqtt_publish,
)
from pcaps.synth.hosts import GW_MAC, T0, luhn_complete

HOSTS = ("api.iot.example.cn", "log.sdk.example.cn", "health.example.cn", "loc.example.cn")
FORMS = (("json", 0.45), ("query", 0.15), ("form", 0.1), ("protobuf", 0.07), ("text", 0.05), ("mqtt", 0.18))
CTYPES = {"json": "application/json", "form": "application/x-www-form-urlencoded",
          "protobuf": "application/x-protobuf", "text": "text/plain"}  # fmt: skip
NAMES = ("Wang Fang", "Li Xiaoming", "Zhang Wei", "Liu Yang", "Chen Jing", "Zhao Lei")
CARRIER = {"query": "http.query", "mqtt": "mqtt.publish"}  # every other form: http.body


def personas(rng: random.Random) -> list[dict[str, str]]:
    out = []
    for i, name in enumerate(NAMES):
        number = f"13{8 + i % 2}{rng.randrange(10**8):08d}"
        out.append({
            "imei": luhn_complete("86" + "".join(str(rng.randrange(10)) for _ in range(12))),
            "serial": "SN" + "".join(rng.choice("0123456789ABCDEF") for _ in range(10)),
            "mobile": number,
            "email": f"{name.lower().replace(' ', '.')}@example.com",
            "name": name,
        })  # fmt: skip
    return out


class Writer:
    """TCP segments of one flow at a time, with sequence numbers, into the pcap; the clock advances."""

    def __init__(self, out: PcapWriter, rng: random.Random) -> None:
        self.out, self.rng = out, rng
        self.t_us = T0 * 1_000_000
        self.written = 0
        self.gw = _mac(GW_MAC)

    def packet(self, dev: int, server: bytes, up: bool, proto: int, l4: bytes, data: bytes) -> int:
        """Write one frame; returns its time in ns."""
        client = bytes((192, 168, 50, 21 + 10 * dev))
        src, dst = (client, server) if up else (server, client)
        total = 20 + len(l4) + len(data)
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, total, self.written & 0xFFFF, 0x4000, 64, proto, 0, src, dst
        )
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        cmac = _mac(MACS[dev])
        eth = (self.gw + cmac if up else cmac + self.gw) + b"\x08\x00"
        self.t_us += self.rng.randrange(20, 2000)
        self.out.write(self.t_us * 1000, eth + ip + l4 + data)
        self.written += 1
        return self.t_us * 1000

    def tcp_flow(
        self, dev: int, server: bytes, cport: int, sport: int, exchanges: list[tuple[bytes, bytes]]
    ) -> list[int]:
        """Handshake, each (request, answer) pair (an empty answer: a bare ACK), FIN both ways.
        Returns the time of each request's packet."""
        seq = [self.rng.randrange(1 << 31), self.rng.randrange(1 << 31)]  # client, server
        times = []

        def seg(up: bool, flags: int, data: bytes) -> int:
            me, peer = (0, 1) if up else (1, 0)
            ports = (cport, sport) if up else (sport, cport)
            l4 = struct.pack("!HHIIBBHHH", *ports, seq[me], seq[peer] if flags != 0x02 else 0, 0x50, flags,
                             65535, 0, 0)  # fmt: skip
            seq[me] = (seq[me] + len(data) + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF
            return self.packet(dev, server, up, 6, l4, data)

        seg(True, 0x02, b"")
        seg(False, 0x12, b"")
        seg(True, 0x10, b"")
        for request, answer in exchanges:
            times.append(seg(True, 0x18, request))
            seg(False, 0x18 if answer else 0x10, answer)
        seg(True, 0x11, b"")
        seg(False, 0x11, b"")
        return times

    def dns(self, dev: int, qid: int) -> None:
        """A DNS query alone: fills the last few packets of the count, no personal data."""
        data = dns_query(qid & 0xFFFF, "time.example.cn")
        l4 = struct.pack("!HHHH", 40000 + qid % 20000, 53, 8 + len(data), 0)
        self.packet(dev, bytes((192, 168, 50, 1)), True, 17, l4, data)


def generate(packets: int, out: Path, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    people = personas(rng)
    rows: list[tuple[int, str, str, str, str]] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    flows = 0
    with open(out, "wb") as fh, PcapWriter(fh) as pcap:
        w = Writer(pcap, rng)
        while packets - w.written >= 7:
            dev = rng.randrange(len(MACS))
            form = rng.choices([f for f, _ in FORMS], [p for _, p in FORMS])[0]
            left = packets - w.written
            if form == "mqtt" and left < 9:  # CONNECT and CONNACK take two packets more
                form = "json"
            k = min(rng.randrange(1, 9), (left - 5 - 2 * (form == "mqtt")) // 2)
            server = bytes(
                (
                    rng.choice((47, 106, 121, 203)),
                    rng.randrange(256),
                    rng.randrange(256),
                    rng.randrange(1, 255),
                )
            )
            host = rng.choice(HOSTS)
            ts_ms = w.t_us // 1000
            msgs = [message(rng, people[dev], "json" if form == "mqtt" else form, ts_ms) for _ in range(k)]
            exchanges = [
                (_request(m, form, host, flows, i), b"" if form == "mqtt" else http_ok())
                for i, m in enumerate(msgs)
            ]
            if form == "mqtt":  # CONNECT, CONNACK first
                exchanges.insert(0, (mqtt_connect(f"c-{dev}-{flows}", "device", "pw-secret"), MQTT_CONNACK))
            times = w.tcp_flow(dev, server, 20000 + flows % 40000, 1883 if form == "mqtt" else 80, exchanges)
            carrier = CARRIER.get(form, "http.body")
            for t, m in zip(times[1:] if form == "mqtt" else times, msgs, strict=True):
                places = iter(m.places)
                rows += [
                    (t, MACS[dev], carrier, kind, str(next(places)) if kind == "location" else "")
                    for kind in m.kinds
                ]
            flows += 1
        while w.written < packets:
            w.dns(rng.randrange(len(MACS)), w.written)
    counts = Counter(row[3] for row in rows)
    stem = out.with_suffix("")
    bench = {"lan_prefixes": ["192.168.50.0/24"],
             "devices": {mac: {"name": f"detector lab device {i + 1}", "category": "watch",
                               "persona": {"imei": p["imei"], "serial": p["serial"],
                                           "phone": _spaced(p["mobile"]),
                                           "email": p["email"], "name": p["name"]}}
                         for i, (mac, p) in enumerate(zip(MACS, people, strict=True))}}  # fmt: skip
    Path(f"{stem}.bench.yaml").write_text(
        "# generated by pcaps/synth/generate_detect.py: do not edit, regenerate\n"
        + yaml.safe_dump(bench, sort_keys=False, allow_unicode=True)
    )
    with open(f"{stem}.truth.tsv", "w") as tsv:
        tsv.write("ts_ns\tdevice_mac\tcarrier\tdata_type\tdecimals\n")
        tsv.writelines("\t".join(map(str, row)) + "\n" for row in rows)
    truth = {"generator": "pcaps/synth/generate_detect.py", "seed": seed, "capture": out.name,
             "packets": w.written, "flows": flows, "values": len(rows),
             "counts": dict(sorted(counts.items()))}  # fmt: skip
    Path(f"{stem}.truth.yaml").write_text(yaml.safe_dump(truth, sort_keys=False))
    return truth


def _spaced(mobile: str) -> str:
    """A mobile number as a lab writes it in the bench file: +86 138 0013 8000."""
    return f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}"


def _request(m: Message, form: str, host: str, flow: int, i: int) -> bytes:
    if form == "mqtt":
        return mqtt_publish(f"dev/{flow % 1000}/up", m.body)
    if form == "query":
        return http_get(host, f"/v1/report?{m.body.decode()}", "detect/1.0")
    # a message with nothing personal is written as a form, protobuf or JSON (``detect_payloads._empty``)
    kind = m.form if m.form != "none" else form if form in ("form", "protobuf") else "json"
    return http_post(host, f"/v1/upload/{i}", m.body, "detect/1.0", CTYPES[kind])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--packets", type=int, default=10_000)
    ap.add_argument(
        "--out", type=Path, required=True, help="the pcap to write (bench and truth files beside it)"
    )
    ap.add_argument("--seed", type=int, default=20)
    a = ap.parse_args(argv)
    if a.packets < 1:
        print("error: --packets must be at least 1", file=sys.stderr)
        return 2
    truth = generate(a.packets, a.out, a.seed)
    print(
        f"{a.out}: {truth['packets']} packets, {truth['flows']} flows, {truth['values']} personal-data values"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
