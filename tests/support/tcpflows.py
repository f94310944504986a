"""Test harness: TCP connections of a capture, decoded with dpkt and reassembled by parsers.tcpstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dpkt

from parsers.tcpstream import HalfStream


def streams(path: Path) -> list[tuple[bytes, bytes]]:
    """(client bytes, server bytes) of every TCP connection, reassembled by parsers.tcpstream."""
    conns: dict[frozenset[tuple[bytes, int]], tuple[list[tuple[bytes, int]], HalfStream, HalfStream]] = {}
    for ip in ip_packets(path):
        if not isinstance(ip.data, dpkt.tcp.TCP):
            continue
        t = ip.data
        a, b = (bytes(ip.src), t.sport), (bytes(ip.dst), t.dport)
        syn, ack = bool(t.flags & dpkt.tcp.TH_SYN), bool(t.flags & dpkt.tcp.TH_ACK)
        entry = conns.get(frozenset((a, b)))
        if entry is None:  # the client is the SYN sender, else the first sender
            entry = conns[frozenset((a, b))] = ([b if syn and ack else a], HalfStream(), HalfStream())
        if syn and not ack:
            entry[0][0] = a
        half = entry[1] if entry[0][0] == a else entry[2]
        half.add(t.seq, bytes(t.data), syn=syn)
    return [(bytes(c.data), bytes(s.data)) for _, c, s in conns.values()]


def _ip(buf: bytes, datalink: int) -> Any:
    if datalink == dpkt.pcap.DLT_EN10MB:
        eth = dpkt.ethernet.Ethernet(buf)
        return eth.data if isinstance(eth.data, dpkt.ip.IP | dpkt.ip6.IP6) else None
    if datalink in (dpkt.pcap.DLT_RAW, 101):
        return dpkt.ip.IP(buf) if buf[0] >> 4 == 4 else dpkt.ip6.IP6(buf)
    if datalink == dpkt.pcap.DLT_LINUX_SLL:
        return dpkt.sll.SLL(buf).data
    if datalink in (dpkt.pcap.DLT_NULL, dpkt.pcap.DLT_LOOP):
        return dpkt.loopback.Loopback(buf).data
    return None


def udp_datagrams(path: Path) -> list[tuple[tuple[bytes, int, bytes, int], bytes]]:
    """((src, sport, dst, dport), payload) of every UDP datagram, in capture order."""
    return [
        ((bytes(ip.src), ip.data.sport, bytes(ip.dst), ip.data.dport), bytes(ip.data.data))
        for ip in ip_packets(path)
        if isinstance(ip.data, dpkt.udp.UDP)
    ]


def ip_packets(path: Path) -> Iterator[Any]:
    """dpkt's IPv4/IPv6 packet of every frame of a pcap or pcapng file (other frames skipped)."""
    with open(path, "rb") as fh:
        ng = fh.read(4) == b"\n\r\r\n"
        fh.seek(0)
        reader: Any = dpkt.pcapng.Reader(fh) if ng else dpkt.pcap.Reader(fh)
        for _ts, buf in reader:
            ip = _ip(buf, reader.datalink())
            if ip is not None:
                yield ip
