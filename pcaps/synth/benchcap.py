"""The large benchmark capture: N packets over ~20k lab flows, streamed to disk.

Each flow is a TCP connection (handshake, data both ways, FIN both ways) or a UDP
exchange between a lab device and a remote server; flows overlap in time as on a
busy test LAN. Headers are packed per packet from per-flow templates, so a million
packets take seconds and constant memory. The first data each way is what the port
promises, so the dissectors do real work: a TLS ClientHello (with SNI) and a
ServerHello, an HTTP request and response, DNS queries and answers.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

import yaml

from parsers.capture_write import PcapWriter
from pcaps.synth.frames import dns_answer, dns_query, http_ok, http_post, tls_client_hello
from pcaps.synth.hosts import GW_MAC, T0

MACS = [
    "e0:06:30:5a:11:21",
    "80:41:4e:7c:22:31",
    "cc:eb:5e:3b:33:41",
    "18:c2:3c:44:44:51",
    "64:f2:fb:66:55:61",
    "20:ff:36:77:66:71",
]
NAMES = [
    "api.io.mi.com",
    "health-api.cloud.huawei.com",
    "ulogs.umeng.com",
    "open.ys7.com",
    "iat-api.xfyun.cn",
]
PKTS_PER_FLOW = 50
CONCURRENT = 64
ETH_IP = 0x0800


def _csum(header: bytes) -> int:
    s = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _mac(text: str) -> bytes:
    return bytes(int(x, 16) for x in text.split(":"))


class _Flow:
    __slots__ = (
        "client",
        "cmac",
        "cport",
        "greeted",
        "n",
        "name",
        "proto",
        "sent",
        "seq_c",
        "seq_s",
        "server",
        "sport",
    )

    def __init__(self, rng: random.Random, i: int, n: int) -> None:
        dev = i % len(MACS)
        self.cmac = _mac(MACS[dev])
        self.client = bytes((192, 168, 50, 21 + 10 * dev))
        self.server = bytes(
            (
                rng.choice((47, 106, 111, 115, 121, 142, 203)),
                rng.randrange(256),
                rng.randrange(256),
                rng.randrange(1, 255),
            )
        )
        self.cport = 20000 + i % 40000
        self.proto = 17 if rng.random() < 0.15 else 6
        self.sport = 53 if self.proto == 17 and rng.random() < 0.3 else (443 if rng.random() < 0.8 else 80)
        self.n = n
        self.sent = 0
        self.seq_c, self.seq_s = rng.randrange(1 << 31), rng.randrange(1 << 31)
        self.name = NAMES[i % len(NAMES)]
        self.greeted = 0  # first payloads written: 1 client, 2 server


def _server_hello(rng: random.Random) -> bytes:
    """ServerHello choosing TLS 1.3 (TLS_AES_128_GCM_SHA256), then ChangeCipherSpec."""
    ext = struct.pack("!HHH", 43, 2, 0x0304)
    body = b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32) + b"\x13\x01\x00"
    body += struct.pack("!H", len(ext)) + ext
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs + b"\x14\x03\x03\x00\x01\x01"


def _payload(f: _Flow, up: bool, size: int, rng: random.Random) -> bytes:
    """The flow's first bytes each way speak the port's protocol; the rest is opaque."""
    if f.proto == 17:
        qid = (f.sent // 2) & 0xFFFF  # an answer echoes its query's id
        return dns_query(qid, f.name) if up else dns_answer(qid, f.name, [f.server])
    if up and not f.greeted & 1:
        f.greeted |= 1
        if f.sport == 443:
            return tls_client_hello(f.name, rng)
        return http_post(f.name, "/v1/report", b'{"s":1}', "bench/1.0")
    if not up and f.greeted == 1:
        f.greeted |= 2
        return _server_hello(rng) if f.sport == 443 else http_ok()
    return bytes(size)


def _frame(f: _Flow, k: int, rng: random.Random) -> bytes:
    """The k-th packet of a flow: its direction, flags and size follow a TCP life cycle."""
    gw = _mac(GW_MAC)
    last = f.n - 1
    if f.proto == 6:
        if k == 0:
            up, flags, size = True, 0x02, 0
        elif k == 1:
            up, flags, size = False, 0x12, 0
        elif k == 2:
            up, flags, size = True, 0x10, 0
        elif k == last - 1:
            up, flags, size = True, 0x11, 0
        elif k == last:
            up, flags, size = False, 0x11, 0
        else:
            up = k % 3 != 0 or k == 3  # the client speaks first
            flags, size = (
                0x18,
                rng.choice((0, 64, 300, 517, 1200, 1448, 1448, 1448)) if up else rng.choice((0, 1448)),
            )
        data = _payload(f, up, size, rng) if size else b""
        size = len(data)
        l4 = struct.pack(
            "!HHIIBBHHH",
            *((f.cport, f.sport) if up else (f.sport, f.cport)),
            f.seq_c if up else f.seq_s,
            f.seq_s if up else f.seq_c,
            0x50,
            flags,
            65535,
            0,
            0,
        )
        step = size + (1 if flags & 0x03 else 0)  # SYN and FIN take a sequence number
        if up:
            f.seq_c = (f.seq_c + step) & 0xFFFFFFFF
        else:
            f.seq_s = (f.seq_s + step) & 0xFFFFFFFF
    else:
        up = k % 2 == 0
        data = _payload(f, up, 0, rng) if f.sport == 53 else bytes(rng.choice((48, 120, 300, 900)))
        size = len(data)
        l4 = struct.pack("!HHHH", *((f.cport, f.sport) if up else (f.sport, f.cport)), 8 + size, 0)
    src, dst = (f.client, f.server) if up else (f.server, f.client)
    total = 20 + len(l4) + size
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, k & 0xFFFF, 0x4000, 64, f.proto, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    eth = (gw + f.cmac if up else f.cmac + gw) + struct.pack("!H", ETH_IP)
    return eth + ip + l4 + data


def write_bench_capture(out_dir: Path, packets: int, seed: int) -> dict[str, Any]:
    """Write lab-N.pcap and lab-N.truth.yaml; returns the truth."""
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"lab-{packets}.pcap"
    nflows = 0
    active: list[_Flow] = []
    t_us = T0 * 1_000_000
    first = 0
    written = 0
    with open(path, "wb") as fh, PcapWriter(fh) as out:
        while written < packets:
            while len(active) < CONCURRENT:
                left = packets - written - sum(f.n - f.sent for f in active)
                if left <= 0:
                    break
                n = min(PKTS_PER_FLOW + rng.randrange(-20, 21), left)
                if n < 6:  # too short for a TCP life cycle: a small UDP exchange
                    f = _Flow(rng, nflows, n)
                    f.proto, f.sport = 17, 53
                else:
                    f = _Flow(rng, nflows, n)
                active.append(f)
                nflows += 1
            f = active[rng.randrange(len(active))]
            data = _frame(f, f.sent, rng)
            f.sent += 1
            if f.sent == f.n:
                active.remove(f)
            t_us += rng.randrange(1, 400)
            first = first or t_us
            out.write(t_us * 1000, data)
            written += 1
    truth = {
        "generator": "pcaps/synth/generate_lab.py",
        "seed": seed,
        "capture": path.name,
        "packets": written,
        "flows": nflows,
        "first_ts": first / 1e6,
        "last_ts": t_us / 1e6,
    }
    (out_dir / f"lab-{packets}.truth.yaml").write_text(yaml.safe_dump(truth, sort_keys=False))
    return truth
