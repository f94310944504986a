"""NTP, RTSP, DHCPv6 and CoAP dissectors against Zeek, tshark and nDPI on real captures.

NTP: every row of Zeek's three ntp.log baselines, and every NTP packet tshark finds in
eleven captures (nDPI, Zeek, Mon(IoT)r, Lifecycle) and in all IoT-Sentinel setups merged.
RTSP: every request and response tshark finds in nDPI's two RTSP captures, the
User-Agent nDPI reports per flow, and CSeq pairing. DHCPv6: every DHCPv6 packet of
nDPI's android.pcap and tor.pcap against tshark's tree (PDML). No capture in
../shared/pcaps holds CoAP, DHCPv6 relays or IA addresses (tshark sees no coap in any
of them, MANIFEST.tsv); those are checked on datagrams that scapy encodes from known
values and tshark decodes, both independent of tapaudit. The error paths are crafted.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import struct
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dpkt
import pytest

from parsers.protocols import coap, dhcpv6, ntp, rtsp
from tests.support.paths import shared_path
from tests.support.tcpflows import _ip, streams
from tests.support.tshark import needs_tshark, tshark_fields
from tests.support.zeekconn import read_conn


def numbered_ips(path: Path) -> Iterator[tuple[int, Any]]:
    """(frame number, dpkt IP packet) for every frame of a capture that holds IPv4 or IPv6."""
    with open(path, "rb") as fh:
        ng = fh.read(4) == b"\n\r\r\n"
        fh.seek(0)
        reader: Any = dpkt.pcapng.Reader(fh) if ng else dpkt.pcap.Reader(fh)
        for n, (_ts, buf) in enumerate(reader, 1):
            ip = _ip(buf, reader.datalink())
            if ip is not None:
                yield n, ip


def udp_by_frame(path: Path, ports: set[int]) -> dict[int, bytes]:
    return {
        n: bytes(ip.data.data)
        for n, ip in numbered_ips(path)
        if isinstance(ip.data, dpkt.udp.UDP) and ports & {ip.data.sport, ip.data.dport}
    }


# ---- NTP ----------------------------------------------------------------------------------

NTP_ZEEK = {
    "scripts.base.protocols.ntp.ntp": "ntp/ntp.pcap",
    "scripts.base.protocols.ntp.ntp3": "ntp/NTP_sync.pcap",
    "scripts.base.protocols.ntp.misordered-ntp": "ntp/misordered-ntp.pcap",
}
NTP_CAPTURES = [
    "nDPI/pcap/NTPv2.pcap",
    "nDPI/pcap/NTPv3.pcap",
    "nDPI/pcap/android.pcap",
    "nDPI/pcap/waze.pcap",
    "nDPI/pcap/wechat.pcap",
    "zeek/Traces/var-services-std-ports.pcap",
    "zeek/Traces/ntp/ntp.pcap",
    "zeek/Traces/ntp/NTP_sync.pcap",
    "zeek/Traces/ntp/misordered-ntp.pcap",
    "JasonHYJ-deviceIdentification/2019-04-25_idle.pcap",
    "Lifecycle-Based-Traffic-Dataset/result_demo/traffic_demo/xiaodu_plug/xiaodu_plug.pcap",
]


def zeek_escape(text: str) -> str:
    """Zeek's log escaping of a string's non-printable bytes (\\x00)."""
    return "".join(c if 0x20 <= ord(c) < 0x7F else f"\\x{ord(c):02x}" for c in text)


@pytest.mark.parametrize("test_dir", sorted(NTP_ZEEK))
def test_ntp_matches_zeek_ntp_log(test_dir: str) -> None:
    rows = read_conn(shared_path("zeek", "Baseline", test_dir, "ntp.log"))
    trace = shared_path("zeek", "Traces", NTP_ZEEK[test_dir])
    msgs = [ntp.parse(p) for p in udp_by_frame(trace, {123}).values()]
    assert len(msgs) == len(rows) > 0, f"{len(msgs)} NTP messages, Zeek logged {len(rows)}"
    for i, (m, row) in enumerate(zip(msgs, rows, strict=True)):
        assert (m.version, m.mode, m.stratum) == (
            int(row["version"]),
            int(row["mode"]),
            int(row["stratum"]),
        ), i
        assert zeek_escape(m.ref_id) == row["ref_id"], i
        for ours, key in [
            (m.poll_interval, "poll"),
            (m.precision_seconds, "precision"),
            (m.root_delay, "root_delay"),
            (m.root_dispersion, "root_disp"),
            (m.reference_ts, "ref_time"),
            (m.origin_ts, "org_time"),
            (m.receive_ts, "rec_time"),
            (m.transmit_ts, "xmt_time"),
        ]:
            assert abs(ours - float(row[key])) <= 1.5e-6, f"row {i} {key}: {ours:.6f} vs Zeek {row[key]}"
    print(f"{test_dir}: {len(rows)} NTP messages equal to Zeek's ntp.log")


def tshark_time(text: str) -> float:
    """tshark's display of an NTP timestamp ("Jun 29, 2015 14:18:15.598809840 UTC", NULL) to Unix seconds."""
    if text == "NULL":
        return 0.0
    whole, _, rest = text.partition(".")
    frac = rest.split(" ")[0]
    when = datetime.strptime(whole, "%b %d, %Y %H:%M:%S").replace(tzinfo=UTC)
    return when.timestamp() + int(frac) / 10 ** len(frac)


