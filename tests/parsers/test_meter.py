"""FlowMeter on packets crafted with scapy: TCP life cycles, timeouts, fragments, link types, events."""

from __future__ import annotations

import ipaddress

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    IPv6,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
)
from scapy.layers.l2 import ARP, CookedLinux, Dot1Q, Ether
from scapy.layers.ppp import PPP, PPPoE
from scapy.packet import Packet, Raw

from parsers.events import AddressSeen, DhcpSeen
from parsers.flow import covering
from parsers.lan import DEFAULT_LAN, LanPrefixes
from parsers.meter import FlowMeter
from parsers.protocols.dhcp import DhcpMessage

NS = 1_000_000_000
DEV, GW = "aa:bb:cc:00:00:01", "aa:bb:cc:00:00:fe"
LOCAL, REMOTE = "192.168.1.10", "47.95.1.1"


def run(packets: list[tuple[float, Packet | bytes]], lt: int = 1, **kw: float) -> FlowMeter:
    """Feed (seconds, packet) pairs and flush."""
    m = FlowMeter(LanPrefixes(DEFAULT_LAN).is_local, **kw)
    for t, p in packets:
        data = bytes(p)
        m.feed(int(t * NS), lt, len(data), data)
    m.flush()
    return m


def eth(up: bool = True) -> Ether:
    return Ether(src=DEV, dst=GW) if up else Ether(src=GW, dst=DEV)


def tcp(t: float, up: bool, flags: str, payload: bytes = b"", sport: int = 40000, dport: int = 443):
    ip = IP(src=LOCAL, dst=REMOTE) if up else IP(src=REMOTE, dst=LOCAL)
    seg = TCP(sport=sport, dport=dport, flags=flags) if up else TCP(sport=dport, dport=sport, flags=flags)
    return (t, eth(up) / ip / seg / Raw(payload) if payload else eth(up) / ip / seg)


def session(t0: float = 0.0, close: str = "F", sport: int = 40000) -> list[tuple[float, Packet]]:
    pkts = [
        tcp(t0, True, "S", sport=sport),
        tcp(t0 + 0.01, False, "SA", sport=sport),
        tcp(t0 + 0.02, True, "A", sport=sport),
        tcp(t0 + 0.03, True, "PA", b"x" * 100, sport=sport),
        tcp(t0 + 0.04, False, "PA", b"y" * 300, sport=sport),
    ]
    if close == "F":
        pkts += [
            tcp(t0 + 0.05, True, "FA", sport=sport),
            tcp(t0 + 0.06, False, "FA", sport=sport),
            tcp(t0 + 0.07, True, "A", sport=sport),
        ]
    elif close == "R":
        pkts += [tcp(t0 + 0.05, False, "R", sport=sport)]
    return pkts


def test_tcp_session_counts_both_ways() -> None:
    m = run(session())
    assert len(m.done) == 1
    f = m.done[0]
    assert ipaddress.ip_address(f.a) == ipaddress.ip_address(LOCAL) and f.ap == 40000 and f.bp == 443
    assert (f.pk_up, f.pk_dn) == (5, 3)
    assert (f.pl_up, f.pl_dn) == (100, 300)
    assert f.by_up == 4 * 40 + 140 and f.by_dn == 2 * 40 + 340
    assert f.tcp_state == "closed" and f.end == "fin" and f.handshake
    assert f.smac.hex(":") == DEV and f.rmac.hex(":") == GW


def test_rst_ends_flow_and_reuse_starts_a_new_one() -> None:
    m = run(session(0, "R") + session(1.0, "F"))
    assert [f.end for f in m.done] == ["rst", "fin"]
    assert m.done[0].tcp_state == "reset"


def test_packets_after_fin_within_linger_stay_and_later_start_new_flow() -> None:
    pkts = [*session(0, "F"), tcp(2.0, False, "A"), tcp(10.0, True, "PA", b"late")]
    m = run(pkts)
    assert len(m.done) == 2
    assert m.done[0].pk_dn == 4
    assert m.done[1].pk_up == 1 and m.done[1].pl_up == 4


def test_rejected_connection() -> None:
    m = run([tcp(0, True, "S"), tcp(0.01, False, "RA")])
    assert len(m.done) == 1 and m.done[0].tcp_state == "rejected"


