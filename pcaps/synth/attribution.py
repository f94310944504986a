"""A small capture whose devices must be found without their MACs: one address, two owners.

Three devices behind a gateway (issue 15). A gets 192.168.77.50 by DHCP, talks to cloud A and
releases the address; then B gets the same address by DHCP and talks to cloud B. C has a static
address (192.168.77.60, which only the bench file names) and talks MQTT to its broker. The same
IP packets are written three ways: Ethernet (every frame names its MAC), raw IP (link type 101,
as a phone's VPN app or a router's tunnel captures: no MACs, but the DHCP messages still name
each client's hardware address in ``chaddr``) and raw IP without the DHCP messages. ``truth``
lists every flow with the device it belongs to, its remote end and its IP bytes each way, from
the generator's own bookkeeping, and the bench file the lab would write.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from parsers.capture_write import write_pcap

T0 = 1_700_000_000 * 10**9
NS = 10**9
GATEWAY = ("c0:ff:ee:00:00:01", "192.168.77.1")
A = "a4:77:33:00:00:0a"
B = "b8:27:eb:00:00:0b"
C = "dc:a6:32:00:00:0c"
SHARED = "192.168.77.50"  # A's, then B's
STATIC = "192.168.77.60"  # C's, named by the bench file only
CLOUD_A, CLOUD_B, BROKER = "203.0.113.10", "198.51.100.20", "203.0.113.30"
LINKTYPE_RAW = 101


class _Capture:
    """Frames in time order, and the flows they make, as the generator meant them."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, Packet]] = []
        self.flows: list[dict[str, Any]] = []
        self.sport = 40000

    def add(self, t: float, frame: Packet) -> None:
        self.frames.append((T0 + int(t * NS), frame))

    def dhcp(self, t: float, mac: str, kind: str, ip: str) -> None:
        """A client's exchange: discover, offer, request, ack (mask /24); or its release."""
        chaddr = bytes.fromhex(mac.replace(":", ""))
        gw_mac, gw_ip = GATEWAY
        if kind == "release":
            msg = BOOTP(op=1, chaddr=chaddr, ciaddr=ip, xid=7) / DHCP(
                options=[("message-type", "release"), ("server_id", gw_ip), "end"]
            )
            self.add(t, Ether(src=mac, dst=gw_mac) / IP(src=ip, dst=gw_ip) / UDP(sport=68, dport=67) / msg)
            return
        steps = (("discover", 1, "0.0.0.0"), ("offer", 2, ip), ("request", 1, "0.0.0.0"), ("ack", 2, ip))
        for i, (mtype, op, yiaddr) in enumerate(steps):
            opts: list[Any] = [("message-type", mtype)]
            if op == 2:
                opts += [("server_id", gw_ip), ("subnet_mask", "255.255.255.0"), ("router", gw_ip)]
            msg = BOOTP(op=op, chaddr=chaddr, yiaddr=yiaddr, xid=len(self.frames)) / DHCP(
                options=[*opts, "end"]
            )
            if op == 1:
                frame = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
                frame = frame / UDP(sport=68, dport=67) / msg
            else:
                frame = Ether(src=gw_mac, dst=mac) / IP(src=gw_ip, dst=ip) / UDP(sport=67, dport=68) / msg
            self.add(t + i * 0.01, frame)

    def tcp(self, t: float, mac: str, ip: str, remote: str, port: int, up: int, down: int) -> None:
        """A connection from the device: handshake, ``up`` bytes sent, ``down`` received, FINs."""
        gw_mac = GATEWAY[0]
        sport = self.sport = self.sport + 1
        out_ = Ether(src=mac, dst=gw_mac) / IP(src=ip, dst=remote)
        in_ = Ether(src=gw_mac, dst=mac) / IP(src=remote, dst=ip)
        seq, ack = 1000, 5000
        frames = [
            (True, TCP(sport=sport, dport=port, flags="S", seq=seq)),
            (False, TCP(sport=port, dport=sport, flags="SA", seq=ack, ack=seq + 1)),
            (True, TCP(sport=sport, dport=port, flags="A", seq=seq + 1, ack=ack + 1)),
            (True, TCP(sport=sport, dport=port, flags="PA", seq=seq + 1, ack=ack + 1) / Raw(b"u" * up)),
            (
                False,
                TCP(sport=port, dport=sport, flags="PA", seq=ack + 1, ack=seq + 1 + up) / Raw(b"d" * down),
            ),
            (True, TCP(sport=sport, dport=port, flags="FA", seq=seq + 1 + up, ack=ack + 1 + down)),
            (False, TCP(sport=port, dport=sport, flags="FA", seq=ack + 1 + down, ack=seq + 2 + up)),
            (True, TCP(sport=sport, dport=port, flags="A", seq=seq + 2 + up, ack=ack + 2 + down)),
        ]
        sent = received = 0
        for i, (up_, seg) in enumerate(frames):
            frame = (out_ if up_ else in_) / seg
            self.add(t + i * 0.01, frame)
            size = len(frame[IP])
            sent, received = (sent + size, received) if up_ else (sent, received + size)
        self.flows.append(
            {"device": mac, "local_ip": ip, "remote_ip": remote, "remote_port": port, "start_s": t,
             "bytes_sent": sent, "bytes_received": received}
        )  # fmt: skip


def build() -> _Capture:
    cap = _Capture()
    cap.dhcp(1.0, A, "ack", SHARED)
    for k in range(3):
        cap.tcp(2.0 + 5 * k, A, SHARED, CLOUD_A, 443, 300 + 10 * k, 900)
    cap.tcp(5.0, C, STATIC, BROKER, 8883, 120, 40)
    cap.dhcp(30.0, A, "release", SHARED)
    cap.dhcp(40.0, B, "ack", SHARED)
    for k in range(2):
        cap.tcp(41.0 + 5 * k, B, SHARED, CLOUD_B, 443, 700 + k, 2000)
    cap.tcp(50.0, C, STATIC, BROKER, 8883, 130, 40)
    cap.frames.sort(key=lambda x: x[0])
    return cap


def _ethernet(cap: _Capture) -> Iterator[tuple[int, bytes]]:
    return ((ts, bytes(f)) for ts, f in cap.frames)


def _raw(cap: _Capture, dhcp: bool) -> Iterator[tuple[int, bytes]]:
    for ts, f in cap.frames:
        if dhcp or DHCP not in f:
            yield ts, bytes(f[IP])


def write(out_dir: Path) -> dict[str, Any]:
    """Write the three captures into ``out_dir``; the ground truth: file paths, every flow as the
    generator made it, the bench file the lab would write (as a mapping), the addresses."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cap = build()
    files = {
        "ethernet": (out_dir / "attribution-ethernet.pcap", _ethernet(cap), 1),
        "raw": (out_dir / "attribution-raw.pcap", _raw(cap, True), LINKTYPE_RAW),
        "raw_no_dhcp": (out_dir / "attribution-raw-no-dhcp.pcap", _raw(cap, False), LINKTYPE_RAW),
    }
    for path, packets, linktype in files.values():
        with path.open("wb") as fh:
            write_pcap(fh, packets, linktype)
    bench = {"devices": {A: {"name": "device A"}, B: {"name": "device B"},
                         C: {"name": "device C", "addresses": [STATIC]}}}  # fmt: skip
    truth = {"files": {k: str(v[0]) for k, v in files.items()}, "flows": cap.flows, "bench": bench,
             "shared": SHARED, "static": STATIC, "devices": {"A": A, "B": B, "C": C}}  # fmt: skip
    return truth