NTP_FIELDS = ["ntp.flags.li", "ntp.flags.vn", "ntp.flags.mode", "ntp.stratum", "ntp.ppoll", "ntp.precision"]
NTP_FIELDS += [
    "ntp.rootdelay",
    "ntp.rootdispersion",
    "ntp.refid",
    "ntp.reftime",
    "ntp.org",
    "ntp.rec",
    "ntp.xmt",
]


def check_ntp_against_tshark(path: Path) -> int:
    # ICMP errors quote an NTP header that tshark also dissects: not NTP on the wire
    want = tshark_fields(path, "ntp && !icmp && !icmpv6", NTP_FIELDS)
    got = udp_by_frame(path, {123})
    assert set(got) == set(want), (
        f"udp/123 frames {sorted(set(got) ^ set(want))[:10]} differ from tshark's NTP"
    )
    for n, t in want.items():
        m = ntp.parse(got[n])
        one = {k: v[0] for k, v in t.items() if v}
        assert (m.version, m.mode) == (int(one["ntp.flags.vn"]), int(one["ntp.flags.mode"])), n
        if m.mode in (6, 7):
            continue
        assert m.leap == int(one["ntp.flags.li"]), n
        assert m.stratum == int(one["ntp.stratum"]), n
        assert m.poll & 0xFF == int(one["ntp.ppoll"]) and m.precision & 0xFF == int(one["ntp.precision"]), n
        assert round(m.root_delay * 65536) == int(one["ntp.rootdelay"]), n
        assert round(m.root_dispersion * 65536) == int(one["ntp.rootdispersion"]), n
        ref = bytes.fromhex(one["ntp.refid"])
        assert m.ref_id == (socket.inet_ntoa(ref) if m.stratum >= 2 else ref.decode("latin-1")), n
        for ours, key in [
            (m.reference_ts, "ntp.reftime"),
            (m.origin_ts, "ntp.org"),
            (m.receive_ts, "ntp.rec"),
            (m.transmit_ts, "ntp.xmt"),
        ]:
            assert abs(ours - tshark_time(one[key])) < 1e-6, f"frame {n} {key}: {ours} vs {one[key]}"
    return len(want)


@needs_tshark
@pytest.mark.parametrize("capture", NTP_CAPTURES)
def test_ntp_matches_tshark(capture: str) -> None:
    n = check_ntp_against_tshark(shared_path(*capture.split("/")))
    assert n > 0
    print(f"{capture}: {n} NTP packets equal to tshark's")


@needs_tshark
def test_ntp_iot_sentinel_matches_tshark(tmp_path: Path) -> None:
    files = sorted(shared_path("IoT-Sentinel").glob("*/*.pcap"))
    if shutil.which("mergecap") is None:
        pytest.skip("mergecap is not installed")
    merged = tmp_path / "iot-sentinel.pcap"
    subprocess.run(["mergecap", "-a", "-F", "pcap", "-w", str(merged), *map(str, files)], check=True)
    n = check_ntp_against_tshark(merged)
    assert n > 1000
    print(f"IoT-Sentinel ({len(files)} captures merged): {n} NTP packets equal to tshark's")


def test_ntp_crafted() -> None:
    # a mode 7 (private) monlist request: only version and mode are read
    m = ntp.parse(bytes((0x17, 0x00, 0x03, 0x2A)) + b"\x00" * 4)
    assert (m.version, m.mode, m.mode_name, m.stratum) == (2, 7, "private", 0)
    assert ntp.parse(b"\x16\x01\x00\x01").mode_name == "control"
    # client request, NTPv4: LI 0, VN 4, mode 3; transmit time 2019-04-25 22:01:56 UTC (era 0)
    xmt = 1556229716 + ntp.NTP_TO_UNIX
    pkt = bytes((0x23, 2, 6, 0xEC)) + struct.pack("!II", 0x00010000, 0x00008000) + bytes((10, 0, 0, 1))
    pkt += b"\x00" * 24 + struct.pack("!II", xmt, 1 << 31)
    m = ntp.parse(pkt)
    assert (m.leap, m.version, m.mode_name, m.stratum, m.poll, m.precision) == (0, 4, "client", 2, 6, -20)
    assert (m.root_delay, m.root_dispersion, m.ref_id) == (1.0, 0.5, "10.0.0.1")
    assert (m.reference_ts, m.origin_ts, m.transmit_ts) == (0.0, 0.0, 1556229716.5)
    # a seconds field with the top bit clear is in era 1, after 2036-02-07 (RFC 4330 section 3)
    assert ntp.timestamp(1, 0) == 2**32 + 1 - ntp.NTP_TO_UNIX
    for bad in (b"", b"\x23" * 47, b"\x03" + b"\x00" * 47, b"\x3b" + b"\x00" * 47, b"\x07"):
        with pytest.raises(ntp.NtpError):
            ntp.parse(bad)


# ---- RTSP ---------------------------------------------------------------------------------

