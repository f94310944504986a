"""Live capture on a veth pair: exact counts through a BPF filter, no drops, errors, throughput.

One veth end stays in the root namespace (the test captures there); its peer
lives in a fresh network namespace from which packets are sent.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.live.ring import Ring
from appliance.live.source import LiveCaptureError, LiveSource
from parsers.capture import ReadStats, read_pcap
from tests.support.paths import ROOT

pytestmark = [
    pytest.mark.xdist_group("netns"),
    pytest.mark.root,  # live capture on a veth pair: netns, CAP_NET_RAW
]

PORT = 9999


@dataclass
class Veth:
    ns: str
    cap: str  # capture end, root namespace
    peer: str  # sender end, inside ns
    cap_ip: str = "10.201.0.1"
    peer_ip: str = "10.201.0.2"

    def send(self, count: int, size: int = 100, procs: int = 1, port: int = PORT) -> None:
        """Send count UDP datagrams (in total) to the capture end from inside the namespace."""
        code = textwrap.dedent(
            f"""
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            p = b"x" * {size}
            a = ({self.cap_ip!r}, {port})
            for _ in range({count // procs}):
                s.sendto(p, a)
            """
        )
        ps = [
            subprocess.Popen(["ip", "netns", "exec", self.ns, sys.executable, "-c", code])
            for _ in range(procs)
        ]
        for p in ps:
            assert p.wait(timeout=120) == 0


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True, timeout=30)


@pytest.fixture
def veth() -> Iterator[Veth]:
    sfx = secrets.token_hex(3)
    v = Veth(ns=f"tapaudit-lc-{sfx}", cap=f"lca{sfx}", peer=f"lcb{sfx}")
    try:
        _ip("netns", "add", v.ns)
        _ip("link", "add", v.cap, "type", "veth", "peer", "name", v.peer)
        _ip("link", "set", v.peer, "netns", v.ns)
        _ip("-n", v.ns, "addr", "add", f"{v.peer_ip}/24", "dev", v.peer)
        _ip("-n", v.ns, "link", "set", v.peer, "up")
        _ip("-n", v.ns, "link", "set", "lo", "up")
        # a static neighbour entry: the sender never waits on ARP, and the capture end needs no address
        _ip("-n", v.ns, "neigh", "add", v.cap_ip, "lladdr", "02:00:00:00:00:01", "dev", v.peer)
        _ip("link", "set", v.cap, "address", "02:00:00:00:00:01")
        _ip("link", "set", v.cap, "up")
        # no IPv6 on the capture end: nothing in the root namespace reacts to the test traffic
        subprocess.run(["sysctl", "-qw", f"net.ipv6.conf.{v.cap}.disable_ipv6=1"], capture_output=True)
        yield v
    finally:
        _ip("link", "del", v.cap, check=False)
        _ip("netns", "del", v.ns, check=False)


def drain(src: LiveSource, want: int, limit_s: float = 10.0) -> list[tuple[int, int, int, bytes]]:
    got: list[tuple[int, int, int, bytes]] = []
    end = time.monotonic() + limit_s
    while len(got) < want and time.monotonic() < end:
        got += src.read()
    # anything extra that was still in flight
    while more := src.read():
        got += more
    return got


def test_exact_count_filter_and_stats(veth: Veth, tmp_path: Path) -> None:
    k = 500
    with LiveSource(veth.cap, bpf=f"udp port {PORT}", timeout_ms=50) as src:
        assert src.linktype == 1
        assert src.read() == []  # nothing yet: returns after the timeout
        veth.send(50, port=PORT + 1)  # filtered out
        t_send = time.time_ns()
        veth.send(k)
        got = drain(src, k)
        st = src.stats()
        ring = Ring(str(tmp_path), 1, 5, src.linktype, src.snaplen, veth.cap)
        ring.write(got)
        ring.close()
    assert len(got) == k
    assert st.received == k and st.dropped == 0 and st.if_dropped == 0
    assert st.iface_rx_dropped == 0
    for ts, lt, wire, data in got:
        assert lt == 1 and wire == len(data) == 14 + 20 + 8 + 100
        assert data[12:14] == b"\x08\x00" and int.from_bytes(data[36:38], "big") == PORT
        assert abs(ts - t_send) < 30 * 1_000_000_000
        assert ts % 1000 == 0  # microsecond timestamps scaled to ns
    assert [p[0] for p in got] == sorted(p[0] for p in got)
    # the evidence file holds them all, byte for byte
    rst = ReadStats()
    back = [(t, lt, w, bytes(d)) for f in ring.files for t, lt, w, d in read_pcap(f, rst)]
    assert back == got and not rst.truncated


def test_counters_ignore_traffic_before_the_filter(veth: Veth) -> None:
    """Noise that arrives while the handle is opened (before setfilter) is not counted."""
    noise = threading.Thread(target=veth.send, args=(300_000, 100, 1, PORT + 1))
    noise.start()
    try:
        time.sleep(0.3)
        sources = [LiveSource(veth.cap, bpf=f"udp port {PORT}", timeout_ms=50) for _ in range(5)]
    finally:
        noise.join()
    k = 200
    veth.send(k)
    for src in sources:
        got = drain(src, k)
        st = src.stats()
        src.close()
        assert len(got) == k and all(int.from_bytes(d[36:38], "big") == PORT for *_x, d in got)
        assert (st.received, st.dropped, st.if_dropped) == (k, 0, 0)


def test_read_returns_after_timeout(veth: Veth) -> None:
    with LiveSource(veth.cap, bpf=f"udp port {PORT}", timeout_ms=100) as src:
        for _ in range(3):
            t = time.monotonic()
            assert src.read() == []
            took = time.monotonic() - t
            assert 0.05 < took < 0.5, took


def test_latency_of_a_single_packet(veth: Veth) -> None:
    """Without immediate mode a packet still comes out within about timeout_ms."""
    with LiveSource(veth.cap, bpf=f"udp port {PORT}", timeout_ms=100) as src:
        veth.send(1)
        t = time.monotonic()
        got: list[tuple[int, int, int, bytes]] = []
        while not got and time.monotonic() - t < 2:
            got = src.read()
        assert len(got) == 1
        assert time.monotonic() - t < 0.5


def test_snapped_capture_keeps_wire_length(veth: Veth) -> None:
    with LiveSource(veth.cap, bpf=f"udp port {PORT}", snaplen=64, timeout_ms=50) as src:
        veth.send(20, size=1000)
        got = drain(src, 20)
    assert len(got) == 20
    assert all(len(d) == 64 and w == 14 + 20 + 8 + 1000 for _t, _l, w, d in got)


def test_bad_filter_and_missing_interface(veth: Veth) -> None:
    with pytest.raises(LiveCaptureError) as ei:
        LiveSource(veth.cap, bpf="udp port")
    msg = str(ei.value)
    assert "\n" not in msg and "bad BPF filter 'udp port'" in msg and "syntax error" in msg
    with pytest.raises(LiveCaptureError) as ei:
        LiveSource(veth.cap, bpf="udp port 99999")
    assert "\n" not in str(ei.value) and "99999" in str(ei.value)
    with pytest.raises(LiveCaptureError) as ei:
        LiveSource("nosuch" + secrets.token_hex(3))
    assert str(ei.value).startswith("no such interface: nosuch") and "\n" not in str(ei.value)


def test_permission_denied_without_capabilities(veth: Veth) -> None:
    code = (
        "from appliance.live.source import LiveSource, LiveCaptureError\n"
        f"try:\n    LiveSource({veth.cap!r})\nexcept LiveCaptureError as e:\n    print(e)\n"
    )
    r = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    if r.returncode != 0 and "setpriv" in r.stderr:
        pytest.skip(f"setpriv unavailable: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip()
    assert out == f"{veth.cap}: permission denied: live capture needs CAP_NET_RAW and CAP_NET_ADMIN (or root)"


def test_throughput(veth: Veth, capsys: pytest.CaptureFixture[str]) -> None:
    """Packets/s through LiveSource.read while several senders blast 100-byte datagrams."""
    k = 400_000
    procs = min(4, os.cpu_count() or 1) or 1
    with LiveSource(veth.cap, bpf=f"udp port {PORT}", timeout_ms=50, buffer_mb=256) as src:
        th = threading.Thread(target=veth.send, args=(k, 100, procs))
        th.start()
        n = 0
        t0 = c0 = 0.0
        t1 = c1 = 0.0
        end = time.monotonic() + 60
        while time.monotonic() < end:
            b = src.read()
            if b:
                if not n:
                    t0, c0 = time.monotonic(), time.process_time()
                n += len(b)
                t1, c1 = time.monotonic(), time.process_time()
            elif not th.is_alive():
                break
        th.join()
        while more := src.read():  # a last partly filled block is handed over on the timer
            n += len(more)
        st = src.stats()
    sent = (k // procs) * procs
    rate = n / (t1 - t0) if t1 > t0 else 0.0
    cpu_us = (c1 - c0) / n * 1e6 if n else 0.0
    with capsys.disabled():
        print(
            f"\nlivecap throughput: {n}/{sent} packets, {rate:,.0f} packets/s, "
            f"{cpu_us:.2f} us CPU/packet (capture process), "
            f"stats received={st.received} dropped={st.dropped} iface_rx_dropped={st.iface_rx_dropped}"
        )
    assert st.received == n  # everything libpcap accepted came out of read()
    assert n >= sent * 0.5  # the sender can overrun the veth backlog on a small box; drops are counted
