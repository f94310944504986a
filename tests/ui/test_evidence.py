"""tapaudit evidence: exactly the packets behind a finding, and the frame decoder it keys them with."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import dpkt
import pytest
from scapy.contrib.gtp import GTP_U_Header, GTPEchoRequest
from scapy.layers.inet import GRE, ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
)
from scapy.layers.l2 import CookedLinux, Dot1AD, Dot1Q, Ether
from scapy.layers.ppp import PPP, PPPoE
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw

from appliance.findings.evidence import EvidenceError, export
from appliance.ingest.replay import ReplayOptions, replay
from appliance.store.backends import open_store
from parsers.capture import read_pcap
from parsers.flowkey import FrameKeys, Keyed, decode, undirected
from parsers.ipfrag import TIMEOUT_NS
from parsers.meter import FlowMeter
from tests.support import capwriter
from tests.support.paths import LAB
from tests.support.run import cli, lab_options

LAB_PCAP = LAB / "lab.pcapng"
T = 1_772_442_000 * 1_000_000_000
FID = "e1de0ce012345678"
ALL = "a11f1005a11f1005"


# ---- the decoder agrees with the meter ---------------------------------------------------------


class MeterKeys:
    """The meter itself as the oracle: the key of the flow one frame opens in an empty flow table."""

    def __init__(self) -> None:
        self.m = FlowMeter(lambda _a: True, inventory={}, sessions=False)

    def key(self, ts: int, lt: int, data: bytes) -> tuple[Any, int] | None:
        self.m.table.clear()
        self.m.feed(ts, lt, len(data), data)
        self.m.events.clear()
        if not self.m.table:
            return None
        f, _up = next(iter(self.m.table.values()))
        return undirected((f.proto, f.a, f.ap, f.b, f.bp)), f.vlan


def _agree(packets: list[tuple[int, int, bytes]]) -> int:
    """Feed frames to both; every frame the meter accounts gets the meter's key, and only those."""
    meter, keys = MeterKeys(), FrameKeys[int]()
    accounted = 0
    for i, (ts, lt, data) in enumerate(packets):
        want = meter.key(ts, lt, data)
        got = keys.add(ts, lt, data, i)
        assert (got is None) == (want is None), (i, data.hex(), want, got)
        if got is not None and want is not None:
            assert (undirected(got[0]), got[1]) == want, (i, data.hex())
            assert got[2][-1] == i
            accounted += 1
    return accounted


def test_frame_keys_agree_with_the_meter_on_every_lab_packet() -> None:
    packets = [(ts, lt, bytes(data)) for ts, lt, _orig, data in read_pcap(str(LAB_PCAP))]
    assert len(packets) > 8000
    accounted = _agree(packets)
    # ARP is the only traffic of the lab that is not a flow; three fragments are one datagram
    arp = sum(1 for _ts, _lt, d in packets if d[12:14] == b"\x08\x06")
    assert accounted == len(packets) - arp - 2


def _eth(p: Any, etype: int | None = None) -> bytes:
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    if etype is not None:
        eth.type = etype
    return bytes(eth / p)


def _nested(p: Packet, times: int) -> Packet:
    for i in range(times):
        p = IP(src=f"10.8.{i}.1", dst=f"10.8.{i}.2", proto=4) / p
    return p