RTSP_CAPTURES = ["rtsp.pcap", "rtsp_setup_http.pcapng"]
RTSP_FIELDS = [
    "tcp.stream",
    "tcp.srcport",
    "tcp.seq",
    "rtsp.method",
    "rtsp.url",
    "rtsp.status",
    "rtsp.session",
]
RTSP_FIELDS += ["rtsp.transport", "rtsp.content-length", "rtsp.content-type"]


@needs_tshark
@pytest.mark.parametrize("capture", RTSP_CAPTURES)
def test_rtsp_matches_tshark(capture: str) -> None:
    path = shared_path("nDPI", "pcap", capture)
    # the capture holds every segment several times over: one row per stream, direction and sequence
    rows: dict[tuple[int, int, int], dict[str, str]] = {}
    for t in tshark_fields(path, "rtsp.request || rtsp.response", RTSP_FIELDS).values():
        one = {k: v[0] for k, v in t.items() if v}
        rows.setdefault((int(one["tcp.stream"]), int(one["tcp.srcport"]), int(one["tcp.seq"])), one)
    conns = streams(path)
    compared = 0
    for i, (client, server) in enumerate(conns):  # tcpflows keeps tshark's tcp.stream order
        mine = [r for k, r in sorted(rows.items()) if k[0] == i]
        reqs = [r for r in mine if "rtsp.method" in r]
        resps = [r for r in mine if "rtsp.status" in r]
        ours_req = rtsp.parse_messages(client)
        ours_resp = rtsp.parse_messages(server)
        assert [(m.method, m.uri) for m in ours_req] == [(r["rtsp.method"], r["rtsp.url"]) for r in reqs], i
        assert [m.status for m in ours_resp] == [int(r["rtsp.status"]) for r in resps], i
        for m, r in zip(ours_req + ours_resp, reqs + resps, strict=True):
            assert m.headers.get("session", "") == r.get("rtsp.session", ""), i
            assert m.headers.get("transport", "") == r.get("rtsp.transport", ""), i
            assert m.headers.get("content-type", "") == r.get("rtsp.content-type", ""), i
            assert m.content_length == int(r.get("rtsp.content-length", 0)) == len(m.body), i
        # each response answers the request of the same position (RTSP does not reorder)
        assert [m.cseq for m in ours_resp] == [m.cseq for m in ours_req[: len(ours_resp)]], i
        assert all(m.cseq is not None for m in ours_req + ours_resp)
        compared += len(reqs) + len(resps)
    assert compared == len(rows) > 0
    print(f"{capture}: {len(conns)} connections, {compared} RTSP messages equal to tshark's")


def tcp_endpoints(path: Path) -> list[frozenset[str]]:
    """The two "address:port" ends of every TCP connection, in the order ``tcpflows.streams`` lists them."""
    seen: dict[frozenset[str], None] = {}
    for _n, ip in numbered_ips(path):
        if isinstance(ip.data, dpkt.tcp.TCP):
            ends = (
                f"{socket.inet_ntoa(ip.src)}:{ip.data.sport}",
                f"{socket.inet_ntoa(ip.dst)}:{ip.data.dport}",
            )
            seen.setdefault(frozenset(ends), None)
    return list(seen)


@pytest.mark.parametrize("capture", RTSP_CAPTURES)
def test_rtsp_user_agent_matches_ndpi(capture: str) -> None:
    want = {}
    for line in shared_path("nDPI", "result", f"{capture}.out").read_text().splitlines():
        if "[proto: 50/RTSP]" in line:  # a flow line: "TCP a:p <-> b:q [proto: 50/RTSP]...[User-Agent: x]"
            words = line.split()
            want[frozenset((words[2], words[4]))] = line.split("[User-Agent: ")[1].split("]")[0]
    path = shared_path("nDPI", "pcap", capture)
    got = {
        ends: {m.user_agent for m in rtsp.parse_messages(client)}
        for ends, (client, _server) in zip(tcp_endpoints(path), streams(path), strict=True)
    }
    assert want and set(got) == set(want)
    for ends, ua in want.items():
        assert got[ends] == {ua}, sorted(ends)
    print(f"{capture}: User-Agent of {len(want)} flows equal to nDPI's")


