"""The capture writer: what it writes reads back through our reader and through tshark, field by field."""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import pytest

from parsers import capture_write as cw
from parsers.capture import ReadStats, read_pcap

T0 = 1_700_000_000_123_456_789  # odd nanoseconds: resolutions must show
FRAMES = [bytes([i]) * (60 + i) for i in range(6)]  # lengths 60..65: every padding


def read_back(path: Path) -> tuple[list[tuple[int, int, int, bytes]], ReadStats]:
    st = ReadStats()
    return [(ts, lt, orig, bytes(d)) for ts, lt, orig, d in read_pcap(str(path), st)], st


def tshark(path: Path, *fields: str) -> list[list[str]]:
    r = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-T", "fields", *(a for f in fields for a in ("-e", f))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line.split("\t") for line in r.stdout.splitlines()]


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_round_trip(tmp_path: Path, order: str, nano: bool) -> None:
    p = tmp_path / "a.pcap"
    with open(p, "wb") as fh, cw.PcapWriter(fh, 113, nano=nano, order=order, snaplen=1500) as out:
        for i, data in enumerate(FRAMES):
            out.write(T0 + i * 1_001, data, orig=len(data) + i if i % 2 else len(data) - 1)
    assert out.count == len(FRAMES) and out.size == p.stat().st_size == 24 + sum(16 + len(f) for f in FRAMES)
    blob = p.read_bytes()
    magic, _maj, _min, _zone, _sig, snaplen, linktype = struct.unpack_from(order + "IHHiIII", blob)
    assert (magic, snaplen, linktype) == (cw.PCAP_MAGIC_NS if nano else cw.PCAP_MAGIC_US, 1500, 113)
    pkts, st = read_back(p)
    stamps = [T0 + i * 1_001 for i in range(len(FRAMES))]
    assert [x[0] for x in pkts] == (stamps if nano else [t // 1000 * 1000 for t in stamps])
    # the original length is kept when larger, and never written below the captured length
    assert [x[2] for x in pkts] == [len(f) + i if i % 2 else len(f) for i, f in enumerate(FRAMES)]
    assert [x[3] for x in pkts] == FRAMES and st.link_types == {113} and not st.truncated


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_interfaces_resolutions_and_blocks(tmp_path: Path, order: str) -> None:
    p = tmp_path / "b.pcapng"
    with open(p, "wb") as fh, cw.PcapngWriter(fh, order=order, userappl="tapaudit") as out:
        us = out.add_interface(1)  # no if_tsresol: microseconds
        ns = out.add_interface(101, 9000, tsresol=9, name="tap0")
        bin10 = out.add_interface(1, tsresol=0x80 | 10)  # 2^-10 s
        out.write(T0, FRAMES[0], us)
        out.write_block(0xBAD, b"skip me")
        out.write(T0 + 1, FRAMES[1], ns, orig=1500)
        out.write(T0 + 2, FRAMES[2], bin10)
        out.write_simple(FRAMES[3])
    assert out.interfaces == 3 and out.count == 4 and out.size == p.stat().st_size
    pkts, st = read_back(p)
    assert [(x[0], x[1], x[2]) for x in pkts] == [
        (T0 // 1000 * 1000, 1, 60),
        (T0 + 1, 101, 1500),
        (T0 * 1024 // 10**9 * 10**9 // 1024, 1, 62),  # rounded down to a 1/1024 s tick
        (T0 + 1, 1, 63),  # SPB: no timestamp, the latest one is kept
    ]
    assert [x[3] for x in pkts] == FRAMES[:4]
    assert st.skipped_blocks == 1 and st.link_types == {1, 101} and not st.truncated


@pytest.mark.tshark
def test_pcapng_options_as_tshark_reads_them(tmp_path: Path) -> None:
    p = tmp_path / "c.pcapng"
    with open(p, "wb") as fh, cw.PcapngWriter(fh, order=">", userappl="tapaudit") as out:
        ifid = out.add_interface(1, 65535, tsresol=9, name="tap0")
        out.write(T0, FRAMES[0], ifid, 100, comment="a comment, not ASCII: é", flags=0x1)
        out.write(T0 + 10**8, FRAMES[1], ifid)
    rows = tshark(
        p,
        "frame.time_epoch",
        "frame.len",
        "frame.cap_len",
        "frame.comment",
        "frame.packet_flags",
        "frame.interface_name",
    )
    assert rows == [
        ["1700000000.123456789", "100", "60", "a comment, not ASCII: é", "0x00000001", "tap0"],
        ["1700000000.223456789", "61", "61", "", "", "tap0"],
    ]
    assert [x[0] for x in read_back(p)[0]] == [T0, T0 + 10**8]  # options do not disturb our reader


@pytest.mark.tshark
def test_pcap_as_tshark_reads_it(tmp_path: Path) -> None:
    p = tmp_path / "d.pcap"
    with open(p, "wb") as fh:
        assert cw.write_pcap(fh, [(T0 + i, f) for i, f in enumerate(FRAMES)], nano=True) == len(FRAMES)
    rows = tshark(p, "frame.time_epoch", "frame.len")
    assert rows == [[f"1700000000.{123456789 + i}", str(len(f))] for i, f in enumerate(FRAMES)]


def test_blocks_reach_the_file_whole(tmp_path: Path) -> None:
    """Nothing is written before a flush or BUFFER bytes; what is written ends on a block boundary."""
    buf = io.BytesIO()
    out = cw.PcapngWriter(buf)
    out.add_interface(1, tsresol=9)
    out.write(T0, FRAMES[0])
    assert buf.getvalue() == b"" and out.size == 28 + 32 + cw.epb_length(60)  # SHB, IDB with if_tsresol, EPB
    big = bytes(1499)
    n = 0
    while len(buf.getvalue()) == 0:
        out.write(T0 + n, big)
        n += 1
    written = len(buf.getvalue())
    assert cw.BUFFER <= written < cw.BUFFER + cw.epb_length(1499) and written == out.size
    out.write(T0 + n, FRAMES[1])
    assert len(buf.getvalue()) == written < out.size
    p = tmp_path / "e.pcapng"
    p.write_bytes(buf.getvalue())
    pkts, st = read_back(p)
    assert len(pkts) == n + 1 and not st.truncated  # every packet handed over is whole
    out.flush()
    assert len(buf.getvalue()) == out.size


@pytest.mark.tshark
def test_write_packets_by_link_type_up_to_a_limit(tmp_path: Path) -> None:
    """The ring's path: packets as the reader yields them, an interface per link type, a size bound."""
    pkts = [(T0 + i, 101 if i == 3 else 1, len(f) + 9, f) for i, f in enumerate(FRAMES)]
    p = tmp_path / "f.pcapng"
    with open(p, "wb") as fh, cw.PcapngWriter(fh) as out:
        out.add_interface(1, 1514, tsresol=9, name="tap0")
        head = out.size
        limit = head + sum(cw.epb_length(len(f)) for f in FRAMES[:3]) + 40  # room for 3 packets, not 4
        assert out.write_packets(pkts, 0, limit) == 3
        assert out.write_packets(pkts, 3) == len(FRAMES) and out.count == len(FRAMES)
    got, st = read_back(p)
    assert [(x[0], x[1], x[2], x[3]) for x in got] == [(t, lt, n, bytes(f)) for t, lt, n, f in pkts]
    assert out.interfaces == 2 and st.link_types == {1, 101}
    rows = tshark(p, "frame.interface_name", "frame.cap_len")
    assert rows == [["tap0", str(len(f))] for f in FRAMES]  # the new interface is named like the first
    fresh = cw.PcapngWriter(io.BytesIO())
    fresh.add_interface(1)
    assert fresh.write_packets(pkts, 0, limit=1) == 1  # a file takes its first packet whatever the bound


def test_byte_order_is_checked() -> None:
    with pytest.raises(ValueError, match="byte order"):
        cw.PcapWriter(io.BytesIO(), order="!")
    with pytest.raises(ValueError, match="byte order"):
        cw.PcapngWriter(io.BytesIO(), order="=")