def test_synack_first_is_turned_around() -> None:
    m = run(session()[1:])
    f = m.done[0]
    assert ipaddress.ip_address(f.a) == ipaddress.ip_address(LOCAL) and f.bp == 443
    assert f.pk_dn == 3 and f.pk_up == 4 and f.synack


def _initiator(first: Packet, *rest: Packet) -> tuple[str, int, str, int]:
    m = run([(i * 0.01, p) for i, p in enumerate((first, *rest))])
    (f,) = m.done
    assert f.pk_up + f.pk_dn == 1 + len(rest)
    return str(ipaddress.ip_address(f.a)), f.ap, str(ipaddress.ip_address(f.b)), f.bp


OTHER_LOCAL = "192.168.1.20"


@pytest.mark.parametrize(
    ("first", "initiator"),
    [
        # a service port answering an ephemeral one: the reply came first
        (IP(src=REMOTE, dst=LOCAL) / TCP(sport=443, dport=51000, flags="PA") / Raw(b"data"), (LOCAL, 51000)),
        (IP(src=REMOTE, dst=LOCAL) / UDP(sport=53, dport=51001) / Raw(b"answer"), (LOCAL, 51001)),
        (IP(src=REMOTE, dst=LOCAL) / TCP(sport=8883, dport=51002, flags="A"), (LOCAL, 51002)),
        (IP(src=OTHER_LOCAL, dst=LOCAL) / UDP(sport=67, dport=68), (LOCAL, 68)),  # a DHCP server's reply
        # the ephemeral end sent first: kept, wherever it is
        (IP(src=REMOTE, dst=LOCAL) / TCP(sport=51003, dport=22, flags="PA") / Raw(b"x"), (REMOTE, 51003)),
        # a SYN is the initiator's whatever its ports
        (IP(src=REMOTE, dst=LOCAL) / TCP(sport=443, dport=51004, flags="S"), (REMOTE, 443)),
        # ports that do not tell (both ephemeral, both services): the LAN end began it
        (IP(src=REMOTE, dst=LOCAL) / UDP(sport=50000, dport=51005) / Raw(b"p2p"), (LOCAL, 51005)),
        (IP(src=LOCAL, dst=REMOTE) / UDP(sport=51006, dport=50001) / Raw(b"p2p"), (LOCAL, 51006)),
        (IP(src=REMOTE, dst=LOCAL) / UDP(sport=123, dport=123) / Raw(b"n" * 48), (LOCAL, 123)),
        # a group address never began a flow, even from a service port
        (IP(src=OTHER_LOCAL, dst="255.255.255.255") / UDP(sport=67, dport=68), (OTHER_LOCAL, 67)),
        (IP(src=REMOTE, dst="224.0.0.251") / UDP(sport=5353, dport=5353), (REMOTE, 5353)),
        # an ICMP echo reply came from the one asked
        (IP(src=REMOTE, dst=LOCAL) / ICMP(type=0, id=7), (LOCAL, 8)),
    ],
)
def test_a_flow_first_seen_at_its_reply_is_turned_around(first: Packet, initiator: tuple[str, int]) -> None:
    up = first[IP].src == LOCAL
    a, ap, _b, _bp = _initiator(eth(up) / first)
    assert (a, ap) == initiator


def test_a_turned_flow_counts_the_later_packets_on_the_right_side() -> None:
    answer = eth(False) / IP(src=REMOTE, dst=LOCAL) / UDP(sport=53, dport=51001) / Raw(b"answer")
    again = eth(True) / IP(src=LOCAL, dst=REMOTE) / UDP(sport=51001, dport=53) / Raw(b"query")
    m = run([(0, answer), (0.5, again), (0.6, answer)])
    (f,) = m.done
    assert (f.pk_up, f.pk_dn, f.pl_up, f.pl_dn) == (1, 2, 5, 12)
    assert f.smac.hex(":") == DEV


def test_idle_timeout_splits_and_is_configurable() -> None:
    def udp(t: float) -> tuple[float, Packet]:
        return (t, eth() / IP(src=LOCAL, dst=REMOTE) / UDP(sport=5000, dport=123) / Raw(b"n" * 48))

    pkts = [udp(0), udp(60), udp(200), udp(250)]
    assert len(run(pkts).done) == 2
    assert [f.end for f in run(pkts).done] == ["idle", "eof"]
    assert len(run(pkts, idle_s=30).done) == 4
    assert len(run(pkts, idle_s=300).done) == 1