def test_rtsp_interleaved_frames_and_partial_messages() -> None:
    describe = b"DESCRIBE rtsp://cam.local/live RTSP/1.0\r\nCSeq: 3\r\nAccept: application/sdp\r\n\r\n"
    sdp = b"v=0\r\nm=video 0 RTP/AVP 96\r\n"
    reply = b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nServer: Hipcam RealServer/V1.0\r\nContent-Length: %d\r\n"
    reply = reply % len(sdp) + b"Content-Type: application/sdp\r\n\r\n" + sdp
    frames = b"$\x00\x00\x0c" + bytes(12) + b"$\x01\x00\x04abcd" + b"$\x00\x00\x02xy"
    play = b"PLAY rtsp://cam.local/live RTSP/2.0\r\nCSeq: 5\r\nSession: 12345678;timeout=60\r\n"
    play += b"User-Agent: Lavf58.29.100\r\nX-Note: one\r\n  two\r\nx-note: three\r\n\r\n"
    data = reply + frames + describe + b"\r\n" + play
    s = rtsp.parse_stream(data)
    assert [(m.is_request, m.method, m.status, m.cseq) for m in s.messages] == [
        (False, "", 200, 3),
        (True, "DESCRIBE", 0, 3),
        (True, "PLAY", 0, 5),
    ]
    assert s.interleaved == {0: 2, 1: 1} and s.interleaved_bytes == 18 and s.consumed == len(data)
    first, _, last = s.messages
    assert first.body == sdp and first.server == "Hipcam RealServer/V1.0" and first.reason == "OK"
    assert (last.version, last.session, last.user_agent) == ("2.0", "12345678", "Lavf58.29.100")
    assert last.headers["x-note"] == "one two, three"
    # cut anywhere: the whole messages before the cut, never an error
    for cut in range(len(data)):
        part = rtsp.parse_stream(data[:cut])
        assert part.messages == s.messages[: len(part.messages)]
        assert part.consumed <= cut


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nCSeq: two\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -4\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999999999\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nno colon here\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\n continued\r\n\r\n",
        b"RTSP/1.0 2000 OK\r\n\r\n",
        b"A" * 9000,
        b"OPTIONS * RTSP/1.0\r\n" + b"X: y\r\n" * 20000,
    ],
)
def test_rtsp_malformed_raises_rtsp_error(data: bytes) -> None:
    with pytest.raises(rtsp.RtspError):
        rtsp.parse_messages(data)


# ---- DHCPv6 -------------------------------------------------------------------------------


def pdml_dhcpv6(path: Path) -> dict[int, dict[str, Any]]:
    """frame number -> tshark's DHCPv6 tree (PDML keeps relay nesting, which -T fields flattens)."""
    cmd = ["tshark", "-r", str(path), "-Y", "dhcpv6", "-T", "pdml"]
    root = ET.fromstring(subprocess.run(cmd, capture_output=True, check=True).stdout)
    out = {}
    for pkt in root.iter("packet"):
        num = pkt.find("proto[@name='geninfo']/field[@name='num']")
        proto = pkt.find("proto[@name='dhcpv6']")
        assert num is not None and proto is not None
        out[int(num.get("show", "0"))] = pdml_message(proto)
    return out


def pdml_message(proto: ET.Element) -> dict[str, Any]:
    d: dict[str, Any] = {"options": [], "oro": [], "vendor": [], "user_class": [], "iaids": [], "addrs": []}
    d.update(xid=0, duid="", mac="", server="", fqdn="", hops=0, link="", peer="", relayed=None)
    for f in proto.findall("field"):
        name, show = f.get("name"), f.get("show", "")
        if name == "dhcpv6.msgtype":
            d["type"] = int(show)
        elif name == "dhcpv6.xid":
            d["xid"] = int(show, 16)
        elif name == "dhcpv6.hopcount":
            d["hops"] = int(show)
        elif name in ("dhcpv6.linkaddr", "dhcpv6.peeraddr"):
            d[name[7:11]] = show
        elif name == "dhcpv6.option.type_str":
            code = int(f.find("field[@name='dhcpv6.option.type']").get("show", ""))  # type: ignore[union-attr]
            d["options"].append(code)
            sub = {g.get("name"): g for g in f.iter("field")}
            if code == 1:
                d["duid"] = sub["dhcpv6.duid.bytes"].get("value")
                for kind in ("duidllt", "duidll"):
                    if (
                        f"dhcpv6.{kind}.link_layer_addr" in sub
                        and sub[f"dhcpv6.{kind}.hwtype"].get("show") == "1"
                    ):
                        d["mac"] = sub[f"dhcpv6.{kind}.link_layer_addr"].get("show")
            elif code == 2:
                d["server"] = sub["dhcpv6.duid.bytes"].get("value")
            elif code == 39:
                d["fqdn"] = sub["dhcpv6.client_domain"].get("show", "").rstrip(".")
            elif code == 6:
                d["oro"] = [
                    int(g.get("show", ""))
                    for g in f.iter("field")
                    if (g.get("name") or "").endswith("option_code")
                ]
            elif code == 16:
                d["enterprise"] = int(sub["dhcpv6.vendorclass.enterprise"].get("show", ""))
                d["vendor"] = [
                    g.get("show") for g in f.iter("field") if g.get("name") == "dhcpv6.vendorclass.data"
                ]
            elif code == 15:
                d["user_class"] = [
                    bytes.fromhex(g.get("value", "")).decode()
                    for g in f.iter("field")
                    if g.get("name") == "dhcpv6.userclass.opaque_data"
                ]
            elif code in (3, 4):
                iaid = sub["dhcpv6.iaid" if code == 3 else "dhcpv6.iata"].get("show", "")
                d["iaids"].append(int(iaid, 16))
                d["addrs"] += [g.get("show") for g in f.iter("field") if g.get("name") == "dhcpv6.iaaddr.ip"]
            elif code == 9:
                inner = f.find("proto[@name='dhcpv6']")
                assert inner is not None
                d["relayed"] = pdml_message(inner)
    return d


