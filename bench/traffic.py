"""Fixed-rate UDP packet generator to soak the appliance (needs root: raw AF_PACKET socket).

    python bench/traffic.py --netns NS --iface IF --pps RATE --seconds S --size BYTES [--flows K]

Frames (Ethernet/IPv4/UDP, ``--size`` bytes on the wire without FCS) are built once, one per flow
(K distinct 5-tuples: source ports 40000..40000+K-1), and sent round-robin on a raw AF_PACKET socket
that bypasses the qdisc. Pacing is by batches against the clock: every round sends exactly the
packets the rate owes by now (at most ``--batch``) and sleeps when ahead, so the count after S seconds
is RATE*S unless the machine cannot keep up (then ``achieved_pps`` says how far it got). ``--pps 0``
sends as fast as possible. With ``--netns`` the script re-executes itself inside the namespace
(``ip netns exec``). Prints JSON: {"sent", "seconds", "achieved_pps", "target_pps", "errors", ...}.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ETH_P_IP = 0x0800
SOL_PACKET = 263
PACKET_QDISC_BYPASS = 20
MIN_SIZE = 14 + 20 + 8  # Ethernet + IPv4 + UDP headers


def _mac(s: str) -> bytes:
    b = bytes.fromhex(s.replace(":", "").replace("-", ""))
    if len(b) != 6:
        raise ValueError(f"bad MAC {s!r}")
    return b


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def build_frame(
    src_mac: bytes, dst_mac: bytes, src_ip: str, dst_ip: str, sport: int, dport: int, size: int, seq: int
) -> bytes:
    """One Ethernet/IPv4/UDP frame of exactly ``size`` bytes, checksums filled in."""
    if size < MIN_SIZE:
        raise ValueError(f"--size must be at least {MIN_SIZE}")
    payload_len = size - MIN_SIZE
    payload = (f"tapaudit-bench flow={seq} ".encode() + bytes(range(256)) * (payload_len // 256 + 1))[
        :payload_len
    ]
    udp_len = 8 + payload_len
    sip, dip = socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
    udp_nock = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    pseudo = sip + dip + struct.pack("!BBH", 0, socket.IPPROTO_UDP, udp_len)
    uck = _csum(pseudo + udp_nock) or 0xFFFF
    udp = struct.pack("!HHHH", sport, dport, udp_len, uck) + payload
    ip_nock = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, seq & 0xFFFF, 0x4000, 64, 17, 0, sip, dip)
    ip = ip_nock[:10] + struct.pack("!H", _csum(ip_nock)) + ip_nock[12:]
    return dst_mac + src_mac + struct.pack("!H", ETH_P_IP) + ip + udp


def generate(
    iface: str,
    pps: float,
    seconds: float,
    size: int,
    flows: int,
    batch: int,
    src_mac: str | None,
    dst_mac: str,
    src_ip: str,
    dst_ip: str,
    dport: int,
) -> dict[str, Any]:
    smac = src_mac or Path(f"/sys/class/net/{iface}/address").read_text().strip()
    frames = [
        build_frame(_mac(smac), _mac(dst_mac), src_ip, dst_ip, 40000 + i, dport, size, i)
        for i in range(flows)
    ]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: send only, receives nothing
    with contextlib.suppress(OSError):  # skip the qdisc: straight to the driver
        sock.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sock.bind((iface, 0))
    send = sock.send
    nflows = len(frames)
    sent = errors = 0
    fi = 0
    perf = time.perf_counter
    start = perf()
    end = start + seconds
    total = int(pps * seconds) if pps > 0 else None
    while True:
        now = perf()
        if now >= end:
            break
        if total is None:
            todo = batch
        else:
            owed = min(total, int((now - start) * pps) + 1)
            todo = min(owed - sent, batch)
            if todo <= 0:
                if sent >= total:
                    break
                # sleep until the next packet is owed (sub-millisecond waits spin)
                wait = (sent / pps) - (now - start)
                if wait > 0.0005:
                    time.sleep(wait - 0.0002)
                continue
        for _ in range(todo):
            try:
                send(frames[fi])
                sent += 1
            except OSError as e:
                if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    raise
                errors += 1
            fi += 1
            if fi == nflows:
                fi = 0
    # the run lasts ``seconds`` even when the packets went out early
    while perf() < end:
        time.sleep(max(0.0, min(0.05, end - perf())))
    elapsed = perf() - start
    sock.close()
    return {
        "sent": sent,
        "seconds": round(elapsed, 6),
        "achieved_pps": round(sent / elapsed, 1) if elapsed > 0 else 0.0,
        "target_pps": pps,
        "errors": errors,
        "size": size,
        "flows": nflows,
        "iface": iface,
        "bits_per_second": round(sent * size * 8 / elapsed) if elapsed > 0 else 0,
    }


def _strip_netns(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--netns":
            skip = True
            continue
        if a.startswith("--netns="):
            continue
        out.append(a)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--netns", help="network namespace to run in (re-executes via `ip netns exec`)")
    ap.add_argument("--iface", required=True, help="interface to send on")
    ap.add_argument("--pps", type=float, required=True, help="packets per second (0: as fast as possible)")
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--size", type=int, default=128, help="frame size in bytes (no FCS), >= 42")
    ap.add_argument("--flows", type=int, default=1, help="distinct 5-tuples (source ports)")
    ap.add_argument("--batch", type=int, default=256, help="most packets sent per pacing round")
    ap.add_argument("--src-mac", help="default: the interface's MAC")
    ap.add_argument("--dst-mac", default="ff:ff:ff:ff:ff:ff", help="default broadcast (a bridge floods it)")
    ap.add_argument("--src-ip", default="10.77.0.200")
    ap.add_argument("--dst-ip", default="10.77.0.250", help="default: unused in the lab (no replies)")
    ap.add_argument("--dport", type=int, default=9)
    a = ap.parse_args(argv)
    if a.flows < 1 or a.flows > 25535:
        ap.error("--flows must be 1..25535")
    if a.netns and os.environ.get("TRAFFIC_NETNS") != a.netns:
        env = dict(os.environ, TRAFFIC_NETNS=a.netns)
        cmd = [
            "ip",
            "netns",
            "exec",
            a.netns,
            sys.executable,
            str(Path(__file__).resolve()),
            *_strip_netns(argv),
        ]
        return subprocess.run(cmd, env=env, check=False).returncode
    res = generate(
        a.iface, a.pps, a.seconds, a.size, a.flows, a.batch, a.src_mac, a.dst_mac, a.src_ip, a.dst_ip, a.dport
    )
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