def test_active_timeout_continues_in_new_records_with_same_initiator() -> None:
    pkts = []
    for i in range(0, 4000, 60):  # keepalives every minute for 66 minutes, answered by the server
        pkts += [
            tcp(i, True, "PA", b"\xc0\x00", 41000, 1883),
            tcp(i + 0.05, False, "PA", b"\xd0\x00", 41000, 1883),
        ]
    m = run(pkts)
    assert [f.end for f in m.done] == ["active", "active", "eof"]
    assert [f.seq for f in m.done] == [0, 1, 2]
    assert all(f.ap == 41000 and f.bp == 1883 for f in m.done)
    assert sum(f.pk_up + f.pk_dn for f in m.done) == len(pkts)
    assert len(run(pkts, active_s=600).done) == 7


def test_a_message_read_late_is_named_by_the_record_whose_span_holds_it() -> None:
    """An MQTT stream caught without its CONNECT (keepalives first) is read at its end; a PUBLISH
    sent in the first 30-minute record must still be that record's (``covering``), not the last's."""
    body = b"\x00\x03t/a" + b'{"v":1}'
    publish = b"\x30" + bytes([len(body)]) + body
    pkts: list[tuple[float, Packet]] = []
    up_seq, dn_seq = 1000, 5000
    for i in range(0, 4000, 60):
        sent = publish if i == 300 else b"\xc0\x00"
        up = IP(src=LOCAL, dst=REMOTE) / TCP(sport=41000, dport=1883, flags="PA", seq=up_seq, ack=dn_seq)
        dn = IP(src=REMOTE, dst=LOCAL) / TCP(sport=1883, dport=41000, flags="PA", seq=dn_seq, ack=up_seq)
        pkts += [(i, eth(True) / up / Raw(sent)), (i + 0.05, eth(False) / dn / Raw(b"\xd0\x00"))]
        up_seq, dn_seq = up_seq + len(sent), dn_seq + 2
    m = run(pkts)
    pub = [r for r in m.records if getattr(r, "kind", "") == "publish"]
    assert [r.ts for r in pub] == [300 * NS]
    assert pub[0].flow is m.done[-1]  # handed out with the last record (read at the end) ...
    own = covering(pub[0].flow, pub[0].ts)
    assert own is m.done[0] and own.first <= pub[0].ts <= own.last  # ... named by the first
    assert covering(m.done[-1], m.done[-1].first) is m.done[-1]


def test_ipv4_fragments_reassembled_into_one_packet() -> None:
    dgram = IP(src=LOCAL, dst=REMOTE, id=77) / UDP(sport=6000, dport=9000) / Raw(b"z" * 3000)
    frags = fragment(dgram, fragsize=1400)
    assert len(frags) == 3
    m = run([(i * 0.001, eth() / fr) for i, fr in enumerate(reversed(frags))])
    assert m.stats["ipv4_fragments"] == 3 and m.stats["ipv4_reassembled"] == 1
    f = m.done[0]
    assert (f.pk_up, f.pl_up, f.by_up) == (1, 3000, 3028) and f.bp == 9000


def test_incomplete_fragments_are_counted_not_crashing() -> None:
    dgram = IP(src=LOCAL, dst=REMOTE, id=78) / UDP(sport=6000, dport=9000) / Raw(b"z" * 3000)
    frags = fragment(dgram, fragsize=1400)
    m = run([(0, eth() / frags[0]), (0.1, eth() / frags[2])])
    assert m.done == [] and m.stats["ipv4_fragments"] == 2
    assert sum(v for k, v in m.stats.items() if "incomplete" in k or "expired" in k) >= 1


def test_ipv6_extension_headers_and_fragments() -> None:
    base = IPv6(src="fd00::10", dst="2408:8000::1")
    hop = eth() / base / IPv6ExtHdrHopByHop() / UDP(sport=7000, dport=53) / Raw(b"q" * 20)
    big = base / IPv6ExtHdrFragment(id=9) / UDP(sport=7001, dport=8000) / Raw(b"w" * 3000)
    from scapy.layers.inet6 import fragment6

    frags = fragment6(big, 1280)
    m = run([(0, hop)] + [(0.1 + i * 0.001, eth() / fr) for i, fr in enumerate(frags)])
    flows = {f.bp: f for f in m.done}
    assert flows[53].pl_up == 20 and flows[53].by_up == 40 + 8 + 28
    assert m.stats["ipv6_reassembled"] == 1
    assert flows[8000].pk_up == 1 and flows[8000].pl_up == 3000