def as_pdml(m: dhcpv6.Dhcpv6Message) -> dict[str, Any]:
    """Our message in the shape of ``pdml_message``."""
    d: dict[str, Any] = {
        "type": m.msg_type,
        "xid": m.transaction_id,
        "options": m.option_codes,
        "duid": m.client_duid,
        "mac": m.client_mac,
        "server": m.server_duid,
        "fqdn": m.fqdn,
        "oro": m.oro,
        "vendor": m.vendor_class,
        "user_class": m.user_class,
        "iaids": m.iaids,
        "addrs": m.ia_addresses,
        "hops": m.hop_count,
        "link": m.link_address,
        "peer": m.peer_address,
        "relayed": as_pdml(m.relayed) if m.relayed else None,
    }
    if m.vendor_enterprise is not None:
        d["enterprise"] = m.vendor_enterprise
    return d


@needs_tshark
@pytest.mark.parametrize("capture", ["android.pcap", "tor.pcap"])
def test_dhcpv6_matches_tshark(capture: str) -> None:
    path = shared_path("nDPI", "pcap", capture)
    want = pdml_dhcpv6(path)
    got = udp_by_frame(path, {546, 547})
    assert set(got) == set(want) and want
    for n, tree in want.items():
        m = dhcpv6.parse(got[n])
        assert as_pdml(m) == tree, n
        assert m.type_name == "SOLICIT" and m.client_mac and m.oro
    print(f"{capture}: {len(want)} DHCPv6 messages equal to tshark's")


def scapy_dhcpv6() -> list[tuple[bytes, dict[str, Any]]]:
    """DHCPv6 messages encoded by scapy, with the values they were built from."""
    from scapy.layers import dhcp6 as d6

    cid = d6.DHCP6OptClientId(duid=d6.DUID_LLT(lladdr="00:11:22:33:44:55", timeval=86400))
    sid = d6.DHCP6OptServerId(duid=d6.DUID_EN(enterprisenum=311, id=b"\x01\x02\x03"))
    na = d6.DHCP6OptIA_NA(iaid=7, T1=3600, T2=5400, ianaopts=[d6.DHCP6OptIAAddress(addr="2001:db8::5")])
    ta = d6.DHCP6OptIA_TA(iaid=9, iataopts=[d6.DHCP6OptIAAddress(addr="2001:db8::9")])
    oro = d6.DHCP6OptOptReq(reqopts=[23, 24, 39, 82])
    uc = d6.DHCP6OptUserClass(
        userclassdata=[d6.USER_CLASS_DATA(data=b"MSFT"), d6.USER_CLASS_DATA(data=b"iot")]
    )
    vc = d6.DHCP6OptVendorClass(enterprisenum=4491, vcdata=[d6.VENDOR_CLASS_DATA(data=b"docsis3.0")])
    fqdn = d6.DHCP6OptClientFQDN(flags=1, fqdn="cam-01.home.arpa.")
    solicit = d6.DHCP6_Solicit(trid=0x0A0B0C) / cid / na / oro / uc / vc / fqdn
    request = d6.DHCP6_Request(trid=0xABCDEF) / cid / sid / ta / d6.DHCP6OptElapsedTime()
    inner = d6.DHCP6_RelayForward(hopcount=0, linkaddr="::", peeraddr="fe80::2") / d6.DHCP6OptRelayMsg(
        message=request
    )
    relay = (
        d6.DHCP6_RelayForward(hopcount=1, linkaddr="2001:db8::1", peeraddr="fe80::1")
        / d6.DHCP6OptIfaceId(ifaceid=b"ge-0/0/1")
        / d6.DHCP6OptRelayMsg(message=inner)
    )
    ll = d6.DHCP6OptClientId(duid=d6.DUID_LL(lladdr="aa:bb:cc:00:00:01"))
    solicit_truth = dict(type_name="SOLICIT", transaction_id=0x0A0B0C, client_mac="00:11:22:33:44:55")
    solicit_truth |= dict(
        duid_type=1, fqdn="cam-01.home.arpa", oro=[23, 24, 39, 82], user_class=["MSFT", "iot"]
    )
    solicit_truth |= dict(
        vendor_enterprise=4491, vendor_class=["docsis3.0"], iaids=[7], ia_addresses=["2001:db8::5"]
    )
    relay_truth = dict(
        type_name="RELAY-FORW", hop_count=1, link_address="2001:db8::1", peer_address="fe80::1"
    )
    msgs: list[tuple[Any, dict[str, Any]]] = [
        (solicit, solicit_truth),
        (relay, relay_truth | dict(interface_id=b"ge-0/0/1")),
        (d6.DHCP6_InfoRequest(trid=5) / ll / oro, dict(type_name="INFORMATION-REQUEST", duid_type=3)),
    ]
    names = ["ADVERTISE", "REPLY", "RENEW", "REBIND", "CONFIRM", "RELEASE", "DECLINE", "RECONFIGURE"]
    classes = [d6.DHCP6_Advertise, d6.DHCP6_Reply, d6.DHCP6_Renew, d6.DHCP6_Rebind, d6.DHCP6_Confirm]
    classes += [d6.DHCP6_Release, d6.DHCP6_Decline, d6.DHCP6_Reconf]
    for cls, name in zip(classes, names, strict=True):
        # DUID-EN: type 2, enterprise 311, identifier 01 02 03
        msgs.append(
            (cls(trid=0x010203) / cid / sid / na, dict(type_name=name, server_duid="000200000137010203"))
        )
    reply = d6.DHCP6_RelayReply(hopcount=0, linkaddr="2001:db8::1", peeraddr="fe80::1") / d6.DHCP6OptRelayMsg(
        message=d6.DHCP6_Reply(trid=1) / sid / cid / na
    )
    msgs.append((reply, dict(type_name="RELAY-REPL")))
    return [(bytes(m), truth) for m, truth in msgs]