def test_frame_keys_agree_with_the_meter_on_edge_frames() -> None:
    a, b, a6, b6 = "192.168.1.2", "8.8.8.8", "fd00::2", "2001:db8::8"
    big = IP(src=a, dst=b, id=77) / UDP(sport=5000, dport=6000) / Raw(b"x" * 3000)
    big6 = IPv6(src=a6, dst=b6) / IPv6ExtHdrFragment(id=99) / UDP(sport=7, dport=9) / Raw(b"y" * 3000)
    tso = IP(src=a, dst=b) / TCP(sport=1, dport=2, flags="A") / Raw(b"z" * 10)
    tso_bytes = bytearray(bytes(tso))
    tso_bytes[2:4] = b"\x00\x00"  # total length 0, as offloaded captures show it
    sll = CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=b"\x02" * 6 + b"\0\0", proto=0x800)
    pppoe = PPPoE(sessionid=1) / PPP(proto=0x21)
    frames: list[tuple[int, bytes]] = [
        (1, _eth(IP(src=a, dst=b) / TCP(sport=40000, dport=443, flags="S"))),
        (1, _eth(IP(src=b, dst=a) / TCP(sport=443, dport=40000, flags="SA"))),
        (1, _eth(Dot1Q(vlan=20) / IP(src=a, dst=b) / UDP(sport=1, dport=2) / Raw(b"v"))),
        (1, _eth(Dot1AD(vlan=30) / Dot1Q(vlan=40) / IP(src=a, dst=b) / UDP(sport=3, dport=4))),
        (1, _eth(Dot1Q(vlan=5) / pppoe / IP(src=a, dst=b) / UDP(sport=5, dport=6))),
        (
            1,
            _eth(pppoe / IP(src=a, dst=b) / UDP(sport=5, dport=6) / Raw(b"p" * 20)),
        ),  # untagged PPPoE
        (1, _eth(IP(src=a, dst=b) / ICMP(type=8, id=1) / Raw(b"ping"))),
        (1, _eth(IP(src=b, dst=a) / ICMP(type=0, id=1) / Raw(b"ping"))),
        (1, _eth(IP(src=b, dst=a) / ICMP(type=3, code=3) / Raw(b"\0" * 28))),
        (1, _eth(IPv6(src=a6, dst=b6) / ICMPv6EchoRequest(id=3))),
        (1, _eth(IPv6(src=a6, dst=b6) / IPv6ExtHdrHopByHop() / UDP(sport=11, dport=12) / Raw(b"h"))),
        (1, _eth(IP(src=a, dst=b) / GRE() / Raw(b"g" * 30))),
        (1, _eth(Raw(bytes(IP(src=a, dst=b) / TCP(sport=1, dport=2))[:22]), 0x800)),  # 2 bytes of TCP
        (1, _eth(IP(src=a, dst=b, proto=17) / Raw(b"\0" * 6))),  # UDP header cut: dropped
        (1, _eth(Raw(bytes(tso_bytes)), 0x800)),
        (1, bytes(Ether(type=0x0800) / Raw(b"\x45" + b"\0" * 10))),  # short frame, cut IPv4 header
        (101, bytes(IP(src=a, dst=b) / UDP(sport=13, dport=14))),
        (101, bytes(IPv6(src=a6, dst=b6) / UDP(sport=15, dport=16))),
        (113, bytes(sll / IP(src=a, dst=b) / TCP(sport=17, dport=18))),
        (0, b"\x02\0\0\0" + bytes(IP(src=a, dst=b) / UDP(sport=19, dport=20))),
        (127, b"\0" * 60),  # 802.11 radiotap: not read
        # tunnels: keyed by the packet they carry, with its VLAN when it is an Ethernet frame
        (1, _eth(IP(src=a, dst=b) / GRE(key_present=1, key=5) / IP(src=a, dst=b) / UDP(sport=21, dport=22))),
        (1, _eth(IP(src=a, dst=b) / UDP(sport=40000, dport=4789) / VXLAN() / Ether() / IP() / UDP(dport=23))),
        (
            1,
            _eth(
                IP(src=a, dst=b) / UDP(sport=2152, dport=2152) / GTP_U_Header(gtp_type=255) / IPv6() / TCP()
            ),
        ),
        (
            1,
            _eth(IP(src=a, dst=b) / UDP(sport=2152, dport=2152) / GTP_U_Header() / GTPEchoRequest()),
        ),  # outer
        (1, _eth(IPv6(src=a6, dst=b6, nh=4) / IP(src=a, dst=b) / UDP(sport=25, dport=26))),
        (101, bytes(IP(src=a, dst=b) / GRE(proto=0x6558) / Ether() / Dot1Q(vlan=33) / IP() / UDP(sport=27))),
        (1, _eth(_nested(IP(src=a, dst=b) / UDP(sport=29, dport=30), 5))),  # opened 3 deep, then a flow
    ]
    for frag in reversed(fragment(big, fragsize=1480)):  # out of order: the first piece completes it
        frames.append((1, _eth(frag)))
    raw6 = bytes(big6[IPv6ExtHdrFragment].payload)
    for off, more in ((1448, 0), (0, 1), (2896, 0)):  # a duplicate ending before the gap is filled
        piece = IPv6(src=a6, dst=b6) / IPv6ExtHdrFragment(id=99, nh=17, offset=off // 8, m=more)
        frames.append((1, _eth(piece / Raw(raw6[off : off + 1448] if off < 2896 else raw6[off:]))))
    frames.append(
        (
            1,
            _eth(
                IPv6(src=a6, dst=b6)
                / IPv6ExtHdrFragment(id=99, nh=17, offset=181, m=0)
                / Raw(raw6[1448:2896])
            ),
        )
    )
    accounted = _agree([(T + i * 1000, lt, data) for i, (lt, data) in enumerate(frames)])
    assert accounted == len(frames) - 4 - 2 - 3  # 4 dropped; 3 IPv4 and 4 IPv6 fragments make 2


def test_fragments_of_a_datagram_are_its_packet() -> None:
    big = IP(src="10.0.0.1", dst="10.0.0.2", id=5) / UDP(sport=1, dport=2) / Raw(b"q" * 4000)
    keys = FrameKeys[str]()
    got = [keys.add(T + i, 1, _eth(f), f"frame{i}") for i, f in enumerate(fragment(big, fragsize=1480))]
    assert got[:-1] == [None, None]
    last = got[-1]
    assert last is not None
    assert last[0][0] == 17 and last[0][2] == 1 and last[2] == ["frame0", "frame1", "frame2"]
    # a piece that waited longer than the reassembly timeout starts the datagram afresh
    keys = FrameKeys[str]()
    f0, f1, f2 = fragment(big, fragsize=1480)
    assert keys.add(T, 1, _eth(f0), "old") is None
    assert keys.add(T + TIMEOUT_NS + 1, 1, _eth(f1), "b") is None
    assert keys.add(T + TIMEOUT_NS + 2, 1, _eth(f2), "c") is None  # the first piece is gone
    done = keys.add(T + TIMEOUT_NS + 3, 1, _eth(f0), "a")
    assert done is not None and done[2] == ["b", "c", "a"]


def test_ipv6_extension_header_cut_short_gives_no_key() -> None:
    # (the meter's loop does not end on this frame: it is not fed to the meter here)
    head = bytes(IPv6(src="fd00::1", dst="fd00::2", nh=0, plen=8))
    assert decode(1, _eth(Raw(head + b"\x11\x00"), 0x86DD)) is None
    ok = decode(1, _eth(IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrHopByHop() / UDP(sport=1, dport=2)))
    assert isinstance(ok, Keyed) and ok.key[0] == 17


# ---- exports from the lab --------------------------------------------------------------------


def _flows(store: Any, cid: str) -> list[dict[str, Any]]:
    return store.query(
        "SELECT flow_id, proto, src_ip, src_port, dst_ip, dst_port, vlan, first_ns, last_ns, segment,"
        " pkts_up + pkts_down AS pkts FROM {db}.flows WHERE capture_id = %(c)s ORDER BY first_ns, flow_id",
        {"c": cid},
    )


def _insert_finding(store: Any, cid: str, fid: str, flow_ids: list[int], rule: str = "TEST-EVIDENCE") -> None:
    sql = "SELECT max(ingest_id) AS i FROM {db}.captures WHERE capture_id = %(c)s"
    ingest = int(store.query(sql, {"c": cid})[0]["i"])
    # into the capture's current assessment, if it has one: a newer one would replace it
    sql = "SELECT max(assess_id) AS a FROM {db}.findings WHERE capture_id = %(c)s"
    assess_id = int(store.query(sql, {"c": cid})[0]["a"] or 0) or time.time_ns()
    fact = f"test:{fid}"
    head = (cid, ingest, assess_id, fid, "80:41:4e:7c:22:31", rule, fact, "test", "1", "", "", "high", [])
    store.insert(
        "findings", [(*head, "the packets", "", json.dumps({"subject": "x"}), flow_ids, 0, 0, [], 0)]
    )


def _chosen(store: Any, cid: str) -> list[dict[str, Any]]:
    """A finding of our own on chosen flows (FID): the structures a finding's flows can have.

    One record of a 5-tuple that has three (the children's watch's MQTT session, cut by
    the active timeout), the camera's fragmented datagram, the tablet's flow on VLAN 20,
    an ICMP echo, and a TLS connection.
    """
    flows = _flows(store, cid)
    mqtt = [f for f in flows if f["dst_ip"] == "47.96.17.102"]
    assert [f["segment"] for f in mqtt] == [0, 1, 2]
    pick = [mqtt[1]]
    pick += [f for f in flows if f["dst_ip"] == "115.236.76.7" or f["vlan"] == 20]
    pick += [f for f in flows if f["proto"] == 1][:1]
    pick += [f for f in flows if f["dst_port"] == 443 and f["proto"] == 6][:1]
    assert len(pick) == 5
    _insert_finding(store, cid, FID, [int(f["flow_id"]) for f in pick])
    return pick


def _assessed(store: Any, cid: str) -> tuple[str, list[dict[str, Any]]] | None:
    """The lab assessed against its declarations (as `make demo` does): the finding with most flows."""
    from appliance.findings.assess import assess
    from appliance.store import queries
    from policies.declaration import load_declarations

    assess(store, cid, declarations=load_declarations([str(LAB / "declarations")]))
    found = [f for f in queries.findings(store, [cid]) if f["flows"]]
    if not found:
        return None
    best = max(found, key=lambda f: (len(f["flows"]), str(f["finding_id"])))
    return str(best["finding_id"]), [f for f in _flows(store, cid) if str(f["flow_id"]) in best["flows"]]


@pytest.fixture(scope="module")
def lab_db(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("evidence") / "db"
    store = open_store(str(path))
    try:
        store.ensure_schema()
        cid = replay(store, str(LAB_PCAP), lab_options()).capture_id
        cases = {"assessed": _assessed(store, cid), "chosen": (FID, _chosen(store, cid))}
        everything = _flows(store, cid)
        _insert_finding(store, cid, ALL, [int(f["flow_id"]) for f in everything], rule="TEST-ALL")
    finally:
        store.close()
    return {"db": path, "cid": cid, "cases": cases, "all": everything}


def _tshark(path: Path, *fields: str) -> list[list[str]]:
    cmd = [
        "tshark",
        "-n",
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "ipv6.defragment:FALSE",
        "-r",
        str(path),
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "occurrence=f",
    ]
    for f in fields:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    return [line.split("\t") for line in p.stdout.splitlines()]


def _ns(epoch: str) -> int:
    sec, _, frac = epoch.partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


def _expected(flows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(timestamp ns, length) of the flows' frames, read from the lab capture with dpkt (not tapaudit)."""
    import socket

    def text(addr: bytes) -> str:
        return socket.inet_ntop(socket.AF_INET6 if len(addr) == 16 else socket.AF_INET, addr)

    ends: dict[tuple[int, frozenset[tuple[str, int]]], list[dict[str, Any]]] = {}
    for f in flows:  # one connection may be several records (cut by the active timeout)
        key = (f["proto"], frozenset({(f["src_ip"], f["src_port"]), (f["dst_ip"], f["dst_port"])}))
        ends.setdefault(key, []).append(f)
    out: list[tuple[int, int]] = []
    pieces: dict[tuple[str, str, int], list[tuple[int, int]]] = {}
    ports: dict[tuple[str, str, int], tuple[int, int]] = {}
    with open(LAB_PCAP, "rb") as fh:
        for ts, buf in dpkt.pcapng.Reader(fh):
            ns = round(ts * 1e6) * 1000
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6):
                continue
            src, dst = text(ip.src), text(ip.dst)
            # a fragment: judged when its datagram is whole
            if isinstance(ip, dpkt.ip.IP) and (ip.mf or ip.offset):
                frames = pieces.setdefault((src, dst, ip.id), [])
                frames.append((ns, len(buf)))
                if ip.offset == 0:  # the first piece holds the ports
                    ports[(src, dst, ip.id)] = struct.unpack("!HH", bytes(ip.data)[:4])
                if ip.mf:
                    continue
                sp, dp = ports.get((src, dst, ip.id), (-1, -1))
                recs = ends.get((ip.p, frozenset({(src, sp), (dst, dp)})), [])
                if any(f["first_ns"] <= ns <= f["last_ns"] for f in recs):
                    out += pieces.pop((src, dst, ip.id))
                continue
            proto = ip.p if isinstance(ip, dpkt.ip.IP) else ip.nxt
            l4 = ip.data
            if proto in (6, 17):
                sp, dp = l4.sport, l4.dport
            elif proto in (1, 58):
                pairs = (
                    {8: 0, 0: 8}
                    if proto == 1
                    else {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135}
                )
                sp, dp = l4.type, pairs.get(l4.type, l4.code)
            else:
                continue
            recs = ends.get((proto, frozenset({(src, sp), (dst, dp)})), [])
            if any(f["first_ns"] <= ns <= f["last_ns"] for f in recs):
                out.append((ns, len(buf)))
    return sorted(out)


@pytest.mark.tshark
@pytest.mark.parametrize("case", ["chosen", "assessed"])
def test_cli_exports_exactly_the_packets_of_the_findings_flows(
    lab_db: dict[str, Any], tmp_path: Path, case: str
) -> None:
    if lab_db["cases"][case] is None:
        pytest.skip("the rule packs gave the lab no finding with flows")
    fid, flows = lab_db["cases"][case]
    out = tmp_path / "out.pcap"
    p = cli("evidence", fid[:10], "-o", str(out), "--json", db=lab_db["db"])
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["finding_id"] == fid
    assert doc["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert doc["format"] == "pcap" and doc["complete"] is True
    assert sorted(f["flow_id"] for f in doc["flows"]) == sorted(str(f["flow_id"]) for f in flows)
    pkts = sum(int(f["pkts"]) for f in flows)
    fragments = sum(f["dst_ip"] == "115.236.76.7" for f in flows) * 2  # 3 fragments, one packet
    assert doc["packets"] == pkts + fragments
    for f in doc["flows"]:
        assert f["matched"] == f["pkts"]

    addr = ("ip.src", "ip.dst", "ipv6.src", "ipv6.dst")
    ports = ("tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport")
    rows = _tshark(out, "frame.time_epoch", "frame.len", *addr, *ports, "ip.proto", "vlan.id")
    assert len(rows) == doc["packets"] == pkts + fragments
    got = [(_ns(r[0]), int(r[1])) for r in rows]
    assert got == sorted(got)  # time order
    assert got == _expected(flows)  # the same frames, stamps and lengths as in the lab capture
    ends = {frozenset({(f["src_ip"], int(f["src_port"])), (f["dst_ip"], int(f["dst_port"]))}) for f in flows}
    addrs = {frozenset({f["src_ip"], f["dst_ip"]}) for f in flows}
    for r in rows:
        src, dst = r[2] or r[4], r[3] or r[5]
        assert frozenset({src, dst}) in addrs, r
        sport, dport = r[6] or r[8], r[7] or r[9]
        if sport:  # fragments after the first carry no ports
            assert frozenset({(src, int(sport)), (dst, int(dport))}) in ends, r
    if case == "chosen":  # one of our flows is on VLAN 20
        assert {r[11] for r in rows} == {"", "20"}

    store = open_store(str(lab_db["db"]))
    try:
        rec = store.query("SELECT * FROM {db}.evidence_exports WHERE finding_id = %(f)s", {"f": fid})
    finally:
        store.close()
    assert [(r["sha256"], int(r["packets"]), r["path"]) for r in rec] == [
        (doc["sha256"], doc["packets"], str(out))
    ]

    human = cli("evidence", fid, "-o", str(tmp_path / "again.pcap"), db=lab_db["db"])
    assert (
        human.returncode == 0
        and doc["sha256"] in human.stdout
        and f"{doc['packets']:,} packets" in human.stdout
    )


@pytest.mark.tshark
def test_every_lab_flow_finds_exactly_its_packet_count(lab_db: dict[str, Any], tmp_path: Path) -> None:
    store = open_store(str(lab_db["db"]))
    try:
        res = export(store, ALL[:6], str(tmp_path / "all.pcap"))
    finally:
        store.close()
    short = [(f.flow_id, f.pkts, f.matched) for f in res.flows if not f.complete]
    assert short == []
    assert len(res.flows) == len(lab_db["all"])
    total = sum(int(f["pkts"]) for f in lab_db["all"])
    assert res.packets == total + 2  # the camera's datagram: three frames, one packet
    assert len(_tshark(tmp_path / "all.pcap", "frame.number")) == res.packets
    lab_frames = sum(1 for _ in read_pcap(str(LAB_PCAP)))
    arp = sum(1 for _ts, _lt, _o, d in read_pcap(str(LAB_PCAP)) if bytes(d[12:14]) == b"\x08\x06")
    assert res.packets == lab_frames - arp  # every frame but ARP belongs to exactly one flow record


def _one_line(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tapaudit: error: "), p.stderr
    return lines[0]


def test_errors_are_one_line(lab_db: dict[str, Any], tmp_path: Path) -> None:
    out = str(tmp_path / "x.pcap")
    assert "no current finding" in _one_line(cli("evidence", "0123abcd", "-o", out, db=lab_db["db"]))
    assert "not a finding id" in _one_line(cli("evidence", "zz-top", "-o", out, db=lab_db["db"]))
    assert "does not exist" in _one_line(
        cli("evidence", FID, "-o", str(tmp_path / "no" / "x.pcap"), db=lab_db["db"])
    )
    # a capture replayed from a copy that then goes missing, or changes
    copy = tmp_path / "copy.pcapng"
    shutil.copyfile(LAB_PCAP, copy)
    db = tmp_path / "db2"
    store = open_store(str(db))
    try:
        store.ensure_schema()
        cid = replay(store, str(copy), lab_options()).capture_id
        flow = [f for f in _flows(store, cid) if f["vlan"] == 20]
        _insert_finding(store, cid, FID, [int(f["flow_id"]) for f in flow])
    finally:
        store.close()
    assert cli("evidence", FID, "-o", out, db=db).returncode == 0
    data = copy.read_bytes()
    copy.write_bytes(data[:-8] + b"\xff" * 8)
    line = _one_line(cli("evidence", FID, "-o", out, db=db))
    assert "changed since it was replayed" in line and str(copy) in line
    copy.unlink()
    line = _one_line(cli("evidence", FID, "-o", out, db=db))
    assert "missing" in line and str(copy) in line
    with pytest.raises(EvidenceError, match="missing"):
        store = open_store(str(db))
        try:
            export(store, FID, out)
        finally:
            store.close()


@pytest.mark.tshark
def test_rotated_files_of_two_link_types_give_pcapng(tmp_path: Path, store: Any) -> None:
    """A capture of two files, Ethernet then raw IP, one flow across both: pcapng with two interfaces."""
    a, b = "192.168.7.2", "47.96.17.101"
    sess = [
        (IP(src=a, dst=b) / TCP(sport=50000, dport=80, flags="S")),
        (IP(src=b, dst=a) / TCP(sport=80, dport=50000, flags="SA")),
        (IP(src=a, dst=b) / TCP(sport=50000, dport=80, flags="A")),
        (IP(src=a, dst=b) / TCP(sport=50000, dport=80, flags="PA") / Raw(b"GET / HTTP/1.1\r\n\r\n")),
        (IP(src=b, dst=a) / TCP(sport=80, dport=50000, flags="A")),
    ]
    other = IP(src=a, dst="8.8.8.8") / UDP(sport=5353, dport=53) / Raw(b"\0" * 12)
    d = tmp_path / "ring"
    d.mkdir()
    first = [(T + 1_000 * i, _eth(p)) for i, p in enumerate(sess[:3])] + [(T + 5_000, _eth(other))]
    (d / "ring_0001.pcap").write_bytes(capwriter.pcap_bytes(first, nano=True))
    (d / "ring_0002.pcapng").write_bytes(
        capwriter.shb()
        + capwriter.idb(101, tsresol=9)
        + b"".join(capwriter.epb(0, T + 10_000 + 1_000 * i, bytes(p)) for i, p in enumerate(sess[3:]))
    )
    cid = replay(store, str(d), ReplayOptions(force=True)).capture_id
    flows = [f for f in _flows(store, cid) if f["proto"] == 6]
    assert len(flows) == 1 and int(flows[0]["pkts"]) == 5
    _insert_finding(store, cid, FID, [int(flows[0]["flow_id"])])
    res = export(store, FID, str(tmp_path / "ev.pcap"))
    assert res.format == "pcapng" and res.packets == 5 and res.complete
    rows = _tshark(
        tmp_path / "ev.pcap", "frame.time_epoch", "frame.interface_id", "tcp.srcport", "tcp.dstport"
    )
    assert [_ns(r[0]) for r in rows] == [T, T + 1_000, T + 2_000, T + 10_000, T + 11_000]
    assert [r[1] for r in rows] == ["0", "0", "0", "1", "1"]
    assert {(r[2], r[3]) for r in rows} == {("50000", "80"), ("80", "50000")}


def test_output_over_a_capture_file_is_refused(lab_db: dict[str, Any]) -> None:
    line = _one_line(cli("evidence", FID, "-o", str(LAB_PCAP), db=lab_db["db"]))
    assert "is a file of the capture itself" in line


def test_a_store_of_schema_7_gets_the_exports_table(tmp_path: Path) -> None:
    from appliance.store.schema import SCHEMA_VERSION

    store = open_store(str(tmp_path / "db"))
    try:
        store.ensure_schema()
        store.execute("DROP TABLE {db}.evidence_exports")
        store.execute("TRUNCATE TABLE {db}.meta")
        store.insert("meta", [("schema_version", "7")])
        store.ensure_schema()
        assert store.query("SELECT count() AS n FROM {db}.evidence_exports") == [{"n": 0}]
        got = store.query("SELECT max(toUInt32(value)) AS v FROM {db}.meta WHERE key = 'schema_version'")
        assert int(got[0]["v"]) == SCHEMA_VERSION
    finally:
        store.close()