def test_icmp_request_and_reply_join() -> None:
    m = run(
        [
            (0, eth() / IP(src=LOCAL, dst="192.168.1.1") / ICMP(type=8, id=1) / Raw(b"p" * 56)),
            (0.001, eth(False) / IP(src="192.168.1.1", dst=LOCAL) / ICMP(type=0, id=1) / Raw(b"p" * 56)),
            (1, eth() / IPv6(src="fd00::10", dst="fd00::1") / ICMPv6EchoRequest(data=b"a" * 8)),
            (1.001, eth(False) / IPv6(src="fd00::1", dst="fd00::10") / ICMPv6EchoReply(data=b"a" * 8)),
        ]
    )
    assert sorted((f.proto, f.ap, f.bp, f.pk_up, f.pk_dn) for f in m.done) == [
        (1, 8, 0, 1, 1),
        (58, 128, 129, 1, 1),
    ]


def test_vlan_and_qinq() -> None:
    inner = IP(src=LOCAL, dst=REMOTE) / UDP(sport=1, dport=2) / Raw(b"v")
    m = run(
        [
            (0, Ether(src=DEV, dst=GW) / Dot1Q(vlan=20) / inner),
            (1, Ether(src=DEV, dst=GW, type=0x88A8) / Dot1Q(vlan=100) / Dot1Q(vlan=30) / inner.copy()),
        ]
    )
    assert len(m.done) == 1 and m.done[0].pk_up == 2 and m.done[0].vlan == 20


def test_pppoe_without_a_tag_is_ip() -> None:
    inner = IP(src=LOCAL, dst=REMOTE) / UDP(sport=1, dport=2) / Raw(b"p" * 20)
    m = run([(0, eth() / PPPoE(sessionid=1) / PPP(proto=0x21) / inner), (1, eth() / PPPoE(sessionid=1)
             / PPP(proto=0x21) / inner.copy())])  # fmt: skip
    assert len(m.done) == 1 and m.done[0].pk_up == 2 and m.done[0].bp == 2
    assert not m.stats.get("non_ip")


def test_ipv6_extension_header_cut_short_is_counted_not_looped() -> None:
    """A hop-by-hop header announced but absent: counted as malformed, the next packet still read."""
    head = IPv6(src="fd00::10", dst="2408::1", nh=0, plen=4)
    cut = bytes(eth() / head)[: 14 + 40] + b"\x11\x00\x00\x00"  # 4 of the header's 8 bytes
    good = eth() / IPv6(src="fd00::10", dst="2408::1") / UDP(sport=3, dport=4) / Raw(b"x")
    m = run([(0, cut), (1, good)])
    assert m.stats["ipv6_malformed"] == 1 and len(m.done) == 1 and m.done[0].bp == 4


@pytest.mark.parametrize("kind", ["sll", "sll2", "raw", "raw4", "null"])
def test_other_link_types(kind: str) -> None:
    ipb = bytes(IP(src=LOCAL, dst=REMOTE) / UDP(sport=1234, dport=80) / Raw(b"h" * 10))
    mac = bytes.fromhex(DEV.replace(":", ""))
    if kind == "sll":
        lt, frame = (
            113,
            bytes(CookedLinux(pkttype=4, lladdrtype=1, lladdrlen=6, src=mac + b"\0\0", proto=0x0800)) + ipb,
        )
    elif kind == "sll2":
        lt = 276
        frame = (b"\x08\x00\x00\x00" + (2).to_bytes(4, "big") + b"\x00\x01\x04\x06" + mac + b"\0\0") + ipb
    elif kind == "raw":
        lt, frame = 101, ipb
    elif kind == "raw4":
        lt, frame = 228, ipb
    else:
        lt, frame = 0, (2).to_bytes(4, "little") + ipb
    m = run([(0, frame)], lt=lt)
    assert len(m.done) == 1 and m.done[0].pl_up == 10, m.stats
    if kind in ("sll", "sll2"):
        assert m.done[0].smac == mac


def test_unsupported_link_type_is_counted() -> None:
    m = run([(0, b"\x00" * 40)], lt=127)
    assert m.done == [] and m.stats["linktype_unsupported_127"] == 1