def write_pcap(path: Path, datagrams: list[tuple[int, int, bytes]], v6: bool) -> None:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    def net() -> Any:
        return IPv6(src="fe80::1", dst="ff02::1:2") if v6 else IP(src="10.0.0.2", dst="10.0.0.1")

    wrpcap(str(path), [Ether() / net() / UDP(sport=s, dport=d) / p for s, d, p in datagrams])


@needs_tshark
def test_dhcpv6_scapy_built_matches_tshark_and_truth(tmp_path: Path) -> None:
    built = scapy_dhcpv6()
    path = tmp_path / "dhcpv6.pcap"
    write_pcap(path, [(546, 547, p) for p, _t in built], v6=True)
    want = pdml_dhcpv6(path)
    assert sorted(want) == list(range(1, len(built) + 1))
    for n, (payload, truth) in enumerate(built, 1):
        m = dhcpv6.parse(payload)
        assert as_pdml(m) == want[n], n
        for key, value in truth.items():
            assert getattr(m, key) == value, (n, key)
    relay = dhcpv6.parse(built[1][0])
    assert relay.relayed is not None and relay.relayed.type_name == "RELAY-FORW"
    inner = relay.innermost
    assert (inner.type_name, inner.transaction_id, inner.client_mac) == (
        "REQUEST",
        0xABCDEF,
        "00:11:22:33:44:55",
    )
    assert inner.iaids == [9] and inner.ia_addresses == ["2001:db8::9"] and inner.server_duid
    print(f"{len(built)} scapy-built DHCPv6 messages equal to tshark's tree and to the values built from")


def test_dhcpv6_crafted_and_errors() -> None:
    # option 16 with two strings (tshark 4.0 shows only the first), a partial FQDN (no final zero,
    # RFC 4704 4.1), a DUID-LLT of hardware type 6 (IEEE 802, not Ethernet: no MAC)
    solicit = bytes.fromhex("01000001") + struct.pack("!HH", 16, 4 + 2 + 8 + 2 + 3) + struct.pack("!I", 311)
    solicit += b"\x00\x08MSFT 5.0\x00\x03abc" + struct.pack("!HHB", 39, 8, 0) + b"\x06Endian"
    solicit += struct.pack("!HHHHI", 1, 14, 1, 6, 0) + bytes(6)
    m = dhcpv6.parse(solicit)
    assert (m.vendor_enterprise, m.vendor_class, m.fqdn) == (311, ["MSFT 5.0", "abc"], "Endian")
    assert (m.duid_type, m.client_mac, m.option_codes) == (1, "", [16, 39, 1])
    request = bytes.fromhex("03abcdef") + bytes.fromhex("0001000a00030001001122334455")

    def relay(msg: bytes) -> bytes:
        return b"\x0c\x00" + bytes(32) + struct.pack("!HH", 9, len(msg)) + msg

    msg = request
    for _ in range(dhcpv6.MAX_RELAY_DEPTH):
        msg = relay(msg)
    assert dhcpv6.parse(msg).innermost.client_mac == "00:11:22:33:44:55"
    bad = [
        b"\x01\x00\x00",  # shorter than the header
        b"\x00\x00\x00\x01",  # type 0 is reserved
        request + b"\x00\x01",  # option header cut
        request[:4] + b"\x00\x01\x00\x20" + bytes(4),  # option length past the end
        request[:4] + b"\x00\x06\x00\x03\x00\x17\x00",  # ORO of odd length
        request[:4] + b"\x00\x27\x00\x03\x00\x40a",  # FQDN label of 64 (a compression pointer)
        request[:4] + b"\x00\x03\x00\x04" + bytes(4),  # IA_NA without T1, T2
        request[:4] + b"\x00\x10\x00\x02\x00\x00",  # vendor class without its enterprise number
        b"\x0c\x00" + bytes(20),  # relay header cut
        relay(msg),  # one relay too many
    ]
    for blob in bad:
        with pytest.raises(dhcpv6.Dhcpv6Error):
            dhcpv6.parse(blob)


# ---- CoAP ---------------------------------------------------------------------------------

COAP_NAMES = {"Uri-Host": 3, "Observe": 6, "Uri-Port": 7, "Uri-Path": 11, "Content-Format": 12}
COAP_NAMES |= {"Uri-Query": 15, "Accept": 17}
RESPONSE_CODES = [2 << 5 | d for d in (1, 2, 3, 4, 5, 31)]
RESPONSE_CODES += [4 << 5 | d for d in (0, 1, 2, 3, 4, 5, 6, 12, 13, 15)] + [5 << 5 | d for d in range(4)]


# per Content-Format, a payload its tshark dissector accepts (text, link-format, JSON, CBOR, LwM2M TLV)
COAP_PAYLOADS = {
    0: b"21.5 C",
    40: b'</sensors/temp>;rt="temperature"',
    50: b'{"t":21.5}',
    60: b"\xa1\x61t\x01",
}
COAP_PAYLOADS[11542] = bytes.fromhex("c80014") + b"Open Mobile Alliance"


