"""Capture readers on crafted files: every header variant the readers claim to support."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP, Ether

from parsers.capture import CaptureError, ReadStats, read_pcap
from parsers.capture_inputs import expand_inputs
from tests.support.capwriter import custom_block, epb, idb, pcap_bytes, shb, spb

FRAME = bytes(
    Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="10.0.0.1", dst="10.0.0.2") / UDP()
)
T0 = 1_700_000_000_123_456_000


def read_all(path: Path) -> tuple[list[tuple[int, int, int, bytes]], ReadStats]:
    st = ReadStats()
    return list(read_pcap(str(path), st)), st


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_classic_pcap_byte_orders_and_resolutions(tmp_path: Path, order: str, nano: bool) -> None:
    ts = [T0 + i * 1_000_123 for i in range(5)]
    p = tmp_path / "a.pcap"
    p.write_bytes(pcap_bytes([(t, FRAME) for t in ts], order=order, nano=nano))
    pkts, st = read_all(p)
    want = ts if nano else [t // 1000 * 1000 for t in ts]
    assert [x[0] for x in pkts] == want
    assert all(x[1] == 1 and x[3] == FRAME for x in pkts)
    assert st.format == "pcap" and st.packets == 5 and not st.truncated
    assert st.first_ns == want[0] and st.last_ns == want[-1]


def test_pcapng_interfaces_resolutions_spb_and_unknown_blocks(tmp_path: Path) -> None:
    raw_ip = FRAME[14:]
    body = (
        shb()
        + idb(1)  # default microseconds
        + idb(101, tsresol=9)  # raw IP, nanoseconds
        + idb(1, tsresol=0x80 | 10)  # 2^-10 s
        + epb(0, T0 // 1000, FRAME)
        + custom_block()
        + epb(1, T0 + 5, raw_ip)
        + epb(2, 1024 * 1_700_000_001, FRAME)
        + spb(FRAME)
    )
    p = tmp_path / "b.pcapng"
    p.write_bytes(body)
    pkts, st = read_all(p)
    assert [(x[0], x[1]) for x in pkts] == [
        (T0, 1),
        (T0 + 5, 101),
        (1_700_000_001 * 10**9, 1),
        (1_700_000_001 * 10**9, 1),  # SPB has no timestamp: the previous one is kept
    ]
    assert pkts[1][3] == raw_ip
    assert st.link_types == {1, 101} and st.skipped_blocks == 1 and st.packets == 4


def test_pcapng_big_endian_and_second_section(tmp_path: Path) -> None:
    body = shb(">") + idb(1, order=">") + epb(0, T0 // 1000, FRAME, ">")
    body += shb("<") + idb(113) + epb(0, T0 // 1000 + 1, b"\0" * 16 + FRAME[14:])
    p = tmp_path / "c.pcapng"
    p.write_bytes(body)
    pkts, _ = read_all(p)
    assert [x[1] for x in pkts] == [1, 113]  # interfaces restart per section


@pytest.mark.parametrize("name", ["a.pcap.gz", "a.pcapng.gz"])
def test_gzip(tmp_path: Path, name: str) -> None:
    raw = pcap_bytes([(T0, FRAME)] * 3) if ".pcap." in name else shb() + idb(1) + epb(0, T0 // 1000, FRAME)
    p = tmp_path / name
    p.write_bytes(gzip.compress(raw))
    pkts, st = read_all(p)
    assert st.compressed and len(pkts) == (3 if ".pcap." in name else 1)


def test_truncated_files_keep_whole_packets(tmp_path: Path) -> None:
    full = pcap_bytes([(T0 + i, FRAME) for i in range(10)])
    for cut in (len(full) - 5, len(full) - len(FRAME) - 10):
        p = tmp_path / f"t{cut}.pcap"
        p.write_bytes(full[:cut])
        pkts, st = read_all(p)
        assert len(pkts) == 9 and st.truncated and "cut short" in st.error
    import random

    rnd = random.Random(1)
    noisy = pcap_bytes([(T0 + i, rnd.randbytes(600)) for i in range(400)])
    gz = tmp_path / "t.pcap.gz"
    gz.write_bytes(gzip.compress(noisy)[: len(noisy) // 2])
    pkts, st = read_all(gz)
    assert 100 < len(pkts) < 400 and st.truncated


def test_corrupt_record_length_stops_cleanly(tmp_path: Path) -> None:
    raw = bytearray(pcap_bytes([(T0, FRAME), (T0 + 1, FRAME)]))
    raw[24 + 16 + len(FRAME) + 8 : 24 + 16 + len(FRAME) + 12] = (0x7FFFFFFF).to_bytes(4, "little")
    p = tmp_path / "bad.pcap"
    p.write_bytes(bytes(raw))
    pkts, st = read_all(p)
    assert len(pkts) == 1 and st.truncated and "impossible length" in st.error


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "too short"), (b"hello world, not a capture", "not a pcap"), (b"\x1f\x8bjunk", "gzip")],
)
def test_not_a_capture(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "x.pcap"
    p.write_bytes(content)
    with pytest.raises(CaptureError, match=message):
        list(read_pcap(str(p)))


def test_directory_and_glob_are_ordered_by_first_packet(tmp_path: Path) -> None:
    # Names sort the other way round from time, as after a ring buffer wraps.
    for name, t in (
        ("ring_00001.pcap", T0 + 2 * 10**9),
        ("ring_00002.pcap", T0),
        ("ring_00003.pcap", T0 + 10**9),
    ):
        (tmp_path / name).write_bytes(pcap_bytes([(t, FRAME)]))
    (tmp_path / "notes.txt").write_text("ignored")
    want = [str(tmp_path / n) for n in ("ring_00002.pcap", "ring_00003.pcap", "ring_00001.pcap")]
    assert expand_inputs(str(tmp_path)) == want
    assert expand_inputs(os.path.join(str(tmp_path), "ring_*.pcap")) == want
    with pytest.raises(CaptureError, match="no file"):
        expand_inputs(str(tmp_path / "nothing_*.pcap"))


def test_memory_does_not_grow_with_file_size(tmp_path: Path) -> None:
    """The reader holds one chunk and one batch: 3x the packets, the same peak."""
    import tracemalloc

    peaks = []
    for count in (200_000, 600_000):  # both span several 4 MB chunks
        p = tmp_path / f"big{count}.pcap"
        with open(p, "wb") as fh:
            fh.write(pcap_bytes([]))
            rec = pcap_bytes([(T0, FRAME)])[24:]
            for _ in range(count):
                fh.write(rec)
        tracemalloc.start()
        n = sum(1 for _ in read_pcap(str(p)))
        _cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert n == count
        peaks.append(peak)
    assert peaks[1] < peaks[0] * 1.1, f"peak grew from {peaks[0]} to {peaks[1]} bytes"
    assert peaks[1] < 24 << 20


@pytest.mark.parametrize(
    "parts",
    [
        ("SSI_Measurements_2022", "2-smartPowerPlugPassiveMeasurements.pcap"),
        ("nDPI", "pcap", "alexa-app.pcapng"),
        ("JasonHYJ-deviceIdentification", "2019-04-25_idle.pcap"),  # pcapng, whatever its name
    ],
)
@pytest.mark.parametrize("sizes", [(4096, 1500, 64), (65536, 20000, 4096), (None, None, None)])
def test_records_cut_by_a_chunk_read_as_dpkt_reads_them(
    parts: tuple[str, ...], sizes: tuple[int | None, int | None, int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record cut by the end of a chunk is read from its start and the bytes it lacks, the rest
    of the chunk kept for the next window (``_Chunks.spill``, issue 20): every packet as dpkt reads
    it, progress at each batch the file offset after it (classic pcap), and the spill used."""
    import dpkt

    from parsers import capture
    from tests.support.paths import shared_path

    path = shared_path(*parts)
    for name, value in zip(("CHUNK", "BATCH_BYTES", "SPILL_MIN"), sizes, strict=True):
        if value is not None:
            monkeypatch.setattr(capture, name, value)
    spilled = 0
    need = capture._Chunks.need

    def counted(self: capture._Chunks, n: int) -> bool:
        nonlocal spilled
        ok = need(self, n)
        spilled += bool(self.spill)
        return ok

    monkeypatch.setattr(capture._Chunks, "need", counted)
    st = ReadStats()
    got: list[tuple[int, bytes]] = []
    offset = 24
    for batch in capture.read_batches(str(path), st):
        got += [(orig, bytes(frame)) for _ts, _lt, orig, frame in batch]
        offset += sum(16 + len(frame) for *_, frame in batch)
        if st.format == "pcap":
            assert st.read_bytes - st.unparsed == offset
    with open(path, "rb") as fh:
        reader = dpkt.pcap.Reader(fh) if st.format == "pcap" else dpkt.pcapng.Reader(fh)
        want = [bytes(buf) for _ts, buf in reader]
    assert [frame for _orig, frame in got] == want
    assert len(want) > 1000 and not st.truncated and st.sha256
    assert st.read_bytes == path.stat().st_size and st.unparsed == 0
    # about once a chunk; with the default chunk, once: the first read after the sniffed bytes
    assert spilled >= (path.stat().st_size // sizes[0] // 2 if sizes[0] else 1)