def test_truncated_and_malformed_headers_are_counted() -> None:
    good = bytes(eth() / IP(src=LOCAL, dst=REMOTE) / TCP(sport=1, dport=2))
    bad_ihl = bytearray(good)
    bad_ihl[14] = 0x41  # IHL 4 words: below the minimum
    m = run([(0, good[:36]), (1, bytes(bad_ihl)), (2, good[:20]), (3, b"\xff" * 8)])
    assert m.stats["tcp_truncated"] == 1
    assert m.stats["ipv4_malformed"] >= 2


def test_arp_and_ndp_give_address_events() -> None:
    m = run(
        [
            (
                0,
                Ether(src=DEV, dst="ff:ff:ff:ff:ff:ff")
                / ARP(op=1, hwsrc=DEV, psrc=LOCAL, pdst="192.168.1.1"),
            ),
            (
                1,
                Ether(src=DEV, dst="33:33:00:00:00:01")
                / IPv6(src="fe80::1", dst="ff02::1")
                / ICMPv6ND_NA(tgt="fd00::10", R=0, S=0, O=1)
                / ICMPv6NDOptDstLLAddr(lladdr=DEV),
            ),
            (
                2,
                Ether(src=DEV, dst="33:33:ff:00:00:20")
                / IPv6(src="::", dst="ff02::1:ff00:20")
                / ICMPv6ND_NS(tgt="fe80::20"),
            ),
        ]
    )
    seen = {(e.source, str(ipaddress.ip_address(e.ip))) for e in m.events if isinstance(e, AddressSeen)}
    assert seen == {("arp", LOCAL), ("ndp", "fd00::10"), ("ndp", "fe80::20")}
    assert all(e.mac.hex(":") == DEV for e in m.events if isinstance(e, AddressSeen))


def test_dhcp_is_dissected_and_malformed_dhcp_counted() -> None:
    from scapy.layers.dhcp import BOOTP, DHCP

    mac = bytes.fromhex(DEV.replace(":", ""))
    disc = (
        Ether(src=DEV, dst="ff:ff:ff:ff:ff:ff")
        / IP(src="0.0.0.0", dst="255.255.255.255")
        / UDP(sport=68, dport=67)
        / BOOTP(chaddr=mac + bytes(10), xid=5)
        / DHCP(
            options=[
                ("message-type", "discover"),
                ("hostname", b"watch-01"),
                ("vendor_class_id", b"android-dhcp-13"),
                ("param_req_list", [1, 3, 6, 15]),
                "end",
            ]
        )
    )
    broken = bytes(disc)[:-40]
    broken = broken[:16] + (len(broken) - 14).to_bytes(2, "big") + broken[18:]
    m = run([(0, disc), (1, broken)])
    dh = [e for e in m.events if isinstance(e, DhcpSeen)]
    assert len(dh) == 1 and dh[0].mac == mac
    msg: DhcpMessage = dh[0].msg
    assert msg.hostname == "watch-01" and msg.vendor_class == "android-dhcp-13" and msg.prl == [1, 3, 6, 15]
    assert m.stats["dissected_dhcp"] == 1
    assert m.stats["malformed_dhcp"] + m.stats.get("udp_truncated", 0) >= 1


def test_many_flows_all_accounted() -> None:
    pkts: list[tuple[float, Packet]] = []
    for i in range(300):
        pkts += session(i * 0.5, "F" if i % 3 else "R", sport=20000 + i)
    m = run(pkts)
    assert len(m.done) == 300
    assert sum(f.pk_up + f.pk_dn for f in m.done) == len(pkts)