def _uint(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def random_coap(rng: random.Random) -> tuple[Any, dict[str, Any]]:
    """A scapy CoAP message with random fields, and the values it was built from."""
    from scapy.contrib.coap import CoAP

    request = rng.random() < 0.6
    code = rng.randint(1, 7) if request else rng.choice(RESPONSE_CODES)
    token = rng.randbytes(rng.randint(0, 8))
    text = "abcdefghijklmnopqrstuvwxyz0123456789-_.=~"
    host = "".join(rng.choices(text[:36], k=rng.randint(1, 20))) if request and rng.random() < 0.4 else None
    path = ["".join(rng.choices(text, k=rng.choice([0, 1, 5, 12, 13, 14, 40, 254, 255]))) for _ in
            range(rng.randint(0, 4) if request else 0)]  # fmt: skip
    nq = rng.randint(0, 3) if request else 0
    query = ["".join(rng.choices(text, k=rng.randint(1, 30))) for _ in range(nq)]
    fmt = rng.choice([None, 0, 40, 42, 50, 60, 11542]) if rng.random() < 0.5 else None
    port = rng.choice([None, 5683, 61616])
    observe = rng.choice([None, 0, 1, 0x123456])
    unknown = rng.choice([None, 2049, 3000, 65000])
    opts: list[tuple[int, bytes]] = []
    opts += [(3, host.encode())] if host else []
    opts += [(6, _uint(observe))] if observe is not None else []
    opts += [(7, _uint(port))] if port else []
    opts += [(11, p.encode()) for p in path] + ([(12, _uint(fmt))] if fmt is not None else [])
    opts += [(15, q.encode()) for q in query]
    # an option tshark does not know, with 0-300 bytes: 269 and more take the 2-byte extended length
    opts += [(unknown, rng.randbytes(rng.randint(0, 300)))] if unknown else []
    # a payload tshark's dissector for the Content-Format accepts: a malformed one ends its dissection early
    fixed = COAP_PAYLOADS.get(fmt) if fmt is not None else None
    payload = rng.choice([b"", fixed or rng.randbytes(rng.randint(1, 80))])
    msg = CoAP(type=rng.randrange(4), code=code, msg_id=rng.randrange(65536), token=token, options=opts)
    if payload:
        msg.paymark = b"\xff"
        msg = msg / payload
    truth = dict(
        code=f"{code >> 5}.{code & 31:02d}", message_id=msg.msg_id, token=token.hex(), uri_host=host,
        uri_path="/" + "/".join(path), uri_query=query, content_format=fmt, uri_port=port, observe=observe,
        payload=payload, options=sorted(opts, key=lambda o: o[0]),
    )  # fmt: skip
    return msg, truth


COAP_FIELDS = ["coap.type", "coap.code", "coap.mid", "coap.token", "coap.opt.name", "coap.opt.uri_host"]
COAP_FIELDS += ["coap.opt.uri_path", "coap.opt.uri_query", "coap.opt.uri_port", "coap.opt.observe"]
COAP_FIELDS += ["coap.opt.uri_path_recon", "coap.payload_length"]


@needs_tshark
def test_coap_scapy_built_matches_tshark_and_truth(tmp_path: Path) -> None:
    rng = random.Random(7252)
    built = [random_coap(rng) for _ in range(300)]
    path = tmp_path / "coap.pcap"
    write_pcap(path, [(40000 + i, 5683, bytes(m)) for i, (m, _t) in enumerate(built)], v6=False)
    want = tshark_fields(path, "coap", COAP_FIELDS)
    assert sorted(want) == list(range(1, len(built) + 1))
    methods = set()
    for n, (m, truth) in enumerate(built, 1):
        ours = coap.parse(bytes(m))
        for key, value in truth.items():
            assert getattr(ours, key) == value, (n, key)
        t = want[n]
        assert (ours.type, int(ours.code[0]) * 32 + int(ours.code[2:])) == (
            coap.TYPES[int(t["coap.type"][0])],
            int(t["coap.code"][0]),
        ), n
        assert ours.message_id == int(t["coap.mid"][0]) and ours.token == "".join(t["coap.token"]), n
        names = [s.split(": ", 1)[1] for s in t["coap.opt.name"]]
        numbers = [COAP_NAMES.get(s) or int(s.removeprefix("Unknown Option (").rstrip(")")) for s in names]
        assert [o for o, _v in ours.options] == numbers, n
        # one empty Uri-Path segment prints as an empty column, read back as no value
        tpath = t["coap.opt.uri_path"] or [""] * names.count("Uri-Path")
        assert ours.values(11) == [s.encode() for s in tpath], n
        assert ours.uri_query == t["coap.opt.uri_query"], n
        assert ours.uri_host == next(iter(t["coap.opt.uri_host"]), None), n
        assert ours.uri_port == (int(t["coap.opt.uri_port"][0]) if t["coap.opt.uri_port"] else None), n
        assert ours.observe == (int(t["coap.opt.observe"][0]) if t["coap.opt.observe"] else None), n
        assert len(ours.payload) == int(next(iter(t["coap.payload_length"]), 0)), n
        if ours.is_request:
            # tshark rebuilds the URI from Uri-Host, Uri-Port and Uri-Path (not Uri-Query), and leaves
            # out the "/" that RFC 7252 6.5 (step 8) gives a request without Uri-Path
            recon = f"coap://{ours.uri_host}" if ours.uri_host else ""
            recon += f":{ours.uri_port}" if ours.uri_port else ""
            recon += ours.uri_path if ours.values(coap.URI_PATH) else ""
            assert t["coap.opt.uri_path_recon"] == ([recon] if recon else []), n
            methods.add(ours.code_name)
    assert methods == {"GET", "POST", "PUT", "DELETE", "FETCH", "PATCH", "iPATCH"}
    print(f"{len(built)} scapy-built CoAP messages equal to tshark's and to the values they were built from")


def test_coap_crafted() -> None:
    # CON GET, MID 0x7d34, token 0x4a, Uri-Path "temperature" (RFC 7252 figure 16's request)
    m = coap.parse(bytes.fromhex("41017d344abb") + b"temperature")
    assert (m.type, m.code, m.code_name, m.message_id, m.token) == ("CON", "0.01", "GET", 0x7D34, "4a")
    assert m.uri_path == "/temperature" and m.is_request and not m.is_response
    # ACK 2.05 Content, Content-Format 50 (application/json), payload after the marker
    m = coap.parse(bytes.fromhex("62457d344a01") + b"\xc1\x32\xff" + b'{"t":22.3}')
    assert (m.type, m.code_name, m.content_format, m.payload) == ("ACK", "Content", 50, b'{"t":22.3}')
    # option 2049 with a 300-byte value: delta 14 (2049-269 = 0x06f4), length 14 (300-269 = 0x001f)
    m = coap.parse(bytes.fromhex("50020001ee06f4001f") + b"v" * 300)
    assert (m.type, m.code_name, m.options) == ("NON", "POST", [(2049, b"v" * 300)])
    # delta 13 (13 + 2 = 15: Uri-Query) with length 13 (13 + 0), then delta 0 length 3 (Uri-Query again)
    m = coap.parse(bytes.fromhex("40030002dd0200") + b"q" * 13 + b"\x03a=1")
    assert m.uri_path == "/" and m.uri_query == ["q" * 13, "a=1"] and m.code_name == "PUT"
    assert coap.parse(bytes.fromhex("60000001")).code_name == "Empty"  # an empty ACK
    assert coap.parse(bytes.fromhex("4085beef")).code_name == "Method Not Allowed"
    bad = [
        b"\x40\x01\x00",  # short header
        b"\x80\x01\x00\x01",  # version 2
        b"\x49\x01\x00\x01" + bytes(9),  # token length 9
        b"\x42\x01\x00\x01\x00",  # token cut
        b"\x40\x01\x00\x01\xff",  # payload marker, no payload
        b"\x40\x01\x00\x01\xf1a",  # delta nibble 15
        b"\x40\x01\x00\x01\xbfa",  # length nibble 15
        b"\x40\x01\x00\x01\xb5ab",  # value cut
        b"\x40\x01\x00\x01\xd0",  # extended delta cut
        b"\x40\x01\x00\x01\xe0\x00",  # extended delta cut
        b"\x40\x01\x00\x01\xe0\xff\xff\xe0\xff\xff",  # option number past 65535
        b"\x40\x00\x00\x01\xff\x00",  # an Empty message with a payload
    ]
    for blob in bad:
        with pytest.raises(coap.CoapError):
            coap.parse(blob)


def test_no_real_coap_capture_is_silently_skipped() -> None:
    """The module docstring says no shared capture holds CoAP: fail when one appears, to be compared."""
    manifest = shared_path("MANIFEST.tsv").read_text()
    seen = [line.split("\t")[0] for line in manifest.splitlines()[1:] if "coap" in line.split("\t")[-1]]
    assert seen == [], f"captures with CoAP to add to the tshark comparison: {seen}"


def test_all_dissectors_raise_only_their_error_on_cut_input() -> None:
    samples = [
        (ntp.parse, ntp.NtpError, bytes.fromhex("1c0300e9") + bytes(range(44))),
        (coap.parse, coap.CoapError, bytes.fromhex("62457d344a01c132ff") + b"{}"),
        (dhcpv6.parse, dhcpv6.Dhcpv6Error, scapy_dhcpv6()[1][0]),
    ]
    for fn, err, good in samples:
        fn(good)
        for cut in range(len(good)):
            with contextlib.suppress(err):
                fn(good[:cut])


def test_rtsp_messages_carry_their_own_time() -> None:
    """Each RTSP message in a replayed connection is stamped with the segment that carried it."""
    from parsers.events import AppRecord
    from tests.support.sessionrun import run_sessions

    meter = run_sessions(shared_path("nDPI", "pcap", "rtsp.pcap"))
    by_flow: dict[int, list[int]] = {}
    for r in meter.records:
        if isinstance(r, AppRecord) and r.protocol == "rtsp" and r.up:
            by_flow.setdefault(id(r.flow), []).append(r.ts)
    assert by_flow
    for times in by_flow.values():
        assert times == sorted(times) and len(set(times)) == len(times), times