def test_flow_table_is_bounded_under_a_scan() -> None:
    """Many concurrent flows (a port scan) evict the least recently seen, never grow past the cap."""
    m = FlowMeter(LanPrefixes(DEFAULT_LAN).is_local, max_flows=1000)
    peak = 0
    for i in range(5000):
        data = bytes(eth() / IP(src=LOCAL, dst=REMOTE) / TCP(sport=30000, dport=1 + i, flags="S"))
        m.feed(i * 1_000_000, 1, len(data), data)  # 1 ms apart: nothing is idle
        peak = max(peak, len(m.table) // 2)
    m.flush()
    assert peak <= 1001
    assert len(m.done) == 5000 and m.stats["flows_evicted"] >= 3000
    assert sum(f.pk_up for f in m.done) == 5000


def test_take_hands_over_flows_records_and_events_and_starts_afresh() -> None:
    """What ``take`` returns is the caller's: the meter's next take starts from empty lists."""
    arp = Ether(src=DEV, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=DEV, psrc=LOCAL, pdst="192.168.1.1")
    dns_q = (
        eth()
        / IP(src=LOCAL, dst="8.8.8.8")
        / UDP(sport=5000, dport=53)
        / bytes.fromhex("123401000001000000000000076578616d706c6503636f6d0000010001")
    )
    m = run([(0.0, arp), (0.1, dns_q)])
    done, records, events = m.take()
    assert len(done) == 1 and len(records) == 1 and len(events) == 1  # ARP makes no flow
    assert m.take() == ([], [], [])
    assert m.done == [] and m.records == [] and m.events == []
    m.feed(int(1 * NS), 1, len(bytes(arp)), bytes(arp))
    _done, _records, again = m.take()
    assert len(again) == 1 and len(events) == 1  # the first take's list was not touched


def _accounting(f: object) -> tuple[object, ...]:
    """What a flow record counts, less its VLAN and IP byte counts (which the wrapping changes)."""
    names = "proto a ap b bp first last pk_up pk_dn pl_up pl_dn fl_up fl_dn smac dmac rmac closed end"
    names += " synack fin_up fin_dn rst"
    return (*(getattr(f, n) for n in names.split()), [list(b) for b in f.bursts])  # type: ignore[attr-defined]


@pytest.mark.parametrize("wrap", ["vlan", "ip_options"])
def test_common_frames_count_as_the_general_path_counts_them(wrap: str) -> None:
    """Ethernet + IPv4 (20-byte header, not a fragment) + TCP or UDP is read in one unpack; the same
    packets behind a VLAN tag or with IPv4 options take the general path: both count the same."""

    def frame(t: float, p: Packet) -> tuple[float, bytes]:
        ip = p[IP]
        if wrap == "vlan":
            return t, bytes(Ether(src=p.src, dst=p.dst) / Dot1Q(vlan=7) / ip)
        return t, bytes(
            Ether(src=p.src, dst=p.dst) / IP(src=ip.src, dst=ip.dst, options=b"\x01" * 4) / ip.payload
        )

    packets = session() + session(5.0, close="R", sport=40001)
    for i in range(4):  # a UDP exchange, payloads from 3 bytes to past a large one
        up = i % 2 == 0
        ip = IP(src=LOCAL, dst=REMOTE) if up else IP(src=REMOTE, dst=LOCAL)
        udp = UDP(sport=5000, dport=9999) if up else UDP(sport=9999, dport=5000)
        packets.append((9.0 + i, eth(up) / ip / udp / Raw(b"u" * (3 + 700 * i))))
    tso = bytearray(bytes(tcp(20.0, True, "PA", b"z" * 50, sport=40002)[1]))
    tso[16:18] = b"\x00\x00"  # total length 0, as a TSO/GRO capture writes it
    plain = run([(t, bytes(p)) for t, p in packets] + [(20.0, bytes(tso))])
    wrapped_tso = bytearray(frame(20.0, Ether(bytes(tso)))[1])
    at = 18 if wrap == "vlan" else 14
    wrapped_tso[at + 2 : at + 4] = b"\x00\x00"
    wrapped = run([frame(t, p) for t, p in packets] + [(20.0, bytes(wrapped_tso))])
    assert len(plain.done) == len(wrapped.done) == 4
    assert [_accounting(f) for f in plain.done] == [_accounting(f) for f in wrapped.done]
    extra = 0 if wrap == "vlan" else 4  # IP bytes: the options' 4 bytes in each packet
    for f, g in zip(plain.done, wrapped.done, strict=True):
        assert (g.by_up, g.by_dn) == (f.by_up + extra * f.pk_up, f.by_dn + extra * f.pk_dn)
        assert g.vlan == (7 if wrap == "vlan" else 0) and f.vlan == 0
    assert plain.done[-1].pl_up == 50 and plain.done[-1].by_up == 90  # the TSO frame's bytes, trusted
    assert plain.stats == wrapped.stats  # the sessions read the same payloads
    assert not [k for k in plain.stats if "malformed" in k or "truncated" in k]
    assert [(r.ts, r.payload) for r in plain.records] == [(r.ts, r.payload) for r in wrapped.records]
